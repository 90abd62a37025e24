"""When an archived document's retention ends (centre_core.retention): counted from the day its application
closed in the agency's time zone, due from 00:00 local on the day after the anniversary, 29 February, `permanent`
and unknown classes never due; the class read from the archive key's prefix; the database bound never misses a
due document."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from centre_core import documents, retention
from centre_core.catalogue import RETENTION_YEARS, RetentionClass, load_samples

KARACHI = ZoneInfo("Asia/Karachi")  # UTC+5, no daylight saving
NEW_YORK = ZoneInfo("America/New_York")


def karachi(*args: int) -> datetime:
    return datetime(*args, tzinfo=KARACHI)  # type: ignore[misc]


@pytest.mark.parametrize(("klass", "years"), [("short", 2), ("standard", 7), ("long", 25), ("permanent", None)])
def test_every_class_of_the_catalogue_has_its_years(klass: str, years: int | None) -> None:
    assert retention.years_of(klass) == years
    assert set(RETENTION_YEARS) == set(RetentionClass)


def test_the_samples_use_only_known_classes() -> None:
    assert {s.retention for s in load_samples().catalogue.services} <= set(RETENTION_YEARS)


@pytest.mark.parametrize(("closed", "due"), [
    (karachi(2026, 12, 3, 14, 0), karachi(2033, 12, 4)),  # the day after the 7th anniversary, 00:00 local
    (karachi(2026, 12, 3, 0, 0), karachi(2033, 12, 4)),  # the hour of closing does not matter
    (karachi(2026, 12, 3, 23, 59, 59), karachi(2033, 12, 4)),
    (karachi(2028, 2, 29, 10, 0), karachi(2035, 3, 1)),  # 2035 has no 29 February: anniversary the 28th
    (karachi(2027, 12, 31, 12, 0), karachi(2035, 1, 1)),  # the year turns
])
def test_standard_is_due_the_day_after_the_seventh_anniversary(closed: datetime, due: datetime) -> None:
    assert retention.deletion_due("standard", closed, KARACHI) == due


def test_the_day_of_closing_is_the_agencys_not_utcs() -> None:
    # 20:00 UTC on 3 December is 01:00 on 4 December in Karachi: the local day counts
    closed = datetime(2026, 12, 3, 20, 0, tzinfo=UTC)
    assert retention.deletion_due("short", closed, KARACHI) == karachi(2028, 12, 5)
    assert retention.deletion_due("short", closed, UTC) == datetime(2028, 12, 4, tzinfo=UTC)
    # and the instant is local midnight: 19:00 UTC the day before
    assert retention.deletion_due("short", closed, KARACHI) == datetime(2028, 12, 4, 19, 0, tzinfo=UTC)


def test_a_zone_with_daylight_saving_gives_local_midnight() -> None:
    closed = datetime(2026, 7, 1, 12, 0, tzinfo=NEW_YORK)
    due = retention.deletion_due("short", closed, NEW_YORK)
    assert due is not None and due.astimezone(NEW_YORK).hour == 0 and due.date() == date(2028, 7, 2)
    assert due.utcoffset() == timedelta(hours=-4)


@pytest.mark.parametrize(("now", "expected"), [
    (karachi(2033, 12, 3, 23, 59, 59, 999999), False),  # the last instant of the anniversary: kept
    (karachi(2033, 12, 4, 0, 0), True),  # the first instant of the day after: due
    (karachi(2033, 12, 4, 0, 0, 1), True),
    (karachi(2030, 1, 1), False),
    (karachi(2090, 1, 1), True),
])
def test_is_due_at_the_boundary(now: datetime, expected: bool) -> None:
    assert retention.is_due("standard", karachi(2026, 12, 3, 14, 0), now, KARACHI) is expected


@pytest.mark.parametrize("klass", ["permanent", "forever", "", "Standard", "standard/../short"])
def test_permanent_and_unknown_classes_are_never_due(klass: str) -> None:
    closed = karachi(1900, 1, 1)
    assert retention.deletion_due(klass, closed, KARACHI) is None
    assert retention.is_due(klass, closed, karachi(2999, 1, 1), KARACHI) is False
    assert retention.closed_before(klass, karachi(2999, 1, 1)) is None


def test_a_naive_closing_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        retention.deletion_due("short", datetime(2026, 1, 1), KARACHI)  # noqa: DTZ001 - the case under test


def test_the_finite_classes_shortest_first() -> None:
    assert retention.finite_classes() == ("short", "standard", "long")


@given(closed=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
       klass=st.sampled_from(["short", "standard", "long"]),
       zone=st.sampled_from([UTC, KARACHI, NEW_YORK, ZoneInfo("Pacific/Kiritimati"), ZoneInfo("Pacific/Niue")]))
def test_due_keeps_at_least_the_years_and_the_database_bound_misses_nothing(
        closed: datetime, klass: str, zone: ZoneInfo) -> None:
    due = retention.deletion_due(klass, closed, zone)
    years = retention.years_of(klass)
    assert due is not None and years is not None
    local = closed.astimezone(zone)
    assert due > local.replace(year=local.year + years, day=min(local.day, 28))  # at least the years kept
    assert due - closed <= timedelta(days=366 * years + 2)
    # the query's bound: a document due now closed before it
    bound = retention.closed_before(klass, due)
    assert bound is not None and closed < bound
    assert retention.is_due(klass, closed, due, zone) and not retention.is_due(klass, closed,
                                                                               due - timedelta(microseconds=1), zone)


@pytest.mark.parametrize("zone", [NEW_YORK, ZoneInfo("Europe/London")])
def test_the_bound_holds_across_a_change_of_offset_in_years_without_29_february(zone: ZoneInfo) -> None:
    # 2097-03-01 .. 2099-03-01 has no 29 February (2100 is not a leap year): two years are 730 days exactly;
    # closing at 23:59 local in summer and due at midnight in winter leaves the least time between them
    closed = datetime(2097, 8, 31, 23, 59, tzinfo=zone)
    due = retention.deletion_due("short", closed, zone)
    assert due is not None
    bound = retention.closed_before("short", due)
    assert bound is not None and closed < bound


@pytest.mark.parametrize(("key", "klass"), [
    ("centre/archive/standard/ABCDEFGH2345/owner_cnic-0123456789abcdef.pdf", "standard"),
    ("centre/archive/permanent/ABCDEFGH2345/x.pdf", "permanent"),
    ("centre/archive/standard", None), ("centre/archive//ABC/x.pdf", None), ("centre/applications/ABC/x.pdf", None),
    ("opendata/centre-services.csv", None),
])
def test_the_class_of_an_archived_key_is_its_prefix(key: str, klass: str | None) -> None:
    assert documents.archived_class(key) == klass


def test_archive_key_and_its_class_agree() -> None:
    key = documents.archive_key("long", "centre/applications/ABCDEFGH2345/deed-0123456789abcdef.pdf")
    assert documents.archived_class(key) == "long"
