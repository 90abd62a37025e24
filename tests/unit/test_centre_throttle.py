"""The per-client tracking throttle's decisions and the drafts' tokens (centre_core.throttle, centre_core.drafts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from centre_core import drafts, throttle

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def test_a_window_counts_up_to_the_limit_then_starts_anew() -> None:
    start, n = throttle.counted(None, 0, T0)
    assert (start, n) == (T0, 1)
    for _ in range(throttle.LIMIT - 1):
        start, n = throttle.counted(start, n, T0 + timedelta(minutes=1))
    assert (start, n) == (T0, throttle.LIMIT) and throttle.allowed(n)
    start, n = throttle.counted(start, n, T0 + timedelta(minutes=2))
    assert not throttle.allowed(n)
    assert throttle.retry_after(start, T0 + timedelta(minutes=2)) == 13 * 60
    assert throttle.counted(start, n, T0 + throttle.WINDOW) == (T0 + throttle.WINDOW, 1)  # the next window
    assert throttle.retry_after(T0, T0 + throttle.WINDOW + timedelta(seconds=5)) == 1  # never 0 or less


def test_the_address_is_kept_only_as_an_hmac() -> None:
    key = b"k" * 32
    a, b = throttle.client_key(key, "203.0.113.5"), throttle.client_key(key, "203.0.113.6")
    assert a != b and len(a) == 64 and "203" not in a
    assert throttle.client_key(b"x" * 32, "203.0.113.5") != a  # another centre's key: another digest


def test_draft_tokens_are_long_random_and_checked_before_any_query() -> None:
    tokens = {drafts.new_token() for _ in range(100)}
    assert len(tokens) == 100 and all(drafts.well_formed(t) for t in tokens)
    assert not drafts.well_formed("not-a-token") and not drafts.well_formed("A" * 42 + "!")
    token = tokens.pop()
    assert drafts.digest(token) != token and len(drafts.digest(token)) == 64
    assert drafts.expires(T0) == T0 + timedelta(days=28)
