"""The console's usage over time, chargeback and credentials without servers: the registry's `usage_samples` table
(migration 6) and what it keeps (raw, hourly, daily, pruned), the sampler's schedule, the chart's thinning and SVG,
the chargeback arithmetic and its CSV (the audit log's formula guard), who may reveal secrets, and the chargeback
page and CSV through the app (operators only). Measuring on real servers and revealing: tests/integration/
test_console_usage.py."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from govcloud_platform.box.context import Box
from govcloud_platform.brokers import MASK, masked
from govcloud_platform.console import authz, chargeback, chart, credentials, sampler
from govcloud_platform.spec import load_spec_text
from govcloud_platform.state import usage_samples as us
from govcloud_platform.state.registry import MIGRATIONS, Registry
from tests.console_kit import ENABLED
from tests.registry_kit import older_registry

NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)


def sample(agency: str, at: dt.datetime, storage: int = 0, database: int = 0, backup: int = 0, conns: int = 0,
           n: int = 1) -> us.Sample:
    return us.Sample(agency, us.iso(at), n, storage, storage, database, database, backup, backup, conns, 0)


def test_a_registry_of_version_5_gains_the_samples_table_and_keeps_its_rows(tmp_path: Path) -> None:
    reg = older_registry(tmp_path, 5)
    assert [r.slug for r in reg.agencies()] == ["health"]
    us.record(reg, sample("health", NOW, storage=5))
    us.record(reg, sample("health", NOW, storage=7))  # the same second: replaced
    with reg.connect() as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert [s.storage_bytes for s in us.history(reg, "health", us.iso(NOW), us.iso(NOW))] == [7]


def test_a_sample_is_what_agency_usage_measured() -> None:
    doc = {"slug": "h", "database": {"bytes": 10, "connections": 3}, "storage": {"bytes": 20, "objects": 4},
           "backups": {"bytes": 30}, "identity": {"users": 1}}
    assert us.from_usage("h", doc, "t") == us.Sample("h", "t", 1, 20, 20, 10, 10, 30, 30, 3, 4)
    assert us.from_usage("h", {"database": {"bytes": -1, "connections": True}}, "t").database_bytes == 0


def test_old_samples_become_hourly_then_daily_and_go_after_the_retention() -> None:
    rows = [sample("h", NOW - dt.timedelta(hours=1), storage=1),  # kept as measured
            sample("h", NOW - dt.timedelta(days=3, minutes=50), storage=10),  # one hour: merged
            sample("h", NOW - dt.timedelta(days=3, minutes=40), storage=30, n=3),
            sample("h", NOW - dt.timedelta(days=40, hours=5), storage=100),  # one day: merged
            sample("h", NOW - dt.timedelta(days=40, hours=1), storage=300),
            sample("h", NOW - dt.timedelta(days=401), storage=9)]  # gone
    drop, add = us.compaction(rows, NOW)
    assert (rows[0].agency, rows[0].at) not in drop and (rows[5].agency, rows[5].at) in drop and len(drop) == 5
    day, hour = add  # by (agency, start)
    assert hour.at == "2026-11-30T11:00:00+00:00" and hour.n == 4 and hour.storage_bytes == 25  # (10 + 90) / 4
    assert hour.storage_peak == 30
    assert day.at == "2026-10-24T00:00:00+00:00" and day.storage_bytes == 200 and day.storage_peak == 300
    assert us.compaction([day, hour], NOW) == ([], [])  # merged already


def test_compact_rewrites_the_registry(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    for minutes in (10, 20, 30):
        us.record(reg, sample("h", NOW - dt.timedelta(days=3) + dt.timedelta(minutes=minutes), storage=minutes))
    us.record(reg, sample("h", NOW - dt.timedelta(days=500)))
    assert us.compact(reg, NOW) == (4, 1)
    [merged] = us.history(reg, "h", us.iso(NOW - dt.timedelta(days=600)), us.iso(NOW))
    assert merged.n == 3 and merged.storage_bytes == 20 and merged.storage_peak == 30


def test_the_sampler_keeps_its_interval_and_bounds_its_work() -> None:
    assert sampler.wait_s(0, 30, 900) == 870
    assert sampler.wait_s(0, 2000, 900) == 90  # a round longer than the interval: a tenth of it, not 0
    assert sampler.chunks([str(i) for i in range(25)], 10)[-1] == ["20", "21", "22", "23", "24"]
    assert sampler.compaction_due(None, 5) and not sampler.compaction_due(0, 60) and sampler.compaction_due(0, 7 * 3600)


def test_a_chart_is_thinned_and_drawn_accessibly() -> None:
    rows = [sample("h", NOW + dt.timedelta(minutes=15 * i), storage=i, conns=i % 5) for i in range(500)]
    thinned = chart.thin(rows)
    assert len(thinned) <= chart.MAX_POINTS and sum(s.n for s in thinned) == 500
    assert thinned[-1].storage_peak == 499
    drawn = str(chart.svg(thinned, "storage_bytes", "c-s", "Bucket <size>", "From a to b"))
    assert 'role="img"' in drawn and 'aria-labelledby="c-s-t c-s-d"' in drawn
    assert "<title id=\"c-s-t\">Bucket &lt;size&gt;</title>" in drawn and "<desc" in drawn and "<script" not in drawn
    xs = [x for x, _ in chart.points(thinned, "storage_bytes")]
    assert xs == sorted(xs) and xs[0] == chart.PAD and xs[-1] == chart.WIDTH - chart.PAD


@pytest.mark.parametrize(("raw", "bounds"), [
    ("2026-11", ("2026-11-01T00:00:00+00:00", "2026-11-30T23:59:59+00:00")),
    ("2026-12", ("2026-12-01T00:00:00+00:00", "2026-12-31T23:59:59+00:00")),
    ("2024-02", ("2024-02-01T00:00:00+00:00", "2024-02-29T23:59:59+00:00")),
    ("2026-13", None), ("2026-1", None), ("26-11", None), ("=cmd()", None), ("1999-01", None),
])
def test_a_month_is_yyyy_mm(raw: str, bounds: tuple[str, str] | None) -> None:
    assert chargeback.month_bounds(raw) == bounds


def test_chargeback_averages_peaks_and_costs() -> None:
    gib = chargeback.GIB
    rows = [sample("health", NOW, storage=gib, database=2 * gib, backup=0),
            sample("health", NOW + dt.timedelta(hours=1), storage=3 * gib, database=2 * gib, backup=gib, n=3),
            sample("revenue", NOW, storage=10)]
    rates = {"currency": "PKR", "storage_gib_month": 100.0, "database_gib_month": 50.0, "backup_gib_month": 10.0}
    health, revenue = chargeback.report("2026-12", rows, {"health": "=HYPERLINK(\"x\")"}, rates)
    assert health["samples"] == 4 and health["storage_avg_bytes"] == round(2.5 * gib)
    assert health["storage_peak_bytes"] == 3 * gib and health["backup_avg_bytes"] == round(0.75 * gib)
    assert health["cost"] == f"{2.5 * 100 + 2 * 50 + 0.75 * 10:.2f}" and health["currency"] == "PKR"
    assert revenue["name"] == "" and revenue["storage_avg_bytes"] == 10
    bare = chargeback.report("2026-12", rows, {}, None)[0]
    assert bare["cost"] == "" and bare["currency"] == ""
    text = chargeback.csv_text([health, revenue])
    assert text.endswith("\r\n") and text.startswith(",".join(chargeback.COLUMNS) + "\r\n")
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert parsed[0]["name"] == "'=HYPERLINK(\"x\")" and parsed[1]["agency"] == "revenue"


def test_last_month() -> None:
    assert chargeback.last_month(dt.date(2026, 1, 15)) == "2025-12"
    assert chargeback.last_month(dt.date(2026, 12, 1)) == "2026-11"


@pytest.mark.parametrize(("groups", "slug", "reveals"), [
    (["platform-operators"], "health", True),
    (["agency-health", "agency-health--admins"], "health", True),
    (["agency-health"], "health", False),  # a plain member
    (["agency-health--admins"], "health", False),  # the admins' group alone is no membership
    (["agency-health", "agency-health--admins"], "revenue", False),
    (["agency-health", "agency-revenue--admins"], "revenue", False),
])
def test_who_reveals_secrets(groups: list[str], slug: str, reveals: bool) -> None:
    assert authz.may_act(authz.principal("x", groups, ("platform-operators",)), slug) is reveals


def test_secrets_are_hidden_until_revealed() -> None:
    doc = {"database": {"user": "u", "password": "p", "host": "h"}, "identity": {"redirect_uris": ["a", "b"]}}
    hidden = credentials.rows(doc, revealed=False)
    assert {(r["key"], r["value"]) for r in hidden} == {("user", "u"), ("password", None), ("host", "h"),
                                                        ("redirect_uris", "a, b")}
    assert ("password", "p") in {(r["key"], r["value"]) for r in credentials.rows(doc, revealed=True)}
    assert masked(doc)["database"]["password"] == MASK


# --- the chargeback page and CSV through the app (a session forged with its key) -----------------------------
@pytest.fixture
def console(tmp_path: Path) -> tuple[FlaskClient, Box]:
    from govcloud_platform.console.app import create_app
    from govcloud_platform.console.settings import Settings

    box = Box(home=tmp_path, spec=load_spec_text(ENABLED))
    app = create_app(Settings(box, "https://localhost:1", "https://localhost:2", "platform-console", "s",
                              "k" * 32, str(tmp_path / "ca.pem")))
    app.config["SESSION_COOKIE_SECURE"] = False
    return app.test_client(), box


def sign(client: FlaskClient, groups: list[str]) -> None:
    with client.session_transaction() as sess:
        sess["p"] = {"sub": "someone", "groups": groups, "name": "x", "exp": int(time.time()) + 600}


def test_only_operators_get_the_chargeback_report(console: tuple[FlaskClient, Box]) -> None:
    client, box = console
    us.record(Registry(box.home), sample("health", dt.datetime(2026, 11, 5, tzinfo=dt.UTC), storage=42))
    sign(client, ["platform-operators"])
    page = client.get("/ur/chargeback?month=2026-11")
    assert page.status_code == 200 and 'href="/api/chargeback.csv?month=2026-11"' in page.text
    resp = client.get("/api/chargeback.csv?month=2026-11")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    [row] = list(csv.DictReader(io.StringIO(resp.text)))
    assert row["agency"] == "health" and row["storage_avg_bytes"] == "42" and row["cost"] == ""
    assert client.get("/api/chargeback.csv?month=2026-13").status_code == 400
    sign(client, ["agency-health", "agency-health--admins"])
    assert client.get("/en/chargeback").status_code == 403
    refused = client.get("/api/chargeback.csv?month=2026-11")
    assert refused.status_code == 403 and refused.json == {"error": "forbidden", "message": refused.json["message"]}
    assert "chargeback" not in client.get("/en/requests").text  # no link for a member


def test_the_month_merged_in_sql_is_what_merge_makes(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    rows = [sample("health", NOW + dt.timedelta(hours=i), storage=7 * i + 1, database=3 * i, backup=i, conns=i,
                   n=1 + i % 3) for i in range(10)] + [sample("revenue", NOW, storage=5)]
    for row in rows:
        us.record(reg, row)
    merged = us.per_agency(reg, us.iso(NOW), us.iso(NOW + dt.timedelta(days=1)))
    assert merged == [us.merge(rows[:10], rows[0].at), rows[10]]
    assert chargeback.report("2026-12", merged, {}, None) == chargeback.report("2026-12", rows, {}, None)


def test_the_spec_sets_the_interval_and_the_rates() -> None:
    from govcloud_platform.errors import GovCloudError

    base = ENABLED.replace("      enabled: true\n", "      enabled: true\n      usage_interval_minutes: 5\n"
                           "      chargeback: {currency: PKR, storage_gib_month: 25}\n", 1)
    console = load_spec_text(base).platform.services.console
    assert console.usage_interval_minutes == 5 and console.chargeback is not None
    assert console.chargeback.model_dump() == {"currency": "PKR", "storage_gib_month": 25.0,
                                               "database_gib_month": 0.0, "backup_gib_month": 0.0}
    assert load_spec_text(ENABLED).platform.services.console.usage_interval_minutes == 15
    for bad in ("usage_interval_minutes: 0", "chargeback: {currency: rupees}", "chargeback: {currency: PKR, "
                "storage_gib_month: -1}"):
        with pytest.raises((GovCloudError, ValueError)):
            load_spec_text(ENABLED.replace("      enabled: true\n", f"      enabled: true\n      {bad}\n", 1))
