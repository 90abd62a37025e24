"""The backup scheduler on a box of its own (it changes the plan): `up` on the running box applies a changed
schedule without restarting anything; a plan with a cron that cannot be parsed stops only that job, the tick
goes on, and `status` names the job; `up` with a good spec heals it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from govcloud_platform.backups import scheduler
from govcloud_platform.box.secrets import write_private
from govcloud_platform.spec.example import EXAMPLE_SPEC
from tests.conftest import BoxHandle, make_box, teardown_box

pytestmark = [pytest.mark.integration, pytest.mark.slow]
BAD = "99 99 99 99 99"


@pytest.fixture(scope="module")
def sbox() -> Iterator[BoxHandle]:
    handle = make_box("scheduler")
    try:
        result = handle.cli("--json", "up", "--port-base", str(handle.port_base), timeout=600)
        assert result.rc == 0, result.stderr[-2000:]
        yield handle
    finally:
        teardown_box(handle)


def _state(box: BoxHandle) -> dict[str, Any]:
    return scheduler.State(box.home).doc()


def _wait(what: str, probe: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f}s"
        time.sleep(1)


def _backups(box: BoxHandle) -> tuple[int, dict[str, Any]]:
    result = box.cli("--json", "status")
    return result.rc, next(s for s in result.json()["services"] if s["name"] == "backups")


def _pids(box: BoxHandle) -> dict[str, int]:
    return {s["name"]: s["pid"] for s in box.cli("--json", "status").json()["services"]}


def test_status_reports_the_scheduler(sbox: BoxHandle) -> None:
    _wait("a recorded tick", lambda: bool(_state(sbox)["scheduler"].get("last_tick")))
    rc, backups = _backups(sbox)
    assert rc == 0 and backups["healthy"], backups
    assert "scheduler: last tick" in backups["detail"], backups
    assert _state(sbox)["scheduler"]["quota"]["failures"] == 0  # the quota enforcement ran too


def test_up_applies_a_changed_schedule_without_a_restart(sbox: BoxHandle) -> None:
    _wait("platform:full baseline", lambda: "platform:full" in _state(sbox)["jobs"])
    before = _pids(sbox)
    sbox.spec_path.write_text(EXAMPLE_SPEC.replace('schedule: "0 1 * * 0"', 'schedule: "0 2 * * 0"'))
    up = sbox.cli("--json", "up")
    assert up.rc == 0, up.stderr
    assert "configuration applied (no restart)" in up.stderr
    plan = json.loads(scheduler.plan_file(sbox.home).read_text())
    assert plan["platform"]["services"]["backups"]["schedule"] == "0 2 * * 0"
    _wait("the scheduler on the new plan", lambda: _state(sbox)["jobs"]["platform:full"]["cron"] == "0 2 * * 0")
    assert _pids(sbox) == before  # nothing restarted, the scheduler included
    again = sbox.cli("up")
    assert again.rc == 0 and "nothing changed" in again.stderr, again.stderr


def test_a_bad_cron_stops_only_its_job_and_status_names_it(sbox: BoxHandle) -> None:
    # A plan an earlier govcloud wrote from a spec it did not validate (the spec refuses such a cron today).
    raw = json.loads(scheduler.plan_file(sbox.home).read_text())
    raw["platform"]["services"]["backups"]["diff_schedule"] = BAD
    mark = _state(sbox)["scheduler"]["last_tick"]
    write_private(scheduler.plan_file(sbox.home), json.dumps(raw))
    _wait("a tick on the bad plan", lambda: _state(sbox)["jobs"].get("platform:diff", {}).get("problem") is not None)
    _wait("one more tick", lambda: _state(sbox)["scheduler"]["last_tick"] != mark)
    doc = _state(sbox)
    assert BAD in doc["jobs"]["platform:diff"]["problem"]
    assert "problem" not in doc["jobs"]["platform:full"] and doc["scheduler"]["tick_error"] is None
    rc, backups = _backups(sbox)
    assert rc == 1 and not backups["healthy"], backups
    assert "platform:diff never runs" in backups["detail"] and BAD in backups["detail"], backups
    log = (sbox.home / "logs" / "backup-scheduler.log").read_text()
    assert "platform:diff skipped" in log and "tick failed" not in log
    healed = sbox.cli("--json", "up")  # the spec's plan again
    assert healed.rc == 0, healed.stderr
    rc, backups = _backups(sbox)
    assert rc == 0 and backups["healthy"], backups
