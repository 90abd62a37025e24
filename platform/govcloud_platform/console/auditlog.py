"""The audit log in the console, as pure decisions (no I/O): the filters of `GET /api/audit` and the page, which
agencies' entries a principal may read, and the CSV export. The entries are the registry's (`Registry.audit_log`,
what `agency show` lists), never a copy.

An operator reads every entry; an agency's member only the entries about their agencies (the target is the slug,
or `<slug>/<app>`): the platform's own entries (`up`, `apply`, a platform backup) are the operators'. Filtering
by an agency that is not the member's answers 404, as an unknown agency does."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from govcloud_platform.console.authz import Principal
from govcloud_platform.text import text_problem

LIMIT_DEFAULT, LIMIT_MAX = 200, 1000
AGENCY_PAGE = 8  # an agency's page shows its newest entries; its link opens the log filtered by the agency
COLUMNS = ("id", "at", "actor", "command", "target", "result", "detail")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet reads these as a formula (OWASP: CSV injection)


@dataclass(frozen=True)
class AuditQuery:
    agency: str | None = None
    actor: str | None = None
    command: str | None = None
    since: str | None = None
    until: str | None = None
    limit: int = LIMIT_DEFAULT
    before: int | None = None  # only entries older than this id (keyset paging)

    def as_args(self) -> dict[str, str]:
        """The query's filters as URL parameters (the page's form shows them)."""
        return {k: v for k, v in (("agency", self.agency), ("actor", self.actor), ("command", self.command),
                                  ("since", self.since), ("until", self.until)) if v}

    def page_args(self) -> dict[str, str]:
        """The filters, the page size asked for and the page's start: the CSV link exports this page's entries."""
        return {**self.as_args(), **({"limit": str(self.limit)} if self.limit != LIMIT_DEFAULT else {}),
                **({"before": str(self.before)} if self.before is not None else {})}

    def older_args(self, before: int) -> dict[str, str]:
        """The next page's: the same filters and size, the entries older than `before` (this page's last id)."""
        return {**self.page_args(), "before": str(before)}


def of_agency(slug: str) -> AuditQuery:
    """The query of an agency's page: its newest entries (about it and its apps), the log's own `agency` filter,
    so the page's link to the whole log (`as_args`) shows the same entries and the older ones."""
    return AuditQuery(agency=slug, limit=AGENCY_PAGE)


Page = tuple[list[dict[str, Any]], int | None]  # the entries, and the id the older page starts before (None: last)


def older_than(entries: list[dict[str, Any]], limit: int) -> Page:
    """A page of `limit` entries from `limit + 1` read (newest first), and the id the next page starts before (None
    when this page is the last): keyset paging by id, stable while entries are appended."""
    if len(entries) > limit:
        page = entries[:limit]
        return page, int(page[-1]["id"])
    return entries, None


def moment(raw: str, end_of_day: bool) -> str | None:
    """An ISO date or time as `at` is stored (UTC, seconds), or None if it is not one. A date alone means its
    first second (since) or its last (until); a time without an offset is UTC."""
    try:
        if len(raw) == 10:
            day = dt.date.fromisoformat(raw)
            at = dt.datetime.combine(day, dt.time(23, 59, 59) if end_of_day else dt.time(0), dt.UTC)
        else:
            at = dt.datetime.fromisoformat(raw)
            at = at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)
    except ValueError:
        return None
    return at.isoformat(timespec="seconds")


def query(args: Mapping[str, str]) -> AuditQuery | str:
    """The filters of a request's query string, or why not (one line, 400)."""
    values: dict[str, Any] = {}
    for key in ("agency", "actor", "command"):
        raw = args.get(key, "")
        if raw:
            problem = text_problem(raw, max_length=200)
            if problem:
                return f"{key} {problem}"
            values[key] = raw
    for key in ("since", "until"):
        raw = args.get(key, "").strip()
        if raw:
            found = moment(raw, key == "until")
            if found is None:
                return f"{key}: an ISO 8601 date or time is needed (2026-12-03 or 2026-12-03T10:00:00Z)"
            values[key] = found
    raw_limit = args.get("limit", "")
    if raw_limit:
        if not (raw_limit.isascii() and raw_limit.isdigit()) or not 1 <= int(raw_limit) <= LIMIT_MAX:
            return f"limit: a number from 1 to {LIMIT_MAX} is needed"
        values["limit"] = int(raw_limit)
    raw_before = args.get("before", "")
    if raw_before:
        if not (raw_before.isascii() and raw_before.isdigit()) or not 1 <= int(raw_before) <= 2**63 - 1:
            return "before: an entry's id (a positive number) is needed"
        values["before"] = int(raw_before)
    return AuditQuery(**values)


def scope(who: Principal, agency: str | None) -> list[str] | None | int:
    """Whose entries to read: None for every entry (an operator without an agency filter), else the agencies' slugs;
    404 when a member filters by an agency not theirs (the answer an unknown one gets)."""
    if agency is not None:
        return [agency] if who.operator or agency in who.agencies else 404
    return None if who.operator else sorted(who.agencies)


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_table(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """Rows as RFC 4180 CSV (a header row; quotes where needed; CRLF), each cell that a spreadsheet would read as a
    formula prefixed with `'`. The console's every CSV export (the audit log, the chargeback report) is this."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return out.getvalue()


def csv_text(entries: Iterable[Mapping[str, Any]]) -> str:
    """The audit entries as CSV (`csv_table`)."""
    return csv_table(COLUMNS, entries)
