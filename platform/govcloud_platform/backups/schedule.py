"""The backup plan from the spec (cron per agency, platform defaults), when a job is due, how old a
backup may be before `backup status` fails, and whether the scheduler that runs the plan is healthy.

A cron that cannot be parsed (a plan written before the spec validated crons) is a problem of its own job
only: `cron_problem` names it, the scheduler skips and reports that job, and every other job runs."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from croniter import CroniterError, croniter

from govcloud_platform.backups.common import iso, parse_time, utcnow
from govcloud_platform.box.context import Box
from govcloud_platform.box.services.backup_plan import FAILING_AFTER, liveness, quota_problem
from govcloud_platform.spec import Spec
from govcloud_platform.state.registry import AgencyRecord, Registry

RETRY_AFTER = dt.timedelta(minutes=10)  # a failed run is retried this long after, until the next fire time
# The scheduler's health (`govcloud status`, the backups entry): it ticks every 15 s; a tick older than this
# (and no job running) means it is stuck; a job or the quota enforcement failing this many times in a row is a
# failure to report, not a passing fault (FAILING_AFTER, backup_plan's: the storage host's quota program uses it
# too); a freshly started scheduler has this long to record its first tick.


@dataclass(frozen=True)
class Job:
    name: str  # "platform:full", "platform:diff", "agency:<slug>"
    cron: str

    @property
    def scope(self) -> str:
        return "platform" if self.name.startswith("platform:") else self.name

    @property
    def kind(self) -> str:
        return self.name.split(":", 1)[1] if self.name.startswith("platform:") else "logical"


def cron_problem(cron: str, now: dt.datetime | None = None) -> str | None:
    """Why this cron cannot drive a job (None if it can): five fields that croniter parses, firing at some
    time (`0 0 31 2 *` never does)."""
    fields = cron.split()
    if len(fields) != 5:
        return f"schedule {cron!r} has {len(fields)} fields, not 5 (minute hour day-of-month month day-of-week)"
    moment = now or dt.datetime.now(dt.UTC)
    try:
        croniter(cron, moment).get_prev(dt.datetime)
        croniter(cron, moment).get_next(dt.datetime)
    except (CroniterError, ValueError) as exc:
        return f"schedule {cron!r} cannot be used: {str(exc)[:120]}"
    return None


def previous_fire(cron: str, now: dt.datetime) -> dt.datetime:
    value: dt.datetime = croniter(cron, now).get_prev(dt.datetime)
    return value


def period(cron: str | list[str], now: dt.datetime) -> dt.timedelta:
    """The longest gap between two consecutive fire times (of any of the schedules) over the next two weeks:
    a weekly full plus a Monday-to-Saturday diff is a daily plan. Looks ahead 62 days (monthly plans)."""
    horizon = now + dt.timedelta(days=62)
    times: list[dt.datetime] = []
    cutoff = horizon
    for one in [cron] if isinstance(cron, str) else cron:
        it = croniter(one, now)
        mine = [it.get_next(dt.datetime)]
        while mine[-1] <= horizon and len(mine) < 3000:
            mine.append(it.get_next(dt.datetime))
        cutoff = min(cutoff, mine[-1])  # a frequent schedule stops early: compare only where all are known
        times += mine
    kept = sorted(t for t in times if t <= cutoff)
    if len(kept) < 2:
        return dt.timedelta(days=31)
    return max(b - a for a, b in zip(kept, kept[1:], strict=False))


@dataclass(frozen=True)
class Schedules:
    """The crons of a plan as written: the spec's, or those of a plan file an earlier govcloud wrote (which may
    hold crons the spec would refuse today)."""

    full: str
    diff: str | None
    agency_default: str
    agencies: Mapping[str, str] = field(default_factory=dict)  # slug -> its own cron

    @classmethod
    def of(cls, spec: Spec) -> Schedules:
        b = spec.platform.services.backups
        own = {a.slug: a.backup_schedule for a in spec.agencies if a.backup_schedule}
        return cls(b.schedule, b.diff_schedule, b.agency_schedule, own)

    @classmethod
    def of_raw(cls, raw: Mapping[str, Any], fallback: Schedules) -> Schedules:
        """From a spec document (the plan file's JSON) without validating it; `fallback` for what it lacks."""
        b = ((raw.get("platform") or {}).get("services") or {}).get("backups") or {}
        own = {str(a.get("slug")): str(a["backup_schedule"]) for a in raw.get("agencies") or []
               if isinstance(a, Mapping) and a.get("backup_schedule")}
        diff = b.get("diff_schedule", fallback.diff)
        return cls(str(b.get("schedule") or fallback.full), str(diff) if diff else None,
                   str(b.get("agency_schedule") or fallback.agency_default), own)

    def agency(self, slug: str) -> str:
        return self.agencies.get(slug) or self.agency_default


def agency_cron(spec: Spec, slug: str) -> str:
    return Schedules.of(spec).agency(slug)


def jobs(box: Box, schedules: Schedules | None = None) -> list[Job]:
    """Platform jobs first (full before diff), then every ready agency with a backup repository. On the hosts
    target the two halves run apart: the platform's where the backups service runs (its host's scheduler),
    the agencies' where the registry is (the operator's home, `govcloud backup tick`)."""
    plan = schedules or Schedules.of(box.spec)
    out = []
    if box.runs("backups"):
        out.append(Job("platform:full", plan.full))
        if plan.diff:
            out.append(Job("platform:diff", plan.diff))
    if not box.keeps_registry:  # a host of the hosts target: the agencies' jobs need the operator's registry
        return out
    registry = Registry(box.home)
    for record in registry.agencies():
        if record.state == "ready" and "backups" in record.services:
            out.append(Job(f"agency:{record.slug}", plan.agency(record.slug)))
    return out


def is_due(job: Job, state: dict[str, Any], now: dt.datetime) -> bool:
    """Due when a fire time passed since the last attempt, or a failed run waits for its retry."""
    fired = previous_fire(job.cron, now)
    last_attempt = parse_time(state["last_attempt"]) if state.get("last_attempt") else None
    last_success = parse_time(state["last_success"]) if state.get("last_success") else None
    if last_attempt is None:
        return False  # first sight of a job: its baseline is now (no surprise backup storm at first start)
    if fired > last_attempt:
        return True
    if not state.get("failed"):
        return False
    return fired > (last_success or dt.datetime.min.replace(tzinfo=dt.UTC)) and now - last_attempt >= RETRY_AFTER


def allowed_age(cron: str | list[str], max_age_hours: int, now: dt.datetime) -> dt.timedelta:
    """How old the newest backup may be: the spec's max_age_hours, or the schedule's period plus an hour
    when the schedule is sparser (a weekly plan is not late after 26 hours)."""
    return max(dt.timedelta(hours=max_age_hours), period(cron, now) + dt.timedelta(hours=1))


@dataclass(frozen=True)
class StatusRow:
    scope: str
    schedule: str
    last_success: str | None
    age_seconds: int | None
    bytes: int | None
    allowed_seconds: int
    ok: bool
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"scope": self.scope, "schedule": self.schedule, "last_success": self.last_success,
                "age_seconds": self.age_seconds, "bytes": self.bytes, "allowed_seconds": self.allowed_seconds,
                "ok": self.ok, "detail": self.detail}


def _row(scope: str, cron: str | list[str], last: dict[str, Any] | None, since: dt.datetime | None, max_age: int,
         now: dt.datetime) -> StatusRow:
    problems = [p for one in ([cron] if isinstance(cron, str) else cron) if (p := cron_problem(one, now))]
    if problems:  # no plan to measure against: a backup that may never run again is not ok
        shown = cron if isinstance(cron, str) else " + ".join(cron)
        return StatusRow(scope, shown, None, None, None, 0, False, "; ".join(problems))
    allowed = allowed_age(cron, max_age, now)
    cron = cron if isinstance(cron, str) else " + ".join(cron)
    if last is None:
        # never backed up: fine while the agency is younger than its plan allows
        young = since is not None and now - since <= allowed
        return StatusRow(scope, cron, None, None, None, int(allowed.total_seconds()), young,
                         "no backup yet" + ("" if young else " and the plan's time is up"))
    finished = parse_time(last["finished"])
    age = now - finished
    ok = age <= allowed
    return StatusRow(scope, cron, iso(finished), int(age.total_seconds()), int(last.get("bytes", 0)),
                     int(allowed.total_seconds()), ok, "" if ok else "older than the plan allows")


def last_successes(box: Box, target: str) -> dict[str, Any] | None:
    for entry in Registry(box.home).audit_log(limit=200, target=target):
        if entry["command"] == "backup run" and entry["result"] == "ok":
            try:
                doc: dict[str, Any] = json.loads(entry["detail"])
                return doc
            except ValueError:
                continue
    return None


def status(box: Box, now: dt.datetime | None = None, platform_last: dict[str, Any] | None = None) -> list[StatusRow]:
    """One row for the platform (newest pgBackRest backup) and one per agency (newest successful run)."""
    now = now or utcnow()
    settings = box.spec.platform.services.backups
    crons = [settings.schedule] + ([settings.diff_schedule] if settings.diff_schedule else [])
    rows = [_row("platform", crons, platform_last, _box_created(box), settings.max_age_hours, now)]
    for record in Registry(box.home).agencies():
        if record.state != "ready" or "backups" not in record.services:
            continue
        rows.append(agency_status(box, record, now))
    return rows


def agency_status(box: Box, record: AgencyRecord, now: dt.datetime | None = None) -> StatusRow:
    """One agency's row of `status` (`backup status`, and the console's backups page): its newest successful run
    (the audit log's), its age against what the agency's plan allows."""
    return _row(f"agency:{record.slug}", agency_cron(box.spec, record.slug), last_successes(box, record.slug),
                parse_time(record.created_at), box.spec.platform.services.backups.max_age_hours, now or utcnow())


def _box_created(box: Box) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp((box.home / "ca").stat().st_mtime, dt.UTC)
    except OSError:
        return None


def jobs_health(doc: Mapping[str, Any], current: Mapping[str, str], now: dt.datetime) -> list[str]:
    """What the state file (`doc`) says of the plan the scheduler runs now (`current`: job -> cron): jobs that
    can never run, jobs and the quota enforcement failing again and again. Failures recorded under an older
    cron of a job do not count (the plan changed since). Pure; the scheduler stores the verdict at each tick."""
    problems: list[str] = []
    jobs_state = doc.get("jobs") or {}
    for name, cron in current.items():
        entry = jobs_state.get(name) or {}
        problem = cron_problem(cron, now)
        if problem:
            problems.append(f"{name} never runs: {problem}")
        elif entry.get("cron") == cron and int(entry.get("failures") or 0) >= FAILING_AFTER:
            problems.append(f"{name} failed {entry['failures']} times in a row: {entry.get('error', '')}")
    quota = quota_problem((doc.get("scheduler") or {}).get("quota") or {})
    if quota is not None:
        problems.append(quota)
    return problems


def verdict(doc: Mapping[str, Any], current: Mapping[str, str], now: dt.datetime) -> tuple[bool, str]:
    """The scheduler's own verdict on its jobs, as `status` shows it when the scheduler is alive."""
    problems = jobs_health(doc, current, now)
    if problems:
        return False, "scheduler: " + "; ".join(problems)
    me = doc.get("scheduler") or {}
    last_tick = parse_time(me["last_tick"]) if me.get("last_tick") else None
    ago = f"last tick {int((now - last_tick).total_seconds())} s ago" if last_tick else "running a job"
    return True, f"scheduler: {ago}, {len(current)} jobs"


def scheduler_health(doc: Mapping[str, Any], current: Mapping[str, str], now: dt.datetime,
                     pid: int | None = None, started: dt.datetime | None = None,
                     registry_since: dt.datetime | None = None) -> tuple[bool, str]:
    """The whole judgement in one place (tests, `backup status`): alive (box.services.backup_plan.liveness)
    and the verdict on the jobs."""
    alive, problems = liveness(doc.get("scheduler") or {}, now, pid, started, registry_since)
    if alive is None:
        return True, "scheduler starting"
    if not alive:
        return False, problems[0]
    problems += jobs_health(doc, current, now)
    if problems:
        return False, "scheduler: " + "; ".join(problems)
    return verdict(doc, current, now)
