"""Object storage's capacity (issue 11.5): with SeaweedFS's defaults every bucket grew 7 volumes at its first
write, so 100 volume slots held 14 buckets; the 15th agency was `ready` while every upload failed with
`InternalError`, and `apply`, `status` and `doctor` stayed green. Now a bucket grows one volume at a time, the
slots follow the free disk space, onboarding proves the new bucket takes a write, and `status` and `doctor`
report a bucket that cannot take one (a real write probe, not a listing): `status` the backup bucket, `doctor`
every bucket and a new one (whether a volume can still be grown)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from govcloud_platform.backups.cluster import archive_now
from govcloud_platform.box.context import Box
from govcloud_platform.box.services.storage import weed_shell
from govcloud_platform.box.services.storage_probe import GROWTH_PREFIX, PROBE_PREFIX
from govcloud_platform.brokers.storage import enforce_quotas
from govcloud_platform.spec.example import EXAMPLE_SPEC
from tests.conftest import BoxHandle, Result, assert_one_error, make_box, teardown_box
from tests.integration.test_agencies import s3_for

pytestmark = pytest.mark.integration
MANY = 20  # the old limit was 14 buckets, the backup bucket and the filer's own collection among them
TINY = "tiny-office"


def spec_with(agencies: list[str], volume_max: int = 0) -> str:
    """The example platform with these agencies (storage only: capacity is the question) and a tiny quota
    class for one more."""
    head = EXAMPLE_SPEC.split("\nagencies:\n", 1)[0].replace("volume_max: 0 ", f"volume_max: {volume_max} ", 1)
    head = head.replace("quota_classes:\n", "quota_classes:\n  tiny:\n    inherits: standard\n"
                                            "    storage_gb: 0.001\n", 1)
    rows = "".join(f"  - slug: {s}\n    name: Office {s}\n    email: it@{s}.gov.example\n    services: [storage]\n"
                   + ("    quota: tiny\n" if s == TINY else "") for s in agencies)
    return f"{head}\nagencies:\n{rows}"


def up(handle: BoxHandle) -> None:
    result = handle.cli("--json", "up", "--port-base", str(handle.port_base), timeout=600)
    assert result.rc == 0, result.stderr[-2000:]


def storage_of(handle: BoxHandle, slug: str) -> dict[str, Any]:
    creds = handle.cli("--json", "agency", "credentials", slug, "--show-secrets")
    assert creds.rc == 0, creds.stderr
    out: dict[str, Any] = creds.json()["storage"]
    return out


def storage_health(result: Result) -> dict[str, Any]:
    doc = result.json()
    assert all(set(s) == {"name", "healthy", "endpoint", "pid", "detail", "role"} for s in doc["services"])  # the shape
    [storage] = [s for s in doc["services"] if s["name"] == "storage"]
    out: dict[str, Any] = storage
    return out


def lines_naming(text: str, bucket: str) -> list[str]:
    return [line for line in text.splitlines() if bucket in line and "cannot take a write" in line]


@pytest.fixture(scope="module")
def many() -> Iterator[BoxHandle]:
    """A fresh box with the default storage settings and MANY + 1 agencies onboarded by one `apply`."""
    slugs = [f"cap-{i:02d}" for i in range(MANY)]
    handle = make_box("capacity", spec_with([*slugs, TINY]))
    try:
        up(handle)
        applied = handle.cli("--json", "apply", timeout=600)
        assert applied.rc == 0, applied.stderr[-2000:]
        assert sorted(applied.json()["added"]) == sorted([*slugs, TINY])
        yield handle
    finally:
        teardown_box(handle)


def test_more_agencies_than_the_old_limit_each_store_an_object(many: BoxHandle) -> None:
    for i in range(MANY):
        creds = storage_of(many, f"cap-{i:02d}")
        s3 = s3_for(creds)
        s3.put_object(Bucket=creds["bucket"], Key="first.txt", Body=f"agency {i}".encode())
        assert s3.get_object(Bucket=creds["bucket"], Key="first.txt")["Body"].read() == f"agency {i}".encode()
        listed = [o["Key"] for o in s3.list_objects_v2(Bucket=creds["bucket"]).get("Contents", [])]
        assert listed == ["first.txt"]  # the probes left nothing behind
    collections = weed_shell(many.box(), ["collection.list"])
    counts = {line.split('"')[1]: int(line.split("volumeCount:")[1].split()[0])
              for line in collections.splitlines() if line.startswith("collection:")}
    assert all(counts[f"ag-cap-{i:02d}"] == 1 for i in range(MANY)), counts  # one volume each, not 7


def growth_buckets(b: Box) -> list[str]:
    return [x["Name"] for x in b.s3_client().list_buckets()["Buckets"] if x["Name"].startswith(GROWTH_PREFIX)]


def test_status_probes_the_backup_bucket_doctor_every_bucket_and_growth(many: BoxHandle) -> None:
    """`status` costs the same for 3 agencies or 300: a write into the backup bucket. `doctor` writes into every
    bucket and into a bucket made for the probe (a volume can still be grown), deleted after with its volume."""
    b = many.box()
    before = weed_shell(b, ["volume.list"]).count("volume Id:")
    status = many.cli("--json", "status")
    assert status.rc == 0, status.stderr
    storage = storage_health(status)
    assert storage["healthy"] and storage["detail"] == "S3 ok; govcloud-backup takes a write", storage
    from govcloud_platform.box.services.storage import StorageService

    svc = StorageService()
    svc.probe(b)  # a warm client, as in `status`
    start = time.monotonic()
    ok, _ = svc.probe(b)
    took = time.monotonic() - start
    print(f"status's storage probe: {took:.3f} s")  # a figure, not an assertion (README: Benchmarks)
    assert ok
    start = time.monotonic()
    doctor = many.cli("--json", "doctor")
    print(f"doctor: {time.monotonic() - start:.3f} s")
    assert doctor.rc == 0 and doctor.json()["unwritable"] == [], doctor.stdout
    assert growth_buckets(b) == []
    assert weed_shell(b, ["volume.list"]).count("volume Id:") == before  # the probes' volumes went with them


def test_status_and_doctor_name_a_bucket_that_cannot_take_a_write(many: BoxHandle) -> None:
    """Over its quota, a bucket is made read-only by `s3.bucket.quota.enforce`: it still lists and reads.
    `doctor` names an agency's such bucket; `status` (which probes no agency bucket) the backup bucket."""
    creds = storage_of(many, TINY)
    bucket, s3 = creds["bucket"], s3_for(creds)
    s3.put_object(Bucket=bucket, Key="big.bin", Body=os.urandom(1_500_000))
    b = many.box()
    read_only(b, bucket)
    with pytest.raises(ClientError):
        s3.put_object(Bucket=bucket, Key="more.txt", Body=b"x")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 1  # a listing says all is well
    line = f"bucket {bucket} cannot take a write (InternalError)"
    doctor = many.cli("doctor")
    assert doctor.rc == 1 and lines_naming(doctor.stderr + doctor.stdout, bucket) == [line], doctor.stderr
    assert many.cli("--json", "doctor").json()["unwritable"] == [line]
    assert many.cli("--json", "status").rc == 0  # an agency over its quota is the quota working
    assert many.cli("--json", "up").rc == 0  # and `up` does not wait on it
    # the backup bucket read-only: `status` names it, on one line besides the table
    weed_shell(b, ["s3.bucket.quota -name=govcloud-backup -op=set -sizeMB=1"])  # it holds the WAL archive
    try:
        read_only(b, "govcloud-backup")
        status = many.cli("--json", "status")
        assert status.rc == 1
        storage = storage_health(status)
        backup_line = "bucket govcloud-backup cannot take a write (InternalError)"
        assert not storage["healthy"] and storage["detail"] == backup_line, storage
        human = many.cli("status")  # one error line naming each unhealthy service (backups: its archive waits)
        last = human.stderr.strip().splitlines()[-1]
        assert human.rc == 1 and last.startswith("error: ") and "storage (https://" in last, human.stderr
        assert f"): {backup_line}" in last, last
        doctor = many.cli("--json", "doctor")
        assert doctor.rc == 1 and doctor.json()["unwritable"] == [line, backup_line], doctor.stdout
    finally:  # a quota removed while read-only would leave the bucket read-only: raise it, enforce, then remove
        weed_shell(b, ["s3.bucket.quota -name=govcloud-backup -op=set -sizeMB=100000",
                       f"s3.bucket.quota -name={bucket} -op=set -sizeMB=100"])
        enforce_quotas(b)
        weed_shell(b, ["s3.bucket.quota -name=govcloud-backup -op=remove"])
    # under their quotas again: writable; the big object gone and the applied 1 MB back (`doctor` names a quota
    # that is not the applied one, and `apply` restores it): both commands green
    s3.put_object(Bucket=bucket, Key="more.txt", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="big.bin")
    assert many.cli("--json", "apply").json()["restored"] == [TINY]
    archived_again(b)
    assert many.cli("status").rc == 0 and many.cli("doctor").rc == 0
    stray = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=PROBE_PREFIX).get("Contents", [])]
    uploads = [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]
    assert stray == [] and uploads == []  # the probes left nothing behind


def archived_again(b: Box) -> None:
    """The WAL archiver that failed while the backup bucket was read-only retries on its own within a minute
    (`backups` says "waiting for storage" until then): a new segment wakes it, and it is archived."""
    with b.pg_admin() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS archiver_wake (id int)")
        conn.execute("DROP TABLE archiver_wake")
    assert archive_now(b, timeout=120) is not None, "the WAL archive did not catch up"


def read_only(b: Box, bucket: str) -> None:
    """Enforce quotas until `bucket` is switched (the master's size statistics lag writes by a few seconds)."""
    for _ in range(30):
        if bucket in enforce_quotas(b):
            return
        time.sleep(1)
    raise AssertionError(f"{bucket} was never switched read-only")


def test_a_capped_box_refuses_to_onboard_an_agency_whose_bucket_cannot_store() -> None:
    """With a fixed cap of 8 volume slots, the ninth bucket finds none: `apply` fails naming it (the agencies
    stay `provisioning`), and `doctor` reports that a new bucket cannot get a volume. Slots from free disk space
    (`volume_max: 0`, the default) and `up` + `apply` converge: every agency stores an object."""
    slugs = [f"cap-{i:02d}" for i in range(10)]
    handle = make_box("capped", spec_with(slugs, volume_max=8))
    try:
        up(handle)
        applied = handle.cli("apply", timeout=600)
        assert applied.rc == 1, applied.stderr[-2000:]
        assert_one_error(applied)
        assert "cannot take a write" in applied.stderr and "ag-cap-" in applied.stderr, applied.stderr
        listed = {a["slug"]: a["state"] for a in handle.cli("--json", "agency", "list").json()["agencies"]}
        assert all(listed[s] == "provisioning" for s in slugs), listed
        doctor = handle.cli("--json", "doctor").json()
        assert any("a new bucket cannot get a volume" in line for line in doctor["unwritable"]), json.dumps(doctor)
        assert not doctor["healthy"]
        handle.spec_path.write_text(spec_with(slugs, volume_max=0))
        up(handle)  # the storage program's flags changed: `up` restarts it
        converged = handle.cli("--json", "apply", timeout=600)
        assert converged.rc == 0, converged.stderr[-2000:]
        for slug in slugs:
            creds = storage_of(handle, slug)
            s3_for(creds).put_object(Bucket=creds["bucket"], Key="first.txt", Body=b"stored")
        assert handle.cli("status").rc == 0 and handle.cli("doctor").rc == 0
    finally:
        teardown_box(handle)
