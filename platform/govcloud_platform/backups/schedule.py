"""The backup plan from the spec (cron per agency, platform defaults), when a job is due, and how old a
backup may be before `backup status` fails."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from croniter import croniter

from govcloud_platform.backups.common import iso, parse_time, utcnow
from govcloud_platform.box.context import Box
from govcloud_platform.spec import Spec
from govcloud_platform.state.registry import Registry

RETRY_AFTER = dt.timedelta(minutes=10)  # a failed run is retried this long after, until the next fire time


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


def agency_cron(spec: Spec, slug: str) -> str:
    for agency in spec.agencies:
        if agency.slug == slug and agency.backup_schedule:
            return agency.backup_schedule
    return spec.platform.services.backups.agency_schedule


def jobs(box: Box) -> list[Job]:
    """Platform jobs first (full before diff), then every ready agency with a backup repository."""
    settings = box.spec.platform.services.backups
    out = [Job("platform:full", settings.schedule)]
    if settings.diff_schedule:
        out.append(Job("platform:diff", settings.diff_schedule))
    registry = Registry(box.home)
    for record in registry.agencies():
        if record.state == "ready" and "backups" in record.services:
            out.append(Job(f"agency:{record.slug}", agency_cron(box.spec, record.slug)))
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
        cron = agency_cron(box.spec, record.slug)
        rows.append(_row(f"agency:{record.slug}", cron, last_successes(box, record.slug),
                         parse_time(record.created_at), settings.max_age_hours, now))
    return rows


def _box_created(box: Box) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp((box.home / "ca").stat().st_mtime, dt.UTC)
    except OSError:
        return None
