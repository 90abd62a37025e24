"""Transparency (issue 16, item 5): the centre's daily figures for the agency's open data, as pure functions of
what it records: SLA compliance per service and per office, complaints by category, satisfaction ratings.

Days are the agency's (its time zone); the figures cover the WINDOW_DAYS complete days up to yesterday, one row a
day (zeros included, so a series has no holes), and are written again each day. The SLA due time of an
application is the staff pages' (`desks.due`: the service's `sla_working_days` working days after it was sent,
counted in the agency's zone and holidays). An application closed on day D counts for D: within its SLA when it
closed by its due time. An application is overdue at the end of D when its due time had passed and it was not
closed. A reopened application counts by its last closing. Categories are the answers to the first `choice`
question of each service that asks for a satisfaction rating (the sample's complaints and suggestions); an
answer erased at the end of its retention counts as `unknown`. Ratings count on the day they were given."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from functools import lru_cache

from .catalogue import Catalogue, Service
from .timers import add_working_days

WINDOW_DAYS = 90
OPENDATA_SLA = "opendata/centre-sla.csv"
OPENDATA_SLA_OFFICES = "opendata/centre-sla-offices.csv"
OPENDATA_COMPLAINTS = "opendata/centre-complaints.csv"
OPENDATA_SATISFACTION = "opendata/centre-satisfaction.csv"
OPENDATA_JSON = "opendata/centre-transparency.json"
SLA_COLUMNS = ("day", "service", "service_en", "service_ur", "office_en", "office_ur", "sla_working_days",
               "closed", "closed_within_sla", "compliance_pct", "overdue_at_end")
OFFICE_COLUMNS = ("day", "office_en", "office_ur", "closed", "closed_within_sla", "compliance_pct",
                  "overdue_at_end")
COMPLAINT_COLUMNS = ("day", "service", "category", "category_en", "category_ur", "received", "closed")
SATISFACTION_COLUMNS = ("day", "service", "service_en", "service_ur", "ratings", "average", "rated_1", "rated_2",
                        "rated_3", "rated_4", "rated_5")
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Record:
    """What the figures need of one application."""

    service_id: str
    submitted_at: datetime
    closed_at: datetime | None  # its last closing; None while under way
    category: str | None = None  # the answer to its service's category question, when it has one


@dataclass(frozen=True)
class Rating:
    service_id: str
    rating: int
    rated_at: datetime


def window(today: date, days: int = WINDOW_DAYS) -> list[date]:
    """The complete days the figures cover: `days` days up to yesterday, oldest first."""
    return [today - timedelta(days=days - i) for i in range(days)]


def local_day(moment: datetime, zone: tzinfo) -> date:
    return moment.astimezone(zone).date()


def due_at(record: Record, service: Service, zone: tzinfo, holidays: frozenset[date] = frozenset()) -> datetime:
    """`timers.add_working_days` from the time it was sent, in the agency's zone: the calendar days it adds depend
    only on the day it starts from, so they are computed once per (day, SLA) and the same wall-clock shift applied."""
    start = record.submitted_at.astimezone(zone)
    return start + timedelta(days=_calendar_days(start.date(), service.sla_working_days, holidays))


@lru_cache(maxsize=4096)
def _calendar_days(day: date, working_days: int, holidays: frozenset[date]) -> int:
    noon = datetime.combine(day, time(12))
    return (add_working_days(noon, working_days, holidays) - noon).days


def _day_end_after(moment: datetime, zone: tzinfo) -> date:
    """The first day D whose end (the next day's 00:00 in `zone`) is after `moment`."""
    return local_day(moment, zone)


def _day_end_not_before(moment: datetime, zone: tzinfo) -> date:
    """The first day D whose end is at or after `moment`."""
    local = moment.astimezone(zone)
    start = datetime.combine(local.date(), time(0), tzinfo=zone)
    return local.date() - timedelta(days=1) if local == start else local.date()


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}" if whole else ""


def category_question(service: Service) -> str | None:
    """The question whose answers are a complaint service's categories (None: not a complaint service)."""
    if not service.satisfaction_rating:
        return None
    return next((q.id for q in service.questions if q.kind == "choice"), None)


def sla_rows(records: Iterable[Record], catalogue: Catalogue, days: Sequence[date], zone: tzinfo,
             holidays: Iterable[date] = ()) -> list[dict[str, str]]:
    """Per day and service: closed, closed within the SLA, the compliance and the overdue at the day's end."""
    holidays = frozenset(holidays)
    index = {d: i for i, d in enumerate(days)}
    services = {s.id: s for s in catalogue.services}
    closed = {s: [0] * len(days) for s in services}
    within = {s: [0] * len(days) for s in services}
    overdue_delta = {s: [0] * (len(days) + 1) for s in services}
    first, last = (days[0], days[-1]) if days else (date.max, date.min)
    for record in records:
        service = services.get(record.service_id)
        if service is None:  # a service no longer in the catalogue: not reported
            continue
        due = due_at(record, service, zone, holidays)
        if record.closed_at is not None:
            i = index.get(local_day(record.closed_at, zone))
            if i is not None:
                closed[service.id][i] += 1
                within[service.id][i] += record.closed_at <= due
        # overdue at the end of D for D in [first day whose end is after due, first day whose end reaches closing)
        start = _day_end_after(due, zone)
        stop = _day_end_not_before(record.closed_at, zone) if record.closed_at is not None else last + timedelta(1)
        if stop <= start or stop <= first or start > last:
            continue
        a = index[max(start, first)]
        b = index[stop] if stop <= last else len(days)
        overdue_delta[service.id][a] += 1
        overdue_delta[service.id][b] -= 1
    rows = []
    for s in catalogue.services:
        running = 0
        for i, day in enumerate(days):
            running += overdue_delta[s.id][i]
            rows.append({"day": day.isoformat(), "service": s.id, "service_en": s.name.en, "service_ur": s.name.ur,
                         "office_en": s.office.name.en, "office_ur": s.office.name.ur,
                         "sla_working_days": str(s.sla_working_days), "closed": str(closed[s.id][i]),
                         "closed_within_sla": str(within[s.id][i]),
                         "compliance_pct": pct(within[s.id][i], closed[s.id][i]), "overdue_at_end": str(running)})
    return sorted(rows, key=lambda r: (r["day"], r["service"]))


def office_rows(sla: Iterable[dict[str, str]]) -> list[dict[str, str]]:
    """The services' rows summed per office (by its English name) and day."""
    sums: dict[tuple[str, str], dict[str, str | int]] = {}
    for row in sla:
        key = (row["day"], row["office_en"])
        out = sums.setdefault(key, {"day": row["day"], "office_en": row["office_en"], "office_ur": row["office_ur"],
                                    "closed": 0, "closed_within_sla": 0, "overdue_at_end": 0})
        for column in ("closed", "closed_within_sla", "overdue_at_end"):
            out[column] = int(out[column]) + int(row[column])
    rows = []
    for key in sorted(sums):
        out = sums[key]
        rows.append({"day": str(out["day"]), "office_en": str(out["office_en"]), "office_ur": str(out["office_ur"]),
                     "closed": str(out["closed"]), "closed_within_sla": str(out["closed_within_sla"]),
                     "compliance_pct": pct(int(out["closed_within_sla"]), int(out["closed"])),
                     "overdue_at_end": str(out["overdue_at_end"])})
    return rows


def complaint_rows(records: Iterable[Record], catalogue: Catalogue, days: Sequence[date],
                   zone: tzinfo) -> list[dict[str, str]]:
    """Per day, complaint service and category: received that day, closed that day."""
    index = {d: i for i, d in enumerate(days)}
    labels: dict[str, dict[str, tuple[str, str]]] = {}
    for s in catalogue.services:
        qid = category_question(s)
        if qid is None:
            continue
        question = next(q for q in s.questions if q.id == qid)
        known = {c: (question.choice_labels[c].en, question.choice_labels[c].ur) if c in question.choice_labels
                 else (c, c) for c in question.choices}
        labels[s.id] = {**known, UNKNOWN: ("Unknown (answer erased)", "نامعلوم (جواب مٹا دیا گیا)")}
    received = {(s, c): [0] * len(days) for s, cats in labels.items() for c in cats}
    closed = {(s, c): [0] * len(days) for s, cats in labels.items() for c in cats}
    for record in records:
        if record.service_id not in labels:
            continue
        category = record.category if record.category in labels[record.service_id] else UNKNOWN
        key = (record.service_id, category)
        i = index.get(local_day(record.submitted_at, zone))
        if i is not None:
            received[key][i] += 1
        if record.closed_at is not None:
            j = index.get(local_day(record.closed_at, zone))
            if j is not None:
                closed[key][j] += 1
    rows = [{"day": day.isoformat(), "service": s, "category": c, "category_en": labels[s][c][0],
             "category_ur": labels[s][c][1], "received": str(received[(s, c)][i]), "closed": str(closed[(s, c)][i])}
            for (s, c) in received for i, day in enumerate(days)]
    return sorted(rows, key=lambda r: (r["day"], r["service"], r["category"]))


def satisfaction_rows(ratings: Iterable[Rating], catalogue: Catalogue, days: Sequence[date],
                      zone: tzinfo) -> list[dict[str, str]]:
    """Per day and service that asks for ratings: how many were given, their average and distribution."""
    index = {d: i for i, d in enumerate(days)}
    rated = [s for s in catalogue.services if s.satisfaction_rating]
    counts = {s.id: [[0] * 5 for _ in days] for s in rated}
    for r in ratings:
        i = index.get(local_day(r.rated_at, zone))
        if r.service_id in counts and i is not None and 1 <= r.rating <= 5:
            counts[r.service_id][i][r.rating - 1] += 1
    rows = []
    for s in rated:
        for i, day in enumerate(days):
            dist = counts[s.id][i]
            n = sum(dist)
            average = f"{sum((k + 1) * v for k, v in enumerate(dist)) / n:.2f}" if n else ""
            rows.append({"day": day.isoformat(), "service": s.id, "service_en": s.name.en, "service_ur": s.name.ur,
                         "ratings": str(n), "average": average,
                         **{f"rated_{k + 1}": str(v) for k, v in enumerate(dist)}})
    return sorted(rows, key=lambda r: (r["day"], r["service"]))


def summary(sla: Sequence[dict[str, str]], satisfaction: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """Per service over the whole window: closed, within SLA, compliance, ratings and their average."""
    out: dict[str, dict[str, int]] = {}
    for row in sla:
        s = out.setdefault(row["service"], {"closed": 0, "within": 0, "ratings": 0, "points": 0})
        s["closed"] += int(row["closed"])
        s["within"] += int(row["closed_within_sla"])
    for row in satisfaction:
        s = out.setdefault(row["service"], {"closed": 0, "within": 0, "ratings": 0, "points": 0})
        s["ratings"] += int(row["ratings"])
        s["points"] += sum(k * int(row[f"rated_{k}"]) for k in range(1, 6))
    return [{"service": k, "closed": str(v["closed"]), "closed_within_sla": str(v["within"]),
             "compliance_pct": pct(v["within"], v["closed"]), "ratings": str(v["ratings"]),
             "average_rating": f"{v['points'] / v['ratings']:.2f}" if v["ratings"] else ""}
            for k, v in sorted(out.items())]


def _csv(columns: Sequence[str], rows: Iterable[dict[str, str]]) -> bytes:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def opendata_files(records: Sequence[Record], ratings: Sequence[Rating], catalogue: Catalogue, today: date,
                   zone: tzinfo, holidays: Iterable[date] = (), days: int = WINDOW_DAYS) -> dict[str, bytes]:
    """{object key: body}: the four tables as CSV (the opendata app makes each a table) and all in one JSON."""
    span = window(today, days)
    sla = sla_rows(records, catalogue, span, zone, holidays)
    offices = office_rows(sla)
    complaints = complaint_rows(records, catalogue, span, zone)
    satisfaction = satisfaction_rows(ratings, catalogue, span, zone)
    body = {"days": [span[0].isoformat(), span[-1].isoformat()] if span else [],
            "summary": summary(sla, satisfaction), "sla": sla, "offices": offices, "complaints": complaints,
            "satisfaction": satisfaction}
    return {OPENDATA_SLA: _csv(SLA_COLUMNS, sla), OPENDATA_SLA_OFFICES: _csv(OFFICE_COLUMNS, offices),
            OPENDATA_COMPLAINTS: _csv(COMPLAINT_COLUMNS, complaints),
            OPENDATA_SATISFACTION: _csv(SATISFACTION_COLUMNS, satisfaction),
            OPENDATA_JSON: (json.dumps(body, ensure_ascii=False, indent=1) + "\n").encode("utf-8")}
