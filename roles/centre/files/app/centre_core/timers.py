"""Deadlines for the SLA timers of a process, computed from a time the caller passes in.

SpiffWorkflow's duration timer reads `datetime.now()` and parses ISO durations with loops as long as the
number of months in them (`P999999999M` would spin). The centre's timer reads the time from its script
engine (`engine.now`, set by whoever runs the workflow: a request, a periodic job, a test moving time
forward) and accepts two kinds of values from its expression: a whole number of working days (the catalogue's
SLA, skipping weekends and holidays) or a bounded ISO 8601 duration (days, hours, minutes, seconds)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import DurationTimerEventDefinition

from .errors import ExpressionError

MAX_DAYS = 3650
WEEKEND = frozenset({5, 6})  # Saturday and Sunday (Python's weekday numbers)
_DURATION = re.compile(r"P(?:(\d{1,4})D)?(?:T(?:(\d{1,5})H)?(?:(\d{1,6})M)?(?:(\d{1,8})S)?)?")


@dataclass(frozen=True)
class Calendar:
    """An agency's working calendar: its holidays (besides the weekend) and its time zone, in which a working
    day is counted (a deadline set at 23:00 UTC on a Friday falls on a Saturday in Karachi)."""

    holidays: frozenset[date] = field(default_factory=frozenset)
    zone: tzinfo = UTC


def add_working_days(start: datetime, days: int, holidays: Iterable[date] = (),
                     weekend: frozenset[int] = WEEKEND) -> datetime:
    """The same time of day `days` working days after `start` (a start on a day off counts from the next
    working day). Bounded: at most MAX_DAYS."""
    if isinstance(days, bool) or not 0 <= days <= MAX_DAYS:
        raise ExpressionError(f"a number of working days must be 0..{MAX_DAYS}, not {days!r}")
    off = set(holidays)
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() not in weekend and current.date() not in off:
            remaining -= 1
    return current


def parse_duration(text: str) -> timedelta:
    """`P3D`, `PT4H`, `P1DT12H30M`: days, hours, minutes and seconds only (months have no fixed length)."""
    match = _DURATION.fullmatch(text.strip().upper()) if isinstance(text, str) else None
    if match is None or not any(match.groups()) or text.strip().upper().endswith("T"):
        raise ExpressionError(f"timer duration {text!r} is not like P3D, PT4H or P1DT12H")
    d, h, m, s = (int(g or 0) for g in match.groups())
    delta = timedelta(days=d, hours=h, minutes=m, seconds=s)
    if delta > timedelta(days=MAX_DAYS):
        raise ExpressionError(f"timer duration {text!r} is longer than {MAX_DAYS} days")
    return delta


def deadline(now: datetime, value: Any, holidays: Iterable[date] = ()) -> datetime:
    """A timer's due time from its expression's value: working days (int) or an ISO duration (str)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return add_working_days(now, value, holidays)
    if isinstance(value, str):
        return now + parse_duration(value)
    raise ExpressionError(f"a timer needs working days (a number) or a duration like P3D, not {value!r}")


def engine_now(my_task: Any) -> datetime:
    now = getattr(my_task.workflow.script_engine, "now", None)
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise ExpressionError("the workflow must be run by the centre's engine, with an aware time passed in")
    return now


class ClockedDurationTimer(DurationTimerEventDefinition):
    """A duration timer armed and checked against the engine's `now`; its due time is kept in the task's
    internal data (so it survives serialisation and is not moved by a later change of the SLA)."""

    def has_fired(self, my_task: Any) -> bool:
        now = engine_now(my_task)
        due = my_task._get_internal_data("event_value")
        if due is None:
            value = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            holidays = getattr(my_task.workflow.script_engine, "holidays", ())
            zone = getattr(my_task.workflow.script_engine, "zone", None)
            due = deadline(now.astimezone(zone) if zone else now, value, holidays).isoformat()
            my_task._set_internal_data(event_value=due)
        if datetime.fromisoformat(due) <= now:
            my_task._set_internal_data(event_fired=True)
        return bool(my_task._get_internal_data("event_fired", False))
