"""The backup plan without servers: when jobs are due, how old a backup may be, manifest comparison."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from govcloud_platform.backups import manifest as mf
from govcloud_platform.backups import scheduler
from govcloud_platform.backups.common import iso, new_run_id, parse_time
from govcloud_platform.backups.schedule import Job, agency_cron, allowed_age, is_due, jobs, period, status
from govcloud_platform.box.context import Box
from govcloud_platform.state.registry import Registry
from tests.unit.offline import T0
from tests.unit.offline import offline_box as make_offline_box

DAILY = Job("agency:x", "30 2 * * *")


@pytest.mark.parametrize(
    ("state", "now", "due"),
    [
        ({}, T0, False),  # first sight: baseline only
        ({"last_attempt": iso(T0)}, T0 + dt.timedelta(hours=10), False),  # 22:00, no fire since
        ({"last_attempt": iso(T0)}, T0 + dt.timedelta(hours=15), True),  # 03:00 next day: 02:30 fired
        ({"last_attempt": iso(T0), "last_success": iso(T0)}, T0 + dt.timedelta(days=3), True),  # box was off
        # failed at 02:30: retried after RETRY_AFTER, not before
        ({"last_attempt": "2026-11-22T02:30:00+00:00", "last_success": iso(T0), "failed": True},
         dt.datetime(2026, 11, 22, 2, 35, tzinfo=dt.UTC), False),
        ({"last_attempt": "2026-11-22T02:30:00+00:00", "last_success": iso(T0), "failed": True},
         dt.datetime(2026, 11, 22, 2, 41, tzinfo=dt.UTC), True),
        # succeeded at 02:30: nothing more until the next day
        ({"last_attempt": "2026-11-22T02:30:00+00:00", "last_success": "2026-11-22T02:30:00+00:00"},
         dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC), False),
    ],
)
def test_is_due(state: dict[str, Any], now: dt.datetime, due: bool) -> None:
    assert is_due(DAILY, state, now) is due


@pytest.mark.parametrize(
    ("crons", "hours"),
    [("30 2 * * *", 24), ("0 * * * *", 1), ("0 1 * * 0", 168), (["0 1 * * 0", "0 1 * * 1-6"], 24),
     ("0 1 * * 1-6", 48), ("0 0 1 * *", 31 * 24), ("* * * * *", 0)],
)
def test_period(crons: str | list[str], hours: int) -> None:
    assert period(crons, T0) == (dt.timedelta(hours=hours) if hours else dt.timedelta(minutes=1))
    assert period(crons, T0 + dt.timedelta(days=3)) <= dt.timedelta(hours=max(hours, 1) + 24 * 31)


def test_allowed_age_is_max_age_or_a_sparse_plan_plus_an_hour() -> None:
    assert allowed_age("30 2 * * *", 26, T0) == dt.timedelta(hours=26)
    assert allowed_age("0 1 * * 0", 26, T0) == dt.timedelta(hours=169)


def test_run_ids_sort_by_time_and_times_parse() -> None:
    a, b = new_run_id(T0), new_run_id(T0 + dt.timedelta(seconds=1))
    assert a < b and a.startswith("20261121T120000Z-")
    assert parse_time("2026-11-21 12:00:00") == T0 and parse_time("2026-11-21T12:00:00Z") == T0


def test_manifest_comparison_names_every_difference() -> None:
    result = mf.Comparison()
    mf.compare_tables("db", {"public.a": {"rows": 1, "checksum": "1"}, "public.b": {"rows": 2, "checksum": "2"}},
                      {"public.a": {"rows": 1, "checksum": "1"}, "public.c": {"rows": 0, "checksum": "0"}}, result)
    mf.compare_objects({"k1": {"sha256": "aa"}, "k2": {"sha256": "bb"}}, {"k1": "aa", "k2": "cc", "k3": "dd"}, result)
    assert not result.ok and result.tables_checked == 3 and result.objects_checked == 3
    assert len(result.mismatches) == 4
    clean = mf.Comparison()
    mf.compare_objects({"k": {"sha256": "aa"}}, {"k": "aa"}, clean)
    assert clean.ok


@pytest.fixture
def offline_box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Box:
    return make_offline_box(tmp_path, monkeypatch, provisioning=("gone",))


def test_jobs_follow_the_spec_and_the_registry(offline_box: Box) -> None:
    names = {j.name: j.cron for j in jobs(offline_box)}
    assert names == {"platform:full": "0 1 * * 0", "platform:diff": "0 1 * * 1-6",
                     "agency:health": "30 2 * * *", "agency:revenue": "0 3 * * *"}
    assert agency_cron(offline_box.spec, "unknown") == "30 2 * * *"


@pytest.mark.parametrize(("here", "expected"), [
    ((), {"agency:health", "agency:revenue"}),  # the operator's home of the hosts target: the registry is here
    (("database", "backups"), {"platform:full", "platform:diff"}),  # the backups' host: pgBackRest is here
    (("storage", "identity"), set()),  # a host without the backups service runs no job
])
def test_on_the_hosts_the_platform_and_the_agencies_jobs_run_apart(offline_box: Box, here: tuple[str, ...],
                                                                   expected: set[str]) -> None:
    import json

    from govcloud_platform.box.placement import FILE, Placement, Where

    where = {"storage": "h1", "identity": "h1", "database": "h2", "backups": "h2"}
    placement = Placement(here, {s: Where(h, f"10.0.0.{h[1]}") for s, h in where.items()})
    (offline_box.home / FILE).write_text(json.dumps(placement.to_json()))
    assert {j.name for j in jobs(offline_box)} == expected


def test_scheduler_tick_runs_due_jobs_once_and_records_state(offline_box: Box, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []

    def fake(box: Box, job: Job) -> tuple[bool, str]:
        ran.append(job.name)
        return job.name != "agency:revenue", "id"

    monkeypatch.setattr(scheduler, "run_job", fake)
    state = scheduler.State(offline_box.home)
    assert scheduler.tick(offline_box, state, T0, log=lambda _: None) == []  # baselines
    next_day = T0 + dt.timedelta(hours=16)  # Sunday 04:00: full (01:00) and both agencies fired
    result = scheduler.tick(offline_box, scheduler.State(offline_box.home), next_day, log=lambda _: None)
    assert [r[0] for r in result] == ["platform:full", "agency:health", "agency:revenue"]
    assert ran == ["platform:full", "agency:health", "agency:revenue"]  # the diff (Mon-Sat) did not fire
    again = scheduler.tick(offline_box, scheduler.State(offline_box.home), next_day + dt.timedelta(minutes=5),
                           log=lambda _: None)
    assert again == []  # the failed revenue run waits for its retry
    retry = scheduler.tick(offline_box, scheduler.State(offline_box.home), next_day + dt.timedelta(minutes=11),
                           log=lambda _: None)
    assert [r[0] for r in retry] == ["agency:revenue"]
    assert (offline_box.home / "backups" / "scheduler.json").stat().st_mode & 0o077 == 0


def test_status_fails_only_when_older_than_the_plan(offline_box: Box) -> None:
    registry = Registry(offline_box.home)
    registry.audit("backup run", "health", "ok", "t", '{"finished": "2026-11-21T02:30:00+00:00", "bytes": 5}')
    fresh = {r.scope: r for r in status(offline_box, now=T0, platform_last={"finished": iso(T0), "bytes": 1})}
    assert fresh["agency:health"].ok and fresh["agency:health"].bytes == 5
    later = {r.scope: r for r in status(offline_box, now=T0 + dt.timedelta(days=3),
                                        platform_last={"finished": iso(T0), "bytes": 1})}
    assert not later["agency:health"].ok and not later["platform"].ok
    assert not later["agency:revenue"].ok  # never backed up, and the plan's time is up


def test_status_knows_a_verdict_on_a_replaced_plan_by_the_plan_it_names(tmp_path: Path) -> None:
    """The verdict names the plan it judged (a digest of the file's bytes), not a time: CI saw a verdict recorded
    in the second `up` wrote the plan taken for one on the plan before, and the reverse (whole-second times)."""
    from govcloud_platform.box.services.backup_plan import current_plan_digest, plan_digest, plan_file

    assert current_plan_digest(tmp_path) is None
    plan = plan_file(tmp_path)
    plan.parent.mkdir(parents=True)
    plan.write_text('{"a": 1}')
    judged = current_plan_digest(tmp_path)
    assert judged == plan_digest(b'{"a": 1}')
    plan.write_text('{"a": 2}')
    assert current_plan_digest(tmp_path) != judged
