"""The box's side of the backup scheduler: the program supervisord runs, the plan file it reads and the state
file it writes, and whether it is alive. The scheduler itself (`govcloud_platform.backups.scheduler`) decides
what runs when; it stores its own verdict on its jobs in the state file at every tick, so the box reads a file
and never imports the backups package (which uses the box)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from govcloud_platform.box.context import Box
from govcloud_platform.box.secrets import write_private

PROGRAM = "backup-scheduler"
TICK = 15.0  # seconds between two looks at the plan
STALE_AFTER = dt.timedelta(minutes=5)  # no tick for this long, no job running: stuck
LONGEST_RUN = dt.timedelta(hours=12)  # a job running longer than this: stuck
START_GRACE = dt.timedelta(seconds=90)  # a scheduler this young that has not recorded itself yet: starting


QUOTA_PROGRAM = "quota-enforcer"
FAILING_AFTER = 3  # a job or the quota enforcement failing this many times in a row is reported (`status`)


def quota_here(box: Box) -> bool:
    """Whether this home runs the bucket-quota enforcement as a program of its own: a storage host of the hosts
    target whose backups (and their scheduler, which enforces quotas elsewhere) run on another host. The
    enforcement is a `weed shell` as SeaweedFS's admin: it stays with storage, so the backups' host holds
    neither the S3 admin keys nor SeaweedFS's JWT keys and certificates. Of a storage cluster, only the first
    storage host enforces them (one enforcement for the whole cluster)."""
    placement = box.placement
    if placement is None or not box.runs("storage") or box.runs("backups"):
        return False
    first = placement.services["storage"]
    return not placement.storage_cluster or first.address == box.address


def quota_file(home: Path) -> Path:
    """The quota program's record: in storage's own directory (root's, 0700), as the program is storage's."""
    return home / "s3" / "quota.json"


def quota_problem(doc: Mapping[str, Any]) -> str | None:
    """Pure: what `status` says of a quota enforcement's record ({"failures", "error", ...}: the storage host's
    program's, or the scheduler's own), or None."""
    failures = int(doc.get("failures") or 0)
    if failures >= FAILING_AFTER:
        return f"quota enforcement failed {failures} times in a row: {doc.get('error', '')}"
    return None


def plan_file(home: Path) -> Path:
    return home / "backups" / "plan.json"


def state_file(home: Path) -> Path:
    return home / "backups" / "scheduler.json"


def plan_digest(data: bytes) -> str:
    """What names one plan: the scheduler records it with its verdict, `status` compares it with the file's."""
    return hashlib.sha256(data).hexdigest()[:16]


def current_plan_digest(home: Path) -> str | None:
    try:
        return plan_digest(plan_file(home).read_bytes())
    except OSError:
        return None


def write_plan(box: Box) -> bool:
    """Snapshot of the spec for the scheduler (it has no --spec); True if it changed."""
    path = plan_file(box.home)
    box.dir("backups")
    os.chmod(box.home / "backups", 0o711)  # noqa: S103 - no listing; postgres reaches its scratch clusters below
    text = json.dumps(box.spec.model_dump(mode="json"), indent=1, sort_keys=True) + "\n"
    if path.exists() and path.read_text() == text:
        return False
    write_private(path, text)
    return True


def read_state(home: Path) -> dict[str, Any]:
    """`scheduler.json` ({"jobs": {...}, "scheduler": {...}}), or an empty document."""
    try:
        doc = json.loads(state_file(home).read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _time(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def liveness(me: Mapping[str, Any], now: dt.datetime, pid: int | None = None,
             started: dt.datetime | None = None,
             registry_since: dt.datetime | None = None) -> tuple[bool | None, list[str]]:
    """Whether the scheduler's own record (`me`: the state's "scheduler") shows it alive (pure). `pid` and
    `started` are the running program's, from supervisord. (None, []) while a new scheduler has not recorded
    itself yet; (False, [why]) when it does not run (records no tick, is stuck); (True, [problems]) when it
    runs, with what its record says went wrong. `registry_since`: when the registry now in place was written
    (`backup restore --registry`): a tick that failed on the registry before that is judged again at the next."""
    if pid is not None and me.get("pid") != pid:
        if started is not None and now - started <= START_GRACE:
            return None, []
        return False, [f"scheduler (pid {pid}) records no tick: restart it with `govcloud up`"]
    problems: list[str] = []
    running = me.get("running") or {}
    last_tick = _time(me["last_tick"]) if me.get("last_tick") else None
    if running.get("since"):
        took = now - _time(running["since"])
        if took > LONGEST_RUN:
            problems.append(f"{running.get('job')} has been running for {took.total_seconds() / 3600:.0f} h")
    elif last_tick is None or now - last_tick > STALE_AFTER:
        problems.append("no tick recorded" if last_tick is None
                        else f"last tick {int((now - last_tick).total_seconds())} s ago (stuck?)")
    restored = (me.get("tick_error_cause") == "registry" and registry_since is not None and last_tick is not None
                and registry_since > last_tick)
    if me.get("tick_error") and not restored:
        problems.append(f"tick failed: {me['tick_error']}")
    return True, problems


def registry_written(home: Path) -> dt.datetime | None:
    """When the registry in the home was last written or put in place (its ctime: a restore may keep the backup's
    mtime); None: there is none."""
    from govcloud_platform.state.registry import registry_path

    try:
        return dt.datetime.fromtimestamp(registry_path(home).stat().st_ctime, dt.UTC)
    except OSError:
        return None


def probe(box: Box) -> tuple[bool, str]:
    """`status`: the scheduler alive (its program's pid and ticks) and its own verdict on its jobs."""
    from govcloud_platform.box.supervisor import Supervisor

    info = Supervisor(box).info().get(PROGRAM) or {}
    pid = int(info["pid"]) if info.get("pid") else None
    started = dt.datetime.fromtimestamp(int(info["start"]), dt.UTC) if info.get("start") else None
    return judge(read_state(box.home).get("scheduler") or {}, dt.datetime.now(dt.UTC), pid, started,
                 registry_written(box.home), current_plan_digest(box.home))


def judge(me: Mapping[str, Any], now: dt.datetime, pid: int | None, started: dt.datetime | None,
          registry_since: dt.datetime | None, plan: str | None) -> tuple[bool, str]:
    """Pure: `probe`'s judgement of the scheduler's own record (`me`), its running program (`pid`, `started`) and
    the plan now in place (`plan`: its digest)."""
    alive, problems = liveness(me, now, pid, started, registry_since)
    if alive is None:
        return True, "scheduler starting"
    verdict = me.get("verdict") or {}
    if alive and not problems and verdict and verdict.get("plan") != plan:
        # `up` just wrote a new plan (from a validated spec): the scheduler judges it at its next tick
        return True, "scheduler: a new plan, judged at the next tick"
    if alive and not problems and verdict:
        return bool(verdict.get("ok")), str(verdict.get("detail", "scheduler"))
    if alive and not problems:
        if started is not None and now - started <= START_GRACE:  # recorded itself; judges at its first tick
            return True, "scheduler starting (its first verdict at its first tick)"
        return False, "scheduler: no verdict recorded yet"
    return False, "scheduler: " + "; ".join(problems)

