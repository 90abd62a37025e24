"""The console's usage over time, chargeback and credentials on the shared console box (`console_session`): the
usage API serves the background measurement (`measured_at`; the first request measures once, the next is served
from it), a sampler round records samples the history API and the page's chart and table show; the chargeback CSV is
the operators' (a member 403); an agency administrator reveals the secrets (API and the page's POST form), audited
without them; a plain member and another agency's administrator cannot."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import secrets
import time

import pytest

from govcloud_platform.box import idp_api
from govcloud_platform.console.sampler import Sampler
from govcloud_platform.state.registry import Registry
from tests import console_kit as kit
from tests.conftest import BoxHandle
from tests.console_kit import admin, operator

pytestmark = pytest.mark.integration
A, B = "use-alpha", "use-beta"
SERVICES = ["identity", "database", "storage"]


@pytest.fixture(scope="module")
def cbox(console_session: BoxHandle) -> BoxHandle:
    return kit.onboard(console_session, (A, B), {A: SERVICES, B: SERVICES})


@pytest.fixture(scope="module")
def member(cbox: BoxHandle) -> tuple[str, str]:
    """A plain member of A: its group, not its administrators'."""
    login, password = f"clerk@{A}", secrets.token_urlsafe(18)
    idp_api.add_user(cbox.box(), login, password, f"clerk@{A}.example", "Clerk", [f"agency-{A}"])
    return login, password


@pytest.fixture(scope="module")
def tokens(cbox: BoxHandle, member: tuple[str, str]) -> dict[str, str]:
    box = cbox.box()
    return {"operator": kit.access_token(box, *operator(cbox)), A: kit.access_token(box, *admin(cbox, A)),
            B: kit.access_token(box, *admin(cbox, B)), "member": kit.access_token(box, *member)}


def test_usage_is_measured_once_then_served_and_kept_over_time(cbox: BoxHandle, tokens: dict[str, str]) -> None:
    box = cbox.box()
    first = kit.api(box, f"/api/agencies/{A}/usage", tokens["member"])
    assert first.status_code == 200, first.text[:300]
    doc = first.json()
    assert {"slug", "quota", "database", "storage", "measured_at", "age_s"} <= set(doc)
    again = kit.api(box, f"/api/agencies/{A}/usage", tokens[A]).json()
    assert again["measured_at"] == doc["measured_at"]  # served, not measured again
    time.sleep(1.1)  # a sample is keyed by its second: the round's must not replace the first request's
    assert Sampler(box, 60).round() >= 2  # a round of the console's sampler (the thread runs it every interval)
    history = kit.api(box, f"/api/agencies/{A}/usage/history", tokens["member"])
    assert history.status_code == 200
    samples = history.json()["samples"]
    assert len(samples) >= 2 and samples[-1]["database_bytes"] > 0 and samples[-1]["samples"] == 1
    day = samples[-1]["at"][:10]  # the sample's own UTC day: CI's local clock may be in another zone, or past midnight
    assert kit.api(box, f"/api/agencies/{A}/usage/history?since={day}&until={day}",
                   tokens[A]).json()["samples"]
    assert kit.api(box, f"/api/agencies/{A}/usage/history?since=yesterday", tokens[A]).status_code == 400
    unknown = kit.api(box, "/api/agencies/use-nowhere/usage/history", tokens[B])
    other = kit.api(box, f"/api/agencies/{A}/usage/history", tokens[B])
    assert other.status_code == unknown.status_code == 404 and other.json() == unknown.json()

    s, page = kit.sign_in(box, *admin(cbox, A), start=f"/ur/agencies/{A}/usage")
    assert page.status_code == 200 and page.text.count('<svg class="chart"') == 3
    assert "<desc" in page.text and "<caption" in page.text and 'aria-current="page">پچھلے 30 دن' in page.text
    assert "<script" not in page.text and len(page.content) < 150 * 1024


def test_the_chargeback_report_is_the_operators(cbox: BoxHandle, tokens: dict[str, str]) -> None:
    box = cbox.box()
    Sampler(box, 60).round()
    month = dt.datetime.now(dt.UTC).strftime("%Y-%m")
    resp = kit.api(box, f"/api/chargeback.csv?month={month}", tokens["operator"])
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    rows = {r["agency"]: r for r in csv.DictReader(io.StringIO(resp.text))}
    assert int(rows[A]["database_avg_bytes"]) > 0 and int(rows[A]["samples"]) >= 1 and rows[A]["month"] == month
    for who in ("member", A):
        refused = kit.api(box, f"/api/chargeback.csv?month={month}", tokens[who])
        assert refused.status_code == 403 and refused.json()["error"] == "forbidden"


def test_an_administrator_reveals_the_secrets_audited_without_them(cbox: BoxHandle, tokens: dict[str, str],
                                                                   member: tuple[str, str]) -> None:
    box = cbox.box()
    masked = kit.api(box, f"/api/agencies/{A}/credentials", tokens["member"])
    assert masked.status_code == 200 and masked.json()["credentials"]["database"]["password"] == "********"
    shown = kit.api_post(box, f"/api/agencies/{A}/credentials/reveal", tokens[A])
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    password = shown.json()["credentials"]["database"]["password"]
    assert password != "********" and len(password) >= 16
    refused = kit.api_post(box, f"/api/agencies/{A}/credentials/reveal", tokens["member"])
    assert refused.status_code == 403 and password not in refused.text
    unknown = kit.api_post(box, "/api/agencies/use-nowhere/credentials/reveal", tokens[B])
    other = kit.api_post(box, f"/api/agencies/{A}/credentials/reveal", tokens[B])
    assert other.status_code == unknown.status_code == 404 and other.json() == unknown.json()
    entries = [e for e in Registry(box.home).audit_log(agencies=[A]) if e["command"] == "agency credentials"
               and e["result"] == "revealed"]  # (the CLI's `agency credentials` of the fixtures: "shown")
    assert len(entries) == 1 and entries[0]["actor"].startswith("console:") and "database" in entries[0]["detail"]
    assert password not in str(entries)

    # the page: hidden, then revealed by the POST form with the session's CSRF token (audited again)
    s, page = kit.sign_in(box, *admin(cbox, A), start=f"/en/agencies/{A}")
    assert page.status_code == 200 and password not in page.text and "hidden" in page.text
    # its newest audit entries (the API's reveal above among them, never another agency's) and the whole log's link
    assert "Recent audit entries" in page.text and f'href="/en/audit?agency={A}"' in page.text
    assert ">agency credentials</th>" in page.text and ">revealed</td>" in page.text and B not in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf and f'action="/en/agencies/{A}/credentials/reveal"' in page.text
    reveal_url = kit.url(box, f"/en/agencies/{A}/credentials/reveal")
    assert s.post(reveal_url, data={}, timeout=30).status_code == 400  # no CSRF token: refused
    revealed = s.post(reveal_url, data={"csrf": csrf.group(1)}, timeout=30)
    assert revealed.status_code == 200 and password in revealed.text and revealed.headers["cache-control"] == "no-store"
    assert len([e for e in Registry(box.home).audit_log(agencies=[A]) if e["command"] == "agency credentials"
                and e["result"] == "revealed"]) == 2
    m, mine = kit.sign_in(box, *member, start=f"/en/agencies/{A}")
    assert mine.status_code == 200 and "credentials/reveal" not in mine.text and password not in mine.text
