"""The registry without servers: migrations, encryption at rest, append-only audit, concurrent writers."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from govcloud_platform.errors import ConflictError
from govcloud_platform.state.lock import box_lock
from govcloud_platform.state.registry import MIGRATIONS, Registry


def test_migrations_run_once_and_record_the_version(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    assert reg.agencies() == []
    with reg.connect() as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert Registry(tmp_path).agencies() == []  # second open: no error, no re-run


def test_bindings_are_encrypted_and_round_trip(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    reg.save_agency("health", "Health", "a@b.cd", "standard", ["database"], "ready")
    reg.save_binding("health", "database", {"password": "hunter2-very-secret"})
    assert reg.binding("health", "database") == {"password": "hunter2-very-secret"}
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("registry.db*"))
    assert b"hunter2-very-secret" not in raw
    assert (tmp_path / "secrets" / "registry.key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "registry.db").stat().st_mode & 0o077 == 0


def test_audit_log_is_append_only(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    reg.audit("agency add", "health", "added", actor="alice")
    assert reg.audit_log()[0]["actor"] == "alice"
    with reg.connect() as conn, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM audit")
    with reg.connect() as conn, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE audit SET actor = 'mallory'")


def test_concurrent_writers_do_not_corrupt_the_registry(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    reg.audit("init", "-", "ok")

    def write(n: int) -> None:
        r = Registry(tmp_path)
        for i in range(25):
            r.audit("write", f"t{n}", str(i))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(reg.audit_log(limit=1000)) == 101
    with reg.connect() as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_second_lock_holder_gets_conflict(tmp_path: Path) -> None:
    with box_lock(tmp_path, "first"):
        with pytest.raises(ConflictError) as info:
            with box_lock(tmp_path, "second"):
                pass
    assert info.value.exit_code == 4
    assert "first" in str(info.value)
    with box_lock(tmp_path, "third"):
        pass
