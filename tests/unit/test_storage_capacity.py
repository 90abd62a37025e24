"""Object storage's capacity settings and the write probe's report, without servers: how many volumes a
bucket grows at once, how many volume slots the server has, and the one line naming unwritable buckets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from govcloud_platform.box.context import Box
from govcloud_platform.box.services.storage import VOLUME_GROWTH, StorageService
from govcloud_platform.box.services.storage_probe import (
    PROBE_BODY,
    PROBE_PREFIX,
    describe,
    first_write_probe,
    probe_key,
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
    """Records the calls; answers like a versioned bucket (a version id per put)."""

    def __init__(self, version: str | None = None, keys: int = 0) -> None:
        self.version, self.keys, self.calls = version, keys, []  # type: ignore[var-annotated]

    def list_objects_v2(self, **kw: Any) -> dict[str, Any]:
        return {"KeyCount": min(self.keys, kw.get("MaxKeys", 1000))}

    def put_object(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("put", kw))
        return {"VersionId": self.version} if self.version else {}

    def delete_object(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("delete", kw))
        return {}


@pytest.mark.parametrize("version", [None, "v123"])
def test_the_probe_deletes_exactly_what_it_wrote(version: str | None) -> None:
    """With versioning on, a plain delete would leave the probe's version and a delete marker behind."""
    s3 = FakeS3(version)
    assert write_probe(s3, "ag-a") is None
    (_, put), (_, delete) = s3.calls
    assert put["Bucket"] == delete["Bucket"] == "ag-a" and put["Key"] == delete["Key"]
    assert put["Body"] == PROBE_BODY
    assert delete.get("VersionId") == version


def test_onboarding_probes_only_a_bucket_that_holds_nothing_yet() -> None:
    """Its first write is the one a server without a free volume slot refuses; a bucket with data may be
    read-only by design (over its quota), which is `status`'s to report."""
    empty, used = FakeS3(), FakeS3(keys=3)
    assert first_write_probe(empty, "ag-a") is None and [c[0] for c in empty.calls] == ["put", "delete"]
    assert first_write_probe(used, "ag-b") is None and used.calls == []
