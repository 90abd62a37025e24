"""The backup scheduler: a small process under supervisord that runs the plan of the spec.

It reads the spec snapshot that `govcloud up` writes to `<home>/backups/plan.json`, checks every job every
few seconds, runs the due ones one after another (the platform first), and records every run in the audit
log (actor `scheduler`). Its own bookkeeping (last attempt and success per job) is `scheduler.json`.
`--once [--now TIME]` runs the due jobs a single time (for tests and for cron-less operation)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from govcloud_platform.backups import agency, cluster
from govcloud_platform.backups.common import backups_dir, iso, parse_time, utcnow
from govcloud_platform.backups.schedule import Job, is_due, jobs
from govcloud_platform.box.context import Box
from govcloud_platform.box.secrets import write_private
from govcloud_platform.spec import Spec

ACTOR = "scheduler"
TICK = 15.0
QUOTA_EVERY = 60.0  # seconds between two bucket-quota enforcements (housekeeping the scheduler also does)


def plan_file(home: Path) -> Path:
    return home / "backups" / "plan.json"


def write_plan(box: Box) -> bool:
    """Snapshot of the spec for the scheduler (it has no --spec); True if it changed."""
    path = plan_file(box.home)
    backups_dir(box)
    text = json.dumps(box.spec.model_dump(mode="json"), indent=1, sort_keys=True) + "\n"
    if path.exists() and path.read_text() == text:
        return False
    write_private(path, text)
    return True


def load_box(home: Path) -> Box:
    spec = Spec.model_validate(json.loads(plan_file(home).read_text()))
    return Box(home=home, spec=spec)


class State:
    def __init__(self, home: Path) -> None:
        self.path = home / "backups" / "scheduler.json"
        try:
            self.jobs: dict[str, dict[str, Any]] = json.loads(self.path.read_text())["jobs"]
        except (OSError, ValueError, KeyError):
            self.jobs = {}

    def save(self) -> None:
        write_private(self.path, json.dumps({"jobs": self.jobs}, indent=1, sort_keys=True) + "\n")


def run_job(box: Box, job: Job) -> tuple[bool, str]:
    try:
        if job.scope == "platform":
            record = cluster.run_backup(box, job.kind, actor=ACTOR)
        else:
            record = agency.run_backup(box, job.name.split(":", 1)[1], actor=ACTOR)
    except Exception as exc:  # noqa: BLE001 - the audit log has it; the scheduler keeps going
        return False, str(exc)[:300]
    return True, record.id


def tick(box: Box, state: State, now: dt.datetime, log: Any = print) -> list[tuple[str, bool, str]]:
    """Run every due job once; returns (job, ok, detail) for each run."""
    ran: list[tuple[str, bool, str]] = []
    platform_done = False
    for job in jobs(box):
        entry = state.jobs.setdefault(job.name, {})
        if not entry.get("last_attempt"):
            entry["last_attempt"] = iso(now)
            entry["cron"] = job.cron
            continue
        if entry.get("cron") != job.cron:  # a changed plan starts from now
            entry.update(cron=job.cron, last_attempt=iso(now))
            continue
        if not is_due(job, entry, now):
            continue
        if job.scope == "platform" and platform_done:  # a full backup covers a diff due at the same time
            entry["last_attempt"] = iso(now)
            continue
        log(f"{iso(utcnow())} running {job.name}")
        ok, detail = run_job(box, job)
        entry["last_attempt"] = iso(now)
        entry["failed"] = not ok
        if ok:
            entry["last_success"] = iso(now)
            platform_done = platform_done or job.scope == "platform"
        log(f"{iso(utcnow())} {job.name}: {'ok ' + detail if ok else 'FAILED: ' + detail}")
        ran.append((job.name, ok, detail))
        state.save()
    state.save()
    return ran


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="govcloud-backup-scheduler")
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--once", action="store_true", help="run the due jobs once and exit")
    parser.add_argument("--now", help="pretend it is this time (ISO 8601; with --once)")
    args = parser.parse_args(argv)
    home = args.home.resolve()
    stopping = {"now": False}

    def stop(*_: object) -> None:
        stopping["now"] = True
        if not args.once:
            raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    if args.once:
        now = parse_time(args.now) if args.now else utcnow()
        ran = tick(load_box(home), State(home), now)
        print(json.dumps([{"job": j, "ok": ok, "detail": d} for j, ok, d in ran]))
        return 0 if all(ok for _, ok, _ in ran) else 1
    print(f"{iso(utcnow())} backup scheduler started for {home}", flush=True)
    last_quota = 0.0
    while not stopping["now"]:
        try:
            box = load_box(home)
            tick(box, State(home), utcnow(), log=lambda m: print(m, flush=True))
            if time.monotonic() - last_quota >= QUOTA_EVERY:
                last_quota = time.monotonic()
                enforce_quotas_logged(box)
        except Exception as exc:  # noqa: BLE001 - never die on one bad tick (registry busy, plan missing)
            print(f"{iso(utcnow())} tick failed: {type(exc).__name__}: {str(exc)[:200]}", flush=True)
        time.sleep(TICK)
    return 0


def enforce_quotas_logged(box: Box) -> list[str]:
    """Enforce bucket quotas; every bucket switched is printed and audited."""
    from govcloud_platform.brokers.storage import enforce_quotas
    from govcloud_platform.state.registry import Registry

    switched = enforce_quotas(box)
    for bucket in switched:
        print(f"{iso(utcnow())} quota: bucket {bucket} switched (over quota: read-only)", flush=True)
        Registry(box.home).audit("quota enforce", bucket, "switched", ACTOR)
    return switched


if __name__ == "__main__":
    sys.exit(main())
