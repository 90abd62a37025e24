"""The scheduler without servers: a cron that cannot be parsed stops only its own job, never the tick, the
other jobs or the quota enforcement; the scheduler's health as `govcloud status` judges it."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest

from govcloud_platform.backups import scheduler
from govcloud_platform.backups.common import iso
from govcloud_platform.backups.schedule import (
    FAILING_AFTER,
    Schedules,
    cron_problem,
    scheduler_health,
    status,
)
from govcloud_platform.box.context import Box
from govcloud_platform.box.secrets import write_private
from tests.unit.offline import T0
from tests.unit.offline import offline_box as make_offline_box

BAD = "99 99 99 99 99"


@pytest.mark.parametrize("cron", ["0 3 * * *", "*/15 * * * *", "0 1 * * 1-6", "30 2 1,15 * *", "0 0 29 2 *"])
def test_good_crons_have_no_problem(cron: str) -> None:
    assert cron_problem(cron, T0) is None


@pytest.mark.parametrize("cron", [BAD, "0 0 31 2 *", "0 3 * *", "* * * * * *", "a b c d e", "*/0 * * * *", ""])
def test_bad_crons_are_named(cron: str) -> None:
    problem = cron_problem(cron, T0)
    assert problem is not None and repr(cron) in problem


@pytest.fixture
def offline_box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Box:
    return make_offline_box(tmp_path, monkeypatch)


def _plan_with(box: Box, **crons: str) -> None:
    """A plan file as an earlier govcloud wrote it: crons the spec may refuse today (raw JSON, not validated)."""
    raw = box.spec.model_dump(mode="json")
    for key, value in crons.items():
        if key in ("schedule", "diff_schedule", "agency_schedule"):
            raw["platform"]["services"]["backups"][key] = value
        else:
            next(a for a in raw["agencies"] if a["slug"] == key)["backup_schedule"] = value
    write_private(scheduler.plan_file(box.home), json.dumps(raw))


@pytest.mark.parametrize("bad", [BAD, "every day"])  # the second is refused by the spec's own validation
def test_a_plan_with_a_bad_cron_still_loads_and_keeps_the_bad_value(offline_box: Box, bad: str) -> None:
    _plan_with(offline_box, revenue=bad, diff_schedule=bad)
    box, schedules = scheduler.load_plan(offline_box.home)
    assert schedules.agency("revenue") == bad and schedules.diff == bad
    assert schedules.agency("health") == "30 2 * * *" and schedules.full == "0 1 * * 0"
    assert box.spec.platform.services.backups.schedule == "0 1 * * 0"


def test_a_plan_with_another_error_is_refused(offline_box: Box) -> None:
    raw = offline_box.spec.model_dump(mode="json")
    raw["platform"]["services"]["backups"]["max_age_hours"] = -1
    write_private(scheduler.plan_file(offline_box.home), json.dumps(raw))
    with pytest.raises(ValueError, match="max_age_hours"):
        scheduler.load_plan(offline_box.home)


def test_bad_cron_skips_only_its_job(offline_box: Box, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []
    monkeypatch.setattr(scheduler, "run_job", lambda box, job: (ran.append(job.name), (True, "id"))[1])
    plan = Schedules("0 1 * * 0", BAD, "30 2 * * *", {"revenue": "0 0 31 2 *"})
    logs: list[str] = []
    assert scheduler.tick(offline_box, scheduler.State(offline_box.home), T0, logs.append, plan) == []
    sunday = T0 + dt.timedelta(hours=16)
    result = scheduler.tick(offline_box, scheduler.State(offline_box.home), sunday, logs.append, plan)
    assert [r[0] for r in result] == ["platform:full", "agency:health"] == ran
    state = scheduler.State(offline_box.home)
    assert BAD in state.jobs["platform:diff"]["problem"] and "31 2" in state.jobs["agency:revenue"]["problem"]
    assert sum("skipped" in line for line in logs) == 2  # reported once, not at every tick
    fixed = Schedules("0 1 * * 0", "0 1 * * 1-6", "30 2 * * *", {})
    scheduler.tick(offline_box, scheduler.State(offline_box.home), sunday + dt.timedelta(minutes=1), logs.append,
                   fixed)
    assert "problem" not in scheduler.State(offline_box.home).jobs["agency:revenue"]


def test_failures_are_counted_until_a_success(offline_box: Box, monkeypatch: pytest.MonkeyPatch) -> None:
    outcome = {"ok": False}
    monkeypatch.setattr(scheduler, "run_job", lambda box, job: (outcome["ok"], "id" if outcome["ok"] else "boom"))
    plan = Schedules("0 1 * * 0", None, "*/5 * * * *", {})
    state = scheduler.State(offline_box.home)
    scheduler.tick(offline_box, state, T0, lambda _: None, plan)
    for i in range(1, FAILING_AFTER + 1):
        scheduler.tick(offline_box, scheduler.State(offline_box.home), T0 + dt.timedelta(minutes=11 * i),
                       lambda _: None, plan)
    entry = scheduler.State(offline_box.home).jobs["agency:health"]
    assert entry["failures"] == FAILING_AFTER and entry["error"] == "boom"
    outcome["ok"] = True
    scheduler.tick(offline_box, scheduler.State(offline_box.home), T0 + dt.timedelta(minutes=60), lambda _: None, plan)
    entry = scheduler.State(offline_box.home).jobs["agency:health"]
    assert entry["failures"] == 0 and "error" not in entry


def test_service_loop_enforces_quotas_despite_a_bad_job_and_records_itself(
    offline_box: Box, monkeypatch: pytest.MonkeyPatch
) -> None:
    _plan_with(offline_box, revenue=BAD)
    enforced: list[str] = []
    monkeypatch.setattr(scheduler, "enforce_quotas_logged", lambda box: enforced.append("x") or [])
    last = scheduler.run_once_more(offline_box.home, -scheduler.QUOTA_EVERY, lambda _: None)
    assert enforced == ["x"]
    doc = scheduler.State(offline_box.home).doc()
    assert doc["scheduler"]["pid"] == os.getpid() and doc["scheduler"]["tick_error"] is None
    assert doc["scheduler"]["quota"]["failures"] == 0
    assert BAD in doc["jobs"]["agency:revenue"]["problem"]

    def broken(box: Box) -> list[str]:
        raise RuntimeError("weed shell: connection refused")

    monkeypatch.setattr(scheduler, "enforce_quotas_logged", broken)
    for _ in range(FAILING_AFTER):
        last = scheduler.run_once_more(offline_box.home, last - scheduler.QUOTA_EVERY, lambda _: None)
    me = scheduler.State(offline_box.home).me
    assert me["quota"]["failures"] == FAILING_AFTER and "connection refused" in me["quota"]["error"]


def test_service_loop_records_a_plan_it_cannot_read(offline_box: Box) -> None:
    scheduler.run_once_more(offline_box.home, 0.0, lambda _: None)  # no plan file
    me = scheduler.State(offline_box.home).me
    assert me["tick_error"].startswith("FileNotFoundError") and me["last_tick"]


CURRENT = {"platform:full": "0 1 * * 0", "agency:health": "30 2 * * *"}


def _doc(**me: Any) -> dict[str, Any]:
    jobs = me.pop("jobs", {})
    return {"jobs": jobs, "scheduler": {"pid": 42, "last_tick": iso(T0 - dt.timedelta(seconds=10)), **me}}


@pytest.mark.parametrize(
    ("doc", "current", "pid", "started", "healthy", "says"),
    [
        (_doc(), CURRENT, 42, None, True, "last tick 10 s ago, 2 jobs"),
        (_doc(last_tick=iso(T0 - dt.timedelta(minutes=6))), CURRENT, 42, None, False, "last tick 360 s ago"),
        (_doc(last_tick=None), CURRENT, 42, None, False, "no tick recorded"),
        # a long job blocks the loop: fine for hours, not for ever
        (_doc(last_tick=iso(T0 - dt.timedelta(hours=2)), running={"job": "platform:full",
                                                                  "since": iso(T0 - dt.timedelta(hours=2))}),
         CURRENT, 42, None, True, "2 jobs"),
        (_doc(running={"job": "platform:full", "since": iso(T0 - dt.timedelta(hours=13))}), CURRENT, 42, None,
         False, "platform:full has been running for 13 h"),
        (_doc(tick_error="FileNotFoundError: plan.json"), CURRENT, 42, None, False, "tick failed"),
        (_doc(jobs={"agency:health": {"cron": "30 2 * * *", "failures": 3, "error": "S3 down"}}), CURRENT, 42,
         None, False, "agency:health failed 3 times in a row: S3 down"),
        (_doc(jobs={"agency:health": {"cron": "30 2 * * *", "failures": 2, "error": "S3 down"}}), CURRENT, 42,
         None, True, "2 jobs"),
        # failures under the cron the plan had before do not count
        (_doc(jobs={"agency:health": {"cron": "0 4 * * *", "failures": 5}}), CURRENT, 42, None, True, "2 jobs"),
        (_doc(), {**CURRENT, "agency:revenue": BAD}, 42, None, False, "agency:revenue never runs"),
        (_doc(quota={"failures": 3, "error": "weed shell"}), CURRENT, 42, None, False, "quota enforcement failed"),
        # a scheduler supervisord (re)started that has not recorded itself yet
        ({}, CURRENT, 77, T0 - dt.timedelta(seconds=20), True, "scheduler starting"),
        (_doc(), CURRENT, 77, T0 - dt.timedelta(minutes=10), False, "records no tick"),
    ],
)
def test_scheduler_health(doc: dict[str, Any], current: dict[str, str], pid: int, started: dt.datetime | None,
                          healthy: bool, says: str) -> None:
    ok, detail = scheduler_health(doc, current, T0, pid, started)
    assert (ok, says in detail) == (healthy, True), detail


def test_backup_status_row_of_a_bad_cron_is_not_ok(offline_box: Box) -> None:
    spec = offline_box.spec.model_copy(update={"agencies": [
        a.model_copy(update={"backup_schedule": "0 0 31 2 *"}) if a.slug == "health" else a
        for a in offline_box.spec.agencies]})
    rows = {r.scope: r for r in status(Box(home=offline_box.home, spec=spec), now=T0,
                                       platform_last={"finished": iso(T0), "bytes": 1})}
    assert not rows["agency:health"].ok and "cannot be used" in rows["agency:health"].detail
    assert rows["platform"].ok


REGISTRY_ERROR = "BoxDamaged: box at /b: registry.db is missing (restore it from the platform's backup: ...)"


@pytest.mark.parametrize(
    ("cause", "restored_after_the_tick", "healthy"),
    [("registry", True, True), ("registry", False, False), (None, True, False)],
)
def test_a_tick_that_failed_on_the_registry_is_judged_again_once_it_is_restored(
        cause: str | None, restored_after_the_tick: bool, healthy: bool) -> None:
    """`backup restore --registry` then `up` at once: the scheduler's last tick failed on the missing registry;
    the registry put in place after it is judged at the next tick, not reported as still missing."""
    doc = _doc(tick_error=REGISTRY_ERROR, tick_error_cause=cause)
    since = T0 - dt.timedelta(seconds=5 if restored_after_the_tick else 60)
    ok, detail = scheduler_health(doc, CURRENT, T0, 42, None, registry_since=since)
    assert ok == healthy, detail
    assert ("tick failed" in detail) == (not healthy)


def test_a_registry_failure_is_told_apart_by_its_type_not_its_words() -> None:
    from govcloud_platform.backups.scheduler import error_cause
    from govcloud_platform.errors import RESTORE_HINT, BoxDamaged, RegistryDamaged, translate

    assert error_cause(RegistryDamaged("registry.db is missing")) == "registry"
    assert RegistryDamaged("x").hint == RESTORE_HINT and isinstance(RegistryDamaged("x"), BoxDamaged)  # exit 2
    assert error_cause(BoxDamaged("box.json is damaged", hint=RESTORE_HINT)) is None  # same words, not the registry
    assert error_cause(OSError("no space left")) is None
    import sqlite3

    translated = translate(sqlite3.DatabaseError("file is not a database"), [], "/b/registry.db")
    assert translated is not None and error_cause(translated) == "registry"


@pytest.mark.parametrize(
    ("started_ago", "verdict", "healthy", "says"),
    [
        # `up` on a loaded machine: the scheduler recorded itself, its first tick not yet done (a fault before)
        (20, None, True, "scheduler starting"),
        (600, None, False, "no verdict recorded yet"),
        (20, {"ok": False, "detail": "agency:health failed", "plan": "p1"}, False, "agency:health failed"),
        (20, {"ok": True, "detail": "2 jobs", "plan": "p0"}, True, "a new plan"),
    ],
)
def test_probe_judges_a_scheduler_without_a_verdict_by_its_age(started_ago: int, verdict: dict[str, Any] | None,
                                                               healthy: bool, says: str) -> None:
    from govcloud_platform.box.services.backup_plan import judge

    me = _doc(**({"verdict": verdict} if verdict else {}))["scheduler"]
    ok, detail = judge(me, T0, 42, T0 - dt.timedelta(seconds=started_ago), None, "p1")
    assert (ok, says in detail) == (healthy, True), detail
