"""When an archived document's retention ends: pure decisions, the time and the agency's time zone passed in.

A document is kept for its class's number of years (`catalogue.RETENTION_YEARS`) counted from the day its
application closed, that day taken in the agency's time zone (the one its SLA working days are counted in): it is
due for deletion from 00:00 local time on the day after the anniversary of that day, so it is kept at least the
whole number of years whatever the hour it closed. A closing on 29 February has its anniversary on 28 February
of a common year. `permanent`, and any class this code does not know (a key written by a later version, a
changed catalogue), is never due: a deletion that cannot be undone needs a class that says so."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo

from .catalogue import RETENTION_YEARS, RetentionClass


def years_of(retention: str) -> int | None:
    """The years a class keeps its documents, or None (kept for ever, or not a class at all)."""
    try:
        return RETENTION_YEARS[RetentionClass(retention)]
    except ValueError:
        return None


def anniversary(day: date, years: int) -> date:
    """The same day `years` later (29 February: 28 February when that year has none)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def deletion_due(retention: str, closed_at: datetime, zone: tzinfo) -> datetime | None:
    """The instant from which a document of `retention`, whose application closed at `closed_at`, may be deleted
    (aware, in `zone`); None: never."""
    if closed_at.tzinfo is None:
        raise ValueError("the closing time must be timezone-aware")
    years = years_of(retention)
    if years is None:
        return None
    last_day = anniversary(closed_at.astimezone(zone).date(), years)
    return datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=zone)


def is_due(retention: str, closed_at: datetime, now: datetime, zone: tzinfo) -> bool:
    due = deletion_due(retention, closed_at, zone)
    return due is not None and now >= due


def closed_before(retention: str, now: datetime) -> datetime | None:
    """A bound for the database's query: every document of `retention` due at `now` closed before this instant
    (a year has at least 365 days; two days' slack cover the hour of closing and a change of the zone's offset);
    None when none can be due. `is_due` decides each one."""
    years = years_of(retention)
    return None if years is None else now - timedelta(days=365 * years - 2)


def finite_classes() -> tuple[str, ...]:
    """The classes whose documents are deleted some day, shortest first."""
    return tuple(str(c) for c, y in sorted(RETENTION_YEARS.items(), key=lambda i: i[1] or 0) if y is not None)
