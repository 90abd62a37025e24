"""Check a cron schedule field by field, so that `validate` rejects what the backup scheduler (croniter)
would choke on or silently reinterpret, with a message naming the field.

The accepted grammar is the classic five-field cron of Vixie cron, a strict subset of what croniter runs:
    minute hour day-of-month month day-of-week
each field a comma-separated list of `*`, `N`, `N-M`, `*/S`, `N-M/S` or `N/S` (N to the field's maximum).
Ranges: minute 0-59, hour 0-23, day-of-month 1-31, month 1-12 or JAN-DEC, day-of-week 0-7 (0 and 7 are
Sunday) or SUN-SAT; names in any case. A range must not run backwards (write `5,6,0,1`, not `FRI-MON`: cron
implementations disagree on wrap-around), a step is 1 to the field's maximum. Not accepted: `@daily` and
other macros, seconds or year fields, and croniter's extensions (`L`, `W`, `#`, `?`, `H`) that other cron
implementations do not share. A day-of-month that no chosen month has (`30 2`: February 30) is refused:
the schedule would never fire and croniter raises instead of answering when the next backup is due."""

from __future__ import annotations

import re
from functools import lru_cache

FIELDS = (
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day-of-month", 1, 31, None),
    ("month", 1, 12, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")),
    ("day-of-week", 0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")),
)
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # February 29 happens
_ITEM_RE = re.compile(r"(?P<base>\*|(?P<lo>[0-9A-Za-z]+)(?:-(?P<hi>[0-9A-Za-z]+))?)(?:/(?P<step>[0-9]+))?")


def check_cron(value: str) -> str:
    """Return the schedule unchanged when valid; raise ValueError naming the field and what is wrong."""
    problem = _problem(value)
    if problem:
        raise ValueError(f"invalid cron schedule {value!r}: {problem}")
    return value


@lru_cache(maxsize=1024)
def _problem(value: str) -> str | None:
    """Why the schedule is invalid, or None. Cached: 10,000 agencies usually share a few schedules."""
    fields = value.split()
    if len(fields) != 5:
        return f"expected five fields (minute hour day-of-month month day-of-week) like '0 2 * * *', got {len(fields)}"
    chosen: list[set[int]] = []
    for text, (name, low, high, names) in zip(fields, FIELDS, strict=True):
        values: set[int] = set()
        for item in text.split(","):
            problem = _item(item, values, low, high, names)
            if problem:
                return f"{name} field {text!r}: {problem}"
        chosen.append(values)
    days, months = chosen[2], chosen[3]
    if not fields[2].startswith("*") and not any(d <= _DAYS_IN_MONTH[m - 1] for d in days for m in months):
        return "no chosen month has the chosen day-of-month, so it never fires"
    return None


def _number(token: str, low: int, high: int, names: tuple[str, ...] | None) -> int | str:
    """The value of a number or a name, or a message saying why it is not one."""
    if token.isdigit() and token.isascii():
        number = int(token)
    elif names is not None and token.lower() in names:
        number = names.index(token.lower()) + (1 if low == 1 else 0)
    else:
        allowed = f" or a name {names[0].upper()}-{names[-1].upper()}" if names else ""
        return f"{token!r} is not a number{allowed}"
    if not low <= number <= high:
        return f"{number} is out of range {low}-{high}"
    return number


def _item(item: str, values: set[int], low: int, high: int, names: tuple[str, ...] | None) -> str | None:
    """Add the values of one list item to `values`; return a message when the item is invalid."""
    match = _ITEM_RE.fullmatch(item)
    if match is None:
        return f"{item!r} is not `*`, `N`, `N-M` or one of them with `/step`"
    start, end = low, high
    if match["base"] != "*":
        first = _number(match["lo"], low, high, names)
        if isinstance(first, str):
            return first
        start = end = first
        if match["hi"] is not None:
            last = _number(match["hi"], low, high, names)
            if isinstance(last, str):
                return last
            if last < first:
                return f"range {item!r} runs backwards (list the values instead)"
            end = last
        elif match["step"] is not None:
            end = high  # N/S: from N to the field's maximum
    step = 1
    if match["step"] is not None:
        step = int(match["step"])
        if not 1 <= step <= high:
            return f"step {step} is out of range 1-{high}"
    values.update(range(start, end + 1, step))
    return None
