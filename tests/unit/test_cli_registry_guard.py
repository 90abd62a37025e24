"""The registry refuses to start afresh where one was lost, and its backup bundle is opaque without the platform
backup passphrase (no servers: SQLite files in tmp_path)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from govcloud_platform.backups.registry import make_bundle, open_bundle, snapshot
from govcloud_platform.errors import BoxDamaged, InputError
from govcloud_platform.state.registry import Registry, check_registry
from govcloud_platform.state.registry_guard import KEY_FIELD, key_fingerprint

SECRET = "hunter2-very-secret"


def _box_with_agency(home: Path, record: bool = True) -> Registry:
    home.mkdir(exist_ok=True)
    (home / "box.json").write_text(json.dumps({"port_base": 18000}))
    reg = Registry(home)
    reg.save_agency("health", "Health", "a@b.cd", "standard", ["database"], "ready")
    reg.save_binding("health", "database", {"password": SECRET})
    if record:
        fingerprint = reg.initialize()
        doc = json.loads((home / "box.json").read_text())
        (home / "box.json").write_text(json.dumps({**doc, KEY_FIELD: fingerprint}))
    reg.close()
    return reg


@pytest.mark.parametrize("record", [True, False], ids=["recorded", "older-box"])
def test_a_deleted_key_is_never_replaced_by_a_new_one(tmp_path: Path, record: bool) -> None:
    reg = _box_with_agency(tmp_path, record)
    reg.key_path.unlink()
    with pytest.raises(BoxDamaged, match="registry.key is missing"):
        check_registry(tmp_path)
    with pytest.raises(BoxDamaged, match="key .* is missing"):
        Registry(tmp_path).binding("health", "database")
    with pytest.raises(BoxDamaged):
        Registry(tmp_path).save_binding("health", "storage", {"secret_key": "x"})
    assert not reg.key_path.exists()  # no new key that would orphan every credential


@pytest.mark.parametrize("record", [True, False], ids=["recorded", "older-box"])
def test_a_moved_registry_is_refused_not_made_afresh(tmp_path: Path, record: bool) -> None:
    reg = _box_with_agency(tmp_path, record)
    for path in tmp_path.glob("registry.db*"):
        path.rename(tmp_path / f"moved-{path.name}")
    with pytest.raises(BoxDamaged, match="registry.db is missing"):
        check_registry(tmp_path)
    with pytest.raises(BoxDamaged, match="is missing"):
        Registry(tmp_path).agencies()
    assert not reg.path.exists()


def test_a_key_of_another_box_is_refused(tmp_path: Path) -> None:
    reg = _box_with_agency(tmp_path)
    reg.key_path.write_bytes(Fernet.generate_key())
    with pytest.raises(BoxDamaged, match="not the key of this box"):
        check_registry(tmp_path)
    with pytest.raises(BoxDamaged, match="not the key of this box"):
        Registry(tmp_path).binding("health", "database")


def test_a_registry_of_another_box_is_refused(tmp_path: Path) -> None:
    _box_with_agency(tmp_path / "a", record=False)
    _box_with_agency(tmp_path / "b", record=False)
    (tmp_path / "b" / "registry.db").write_bytes((tmp_path / "a" / "registry.db").read_bytes())
    with pytest.raises(BoxDamaged, match="does not open the credentials"):
        check_registry(tmp_path / "b")


def test_an_intact_box_passes_and_a_new_one_gets_its_key(tmp_path: Path) -> None:
    _box_with_agency(tmp_path)
    check_registry(tmp_path)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    fingerprint = Registry(fresh).initialize()
    assert fingerprint == key_fingerprint((fresh / "secrets" / "registry.key").read_bytes())
    check_registry(fresh)


def test_the_audit_log_stores_hostile_text_escaped(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    reg.audit("agency add", "x\u202ey", "failed", actor="\x1b[2Jmallory", detail="line1\nline2\x1b[31m")
    entry = reg.audit_log()[0]
    assert entry["actor"] == "\\x1b[2Jmallory"
    assert entry["target"] == "x\\u202ey"
    assert "\x1b" not in entry["detail"] and "\n" not in entry["detail"]


def test_the_backup_bundle_opens_only_with_the_platform_passphrase(tmp_path: Path) -> None:
    reg = _box_with_agency(tmp_path)
    key = reg.key_path.read_bytes()
    db = snapshot(reg)
    token = make_bundle("20261201T000000Z-abcd", key, db, "platform-passphrase")
    assert key.strip() not in token and b"Health" not in token and SECRET.encode() not in token
    doc = open_bundle(token, "platform-passphrase")
    assert doc["key"].encode() == key.strip() and doc["key_fingerprint"] == key_fingerprint(key)
    copy = tmp_path / "copy.db"
    copy.write_bytes(doc["db"])
    with sqlite3.connect(copy) as conn:
        assert conn.execute("SELECT slug FROM agencies").fetchall() == [("health",)]
    with pytest.raises(InputError, match="cannot be opened"):
        open_bundle(token, "another-passphrase")
    with pytest.raises(InputError, match="cannot be opened"):
        open_bundle(token, key.decode())  # the registry key never opens its own backup
