"""The console's long operations as jobs (docs/console.md, "Jobs"): a deploy or removal of an app, a backup or a
restore drill runs in a worker thread of the console process, never in the thread of the request that started it;
the request answers 202 with the job's URL at once, and the job's page shows its progress while it runs.

Why threads of the console and not a `govcloud` subprocess: the work is the platform's own functions (what the CLI's
commands call), which take a progress callback: a thread hands each line straight to the job's record, and the
waiting (ansible-playbook, pg_dump, restic) is in child processes, which release the interpreter. gunicorn runs one
worker process (console_conf.WORKERS), so the runner is the only one: at its start it marks every job left queued or
running failed ("interrupted"), since the process that ran them is gone.

Bounded: two lanes of worker threads. Deploys and removals take the box's lock (`box_lock`, which fails at once when
held), so they run one at a time in the `box` lane, the others waiting queued; backups and drills (their own lock per
agency) run two at a time in the `backups` lane, with restores of an agency's backup. `apply` (the whole
platform, an operator's) runs in the `box` lane; its agency is `PLATFORM`. An approved onboarding request's
onboarding (`onboard`, console/approval.py) runs in the `box` lane too: its agency is the request's slug, its target
`request-<id>`. One job per agency and target (an app, the agency's backups, a request) is queued or running at a
time: a second start answers 409 (the registry's unique index, `state.jobs`). A job may be given a hook its runner
calls when it fails (before the failure is audited and recorded: a reader who sees the job failed sees what the hook
did), e.g. an approval's request put back to pending."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govcloud_platform.console import authz
from govcloud_platform.errors import GovCloudError
from govcloud_platform.progress import Progress
from govcloud_platform.state import jobs as store
from govcloud_platform.state.lock import LockHeld
from govcloud_platform.state.registry import Registry, registry_path

LOG = logging.getLogger(__name__)

# kind -> its lane; what it acts on is an app (target = the app's name) or the agency's backups
KINDS: dict[str, str] = {"deploy": "box", "remove": "box", "apply": "box", "onboard": "box", "backup": "backups",
                         "drill": "backups", "restore": "backups"}
LANES: dict[str, int] = {"box": 1, "backups": 2}  # worker threads per lane: at most 3 jobs run at once
BACKUPS_TARGET = "backups"  # an agency's backups, drills and restores: one at a time per agency
PLATFORM = ""  # the agency of a job on the whole platform (`apply`): only operators see it (authz.may_see)
APPLY_TARGET = "apply"
LOCK_WAIT_S = 300.0  # a job finding the box's lock held (an operator's `apply`, another command) waits this long
LOCK_POLL_S = 5.0
REFRESH_S = 2  # the job page reloads itself this often while the job is queued or running

Work = Callable[[Progress], Any]  # the platform's function, given the job's progress callback; returns the result
Failed = Callable[[str], None]  # called with the job's error when it fails


def request_target(request_id: int) -> str:
    """An onboarding request's approval job's target (one queued or running per request)."""
    return f"request-{request_id}"


def start_status(who: authz.Principal, slug: str, exists: bool) -> int:
    """The answer to starting a job for agency `slug` (pure): 404 when it is unknown or not the principal's to see
    (exactly as an unknown one), 403 for a plain member (they read), 202 when the job may start."""
    if not exists or not authz.may_see(who, slug):
        return 404
    return 202 if authz.may_act(who, slug) else 403


def restore_status(who: authz.Principal, slug: str, exists: bool) -> int:
    """The answer to starting a restore of agency `slug`'s backup (pure): 404 as `start_status`, 403 unless
    `authz.may_restore`, else 202."""
    if not exists or not authz.may_see(who, slug):
        return 404
    return 202 if authz.may_restore(who, slug) else 403


def apply_status(who: authz.Principal) -> int:
    """The answer to starting `apply` (pure): 202 for an operator, 403 for anyone else with standing."""
    return 202 if authz.may_apply(who) else 403


def audit_target(kind: str, agency: str, target: str) -> str:
    """What the audit log names: `<slug>/<app>` for an app's job, the slug for a backup's (auditlog's scopes), and
    `spec` for `apply` (what `govcloud apply` audits: the operators' entries), the slug for an onboarding."""
    if agency == PLATFORM:
        return "spec"
    return agency if target == BACKUPS_TARGET or kind == "onboard" else f"{agency}/{target}"


def outcome(result: Any) -> tuple[str, str]:
    """A job's final state and error from its work's result (pure): a report saying `ok: false` (a restore drill
    that found differences) fails the job, with the result kept."""
    if isinstance(result, dict) and result.get("ok") is False:
        return store.FAILED, "the restore drill found differences (see the result)"
    return store.SUCCEEDED, ""


def error_text(exc: BaseException) -> str:
    """What a failed job says: the platform's own one line (and its hint) for its errors, as the CLI prints them;
    only the type of anything else (its text may hold what a page must not show; the console's log has the rest)."""
    if isinstance(exc, GovCloudError):
        return str(exc)  # the message and its hint
    return f"internal error ({type(exc).__name__}); the console's log says more"


@dataclass
class Runner:
    """The console process's job runner (one per process, made by `create_app`)."""

    home: Path
    lock_wait_s: float = LOCK_WAIT_S
    lock_poll_s: float = LOCK_POLL_S

    def __post_init__(self) -> None:
        self.pools = {lane: ThreadPoolExecutor(n, thread_name_prefix=f"job-{lane}") for lane, n in LANES.items()}
        if registry_path(self.home).exists():
            registry = Registry(self.home)
            try:
                for job in store.fail_unfinished(registry):
                    registry.audit(f"job {job.kind}", audit_target(job.kind, job.agency, job.target), "failed",
                                   job.actor, f"job {job.id}: {store.INTERRUPTED}")
            finally:
                registry.close()

    def start(self, kind: str, agency: str, target: str, actor: str, work: Work, failed: Failed | None = None
              ) -> store.Job:
        """Record the job queued (audited) and hand it to its lane; `store.Busy` when one for the same agency and
        target is queued or running. `failed` is called with the error if the job fails."""
        registry = Registry(self.home)
        try:
            job = store.create(registry, kind, agency, target, actor)
            registry.audit(f"job {kind}", audit_target(kind, agency, target), "queued", actor, f"job {job.id}")
        finally:
            registry.close()
        self.pools[KINDS[kind]].submit(self._run, job, work, failed)
        return job

    def _run(self, job: store.Job, work: Work, failed: Failed | None = None) -> None:
        registry = Registry(self.home)
        where = audit_target(job.kind, job.agency, job.target)
        try:
            if not store.move(registry, job.id, store.RUNNING):
                return
            registry.audit(f"job {job.kind}", where, "running", job.actor, f"job {job.id}")
            try:
                result = self._work(registry, job, work)
            except Exception as exc:  # noqa: BLE001 - a job's failure is its record's, never the console's
                if not isinstance(exc, GovCloudError):
                    LOG.error("job %s (%s %s) failed: %s", job.id, job.kind, where, type(exc).__name__)
                error = error_text(exc)
                if failed is not None:
                    try:
                        failed(error)
                    except Exception as hook:  # noqa: BLE001 - the job's failure is recorded whatever its hook does
                        LOG.error("job %s: its failure hook failed (%s)", job.id, type(hook).__name__)
                # audited first: a job seen ended has its entry already (a reader polls the job, then the log)
                registry.audit(f"job {job.kind}", where, "failed", job.actor, f"job {job.id}: {error}")
                store.move(registry, job.id, store.FAILED, error=error)
                return
            state, error = outcome(result)
            registry.audit(f"job {job.kind}", where, state, job.actor, f"job {job.id}")
            store.move(registry, job.id, state, result=result, error=error)
        except Exception as exc:  # noqa: BLE001 - the registry itself failed: the log says so
            LOG.error("job %s: its record could not be written (%s)", job.id, type(exc).__name__)
        finally:
            registry.close()

    def _work(self, registry: Registry, job: store.Job, work: Work) -> Any:
        """The job's work; while the box's lock is held by another command (a conflict of the moment, not of the
        job), it waits, saying so in its steps, up to LOCK_WAIT_S."""
        deadline = time.monotonic() + self.lock_wait_s
        owner = threading.get_ident()

        def progress(line: str) -> None:
            """A step, from the job's thread or from one the work made (`Onboarding.add` provisions its services
            at once on threads of its own): a sqlite connection serves only the thread that opened it."""
            if threading.get_ident() == owner:
                store.step(registry, job.id, line)
                return
            elsewhere = Registry(self.home)
            try:
                store.step(elsewhere, job.id, line)
            finally:
                elsewhere.close()

        while True:
            try:
                return work(progress)
            except LockHeld as held:
                if time.monotonic() >= deadline:
                    raise
                store.step(registry, job.id, f"waiting: {held}")
                time.sleep(self.lock_poll_s)

    def get(self, job_id: int) -> store.Job | None:
        registry = Registry(self.home)
        try:
            return store.get(registry, job_id)
        finally:
            registry.close()

    def recent(self, agency: str, limit: int = 10) -> list[store.Job]:
        registry = Registry(self.home)
        try:
            return store.recent(registry, agency, limit)
        finally:
            registry.close()

    def shutdown(self) -> None:
        for pool in self.pools.values():
            pool.shutdown(wait=False, cancel_futures=True)


def job_id(raw: str) -> int | None:
    """A job's id from a URL, or None (then 404): digits only."""
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 12 else None
