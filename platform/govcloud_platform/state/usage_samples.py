"""Usage over time in the registry (table `usage_samples`, migration 6): what the console's sampler measured per
agency (`console.sampler`). Storage here, and the pure rules of what is kept: every sample for RAW_DAYS, then one
row per hour until HOURLY_DAYS, then one per day; nothing older than RETENTION_DAYS. A merged row holds the means
of its samples (weighted by their `n`) and the peaks of the bytes, so a month's average and peak survive it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from govcloud_platform.state.registry import Registry

RAW_DAYS, HOURLY_DAYS, RETENTION_DAYS = 2, 31, 400
MEASURES = ("storage_bytes", "database_bytes", "backup_bytes", "connections", "objects")
PEAKS = {"storage_bytes": "storage_peak", "database_bytes": "database_peak", "backup_bytes": "backup_peak"}
_COLUMNS = ("agency", "at", "n", "storage_bytes", "storage_peak", "database_bytes", "database_peak",
            "backup_bytes", "backup_peak", "connections", "objects")
_INSERT = ("INSERT OR REPLACE INTO usage_samples (agency, at, n, storage_bytes, storage_peak, database_bytes, "
           "database_peak, backup_bytes, backup_peak, connections, objects) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_SELECT = ("SELECT agency, at, n, storage_bytes, storage_peak, database_bytes, database_peak, backup_bytes, "
           "backup_peak, connections, objects FROM usage_samples WHERE at >= ? AND at <= ?")


@dataclass(frozen=True)
class Sample:
    agency: str
    at: str  # ISO 8601, UTC, seconds
    n: int
    storage_bytes: int
    storage_peak: int
    database_bytes: int
    database_peak: int
    backup_bytes: int
    backup_peak: int
    connections: int
    objects: int

    def as_dict(self) -> dict[str, Any]:
        """The history API's point: the time, the samples merged into it, each measure and the bytes' peaks."""
        return {"at": self.at, "samples": self.n, **{m: getattr(self, m) for m in MEASURES},
                **{p: getattr(self, p) for p in PEAKS.values()}}


def _int(doc: object, key: str) -> int:
    value = doc.get(key) if isinstance(doc, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def from_usage(slug: str, doc: dict[str, Any], at: str) -> Sample:
    """A sample of what `Onboarding.usage` measured (`agency usage --json`'s document); a service the agency does
    not have counts 0."""
    db, storage, backups = doc.get("database"), doc.get("storage"), doc.get("backups")
    s, d, b = _int(storage, "bytes"), _int(db, "bytes"), _int(backups, "bytes")
    return Sample(slug, at, 1, s, s, d, d, b, b, _int(db, "connections"), _int(storage, "objects"))


def parse(at: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(at)
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def bucket(at: str, now: dt.datetime) -> str | None:
    """The start of the hour or day a sample this old is merged into, or None while it is kept as measured."""
    moment = parse(at)
    age = now - moment
    if age <= dt.timedelta(days=RAW_DAYS):
        return None
    if age <= dt.timedelta(days=HOURLY_DAYS):
        return iso(moment.replace(minute=0, second=0, microsecond=0))
    return iso(moment.replace(hour=0, minute=0, second=0, microsecond=0))


def merge(samples: list[Sample], at: str) -> Sample:
    """One row for these samples (of one agency): the means weighted by `n`, the peaks' maximum."""
    n = sum(s.n for s in samples)
    means = {m: round(sum(getattr(s, m) * s.n for s in samples) / n) for m in MEASURES}
    peaks = {p: max(getattr(s, p) for s in samples) for p in PEAKS.values()}
    return replace(samples[0], at=at, n=n, **means, **peaks)


def compaction(samples: Iterable[Sample], now: dt.datetime) -> tuple[list[tuple[str, str]], list[Sample]]:
    """What to delete (agency, at) and what to write instead: rows past the retention go; older rows of one hour
    (or day) become one. Pure: `compact` reads and writes."""
    oldest = now - dt.timedelta(days=RETENTION_DAYS)
    drop: list[tuple[str, str]] = []
    groups: dict[tuple[str, str], list[Sample]] = {}
    for s in samples:
        if parse(s.at) < oldest:
            drop.append((s.agency, s.at))
            continue
        start = bucket(s.at, now)
        if start is not None:
            groups.setdefault((s.agency, start), []).append(s)
    add = []
    for (_, start), group in sorted(groups.items()):
        if len(group) == 1 and group[0].at == start:
            continue  # merged already
        drop.extend((s.agency, s.at) for s in group)
        add.append(merge(group, start))
    return drop, add


# --- storage --------------------------------------------------------------------------------------
def record(registry: Registry, sample: Sample) -> None:
    """Store a sample (a second one of the same agency and second replaces the first)."""
    with registry.connect() as conn:
        conn.execute(_INSERT, tuple(getattr(sample, c) for c in _COLUMNS))


def history(registry: Registry, agency: str | None, since: str, until: str) -> list[Sample]:
    """The rows of one agency (None: every agency) from `since` to `until` (ISO, inclusive), oldest first."""
    with registry.connect() as conn:
        if agency is None:
            rows = conn.execute(_SELECT + " ORDER BY agency, at", (since, until)).fetchall()
        else:
            rows = conn.execute(_SELECT + " AND agency = ? ORDER BY at", (since, until, agency)).fetchall()
    return [Sample(*row) for row in rows]


def per_agency(registry: Registry, since: str, until: str) -> list[Sample]:
    """Each agency's rows from `since` to `until` merged into one (what `merge` makes of them, in SQL: the month's
    chargeback reads one row an agency, not every sample), by slug."""
    with registry.connect() as conn:
        rows = conn.execute(
            "SELECT agency, MIN(at), SUM(n), SUM(storage_bytes * n) * 1.0 / SUM(n), MAX(storage_peak), "
            "SUM(database_bytes * n) * 1.0 / SUM(n), MAX(database_peak), SUM(backup_bytes * n) * 1.0 / SUM(n), "
            "MAX(backup_peak), SUM(connections * n) * 1.0 / SUM(n), SUM(objects * n) * 1.0 / SUM(n) "
            "FROM usage_samples WHERE at >= ? AND at <= ? GROUP BY agency ORDER BY agency", (since, until)).fetchall()
    return [Sample(r[0], r[1], r[2], *(round(v) for v in r[3:])) for r in rows]


def compact(registry: Registry, now: dt.datetime) -> tuple[int, int]:
    """Apply `compaction` to the rows it can change: those past the retention and those of the last days before
    HOURLY_DAYS + 7 (a row once merged per day is never read again). Returns (deleted, written)."""
    since = iso(now - dt.timedelta(days=HOURLY_DAYS + 7))
    until = iso(now - dt.timedelta(days=RAW_DAYS))
    with registry.connect() as conn:
        expired = conn.execute("DELETE FROM usage_samples WHERE at < ?",
                               (iso(now - dt.timedelta(days=RETENTION_DAYS)),)).rowcount
    drop, add = compaction(history(registry, None, since, until), now)
    if not drop:
        return expired, 0
    with registry.connect() as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("DELETE FROM usage_samples WHERE agency = ? AND at = ?", drop)
            conn.executemany(_INSERT, [tuple(getattr(s, c) for c in _COLUMNS) for s in add])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return expired + len(drop), len(add)
