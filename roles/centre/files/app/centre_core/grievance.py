"""Complaints and suggestions (the grievance service) are a service like any other; what a service may add
after its application closes is decided here, as pure functions: reopening by the citizen within a number of
days after it closed (`reopen_within_days`), and a satisfaction rating 1-5 (`satisfaction_rating`)."""

from __future__ import annotations

from datetime import datetime, timedelta

RATINGS = (1, 2, 3, 4, 5)


def reopen_until(reopen_within_days: int | None, status: str, closed_at: datetime | None) -> datetime | None:
    """Until when the citizen may reopen the application (None: not now, or never for its service)."""
    if not reopen_within_days or status != "closed" or closed_at is None:
        return None
    return closed_at + timedelta(days=reopen_within_days)


def reopen_refusal(reopen_within_days: int | None, status: str, closed_at: datetime | None,
                   now: datetime) -> str | None:
    """Why the citizen may not reopen it now (None: they may)."""
    if not reopen_within_days:
        return "this service's applications cannot be reopened"
    if status != "closed":
        return "only a closed application can be reopened"
    until = reopen_until(reopen_within_days, status, closed_at)
    if until is None or now >= until:
        return f"an application can be reopened only within {reopen_within_days} days after it closed"
    return None


def parse_rating(text: object) -> int | None:
    """A rating typed or chosen by the citizen: 1-5, else None."""
    value = str(text).strip() if isinstance(text, str | int) and not isinstance(text, bool) else ""
    return int(value) if value in {str(r) for r in RATINGS} else None


def rating_refusal(asked: bool, status: str, rating: object) -> str | None:
    """Why this rating is not taken (None: it is)."""
    if not asked:
        return "this service does not ask for a rating"
    if status != "closed":
        return "an application is rated once it is closed"
    if isinstance(rating, bool) or not isinstance(rating, int) or rating not in RATINGS:
        return "a rating is a whole number from 1 to 5"
    return None
