"""The backup scheduler: a small process under supervisord that runs the plan of the spec.

It reads the spec snapshot that `govcloud up` writes to `<home>/backups/plan.json` at every tick (so `up` on a
running box changes the plan without a restart), checks every job every few seconds, runs the due ones one after
another (the platform first), and records every run in the audit log (actor `scheduler`). Its bookkeeping is
`scheduler.json`: per job the last attempt and success, consecutive failures and the last error or the reason
it cannot run (a cron that does not parse: that job is skipped, every other runs); and its own health (pid,
last tick, the job it is running, the bucket-quota enforcement), which `govcloud status` reports.
`--once [--now TIME]` runs the due jobs a single time (for tests and for cron-less operation)."""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from govcloud_platform.backups import agency, cluster
from govcloud_platform.backups.common import iso, parse_time, utcnow
from govcloud_platform.backups.schedule import Job, Schedules, cron_problem, is_due, jobs, scheduler_health, verdict
from govcloud_platform.box.context import Box
from govcloud_platform.box.secrets import write_private
from govcloud_platform.box.services.backup_plan import (
    PROGRAM,
    TICK,
    plan_digest,
    plan_file,
    quota_file,
    read_state,
    registry_written,
    state_file,
)
from govcloud_platform.errors import RegistryDamaged
from govcloud_platform.spec import Spec

ACTOR = "scheduler"
QUOTA_EVERY = 60.0  # seconds between two bucket-quota enforcements (housekeeping the scheduler also does)
# The plan's cron keys: a value the spec refuses (a plan written before it validated crons) is set aside to
# load the rest; the job keeps the raw value and is reported as unable to run.
CRON_KEYS = ("schedule", "diff_schedule", "agency_schedule", "backup_schedule")

Log = Callable[[str], None]


def load_plan(home: Path, data: bytes | None = None) -> tuple[Box, Schedules]:
    """The box of the plan file (or of its bytes `data`, already read), and the crons as the file has them (even
    those the spec would refuse)."""
    raw = json.loads(plan_file(home).read_bytes() if data is None else data)
    spec = tolerant_spec(raw)
    return Box(home=home, spec=spec), Schedules.of_raw(raw, Schedules.of(spec))


def load_box(home: Path) -> Box:
    return load_plan(home)[0]


def tolerant_spec(raw: dict[str, Any]) -> Spec:
    """The plan's spec. Crons that fail validation are replaced by their defaults (a platform cron) or unset
    (an agency's own): the box must load for the other jobs and for the quota enforcement; `Schedules.of_raw`
    keeps the real values, whose jobs are then reported. Any other error is raised."""
    try:
        return Spec.model_validate(raw)
    except ValidationError as exc:
        from govcloud_platform.spec.models import BackupSettings

        fixed = copy.deepcopy(raw)
        for error in exc.errors():
            loc = list(error["loc"])
            at = next((i for i, part in enumerate(loc) if part in CRON_KEYS), None)
            if at is None:
                raise
            key = str(loc[at])
            default = BackupSettings.model_fields[key].default if key in BackupSettings.model_fields else None
            parent: Any = fixed
            for part in loc[:at]:
                parent = parent[part]
            parent[key] = default if key in ("schedule", "agency_schedule") else None
        return Spec.model_validate(fixed)


class State:
    """`scheduler.json`: {"jobs": {name: {...}}, "scheduler": {pid, started, last_tick, running, tick_error,
    quota}}."""

    def __init__(self, home: Path) -> None:
        self.path = state_file(home)
        doc = read_state(home)
        jobs_doc, me = doc.get("jobs"), doc.get("scheduler")
        self.jobs: dict[str, dict[str, Any]] = jobs_doc if isinstance(jobs_doc, dict) else {}
        self.me: dict[str, Any] = me if isinstance(me, dict) else {}

    def doc(self) -> dict[str, Any]:
        return {"jobs": self.jobs, "scheduler": self.me}

    def save(self) -> None:
        write_private(self.path, json.dumps(self.doc(), indent=1, sort_keys=True) + "\n")


def run_job(box: Box, job: Job) -> tuple[bool, str]:
    try:
        if job.scope == "platform":
            record = cluster.run_backup(box, job.kind, actor=ACTOR)
        else:
            record = agency.run_backup(box, job.name.split(":", 1)[1], actor=ACTOR)
    except Exception as exc:  # noqa: BLE001 - the audit log has it; the scheduler keeps going
        return False, str(exc)[:300]
    return True, record.id


def tick(box: Box, state: State, now: dt.datetime, log: Log = print,
         schedules: Schedules | None = None) -> list[tuple[str, bool, str]]:
    """Run every due job once; returns (job, ok, detail) for each run. A job that cannot be decided (its cron
    does not parse) is recorded and skipped; the others go on."""
    ran: list[tuple[str, bool, str]] = []
    platform_done = False
    for job in jobs(box, schedules):
        entry = state.jobs.setdefault(job.name, {})
        try:
            problem = cron_problem(job.cron, now)
            if problem is not None:
                if entry.get("problem") != problem:
                    log(f"{iso(utcnow())} {job.name} skipped: {problem}")
                entry.update(cron=job.cron, problem=problem)
                continue
            entry.pop("problem", None)
            if not entry.get("last_attempt"):
                entry["last_attempt"] = iso(now)
                entry["cron"] = job.cron
                continue
            if entry.get("cron") != job.cron:  # a changed plan starts from now
                entry.update(cron=job.cron, last_attempt=iso(now), failures=0)
                entry.pop("error", None)
                continue
            if not is_due(job, entry, now):
                continue
        except Exception as exc:  # noqa: BLE001 - one undecidable job never stops the others
            entry["problem"] = f"{type(exc).__name__}: {str(exc)[:200]}"
            log(f"{iso(utcnow())} {job.name} skipped: {entry['problem']}")
            continue
        if job.scope == "platform" and platform_done:  # a full backup covers a diff due at the same time
            entry["last_attempt"] = iso(now)
            continue
        log(f"{iso(utcnow())} running {job.name}")
        state.me["running"] = {"job": job.name, "since": iso(utcnow())}
        state.save()
        ok, detail = run_job(box, job)
        state.me["running"] = None
        entry["last_attempt"] = iso(now)
        entry["failed"] = not ok
        entry["failures"] = 0 if ok else int(entry.get("failures") or 0) + 1
        if ok:
            entry["last_success"] = iso(now)
            entry.pop("error", None)
            platform_done = platform_done or job.scope == "platform"
        else:
            entry["error"] = detail
        log(f"{iso(utcnow())} {job.name}: {'ok ' + detail if ok else 'FAILED: ' + detail}")
        ran.append((job.name, ok, detail))
        state.save()
    state.save()
    return ran


def run_once_more(home: Path, last_quota: float, log: Log) -> float:
    """One tick of the service loop: the due jobs, then (every QUOTA_EVERY s) the quota enforcement, each
    failing on its own; the scheduler's health is saved either way. Returns when quotas were last enforced."""
    state = State(home)
    state.me.update(pid=os.getpid(), last_tick=iso(utcnow()))
    box: Box | None = None
    current: dict[str, str] = {}
    judged: str | None = None
    try:
        data = plan_file(home).read_bytes()
        judged = plan_digest(data)
        box, schedules = load_plan(home, data)
        current = {job.name: job.cron for job in jobs(box, schedules)}
        tick(box, state, utcnow(), log=log, schedules=schedules)
        state.me.update(tick_error=None, tick_error_cause=None)
    except Exception as exc:  # noqa: BLE001 - never die on one bad tick (registry busy, plan missing)
        state.me["tick_error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
        # a missing or foreign registry (check_registry, or sqlite's error translated): what a restore repairs
        state.me["tick_error_cause"] = error_cause(exc)
        log(f"{iso(utcnow())} tick failed: {state.me['tick_error']}")
    # quotas are enforced where storage runs (on the hosts target its host runs `--quota-only`: quota_here)
    if box is not None and box.runs("storage") and time.monotonic() - last_quota >= QUOTA_EVERY:
        last_quota = time.monotonic()
        quota = state.me.setdefault("quota", {})
        try:
            enforce_quotas_logged(box)
            quota.update(last_run=iso(utcnow()), failures=0, error=None)
        except Exception as exc:  # noqa: BLE001 - reported in status; the backups go on
            quota.update(failures=int(quota.get("failures") or 0) + 1, error=f"{type(exc).__name__}: "
                         f"{str(exc)[:200]}")
            log(f"{iso(utcnow())} quota enforcement failed: {quota['error']}")
    state.me["last_tick"] = iso(utcnow())
    ok, detail = verdict(state.doc(), current, utcnow())  # what `status` shows while this scheduler is alive
    # `plan` names the plan judged: `status` knows a verdict on a plan `up` has since replaced
    state.me["verdict"] = {"ok": ok, "detail": detail, "at": iso(utcnow()), "plan": judged}
    state.save()
    return last_quota


def quota_once(box: Box, record: dict[str, Any]) -> dict[str, Any]:
    """One bucket-quota enforcement of the `--quota-only` program; returns its new record (failures in a row,
    the last error), which it writes to `quota.json` for `status`."""
    try:
        enforce_quotas_logged(box)
        return {"pid": os.getpid(), "last_run": iso(utcnow()), "failures": 0, "error": None}
    except Exception as exc:  # noqa: BLE001 - reported in status; the next round tries again
        error = f"{type(exc).__name__}: {str(exc)[:200]}"
        print(f"{iso(utcnow())} quota enforcement failed: {error}", flush=True)
        return {**record, "pid": os.getpid(), "failures": int(record.get("failures") or 0) + 1, "error": error}


def quota_main(home: Path, spec_file: Path, every: float) -> int:
    """`--quota-only`: the storage host's own bucket-quota enforcement (`backup_plan.quota_here`), every `every`
    seconds, with the home's copy of the spec."""
    from govcloud_platform.spec import load_spec

    box = Box(home=home, spec=load_spec(spec_file), create=False)
    print(f"{iso(utcnow())} quota enforcement started for {home}", flush=True)
    record: dict[str, Any] = {}
    time.sleep(min(every, 10))  # started with storage: let it answer first
    while True:
        record = quota_once(box, record)
        write_private(quota_file(home), json.dumps(record) + "\n")
        time.sleep(every)


def error_cause(exc: BaseException) -> str | None:
    """Pure: what a failed tick's error is about, where that matters: "registry" for a missing or foreign registry
    (`check_registry`, or sqlite's error translated), which a restore repairs (`liveness` judges it again then)."""
    return "registry" if isinstance(exc, RegistryDamaged) else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="govcloud-backup-scheduler")
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--once", action="store_true", help="run the due jobs once and exit")
    parser.add_argument("--now", help="pretend it is this time (ISO 8601; with --once)")
    parser.add_argument("--tick", type=float, default=TICK, help="seconds between two looks at the plan")
    parser.add_argument("--quota-only", type=Path, metavar="SPEC",
                        help="only enforce the bucket quotas, every QUOTA_EVERY s (a storage host's program)")
    args = parser.parse_args(argv)
    home = args.home.resolve()
    if args.quota_only is not None:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        return quota_main(home, args.quota_only, QUOTA_EVERY)
    stopping = {"now": False}

    def stop(*_: object) -> None:
        stopping["now"] = True
        if not args.once:
            raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    if args.once:
        now = parse_time(args.now) if args.now else utcnow()
        box, schedules = load_plan(home)
        ran = tick(box, State(home), now, schedules=schedules)
        print(json.dumps([{"job": j, "ok": ok, "detail": d} for j, ok, d in ran]))
        return 0 if all(ok for _, ok, _ in ran) else 1
    print(f"{iso(utcnow())} backup scheduler started for {home}", flush=True)
    state = State(home)
    state.me = {"pid": os.getpid(), "started": iso(utcnow()), "running": None, "tick_error": None}
    state.save()
    last_quota = -QUOTA_EVERY
    while not stopping["now"]:
        last_quota = run_once_more(home, last_quota, lambda m: print(m, flush=True))
        time.sleep(args.tick)
    return 0


def health(box: Box) -> tuple[bool, str]:
    """The scheduler's health judged here and now against the plan file (`backup status`); `govcloud status`
    reads the scheduler's own verdict instead (box.services.backup_plan.probe)."""
    from govcloud_platform.box.supervisor import Supervisor

    try:
        plan_box, schedules = load_plan(box.home)
        current = {job.name: job.cron for job in jobs(plan_box, schedules)}
    except (OSError, ValueError) as exc:
        return False, f"scheduler: its plan {plan_file(box.home)} cannot be read ({type(exc).__name__}): run " \
                      "`govcloud up`"
    info = Supervisor(box).info().get(PROGRAM) or {}
    pid = int(info["pid"]) if info.get("pid") else None
    started = dt.datetime.fromtimestamp(int(info["start"]), dt.UTC) if info.get("start") else None
    return scheduler_health(State(box.home).doc(), current, utcnow(), pid, started, registry_written(box.home))


def enforce_quotas_logged(box: Box) -> list[str]:
    """Enforce bucket quotas; every bucket switched is printed and audited."""
    from govcloud_platform.brokers.storage import enforce_quotas
    from govcloud_platform.state.registry import Registry

    switched = enforce_quotas(box)
    for bucket in switched:
        print(f"{iso(utcnow())} quota: bucket {bucket} switched (over quota: read-only)", flush=True)
        if box.keeps_registry:
            Registry(box.home).audit("quota enforce", bucket, "switched", ACTOR)
    return switched


if __name__ == "__main__":
    sys.exit(main())
