"""The backups page's list of an agency's runs (`backup list --agency`, read from its restic repository: ~1 s for
restic to open it), kept per agency in the console process so that a page or an API call never waits for restic
but the first time an agency's list is asked for.

How old a list may be: the jobs that change it (a backup, a restore drill, and a restore once it is a job: the kinds
of `REFRESHED_BY`) read it again when their work ends, whatever its outcome (`RunsCache.after`, the runner's hook,
wrapped around the job's work where it is started: `apps_backups.start`). A run made elsewhere (`govcloud backup run`,
the box's scheduler) shows within `MAX_AGE_S`: a thread of the console (started by `wsgi.py`, like the usage
sampler; never in a unit test's app) reads again, one agency at a time, every list older than that, and forgets a
list nobody asked for in `IDLE_S`. A list that could not be read (its error is shown) is read again after `CHECK_S`.
Without the thread (or when it falls behind) a request reads a list older than `STALE_S` itself. The page and the
API say when the list was read."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from govcloud_platform.box.context import Box
from govcloud_platform.progress import Progress

MAX_AGE_S = 300.0  # the thread reads again a list older than this
CHECK_S = 30.0  # the thread looks this often; a list that failed to be read is read again after this
STALE_S = 2 * MAX_AGE_S  # a request never shows a list older than this: it reads it itself
IDLE_S = 3600.0  # a list nobody asked for in this long is forgotten (the next request reads it)
REFRESHED_BY = frozenset({"backup", "drill", "restore"})  # the jobs whose work changes an agency's runs
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Listing:
    """An agency's runs as read at `read_at` (epoch seconds): newest first, or why they could not be read."""

    runs: list[dict[str, Any]]
    error: str | None
    read_at: float

    def age_s(self, now: float) -> int:
        return max(int(now - self.read_at), 0)


def due(listing: Listing, now: float, max_age_s: float = MAX_AGE_S) -> bool:
    """Whether a list is to be read again (pure): older than `max_age_s`, or a failed reading older than CHECK_S."""
    return now - listing.read_at >= (min(CHECK_S, max_age_s) if listing.error else max_age_s)


def idle(asked_at: float, now: float) -> bool:
    return now - asked_at >= IDLE_S


def read_runs(box: Box, slug: str) -> Listing:
    """What `govcloud backup list --agency SLUG` lists (`backups.agency.list_backups`), newest first; a repository
    that cannot be read gives its one line as the error."""
    from govcloud_platform.backups import agency as agency_backups
    from govcloud_platform.errors import GovCloudError

    read_at = time.time()
    try:
        runs = [r.as_dict() for r in reversed(agency_backups.list_backups(box, slug))]
    except GovCloudError as exc:
        return Listing([], str(exc), read_at)
    return Listing(runs, None, read_at)


@dataclass
class RunsCache:
    read: Callable[[str], Listing]  # read_runs for the console's box (a fake in the unit tests)
    check_s: float = CHECK_S
    _held: dict[str, Listing] = field(default_factory=dict)
    _asked: dict[str, float] = field(default_factory=dict)
    _locks: dict[str, threading.Lock] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def get(self, slug: str) -> Listing:
        """The agency's list: the one held, unless there is none or it is older than STALE_S (then read now)."""
        now = time.time()
        with self._lock:
            self._asked[slug] = now
            held = self._held.get(slug)
        if held is not None and not due(held, now, STALE_S):
            return held
        return self.refresh(slug, unless_since=now - STALE_S)

    def refresh(self, slug: str, unless_since: float | None = None) -> Listing:
        """Read the agency's list now and hold it. One reading per agency at a time: a caller that waited for
        another's reading takes it when it was read at or after `unless_since`."""
        with self._lock:
            lock = self._locks.setdefault(slug, threading.Lock())
        with lock:
            with self._lock:
                held = self._held.get(slug)
            if held is not None and unless_since is not None and held.read_at >= unless_since:
                return held
            listing = self.read(slug)
            with self._lock:
                self._held[slug] = listing
            return listing

    def forget(self, slug: str) -> None:
        with self._lock:
            self._held.pop(slug, None)
            self._asked.pop(slug, None)

    def after(self, slug: str, work: Callable[[Progress], Any]) -> Callable[[Progress], Any]:
        """The jobs' hook: `work` (a job's, of a kind in REFRESHED_BY) that reads the agency's list again when it
        ends, succeeded or failed, so the backups page shows what it changed."""
        def refreshing(progress: Progress) -> Any:
            try:
                return work(progress)
            finally:
                try:
                    self.refresh(slug)
                except Exception as exc:  # noqa: BLE001 - the job's outcome is its work's, not the list's
                    log.warning("the backup list of %s was not read again (%s)", slug, type(exc).__name__)

        return refreshing

    def sweep(self, now: float) -> list[str]:
        """One look of the thread: forget the idle lists, read again those due (one at a time). The agencies read."""
        with self._lock:
            for slug in [s for s, at in self._asked.items() if idle(at, now)]:
                self._held.pop(slug, None)
                self._asked.pop(slug, None)
            stale = [s for s, listing in self._held.items() if due(listing, now)]
        for slug in stale:
            self.refresh(slug)
        return stale

    # --- the thread ---------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="backup-runs", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.check_s):
            try:
                self.sweep(time.time())
            except Exception as exc:  # noqa: BLE001 - the next look tries again
                log.warning("backup lists not read again (%s)", type(exc).__name__)
