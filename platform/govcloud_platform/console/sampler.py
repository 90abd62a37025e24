"""Usage measured in the background: a thread of the console process measures every ready agency (what `govcloud
agency usage` measures, `Onboarding.usages`) every `usage_interval_minutes` of the spec, a few agencies at a time on
at most WORKERS threads, keeps the last figures for the pages and the API, and records each as a sample of the
agency's history (`state.usage_samples`). A request for an agency not measured yet measures it once, then."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from govcloud_platform.box.context import Box
from govcloud_platform.state import usage_samples
from govcloud_platform.state.registry import READY, Registry

WORKERS = 2  # measuring asks PostgreSQL, SeaweedFS and the IdP: two agencies at a time leave the pages their CPU
CHUNK = 10  # agencies per `Onboarding.usages` call (it reads the servers' limits once per call)
COMPACT_EVERY_S = 6 * 3600
ACTOR = "console:sampler"
log = logging.getLogger(__name__)


def chunks(slugs: list[str], size: int = CHUNK) -> list[list[str]]:
    return [slugs[i:i + size] for i in range(0, len(slugs), size)]


def wait_s(started: float, finished: float, interval_s: float) -> float:
    """How long to sleep after a round: rounds start every interval (a slow round shortens the pause, never below
    a tenth of the interval, so a round longer than the interval does not run the servers back to back)."""
    return max(interval_s - (finished - started), interval_s / 10)


def compaction_due(last: float | None, now: float) -> bool:
    return last is None or now - last >= COMPACT_EVERY_S


@dataclass
class Sampler:
    box: Box
    interval_s: float
    workers: int = WORKERS
    _latest: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _compacted: float | None = None

    # --- measuring ----------------------------------------------------------------------------------
    def _measure(self, slugs: list[str]) -> int:
        """Measure these agencies, keep their figures, record their samples; an agency that cannot be measured
        (a server down) is logged and skipped, the others measured one by one."""
        from govcloud_platform.onboarding import Onboarding

        onboarding = Onboarding(self.box, actor=ACTOR)
        try:
            try:
                docs = onboarding.usages(slugs)
            except Exception:  # noqa: BLE001 - one agency's failure must not cost the others their figures
                docs = []
                for slug in slugs:
                    try:
                        docs.extend(onboarding.usages([slug]))
                    except Exception as exc:  # noqa: BLE001
                        log.warning("usage of %s not measured (%s)", slug, type(exc).__name__)
            at = usage_samples.iso(dt.datetime.now(dt.UTC))
            for doc in docs:
                slug = str(doc["slug"])
                usage_samples.record(onboarding.registry, usage_samples.from_usage(slug, doc, at))
                with self._lock:
                    self._latest[slug] = (at, doc)
            return len(docs)
        finally:
            onboarding.registry.close()

    def round(self) -> int:
        """Measure every ready agency once (at most `workers` chunks at a time); compact the history when due.
        Returns how many agencies were measured."""
        registry = Registry(self.box.home)
        try:
            slugs = [r.slug for r in registry.agencies() if r.state == READY]
            if compaction_due(self._compacted, time.monotonic()):
                usage_samples.compact(registry, dt.datetime.now(dt.UTC))
                self._compacted = time.monotonic()
        finally:
            registry.close()
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="usage") as pool:
            return sum(pool.map(self._measure, chunks(slugs)))

    def latest(self, slug: str) -> tuple[str, dict[str, Any]] | None:
        """The last figures of the agency and when they were measured, or None (not measured by this process)."""
        with self._lock:
            return self._latest.get(slug)

    def usage(self, slug: str) -> dict[str, Any]:
        """The agency's last figures with `measured_at` (and `age_s`); measured now if there are none yet."""
        held = self.latest(slug)
        if held is None:
            self._measure([slug])
            held = self.latest(slug)
        if held is None:  # not ready, or its servers did not answer: what `agency usage` says, unrecorded
            from govcloud_platform.onboarding import Onboarding

            onboarding = Onboarding(self.box, actor=ACTOR)
            try:
                return onboarding.usage(slug)
            finally:
                onboarding.registry.close()
        at, doc = held
        age = (dt.datetime.now(dt.UTC) - usage_samples.parse(at)).total_seconds()
        return {**doc, "measured_at": at, "age_s": max(int(age), 0)}

    # --- the thread ---------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="usage-sampler", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                measured = self.round()
                log.info("usage measured for %d agencies in %.1f s", measured, time.monotonic() - started)
            except Exception as exc:  # noqa: BLE001 - the next round tries again
                log.warning("usage round failed (%s)", type(exc).__name__)
            self._stop.wait(wait_s(started, time.monotonic(), self.interval_s))
