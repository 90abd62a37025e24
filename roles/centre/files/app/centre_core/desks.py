"""Pure decisions of the staff pages: when a task is due (the service's SLA in working days from the day the
application was sent), whether it is overdue, which actions need a reason, and who may claim, assign, release
or act on a task. No I/O: the store and the web side call these."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from .timers import add_working_days

REASON_ACTIONS = frozenset({"return", "reject"})  # a citizen told "no" or "not yet" is told why
MAX_COMMENT = 2000
MAX_REASON = 1000


@dataclass(frozen=True)
class Refusal:
    """Why a desk operation is refused: a code (the staff pages show their text `refusal_<code>` in the page's
    language) and the values that text names."""

    code: str
    values: tuple[tuple[str, str], ...] = ()


def due(submitted_at: datetime, sla_working_days: int, holidays: Iterable[date] = ()) -> datetime:
    """The application's SLA due time: `sla_working_days` working days after it was sent."""
    return add_working_days(submitted_at, sla_working_days, holidays)


def overdue(due_at: datetime, now: datetime) -> bool:
    return now > due_at


def needs_reason(action: str) -> bool:
    return action in REASON_ACTIONS


def action_fields(action: str, reason: str, comment: str) -> dict[str, str] | Refusal:
    """The task fields of an action taken on the staff pages (what `POST /api/tasks/<id>/<action>` takes as
    `fields`): a reason where the action needs one, an optional comment."""
    reason, comment = reason.strip(), comment.strip()
    if needs_reason(action) and not reason:
        return Refusal("reason_needed", (("action", action),))
    if len(reason) > MAX_REASON or len(comment) > MAX_REASON:
        return Refusal("reason_too_long", (("n", str(MAX_REASON)),))
    out = {}
    if reason:
        out["reason"] = reason
    if comment:
        out["comment"] = comment
    return out


def comment_text(text: str) -> str | Refusal:
    text = text.strip()
    if not text:
        return Refusal("comment_empty")
    if len(text) > MAX_COMMENT:
        return Refusal("comment_too_long", (("n", str(MAX_COMMENT)),))
    return text


def may_act(holder: str | None, me: str) -> Refusal | None:
    """A task held by a colleague is theirs to act on (the desk's tasks nobody holds are anyone's at the desk)."""
    if holder is not None and holder != me:
        return Refusal("held")
    return None


def may_assign(desk: str, to: str, colleagues_desks: Iterable[str] | None) -> Refusal | None:
    """Assign a task of `desk` to `to`, who must be known to work at the same desk (seen at a sign-in)."""
    if colleagues_desks is None or desk not in set(colleagues_desks):
        return Refusal("assign_desk")
    return None


def is_supervisor(desks: frozenset[str] | set[str]) -> bool:
    """Whether a member's desks make them a supervisor (who may put an application on legal hold): the desk
    `supervisor` or one named `<something>_supervisor` (the samples' escalation lanes)."""
    return any(d == "supervisor" or (d.endswith("_supervisor") and len(d) > len("_supervisor")) for d in desks)
