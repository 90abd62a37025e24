"""The transparency figures (centre_core/transparency.py), pure: SLA compliance per service and office per day in
the agency's zone, overdue at a day's end, complaints by category, satisfaction; and when each part of the
scheduled open data is due (centre_web/publishing.due)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from centre_core import catalogue
from centre_core import transparency as tr
from centre_web import publishing

KHI = ZoneInfo("Asia/Karachi")
CAT = catalogue.load_samples().catalogue
DAYS = [date(2026, 12, 1) + timedelta(days=i) for i in range(10)]  # Tue 1 .. Thu 10 December 2026


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 12, day, hour, tzinfo=KHI)


def row(rows: list[dict[str, str]], day: date, **match: str) -> dict[str, str]:
    return next(r for r in rows if r["day"] == day.isoformat() and all(r[k] == v for k, v in match.items()))


def test_window_is_the_complete_days_up_to_yesterday() -> None:
    span = tr.window(date(2026, 12, 11), 10)
    assert span[0] == date(2026, 12, 1) and span[-1] == date(2026, 12, 10) and len(span) == 10


def test_sla_compliance_per_service_and_day_in_the_agency_zone() -> None:
    # grievance: 10 working days. Sent Tue 1 Dec 10:00 -> due Tue 15 Dec 10:00.
    records = [tr.Record("grievance", at(1), at(3)),               # closed within
               tr.Record("grievance", at(1), at(3, 23)),           # 23:00 Karachi is 18:00 UTC: still the 3rd there
               tr.Record("trade_licence", at(1) - timedelta(days=30), at(3)),  # closed late
               tr.Record("gone_service", at(1), at(3))]            # not in the catalogue: not reported
    rows = tr.sla_rows(records, CAT, DAYS, KHI)
    grievance = row(rows, date(2026, 12, 3), service="grievance")
    assert (grievance["closed"], grievance["closed_within_sla"], grievance["compliance_pct"]) == ("2", "2", "100.0")
    licence = row(rows, date(2026, 12, 3), service="trade_licence")
    assert (licence["closed"], licence["closed_within_sla"], licence["compliance_pct"]) == ("1", "0", "0.0")
    assert row(rows, date(2026, 12, 2), service="grievance")["compliance_pct"] == ""  # nothing closed: no ratio
    assert len(rows) == len(DAYS) * len(CAT.services)
    assert {r["service"] for r in rows} == {s.id for s in CAT.services}


def test_an_application_is_overdue_at_the_end_of_each_day_between_its_due_time_and_its_closing() -> None:
    # trade licence, 10 working days: sent Mon 9 Nov 10:00 -> due Mon 23 Nov 10:00
    sent = datetime(2026, 11, 9, 10, tzinfo=KHI)
    late_closed = tr.Record("trade_licence", sent, at(4, 12))
    still_open = tr.Record("trade_licence", sent, None)
    rows = tr.sla_rows([late_closed, still_open], CAT, DAYS, KHI)
    overdue = [int(row(rows, d, service="trade_licence")["overdue_at_end"]) for d in DAYS]
    assert overdue == [2, 2, 2, 1, 1, 1, 1, 1, 1, 1]
    # sent Mon 16 Nov: due Mon 30 Nov 10:00, overdue at its end; a holiday on the way moves it to 1 December
    later = tr.Record("trade_licence", datetime(2026, 11, 16, 10, tzinfo=KHI), None)
    plain = tr.sla_rows([later], CAT, [date(2026, 11, 30)], KHI)
    with_holiday = tr.sla_rows([later], CAT, [date(2026, 11, 30)], KHI, {date(2026, 11, 20)})
    assert row(plain, date(2026, 11, 30), service="trade_licence")["overdue_at_end"] == "1"
    assert row(with_holiday, date(2026, 11, 30), service="trade_licence")["overdue_at_end"] == "0"


def test_offices_sum_their_services() -> None:
    rows = tr.office_rows([
        {"day": "2026-12-01", "office_en": "A", "office_ur": "ا", "closed": "2", "closed_within_sla": "1",
         "overdue_at_end": "1"},
        {"day": "2026-12-01", "office_en": "A", "office_ur": "ا", "closed": "2", "closed_within_sla": "2",
         "overdue_at_end": "0"},
        {"day": "2026-12-01", "office_en": "B", "office_ur": "ب", "closed": "0", "closed_within_sla": "0",
         "overdue_at_end": "3"}])
    assert [(r["office_en"], r["closed"], r["compliance_pct"], r["overdue_at_end"]) for r in rows] == \
        [("A", "4", "75.0", "1"), ("B", "0", "", "3")]


def test_complaints_by_category_with_erased_answers_as_unknown() -> None:
    records = [tr.Record("grievance", at(2), None, "complaint"), tr.Record("grievance", at(2), at(5), "complaint"),
               tr.Record("grievance", at(2), None, "suggestion"), tr.Record("grievance", at(2), None, None),
               tr.Record("trade_licence", at(2), None, "shop")]  # not a complaint service
    rows = tr.complaint_rows(records, CAT, DAYS, KHI)
    assert {r["service"] for r in rows} == {"grievance"}
    day2 = {r["category"]: (r["received"], r["closed"], r["category_ur"]) for r in rows if r["day"] == "2026-12-02"}
    assert day2 == {"complaint": ("2", "0", "شکایت"), "suggestion": ("1", "0", "تجویز"),
                    "unknown": ("1", "0", "نامعلوم (جواب مٹا دیا گیا)")}
    assert row(rows, date(2026, 12, 5), category="complaint")["closed"] == "1"


def test_satisfaction_per_day_average_and_distribution() -> None:
    ratings = [tr.Rating("grievance", 5, at(3)), tr.Rating("grievance", 2, at(3)), tr.Rating("grievance", 4, at(4)),
               tr.Rating("grievance", 9, at(4)), tr.Rating("trade_licence", 1, at(4))]
    rows = tr.satisfaction_rows(ratings, CAT, DAYS, KHI)
    assert {r["service"] for r in rows} == {"grievance"}  # the only service that asks for ratings
    d3 = row(rows, date(2026, 12, 3))
    assert (d3["ratings"], d3["average"], d3["rated_2"], d3["rated_5"]) == ("2", "3.50", "1", "1")
    assert row(rows, date(2026, 12, 1))["average"] == ""
    summary = {s["service"]: s for s in tr.summary([], rows)}
    assert summary["grievance"]["average_rating"] == "3.67" and summary["grievance"]["ratings"] == "3"


def test_open_data_files_are_csv_tables_and_one_json() -> None:
    files = tr.opendata_files([tr.Record("grievance", at(2), at(3), "complaint")], [tr.Rating("grievance", 4, at(3))],
                              CAT, date(2026, 12, 11), KHI, days=10)
    assert set(files) == {tr.OPENDATA_SLA, tr.OPENDATA_SLA_OFFICES, tr.OPENDATA_COMPLAINTS, tr.OPENDATA_SATISFACTION,
                          tr.OPENDATA_JSON}
    sla = list(csv.DictReader(io.StringIO(files[tr.OPENDATA_SLA].decode())))
    assert tuple(sla[0]) == tr.SLA_COLUMNS and sla[0]["day"] == "2026-12-01" and sla[-1]["day"] == "2026-12-10"
    body = json.loads(files[tr.OPENDATA_JSON])
    assert body["days"] == ["2026-12-01", "2026-12-10"]
    assert next(s for s in body["summary"] if s["service"] == "grievance")["compliance_pct"] == "100.0"


def test_when_each_part_of_the_scheduled_open_data_is_due() -> None:
    now = datetime(2026, 12, 3, 19, 30, tzinfo=UTC)  # 00:30 on the 4th in Karachi
    assert publishing.due("transparency", None, now, KHI)
    assert publishing.due("transparency", (now - timedelta(hours=1), date(2026, 12, 3)), now, KHI)
    assert not publishing.due("transparency", (now, date(2026, 12, 4)), now + timedelta(hours=23), KHI)
    assert publishing.due("participation", (now - timedelta(hours=1), date(2026, 12, 4)), now, KHI)
    assert not publishing.due("participation", (now - timedelta(minutes=59), date(2026, 12, 4)), now, KHI)


def test_the_due_time_is_the_staff_pages_one() -> None:
    """The cached calendar-day shift gives what `timers.add_working_days` gives, holidays and zone included."""
    from centre_core.timers import add_working_days

    holidays = frozenset({date(2026, 12, 25), date(2027, 1, 1)})
    service = CAT.service("trade_licence")
    assert service is not None
    for hours in range(0, 24 * 40, 7):
        sent = datetime(2026, 12, 1, tzinfo=UTC) + timedelta(hours=hours)
        expected = add_working_days(sent.astimezone(KHI), service.sla_working_days, holidays)
        assert tr.due_at(tr.Record("trade_licence", sent, None), service, KHI, holidays) == expected
