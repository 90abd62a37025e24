"""In-place platform restore on a private box (it replaces the live cluster, so it never shares the session box):
a restore failing half-way rolls back; then point in time between two writes, every service healthy afterwards,
the old data directory kept."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import BoxHandle, assert_one_error, make_box, teardown_box

pytestmark = pytest.mark.integration


def ok(result: Any) -> Any:
    assert result.rc == 0, result.stderr[-1500:]
    return result.json() if result.stdout.strip() else None


@pytest.fixture
def private_box() -> Iterator[BoxHandle]:
    handle = make_box("bk-inplace")
    try:
        ok(handle.cli("up", "--port-base", str(handle.port_base), timeout=600))
        yield handle
    finally:
        teardown_box(handle)


def probe_ids(handle: BoxHandle) -> list[int]:
    with handle.box().pg_admin() as conn:
        return [int(r[0]) for r in conn.execute("SELECT id FROM inplace_probe ORDER BY id")]


@pytest.mark.slow
def test_in_place_restore_to_a_time_between_two_writes(private_box: BoxHandle) -> None:
    handle = private_box
    with handle.box().pg_admin() as conn:
        conn.execute("CREATE TABLE inplace_probe (id int PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())")
        conn.execute("INSERT INTO inplace_probe (id) VALUES (1)")
    ok(handle.cli("--json", "backup", "run", "--type", "full"))
    with handle.box().pg_admin() as conn:
        time.sleep(1.1)  # backups end in whole seconds (cluster.backup_set_for): a later second than the backup's
        between = conn.execute("SELECT clock_timestamp()").fetchone()[0]  # type: ignore[index]
        time.sleep(0.5)
        conn.execute("INSERT INTO inplace_probe (id) VALUES (2)")
    assert probe_ids(handle) == [1, 2]

    refused = handle.cli("backup", "restore", "--platform", "--in-place", "--to", between.isoformat())
    assert refused.rc == 2 and "--yes" in refused.stderr
    for unreachable, why in (("2000-01-01T00:00:00Z", "oldest backup"), ("2100-01-01T00:00:00Z", "future")):
        early = handle.cli("backup", "restore", "--platform", "--in-place", "--yes", "--to", unreachable)
        assert early.rc == 2 and why in early.stderr, early.stderr  # refused before anything was stopped
    assert probe_ids(handle) == [1, 2]

    # Fails half-way (live data directory aside, restored one in its place): rolled back, box up as it was.
    failed = handle.cli("backup", "restore", "--platform", "--in-place", "--yes", "--to", between.isoformat(),
                        env={"GOVCLOUD_TEST_FAULT": "restore:fail:platform"}, timeout=900)
    assert failed.rc == 1, failed.stderr
    assert_one_error(failed)
    assert "rolled back" in failed.stderr.strip().splitlines()[-1], failed.stderr
    assert probe_ids(handle) == [1, 2]
    status = ok(handle.cli("--json", "status"))
    assert all(s["healthy"] for s in status["services"]), status

    # The re-run succeeds.
    report = ok(handle.cli("--json", "backup", "restore", "--platform", "--in-place", "--yes",
                           "--to", between.isoformat(), timeout=900))

    assert report["in_place"] is True and report["rto_seconds"] > 0
    assert "database" in report["stopped"]
    assert probe_ids(handle) == [1]
    status = ok(handle.cli("--json", "status"))
    assert all(s["healthy"] for s in status["services"]), status
    kept = handle.box().home / "pg" / report["previous_data_dir"].rsplit("/", 1)[-1]
    assert kept.name.startswith("data.before-restore-") and (kept / "PG_VERSION").exists()
    # the restored cluster (a new timeline) keeps archiving into the same repository: backups go on
    after = ok(handle.cli("--json", "backup", "run", "--type", "incr"))
    assert after["type"] == "incr"
