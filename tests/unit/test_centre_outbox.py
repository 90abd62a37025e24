"""The centre's notifications, pure parts: which status change calls for which message, the retry schedule and
the dead-letter decision, the messages in English and Urdu, and the sender (the agency's own domain)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from centre_core import outbox, tracking
from centre_web.mailer import sender_of
from centre_web.texts_notify import compose

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(("before", "after", "outcome", "fields", "expected"), [
    ("in_progress", "action_needed", None, {"reason": "the lease"}, ("returned", {"reason": "the lease"})),
    ("in_progress", "action_needed", None, {"comment": "a page is missing"},
     ("returned", {"reason": "a page is missing"})),  # what the status page shows too
    ("action_needed", "action_needed", None, {"reason": "again"}, None),
    ("in_progress", "closed", "issued", {"comment": "for colleagues"},
     ("closed", {"outcome": "issued", "reason": None})),
    ("in_progress", "closed", "rejected", {"reason": "not in the district"},
     ("closed", {"outcome": "rejected", "reason": "not in the district"})),
    ("action_needed", "in_progress", None, {}, None),  # the citizen's own step
    ("in_progress", "in_progress", None, {"reason": "x"}, None),  # between desks
    ("closed", "closed", "issued", {}, None),
])
def test_which_change_calls_for_a_message(before: str, after: str, outcome: str | None, fields: dict[str, str],
                                          expected: object) -> None:
    assert outbox.notice_for(before, after, outcome, fields) == expected


def test_a_long_reason_is_cut() -> None:
    notice = outbox.notice_for("in_progress", "action_needed", None, {"reason": "x" * 5000})
    assert notice is not None and len(notice[1]["reason"]) == outbox.REASON_MAX


def test_retries_back_off_then_the_row_is_dead() -> None:
    assert [outbox.retry_delay(n) for n in (1, 2, 3, 7, 8, 30)] == [
        timedelta(minutes=m) for m in (1, 2, 4, 60, 60, 60)]
    assert outbox.after_failure("submitted", 1, False, NOW, NOW) == ("pending", NOW + timedelta(minutes=1))
    assert outbox.after_failure("submitted", outbox.MAX_ATTEMPTS, False, NOW, NOW) == ("dead", None)
    assert outbox.after_failure("submitted", 1, True, NOW, NOW) == ("dead", None)  # a 5xx refusal
    # a code's message is dead once the code would be expired when tried again
    late = NOW + tracking.DEFAULT_TTL - timedelta(seconds=30)
    assert outbox.after_failure("code", 2, False, NOW, late) == ("dead", None)
    assert outbox.after_failure("code", 2, False, NOW, NOW)[0] == "pending"


def test_request_keys_name_neither_the_reference_nor_the_address() -> None:
    key = b"k" * 32
    a, b = outbox.request_key(key, "reference", "2H9NDNJ3DBWV"), outbox.request_key(key, "client", "2H9NDNJ3DBWV")
    assert a != b and "2H9N" not in a and len(a) == 64


@pytest.mark.parametrize("kind", outbox.KINDS)
@pytest.mark.parametrize("language", ["en", "ur"])
def test_every_message_in_both_languages(kind: str, language: str) -> None:
    params = {"reason": "R-E-A-S-O-N", "outcome": "issued", "code": "K3F9QW2M"}
    subject, body = compose(kind, language, params, reference="2H9N-DNJ3-DBWV", service="S", outcome="Issued",
                            agency="Health", track_url="https://c.test/en/track/", code_url="https://c.test/en/track/code/")
    assert "2H9N-DNJ3-DBWV" in subject and "\n" not in subject and body.endswith("\n") and "Health" in body
    assert ("K3F9QW2M" in body) == (kind == "code") and ("R-E-A-S-O-N" in body) == (kind in ("returned", "closed"))
    urdu = any("\u0600" <= ch <= "\u06ff" for ch in body)
    assert urdu == (language == "ur")
    if kind == "submitted":
        assert "https://c.test/en/track/code/" in body


def test_the_sender_is_centre_at_the_agencys_own_domain() -> None:
    assert sender_of({"from_address": "noreply@health.gov.example"}, "health") == "centre@health.gov.example"
    assert sender_of({"from_address": ""}, "health") == "centre@health.invalid"
