"""The console's usage: the last figures the background sampler measured (`sampler.Sampler`), an agency's usage over
time (`state.usage_samples`; charts drawn on the server, `chart`) and the directorate's monthly chargeback report
(`chargeback`), pages and API (registered by `app.create_app`). Views fetch, decide (`authz`) and answer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.wrappers import Response

from govcloud_platform.console import authz, chargeback, chart
from govcloud_platform.console.auditlog import moment
from govcloud_platform.console.data import Platform, agency_summary, human_bytes, usage_rows
from govcloud_platform.console.sampler import Sampler
from govcloud_platform.console.texts import TEXTS
from govcloud_platform.console.work import problem, session_principal
from govcloud_platform.state import usage_samples
from govcloud_platform.state.registry import Registry

PERIODS = (1, 7, 30, 400)  # the page's periods in days (30 by default)
HISTORY_DEFAULT_DAYS = 30
# a measure of the history, the word for it (a key of `texts`) and how to show a value
SHOWN: tuple[tuple[str, str, Callable[[int], str]], ...] = (
    ("storage_bytes", "storage_bytes", human_bytes), ("database_bytes", "db_bytes", human_bytes),
    ("backup_bytes", "backup_bytes", human_bytes), ("connections", "db_connections", str),
    ("objects", "storage_objects", str))
CHARTED = ("storage_bytes", "database_bytes", "connections")  # the three; the table has all five


@dataclass(frozen=True)
class Views:
    platform: Platform
    sampler: Sampler
    page: Callable[..., Response]
    signed_page: Callable[[Callable[..., Response]], Callable[..., Response]]
    api_principal: Callable[[], authz.Principal]
    rates: dict[str, Any] | None  # the spec's chargeback rates, or None


def history_window(args: dict[str, str], now: dt.datetime) -> tuple[str, str] | str:
    """`since` and `until` of the history API (ISO date or time, UTC unless it says; default the last 30 days),
    or why not (400)."""
    since = moment(args["since"], False) if args.get("since") else usage_samples.iso(
        now - dt.timedelta(days=HISTORY_DEFAULT_DAYS))
    until = moment(args["until"], True) if args.get("until") else usage_samples.iso(now)
    if since is None or until is None:
        return "since and until: an ISO 8601 date or time is needed (2026-12-03 or 2026-12-03T10:00:00Z)"
    if since > until:
        return "since is after until"
    return since, until


def charts(samples: list[usage_samples.Sample], t: dict[str, str]) -> list[dict[str, Any]]:
    """The page's charts: one per charted measure, its title, and a description with the range and figures."""
    if not samples:
        return []
    found = []
    for measure, word, show in SHOWN:
        if measure not in CHARTED:
            continue
        values = [getattr(s, measure) for s in samples]
        desc = t["chart_desc"].format(since=samples[0].at, until=samples[-1].at, n=len(samples),
                                      top=show(max(values)), last=show(values[-1]))
        found.append({"svg": chart.svg(samples, measure, f"c-{measure}", t[word], desc)})
    return found


def table(samples: list[usage_samples.Sample]) -> list[dict[str, Any]]:
    return [{"at": s.at, "values": [show(getattr(s, m)) for m, _, show in SHOWN]} for s in samples]


def register(app: Flask, v: Views) -> None:
    def history(slug: str, since: str, until: str) -> list[usage_samples.Sample]:
        registry = Registry(v.platform.box.home)
        try:
            return usage_samples.history(registry, slug, since, until)
        finally:
            registry.close()

    @app.get("/<lang>/agencies/<slug>/usage")
    @v.signed_page
    def usage_page(lang: str, who: authz.Principal, slug: str) -> Response:
        agency = agency_summary(v.platform.visible_agency(who, slug))
        raw = request.args.get("days", "")
        days = int(raw) if raw.isascii() and raw.isdigit() and int(raw) in PERIODS else HISTORY_DEFAULT_DAYS
        doc = v.sampler.usage(slug)
        since, until = chart.window(days, dt.datetime.now(dt.UTC))
        shown = chart.thin(history(slug, since, until))
        t = TEXTS[lang]
        return v.page("usage.j2", lang, agency=agency, rows=usage_rows(doc), measured_at=doc.get("measured_at"),
                      age_min=int(doc.get("age_s", 0)) // 60, days=days, periods=PERIODS,
                      charts=charts(shown, t), columns=[w for _, w, _ in SHOWN], history=table(shown))

    @app.get("/api/agencies/<slug>/usage")
    def api_usage(slug: str) -> Response:
        v.platform.visible_agency(v.api_principal(), slug)
        return jsonify(v.sampler.usage(slug))

    @app.get("/api/agencies/<slug>/usage/history")
    def api_usage_history(slug: str) -> Response:
        v.platform.visible_agency(v.api_principal(), slug)
        window = history_window(request.args.to_dict(), dt.datetime.now(dt.UTC))
        if isinstance(window, str):
            return problem(400, "invalid", window)
        return jsonify(slug=slug, since=window[0], until=window[1],
                       samples=[s.as_dict() for s in history(slug, *window)])

    # --- the chargeback report (operators only) --------------------------------------------------
    def report(month: str) -> str:
        bounds = chargeback.month_bounds(month)
        assert bounds is not None
        registry = Registry(v.platform.box.home)
        try:
            samples = usage_samples.per_agency(registry, *bounds)  # one row an agency, merged in SQL
            names = {r.slug: r.name for r in registry.agencies()}
        finally:
            registry.close()
        return chargeback.csv_text(chargeback.report(month, samples, names, v.rates))

    @app.get("/<lang>/chargeback")
    @v.signed_page
    def chargeback_page(lang: str, who: authz.Principal) -> Response:
        if not who.operator:
            return v.page("message.j2", lang, 403, heading=TEXTS[lang]["forbidden"],
                          text=TEXTS[lang]["forbidden_text"])
        month = request.args.get("month", "")
        if chargeback.month_bounds(month) is None:
            month = chargeback.last_month(dt.datetime.now(dt.UTC).date())
        return v.page("chargeback.j2", lang, month=month, rates=v.rates)

    @app.get("/api/chargeback.csv")
    def api_chargeback() -> Response:
        """The month's report (`?month=YYYY-MM`, default last month): a bearer token or the page's session."""
        who = session_principal() or v.api_principal()
        if not who.operator:
            return problem(403, "forbidden", "The chargeback report is the directorate operators'.")
        month = request.args.get("month") or chargeback.last_month(dt.datetime.now(dt.UTC).date())
        if chargeback.month_bounds(month) is None:
            return problem(400, "invalid", "month: YYYY-MM is needed (2026-11)")
        return Response(report(month), content_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="govcloud-chargeback-{month}.csv"'})
