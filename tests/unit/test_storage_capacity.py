"""Object storage's capacity settings and the write probe's report, without servers: how many volumes a
bucket grows at once, how many volume slots the server has, and the one line naming unwritable buckets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from govcloud_platform.box.context import Box
from govcloud_platform.box.services.storage import VOLUME_GROWTH, StorageService
from govcloud_platform.box.services.storage_probe import (
    GROWTH_PREFIX,
    PROBE_BODY,
    PROBE_PREFIX,
    STALE_SECONDS,
    describe,
    first_write_probe,
    growth_probe,
    probe_key,
    problems,
    remove_stale,
    write_probe,
)
from govcloud_platform.errors import SpecError
from govcloud_platform.spec import load_spec_text
from govcloud_platform.spec.example import EXAMPLE_SPEC


def storage_program(tmp_path: Path, spec_text: str = EXAMPLE_SPEC) -> Any:
    box = Box(home=tmp_path / "home", spec=load_spec_text(spec_text), port_base=30000)
    [program] = StorageService().programs(box)
    return program


def test_a_bucket_grows_one_volume_at_a_time(tmp_path: Path) -> None:
    """SeaweedFS grows 7 volumes per collection by default: 100 slots held 14 buckets."""
    assert VOLUME_GROWTH == {"WEED_MASTER_VOLUME_GROWTH_COPY_1": "1"}
    assert storage_program(tmp_path).environment["WEED_MASTER_VOLUME_GROWTH_COPY_1"] == "1"


def test_volume_slots_follow_free_disk_space_by_default(tmp_path: Path) -> None:
    assert "-volume.max=0" in storage_program(tmp_path).command
    assert load_spec_text(EXAMPLE_SPEC).platform.services.storage.volume_max == 0


def test_an_explicit_cap_is_kept(tmp_path: Path) -> None:
    capped = EXAMPLE_SPEC.replace("volume_max: 0 ", "volume_max: 500 ", 1)
    assert "-volume.max=500" in storage_program(tmp_path, capped).command


@pytest.mark.parametrize("value", [1, 7, -1])
def test_a_cap_below_eight_slots_is_refused(value: int) -> None:
    with pytest.raises(SpecError, match="volume_max"):
        load_spec_text(EXAMPLE_SPEC.replace("volume_max: 0 ", f"volume_max: {value} ", 1))


def test_describe_names_every_unwritable_bucket_on_one_line() -> None:
    assert describe({"ag-a": "InternalError"}) == "bucket ag-a cannot take a write (InternalError)"
    two = describe({"ag-b": "AccessDenied", "ag-a": "InternalError"})
    assert two == "buckets cannot take a write: ag-a (InternalError), ag-b (AccessDenied)"
    assert "\n" not in two


def test_probe_keys_are_fresh_and_under_the_probe_prefix() -> None:
    keys = {probe_key() for _ in range(100)}
    assert len(keys) == 100 and all(k.startswith(PROBE_PREFIX) for k in keys)
    assert PROBE_BODY  # an empty object needs no volume: it would prove nothing


class FakeS3:
    """Records the calls; `fail` names the call that answers with an S3 error."""

    def __init__(self, keys: int = 0, fail: str = "") -> None:
        self.keys, self.fail, self.calls = keys, fail, []  # type: ignore[var-annotated]
        self.buckets: list[dict[str, Any]] = []

    def _call(self, name: str, kw: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        self.calls.append((name, kw))
        if name == self.fail:
            raise ClientError({"Error": {"Code": "InternalError"}}, name)
        return answer

    def list_objects_v2(self, **kw: Any) -> dict[str, Any]:
        return self._call("list", kw, {"KeyCount": min(self.keys, kw.get("MaxKeys", 1000))})

    def create_multipart_upload(self, **kw: Any) -> dict[str, Any]:
        return self._call("create", kw, {"UploadId": "u1"})

    def upload_part(self, **kw: Any) -> dict[str, Any]:
        return self._call("part", kw, {"ETag": "e"})

    def abort_multipart_upload(self, **kw: Any) -> dict[str, Any]:
        return self._call("abort", kw, {})

    def create_bucket(self, **kw: Any) -> dict[str, Any]:
        return self._call("create_bucket", kw, {})

    def delete_bucket(self, **kw: Any) -> dict[str, Any]:
        return self._call("delete_bucket", kw, {})

    def list_buckets(self) -> dict[str, Any]:
        return self._call("list_buckets", {}, {"Buckets": self.buckets})


def test_the_probe_writes_a_part_and_aborts_its_upload() -> None:
    """A multipart upload never shows in a listing: an object put and deleted would, to a backup listing the
    bucket at that moment."""
    s3 = FakeS3()
    assert write_probe(s3, "ag-a") is None
    (create, c), (part, p), (abort, a) = s3.calls
    assert (create, part, abort) == ("create", "part", "abort")
    assert c["Bucket"] == p["Bucket"] == a["Bucket"] == "ag-a" and c["Key"] == p["Key"] == a["Key"]
    assert p["Body"] == PROBE_BODY and p["UploadId"] == a["UploadId"] == "u1"


@pytest.mark.parametrize(("fail", "calls"), [("create", ["create"]), ("part", ["create", "part", "abort"])])
def test_a_refused_probe_says_why_and_leaves_no_upload(fail: str, calls: list[str]) -> None:
    s3 = FakeS3(fail=fail)
    assert write_probe(s3, "ag-a") == "InternalError"
    assert [c[0] for c in s3.calls] == calls


def test_onboarding_probes_only_a_bucket_that_holds_nothing_yet() -> None:
    """Its first write is the one a server without a free volume slot refuses; a bucket with data may be
    read-only by design (over its quota), which is `status`'s to report."""
    empty, used = FakeS3(), FakeS3(keys=3)
    assert first_write_probe(empty, "ag-a") is None
    assert [c[0] for c in empty.calls] == ["list", "create", "part", "abort"]
    assert first_write_probe(used, "ag-b") is None and [c[0] for c in used.calls] == ["list"]


def test_the_growth_probe_writes_into_a_bucket_of_its_own_and_deletes_it() -> None:
    s3 = FakeS3()
    assert growth_probe(s3) is None
    assert [c[0] for c in s3.calls] == ["create_bucket", "create", "part", "abort", "delete_bucket"]
    made = {c[1]["Bucket"] for c in s3.calls}
    assert len(made) == 1 and next(iter(made)).startswith(GROWTH_PREFIX)


def test_a_refused_growth_probe_says_new_agencies_cannot_store_and_still_deletes_its_bucket() -> None:
    s3 = FakeS3(fail="part")
    line = growth_probe(s3)
    assert line is not None and line.startswith("a new bucket cannot get a volume (InternalError)")
    assert "new agencies" in line and "\n" not in line
    assert s3.calls[-1][0] == "delete_bucket"


def test_only_growth_buckets_older_than_any_running_probe_are_removed() -> None:
    from datetime import UTC, datetime

    now = 1_000_000.0
    at = lambda age: datetime.fromtimestamp(now - age, tz=UTC)  # noqa: E731
    listing = [{"Name": GROWTH_PREFIX + "old", "CreationDate": at(STALE_SECONDS + 1)},
               {"Name": GROWTH_PREFIX + "young", "CreationDate": at(5)},
               {"Name": "ag-old-agency", "CreationDate": at(10 * STALE_SECONDS)}]
    s3 = FakeS3()
    remove_stale(s3, listing, now)
    assert s3.calls == [("delete_bucket", {"Bucket": GROWTH_PREFIX + "old"})]


def test_doctor_probes_every_bucket_once_and_growth_once() -> None:
    s3 = FakeS3()
    s3.buckets = [{"Name": "govcloud-backup"}, {"Name": "ag-a"}, {"Name": GROWTH_PREFIX + "inflight"}]
    assert problems(s3) == []
    probed = [c[1]["Bucket"] for c in s3.calls if c[0] == "part"]
    assert sorted(b for b in probed if not b.startswith(GROWTH_PREFIX)) == ["ag-a", "govcloud-backup"]
    assert len(probed) == 3  # and one growth bucket of its own, never another probe's
