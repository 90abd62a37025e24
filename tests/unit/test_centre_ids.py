"""Reference numbers, one-time tracking codes and working days: pure functions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from centre_core import references, timers, tracking
from centre_core.errors import ExpressionError
from centre_core.tracking import Outcome

KEY = b"k" * 32
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # a Tuesday
body = st.text(alphabet=references.ALPHABET, min_size=references.BODY, max_size=references.BODY)


def _ref(b: str) -> str:
    return b + references.check_symbol(b)


@given(body)
def test_a_reference_reads_back_through_display_and_sloppy_typing(b: str) -> None:
    ref = _ref(b)
    shown = references.display(ref)
    assert len(shown) == 14 and references.normalise(shown) == ref
    sloppy = shown.lower().replace("1", "l").replace("0", "o").replace("-", " ")
    assert references.normalise(sloppy) == ref


@given(body, st.integers(0, references.LENGTH - 1), st.sampled_from(references.ALPHABET))
def test_every_single_wrong_symbol_is_caught(b: str, pos: int, symbol: str) -> None:
    ref = _ref(b)
    typo = ref[:pos] + symbol + ref[pos + 1:]
    assert (references.normalise(typo) is None) == (typo != ref)


@given(body, st.integers(0, references.LENGTH - 2))
def test_every_swap_of_neighbours_is_caught(b: str, pos: int) -> None:
    ref = _ref(b)
    swapped = ref[:pos] + ref[pos + 1] + ref[pos] + ref[pos + 2:]
    assert (references.normalise(swapped) is None) == (swapped != ref)


def test_new_references_are_valid_distinct_and_junk_is_refused() -> None:
    refs = {references.new_reference() for _ in range(2000)}
    assert len(refs) == 2000 and all(references.normalise(r) == r for r in refs)
    for junk in ("", "ABC", "U" * 12, "!" * 12, "A" * 500, "ABCD-EFGH-JKMN-P"):
        assert references.normalise(junk) is None or references.normalise(junk) == junk.replace("-", "")


def test_a_code_works_once_then_never_again() -> None:
    code, record = tracking.issue(KEY, "REF", NOW)
    assert code not in record.digest and len(record.digest) == 64
    outcome, record = tracking.check(KEY, "REF", record, code.lower(), NOW + timedelta(minutes=1))
    assert outcome is Outcome.OK and record.used_at is not None
    assert tracking.check(KEY, "REF", record, code, NOW)[0] is Outcome.USED


def test_a_code_is_bound_to_its_reference_and_its_key() -> None:
    code, record = tracking.issue(KEY, "REF", NOW)
    assert tracking.check(KEY, "OTHER", record, code, NOW)[0] is Outcome.WRONG
    assert tracking.check(b"x" * 32, "REF", record, code, NOW)[0] is Outcome.WRONG
    with pytest.raises(ValueError):
        tracking.issue(b"short", "REF", NOW)


def test_wrong_attempts_lock_the_code_even_for_the_right_value() -> None:
    code, record = tracking.issue(KEY, "REF", NOW)
    outcomes = []
    for _ in range(tracking.MAX_ATTEMPTS):
        outcome, record = tracking.check(KEY, "REF", record, "WRONG123", NOW)
        outcomes.append(outcome)
    assert outcomes == [Outcome.WRONG] * (tracking.MAX_ATTEMPTS - 1) + [Outcome.LOCKED]
    assert tracking.check(KEY, "REF", record, code, NOW)[0] is Outcome.LOCKED


def test_an_expired_code_fails_without_counting() -> None:
    code, record = tracking.issue(KEY, "REF", NOW, ttl=timedelta(minutes=5))
    outcome, after = tracking.check(KEY, "REF", record, code, NOW + timedelta(minutes=5))
    assert outcome is Outcome.EXPIRED and after == record


@pytest.mark.parametrize(("start", "days", "due"), [
    (NOW, 3, datetime(2026, 12, 4, 9, tzinfo=UTC)),  # Tue + 3 = Fri
    (NOW, 4, datetime(2026, 12, 7, 9, tzinfo=UTC)),  # skips Sat and Sun
    (datetime(2026, 12, 5, 9, tzinfo=UTC), 1, datetime(2026, 12, 7, 9, tzinfo=UTC)),  # from a Saturday
    (NOW, 0, NOW),
])
def test_working_days_skip_the_weekend(start: datetime, days: int, due: datetime) -> None:
    assert timers.add_working_days(start, days) == due


def test_working_days_skip_holidays_and_durations_are_bounded() -> None:
    assert timers.add_working_days(NOW, 1, holidays=[date(2026, 12, 2)]) == datetime(2026, 12, 3, 9, tzinfo=UTC)
    assert timers.deadline(NOW, "P1DT2H") == NOW + timedelta(days=1, hours=2)
    for bad in ("P999999999M", "P1Y", "PT", "P", "tomorrow", "P99999D"):
        with pytest.raises(ExpressionError):
            timers.deadline(NOW, bad)
    for bad_days in (-1, 100_000, True):
        with pytest.raises(ExpressionError):
            timers.deadline(NOW, bad_days)


@settings(max_examples=100)
@given(st.integers(0, 400))
def test_working_days_land_on_a_working_day_after_the_start(days: int) -> None:
    due = timers.add_working_days(NOW, days)
    assert due >= NOW and (days == 0 or due.weekday() < 5)
