"""Write probes: whether storage can take a write, asked the only way that proves it. A listing says nothing
about it: a bucket whose collection cannot grow a volume (no free slot, no disk), or that
`s3.bucket.quota.enforce` made read-only, still lists, heads and reads, while every upload fails with
`InternalError`.

Two probes. The write probe is a multipart upload of one small part into a bucket, aborted at once, with the
admin identity, under `.govcloud-probe/` (a key agencies never use): the part is a real write into the bucket's
own volumes, while a multipart upload never shows in a listing (a plain object, put and deleted, would: an
agency's backup listing its bucket at that moment would fail on the vanished key, and a restore drill would count
an extra object). The growth probe is the write probe into a bucket made for it and deleted after: its first
write must grow a new volume, which is what fails first when the volume server runs out of slots or disk (a new
agency's bucket, a bucket whose volumes are full), while buckets with room left in their volumes still write.

Who probes what: `status` writes into the backup bucket only, where PostgreSQL archives its WAL (≈0.03 s), so it
stays a fraction of a second whatever the number of agencies: a write probe per bucket took ≈0.3 s for 26
buckets and ≈2 s for 136 on a 2-core machine at a load average of 2-3, and the growth probe ≈0.25 s, most of it
the volume server creating the volume. `doctor` runs the growth probe and probes every bucket, naming each that
cannot take a write. Onboarding probes a new agency's bucket while it holds nothing yet (its growth probe)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

PROBE_PREFIX = ".govcloud-probe/"
# Not empty: an empty object or part is kept by the filer alone and needs no volume, so it proves nothing.
PROBE_BODY = b"govcloud write probe\n"
PROBE_WORKERS = 8
GROWTH_PREFIX = "govcloud-probe-"  # the growth probe's buckets: no agency's (`ag-`), no platform bucket's
STALE_SECONDS = 300  # a growth bucket older than this was left by an interrupted probe


def probe_key() -> str:
    """A fresh key per probe: two probes at once (two `status` runs) never touch each other's upload."""
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
    already holds data may be read-only by design (over its quota): that is `doctor`'s report, not a reason
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
    three requests, ≈0.03 s on the box; a bucket's first write also grows its first volume, ≈0.2 s).
    `first_write`: only buckets that hold no object yet (`first_write_probe`)."""
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


def growth_probe(s3: Any) -> str | None:
    """None if a bucket made now takes its first write (a volume could be grown for it); else one line saying
    why not. The bucket is deleted after, with its volume (SeaweedFS deletes a deleted bucket's collection)."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket = GROWTH_PREFIX + os.urandom(6).hex()
    try:
        s3.create_bucket(Bucket=bucket)
    except ClientError as exc:
        return f"a new bucket cannot be created ({exc.response.get('Error', {}).get('Code') or 'ClientError'})"
    except (BotoCoreError, OSError) as exc:
        return f"a new bucket cannot be created ({type(exc).__name__})"
    try:
        reason = write_probe(s3, bucket)
    finally:
        try:
            s3.delete_bucket(Bucket=bucket)
        except (ClientError, BotoCoreError, OSError):
            pass  # the next probe removes it (`remove_stale`)
    if reason is None:
        return None
    return (f"a new bucket cannot get a volume ({reason}): no free volume slot or disk space, so new agencies and "
            "buckets whose volumes are full cannot store")


def remove_stale(s3: Any, listing: list[dict[str, Any]], now: float) -> None:
    """Delete growth-probe buckets an interrupted probe left behind (each holds a volume slot); a young one may
    be another probe's, running now."""
    from botocore.exceptions import BotoCoreError, ClientError

    for entry in listing:
        created = entry.get("CreationDate")
        if str(entry["Name"]).startswith(GROWTH_PREFIX) and created is not None \
                and now - created.timestamp() > STALE_SECONDS:
            try:
                s3.delete_bucket(Bucket=entry["Name"])
            except (ClientError, BotoCoreError, OSError):
                pass


def problems(s3: Any) -> list[str]:
    """`doctor`'s storage report, one line per problem: each bucket that cannot take a write, then the growth
    probe's. Both run at once."""
    import time

    listing = s3.list_buckets().get("Buckets", [])
    remove_stale(s3, listing, time.time())
    names = [str(e["Name"]) for e in listing if not str(e["Name"]).startswith(GROWTH_PREFIX)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        growth = pool.submit(growth_probe, s3)
        bad = pool.submit(unwritable, s3, names)
        lines = [describe({name: reason}) for name, reason in sorted(bad.result().items())]
        grown = growth.result()
    return lines + ([grown] if grown else [])
