"""The console's long operations in the registry (tables `jobs` and `job_steps`, migration 7). Only storage and the
states' rules: what a job does is the console's runner's (`console.jobs`), which calls the platform's functions.

A job is queued when it is started, running while a worker runs it, then succeeded or failed; a queued job may also
fail (never run: the console stopped first). Nothing else: a finished job never changes again. The partial unique
index keeps one queued or running job per agency and target (an app's name, or `backups`): a second start while one
waits or runs is refused (`Busy`), in one statement, so two requests at once cannot both start one."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from govcloud_platform.state.registry import Registry, now
from govcloud_platform.text import printable

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
ACTIVE = (QUEUED, RUNNING)
FINAL = (SUCCEEDED, FAILED)
# state -> the states it may move to
TRANSITIONS: dict[str, tuple[str, ...]] = {QUEUED: (RUNNING, FAILED), RUNNING: (SUCCEEDED, FAILED),
                                           SUCCEEDED: (), FAILED: ()}
MAX_STEPS = 400  # a job's progress lines kept (an app's role has ~60 tasks); later ones are counted, not stored
INTERRUPTED = "interrupted: the console stopped while the job was queued or running; start it again"


class Busy(Exception):
    """A job for the same agency and target is queued or running."""

    def __init__(self, job_id: int | None) -> None:
        super().__init__(f"job {job_id} is queued or running for the same target")
        self.job_id = job_id


def may_move(current: str, to: str) -> bool:
    """Whether a job in state `current` may move to `to` (pure)."""
    return to in TRANSITIONS.get(current, ())


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    agency: str
    target: str
    state: str
    actor: str
    created_at: str
    started_at: str
    ended_at: str
    result: str  # JSON of what the platform's function returned, or ""
    error: str
    steps: tuple[tuple[str, str], ...] = ()  # (at, message), oldest first

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "agency": self.agency, "target": self.target, "state": self.state,
                "actor": self.actor, "created_at": self.created_at, "started_at": self.started_at or None,
                "ended_at": self.ended_at or None, "result": json.loads(self.result) if self.result else None,
                "error": self.error or None, "steps": [{"at": at, "message": m} for at, m in self.steps]}


_SELECT = ("SELECT id, kind, agency, target, state, actor, created_at, started_at, ended_at, result, error "
           "FROM jobs")


def _job(row: tuple[Any, ...], steps: tuple[tuple[str, str], ...] = ()) -> Job:
    i, kind, agency, target, state, actor, created, started, ended, result, error = row
    return Job(int(i), kind, agency, target, state, actor, created, started, ended, result, error, steps)


def create(registry: Registry, kind: str, agency: str, target: str, actor: str) -> Job:
    """A queued job; `Busy` when one for the same agency and target is queued or running."""
    with registry.connect() as conn:
        try:
            cur = conn.execute("INSERT INTO jobs (kind, agency, target, state, actor, created_at) "
                               "VALUES (?, ?, ?, ?, ?, ?)",
                               (kind, agency, target, QUEUED, printable(actor, 200), now()))
        except sqlite3.IntegrityError:
            row = conn.execute("SELECT id FROM jobs WHERE agency = ? AND target = ? AND state IN (?, ?)",
                               (agency, target, *ACTIVE)).fetchone()
            raise Busy(int(row[0]) if row else None) from None
    found = get(registry, int(cur.lastrowid or 0))
    assert found is not None
    return found


def get(registry: Registry, job_id: int, steps: bool = True) -> Job | None:
    with registry.connect() as conn:
        row = conn.execute(_SELECT + " WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            return None
        found = conn.execute("SELECT at, message FROM job_steps WHERE job = ? ORDER BY n",
                             (job_id,)).fetchall() if steps else []
    return _job(row, tuple((a, m) for a, m in found))


def recent(registry: Registry, agency: str, limit: int = 20) -> list[Job]:
    """The agency's newest jobs first (without their steps)."""
    with registry.connect() as conn:
        rows = conn.execute(_SELECT + " WHERE agency = ? ORDER BY id DESC LIMIT ?", (agency, limit)).fetchall()
    return [_job(r) for r in rows]


def move(registry: Registry, job_id: int, to: str, result: Any = None, error: str = "") -> bool:
    """Move the job to state `to` if its current state allows it (`TRANSITIONS`), in one conditional UPDATE: False
    when it does not (the job moved meanwhile, or is unknown)."""
    sources = [s for s, targets in TRANSITIONS.items() if to in targets]
    if not sources:
        return False
    sources = (sources * 2)[:2]  # one or two states: the statement names two
    with registry.connect() as conn:
        if to == RUNNING:
            cur = conn.execute("UPDATE jobs SET state = ?, started_at = ? WHERE id = ? AND state IN (?, ?)",
                               (to, now(), job_id, *sources))
        else:
            cur = conn.execute(
                "UPDATE jobs SET state = ?, ended_at = ?, result = ?, error = ? WHERE id = ? AND state IN (?, ?)",
                (to, now(), json.dumps(result, sort_keys=True) if result is not None else "",
                 printable(error, 1000), job_id, *sources))
    return cur.rowcount == 1


def step(registry: Registry, job_id: int, message: str) -> None:
    """Append a progress line (at most MAX_STEPS are kept)."""
    with registry.connect() as conn:
        conn.execute("INSERT INTO job_steps (job, n, at, message) SELECT ?, COALESCE(MAX(n), 0) + 1, ?, ? "
                     "FROM job_steps WHERE job = ? HAVING COALESCE(MAX(n), 0) < ?",
                     (job_id, now(), printable(message, 300), job_id, MAX_STEPS))


def fail_unfinished(registry: Registry) -> list[Job]:
    """Every job left queued or running (its process is gone: the console restarted) marked failed; those jobs."""
    with registry.connect() as conn:
        rows = conn.execute(_SELECT + " WHERE state IN (?, ?)", ACTIVE).fetchall()
    failed = []
    for row in rows:
        job = _job(row)
        if move(registry, job.id, FAILED, error=INTERRUPTED):
            failed.append(job)
    return failed
