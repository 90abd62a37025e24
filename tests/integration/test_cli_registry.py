"""A lost registry.db or registry.key on a real box: refused with one line (exit 2), never replaced by an empty
registry or a new key, and brought back by `backup restore --registry` from the platform's backups."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from govcloud_platform.box.services.storage import BACKUP_BUCKET
from tests.conftest import BoxHandle, assert_one_error

pytestmark = pytest.mark.integration


@pytest.fixture
def saved_registry(box: BoxHandle, tmp_path: Path) -> Iterator[Path]:
    """A copy of the registry and its key, put back if the test left them missing (the session box stays usable).
    The database goes back only as a whole, with its -wal/-shm: a stale WAL beside a newer database corrupts it."""
    home = box.home
    key = home / "secrets" / "registry.key"
    database = list(home.glob("registry.db*"))
    for path in [key, *database]:
        shutil.copy2(path, tmp_path / path.name)
    yield tmp_path
    if not key.exists():
        shutil.copy2(tmp_path / key.name, key)
    if not (home / "registry.db").exists():
        for path in home.glob("registry.db*"):
            path.unlink()
        for path in database:
            shutil.copy2(tmp_path / path.name, path)


def _add(box: BoxHandle, slug: str) -> dict[str, object]:
    added = box.cli("agency", "add", slug, "--name", f"Registry {slug}")
    assert added.rc == 0, added.stderr
    creds = box.cli("--json", "agency", "credentials", slug, "--show-secrets")
    assert creds.rc == 0, creds.stderr
    doc: dict[str, object] = creds.json()
    return doc


def test_the_key_is_backed_up_at_up_and_the_bundles_are_opaque(box: BoxHandle) -> None:
    state = json.loads((box.home / "box.json").read_text())
    assert state["registry_key"].startswith("sha256:")
    assert state["registry_key_backed_up"] == state["registry_key"]
    key = (box.home / "secrets" / "registry.key").read_bytes().strip()
    s3 = box.box().s3_client()
    objects = s3.list_objects_v2(Bucket=BACKUP_BUCKET, Prefix="registry/")["Contents"]
    assert objects
    body = s3.get_object(Bucket=BACKUP_BUCKET, Key=objects[-1]["Key"])["Body"].read()
    assert key not in body and b"agencies" not in body and b"SQLite format" not in body


def test_a_deleted_key_is_refused_then_restored(box: BoxHandle, saved_registry: Path) -> None:
    before = _add(box, "regkey")
    key = box.home / "secrets" / "registry.key"
    original = key.read_bytes().strip()
    key.unlink()
    for args in (["agency", "add", "regkey2", "--name", "Other"], ["agency", "credentials", "regkey"],
                 ["agency", "list"], ["doctor"], ["apply"], ["backup", "run"]):
        result = box.cli(*args)
        assert result.rc == 2, (args, result.stderr)
        assert_one_error(result)
        assert "registry.key is missing" in result.stderr and "backup restore --registry" in result.stderr
        assert not key.exists(), args  # no new key that would orphan every credential
    restored = box.cli("--json", "backup", "restore", "--registry")
    assert restored.rc == 0, restored.stderr
    assert restored.json()["restored"] == ["registry.key"]
    assert key.read_bytes().strip() == original and key.stat().st_mode & 0o777 == 0o600
    after = box.cli("--json", "agency", "credentials", "regkey", "--show-secrets")
    assert after.rc == 0, after.stderr
    assert after.json() == before
    again = box.cli("--json", "backup", "restore", "--registry")
    assert again.rc == 0 and again.json()["restored"] == [], again.stderr


def test_a_moved_registry_is_refused_then_restored(box: BoxHandle, saved_registry: Path) -> None:
    before = _add(box, "regdb")  # the add copies the registry into the backups
    for path in box.home.glob("registry.db*"):
        path.rename(saved_registry / f"moved-{path.name}")
    for args in (["agency", "list"], ["agency", "add", "regdb2", "--name", "Other"], ["app", "list"]):
        result = box.cli(*args)
        assert result.rc == 2, (args, result.stderr)
        assert_one_error(result)
        assert "registry.db is missing" in result.stderr
        assert not (box.home / "registry.db").exists(), args
    up = box.cli("up")  # starts what is needed for the restore, then refuses
    assert up.rc == 2, up.stderr
    assert_one_error(up)
    # `status` works without the registry. The backup scheduler may have ticked since the registry went (every
    # 15 s): then, and only then, backups is unhealthy and says how to restore it (a full run saw it once).
    status = box.cli("--json", "status")
    assert status.rc in (0, 1), status.stderr[-1500:]
    unhealthy = [s for s in status.json()["services"] if not s["healthy"]]
    assert all(s["name"] == "backups" and "backup restore --registry" in s["detail"] for s in unhealthy), unhealthy
    assert (status.rc == 1) == bool(unhealthy)
    restored = box.cli("--json", "backup", "restore", "--registry")
    assert restored.rc == 0, restored.stderr
    assert restored.json()["restored"] == ["registry.db"]
    listed = box.cli("--json", "agency", "list")
    assert listed.rc == 0, listed.stderr
    assert "regdb" in {a["slug"] for a in listed.json()["agencies"]}
    after = box.cli("--json", "agency", "credentials", "regdb", "--show-secrets")
    assert after.rc == 0 and after.json() == before, after.stderr
    assert box.cli("up").rc == 0
