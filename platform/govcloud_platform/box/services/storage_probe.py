"""Write probes: whether a bucket can take a write, asked the only way that proves it. A listing says nothing
about it: a bucket whose collection cannot grow a volume (no free slot), or that `s3.bucket.quota.enforce` made
read-only, still lists, heads and reads, while every upload fails with `InternalError`. `status` and `doctor`
probe every bucket; onboarding probes the agency's bucket while it holds nothing yet (its first write, the one
a volume server without a free slot refuses).

The probe is a multipart upload of one small part, aborted at once, with the admin identity, under
`.govcloud-probe/` (a key agencies never use): the part is a real write into the bucket's own volumes, while a
multipart upload never shows in a listing. A plain object, put and deleted, would: an agency's backup listing its
bucket at that moment would fail on the vanished key, and a restore drill would count it as an extra object."""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

PROBE_PREFIX = ".govcloud-probe/"
# Not empty: an empty object or part is kept by the filer alone and needs no volume, so it proves nothing.
PROBE_BODY = b"govcloud write probe\n"
PROBE_WORKERS = 8


def probe_key() -> str:
    """A fresh key per probe: two probes at once (two `status` runs) never delete each other's object."""
    return PROBE_PREFIX + os.urandom(8).hex()


def write_probe(s3: Any, bucket: str) -> str | None:
    """None if `bucket` took a small write (a part of a multipart upload) and its removal; else why not (the S3
    error code, or the client error's type: its message may quote URLs)."""
    from botocore.exceptions import BotoCoreError, ClientError

    key = probe_key()
    try:
        upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        try:
            s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=PROBE_BODY)
        finally:
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)
    except ClientError as exc:
        return str(exc.response.get("Error", {}).get("Code") or type(exc).__name__)
    except (BotoCoreError, OSError) as exc:
        return type(exc).__name__
    return None


def first_write_probe(s3: Any, bucket: str) -> str | None:
    """`write_probe` of a bucket that holds no object yet (None for one that does): whether its collection
    can get its first volume, the write that fails when the volume server has no free slot. A bucket that
    already holds data may be read-only by design (over its quota): that is `status`'s report, not a reason
    to refuse onboarding."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        if s3.list_objects_v2(Bucket=bucket, MaxKeys=1).get("KeyCount"):
            return None
    except ClientError as exc:
        return str(exc.response.get("Error", {}).get("Code") or type(exc).__name__)
    except (BotoCoreError, OSError) as exc:
        return type(exc).__name__
    return write_probe(s3, bucket)


def unwritable(s3: Any, buckets: Iterable[str], first_write: bool = False) -> dict[str, str]:
    """Every bucket of `buckets` that cannot take a write, with the reason; probed in parallel (one probe is
    ~5-20 ms on the box; a bucket's first write also grows its first volume). `first_write`: only buckets
    that hold no object yet (`first_write_probe`)."""
    names = sorted(set(buckets))
    if not names:
        return {}
    probe = first_write_probe if first_write else write_probe
    with ThreadPoolExecutor(max_workers=min(PROBE_WORKERS, len(names))) as pool:
        reasons = list(pool.map(lambda b: probe(s3, b), names))
    return {name: reason for name, reason in zip(names, reasons, strict=True) if reason is not None}


def describe(bad: dict[str, str]) -> str:
    """One line naming every bucket that cannot take a write."""
    if len(bad) == 1:
        [(name, reason)] = bad.items()
        return f"bucket {name} cannot take a write ({reason})"
    return "buckets cannot take a write: " + ", ".join(f"{n} ({r})" for n, r in sorted(bad.items()))
