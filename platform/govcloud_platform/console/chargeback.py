"""The monthly chargeback report, as pure arithmetic (no I/O): per agency the month's average and peak of its
bucket, database and backup bytes from its usage history (`state.usage_samples`; a merged row counts as its `n`
samples), and a cost when the spec gives rates (`platform.services.console.chargeback`: a price per GiB-month of
the average). Without rates the report is quantities only. The CSV is the audit log's (`auditlog.csv_table`)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

from govcloud_platform.console.auditlog import csv_table
from govcloud_platform.state.usage_samples import Sample, iso

GIB = 1024 ** 3
KINDS = (("storage", "storage_bytes", "storage_peak", "storage_gib_month"),
         ("database", "database_bytes", "database_peak", "database_gib_month"),
         ("backup", "backup_bytes", "backup_peak", "backup_gib_month"))
COLUMNS = ("month", "agency", "name", "samples", "storage_avg_bytes", "storage_peak_bytes", "database_avg_bytes",
           "database_peak_bytes", "backup_avg_bytes", "backup_peak_bytes", "cost", "currency")
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def month_bounds(raw: str) -> tuple[str, str] | None:
    """The first and last second of a month `YYYY-MM` (UTC, as samples are stored), or None if it is not one."""
    if not _MONTH.fullmatch(raw):
        return None
    year, month = int(raw[:4]), int(raw[5:])
    if year < 2000:
        return None
    start = dt.datetime(year, month, 1, tzinfo=dt.UTC)
    end = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=dt.UTC) - dt.timedelta(seconds=1)
    return iso(start), iso(end)


def last_month(today: dt.date) -> str:
    """The month a report is usually for: the one before today's."""
    first = today.replace(day=1) - dt.timedelta(days=1)
    return f"{first.year:04d}-{first.month:02d}"


def report(month: str, samples: Iterable[Sample], names: Mapping[str, str],
           rates: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """One row per agency with samples in the month (by slug): averages weighted by samples, peaks, and the cost
    (the sum over kinds of average GiB x the kind's rate, two decimals) when there are rates."""
    by_agency: dict[str, list[Sample]] = {}
    for s in samples:
        by_agency.setdefault(s.agency, []).append(s)
    rows = []
    for slug in sorted(by_agency):
        found = by_agency[slug]
        n = sum(s.n for s in found)
        row: dict[str, Any] = {"month": month, "agency": slug, "name": names.get(slug, ""), "samples": n}
        cost = 0.0
        for kind, mean, peak, rate in KINDS:
            average = round(sum(getattr(s, mean) * s.n for s in found) / n)
            row[f"{kind}_avg_bytes"] = average
            row[f"{kind}_peak_bytes"] = max(getattr(s, peak) for s in found)
            cost += average / GIB * float((rates or {}).get(rate, 0))
        row["cost"] = f"{cost:.2f}" if rates else ""
        row["currency"] = str(rates.get("currency", "")) if rates else ""
        rows.append(row)
    return rows


def csv_text(rows: Iterable[Mapping[str, Any]]) -> str:
    return csv_table(COLUMNS, rows)
