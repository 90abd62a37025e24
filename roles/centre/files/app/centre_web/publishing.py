"""The open data the centre publishes on a schedule to the agency bucket's `opendata/` (which the `opendata` app
turns into tables): e-participation's results every hour (`participation`), the transparency figures once a day
(`transparency`, the complete days up to yesterday in the agency's zone). The timers' job calls `round` every
minute; `centre_publish_open_data` does it at once. Each file is written only when its bytes changed (as the
catalogue's open data), and `open_data_rounds` records when each part was last published."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from centre_core import participation_store, transparency, transparency_store
from centre_core.catalogue import Loaded
from centre_core.objects import Bucket
from centre_core.timers import Calendar

from .housekeeping import OPENDATA_TYPES

PARTS = ("participation", "transparency")
EVERY = {"participation": timedelta(hours=1)}


def due(part: str, last: tuple[datetime, date] | None, now: datetime, zone: tzinfo) -> bool:
    """Pure: whether `part` is due (never published; participation an hour after its last round; transparency
    once the agency's day has changed since the day it last covered up to)."""
    if last is None:
        return True
    published_at, day = last
    if part == "transparency":
        return now.astimezone(zone).date() > day
    return now - published_at >= EVERY[part]


def files(part: str, conn: Any, loaded: Loaded, now: datetime, calendar: Calendar) -> dict[str, bytes]:
    if part == "participation":
        return participation_store.opendata_files(conn)
    today = now.astimezone(calendar.zone).date()
    days = transparency.window(today)
    start = datetime.combine(days[0], time(0), tzinfo=calendar.zone)
    end = datetime.combine(today, time(0), tzinfo=calendar.zone)
    records = transparency_store.records(conn, loaded.catalogue, start, end)
    ratings = transparency_store.ratings(conn, start, end)
    return transparency.opendata_files(records, ratings, loaded.catalogue, today, calendar.zone, calendar.holidays)


def write(bucket: Bucket, bodies: dict[str, bytes]) -> list[str]:
    from centre_core import documents

    written = []
    for key, body in bodies.items():
        sha = documents.digest(body)
        if bucket.sha256_of(key) != sha:
            bucket.put(key, body, OPENDATA_TYPES[key[key.rfind("."):]], sha)
            written.append(key)
    return written


def round(conn: Any, bucket: Bucket, loaded: Loaded, now: datetime, calendar: Calendar,
          force: bool = False) -> list[str]:
    """Publish each part that is due (every part with `force`): the keys written."""
    written: list[str] = []
    last = {p: (at, d) for p, at, d in conn.execute("SELECT part, published_at, day FROM open_data_rounds")}
    for part in PARTS:
        if not force and not due(part, last.get(part), now, calendar.zone):
            continue
        written += write(bucket, files(part, conn, loaded, now, calendar))
        conn.execute("INSERT INTO open_data_rounds (part, published_at, day) VALUES (%s, %s, %s) ON CONFLICT (part) "
                     "DO UPDATE SET published_at = excluded.published_at, day = excluded.day",
                     (part, now, now.astimezone(calendar.zone).date()))
    return written
