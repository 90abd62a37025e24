"""Data sharing between agencies (G2G) with real servers: the trade office's centre (B) served by gunicorn over HTTP,
the health department's (A) in this process through Django, both on one real PostgreSQL 15 (a database each), keys
and certificates issued by the box's platform CA (`box/ca.py`) for A, B and the police (C). A citizen applies to A
for a food shop permit, ticking consent; A's G2G step asks B whether the business is registered and goes on with
B's signed answer. A request for a service not granted, one signed with C's key claiming to be A, a replay and one
without consent are refused and logged on both sides; A's and B's tracking pages list who looked at the data and why
(English and Urdu), B's in Chromium with axe-core."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from govcloud_platform.box.context import Box
from tests.g2g_kit import directory_docs
from tests.integration._browser import Chromium, Shots, Visit, follow
from tests.integration._centre import centre_database, setup_django
from tests.integration._centre_server import centre_server, free_port
from tests.integration.test_centre_web import Browser, _apply

pytestmark = [pytest.mark.integration]
CATALOGUE = Path(__file__).parent / "g2g_catalogue" / "catalogue.yaml"
PURPOSE = "food shop permit: is the business registered"


@dataclass
class Site:
    box: Box
    trade_url: str
    trade_conn: psycopg.Connection[Any]
    trade_key: bytes
    keys: dict[str, tuple[Path, Path]]  # agency -> (cert, key) from the platform CA
    trade_ref: str  # B's issued trade licence for "Ali Traders"


def _directories(root: Path, trade_url: str) -> dict[str, Path]:
    docs = directory_docs(f"{trade_url}/api/g2g/requests")
    # B offers a second service granted to nobody: A asking for it is "not granted"
    docs["trade"]["offers"].append({"service": "tax_clearance", "grants": [], "query": {  # type: ignore[union-attr]
        "service": "trade_licence", "outcome": "issued", "match": "business_name"}})
    names = {"health": "Health Department", "trade": "Trade Office", "police": "Police"}
    titles = {"business_registered": {"en": "Business registration", "ur": "کاروبار کی رجسٹریشن"}}
    out = {}
    for slug, doc in docs.items():
        out[slug] = root / f"g2g-{slug}.json"
        out[slug].write_text(json.dumps({**doc, "names": names, "titles": titles}))
    return out


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with centre_database("centreg2g") as (box, root):
        with box.pg_admin() as admin:
            admin.execute("CREATE DATABASE trade")
        keys = {slug: box.ca.issue(f"g2g-{slug}", [f"{slug}.g2g.govcloud"], client=True)
                for slug in ("health", "trade", "police")}
        port = free_port()
        trade_url = f"http://127.0.0.1:{port}"
        dirs = _directories(root, trade_url)
        setup_django(box, root, {"CATALOGUE": str(CATALOGUE), "G2G_DIRECTORY": str(dirs["health"]),
                                 "G2G_CERT_FILE": str(keys["health"][0]), "G2G_KEY_FILE": str(keys["health"][1]),
                                 "G2G_CA_FILE": str(box.ca.cert_file), "TIME_ZONE": "Asia/Karachi"})
        info = box.pg_conninfo("trade")
        trade_key = secrets.token_bytes(32)
        trade_root = root / "trade"
        trade_root.mkdir()
        env = trade_root / "centre.env"
        env.write_text("\n".join([
            "AGENCY_SLUG=trade", "AGENCY_NAME=Trade Office", "PUBLIC_URL=http://127.0.0.1", "PUBLIC_HOST=127.0.0.1",
            f"SECRET_KEY={secrets.token_hex(32)}", f"DB_HOST={info['host']}", f"DB_PORT={info['port']}",
            "DB_NAME=trade", "DB_USER=postgres", f"DB_PASSWORD={info['password']}", f"CA_FILE={info['sslrootcert']}",
            f"TRACKING_KEY={trade_key.hex()}", f"G2G_DIRECTORY={dirs['trade']}", f"G2G_CERT_FILE={keys['trade'][0]}",
            f"G2G_KEY_FILE={keys['trade'][1]}", f"G2G_CA_FILE={box.ca.cert_file}", ""]))
        env.chmod(0o600)
        from centre_core import catalogue, store

        with psycopg.connect(**info, autocommit=True) as conn:
            store.migrate(conn)
            now = datetime.now(UTC)
            ref = store.submit(conn, catalogue.load_samples(), "trade_licence",
                               {"business_name": "Ali Traders", "business_kind": "shop"}, None, now)
            other = store.submit(conn, catalogue.load_samples(), "trade_licence",
                                 {"business_name": "Closed Shop", "business_kind": "shop"}, None, now)
            for reference, decision in ((ref, "approve"), (other, "reject")):  # the clerk, then the officer decide
                for desk, action in (("clerk", "accept"), ("licensing_officer", decision)):
                    task = store.view(conn, reference).ready[0]
                    store.act(conn, reference, task.id, action, desk, "staff-1", {}, now)
            assert store.view(conn, ref).outcome == "issued" and store.view(conn, other).outcome == "rejected"
            with centre_server(trade_root, port=port) as base:
                assert base == trade_url
                yield Site(box, trade_url, conn, trade_key, keys, ref)
        from centre_web import runtime

        runtime.connection().close()


def _log(conn: Any) -> list[dict[str, Any]]:
    from centre_core import g2g_store

    return g2g_store.entries(conn)


def _new(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(e["side"], e["peer"], e["service"], e["outcome"], e["reason"], e["found"]) for e in after[len(before):]]


def _code(reference: str) -> str:
    from django.core.management import call_command

    out = io.StringIO()
    call_command("centre_issue_code", reference, stdout=out)
    return out.getvalue().strip()


def _apply_food(lang: str, name: str, consent: str) -> str:
    from centre_core import references

    shown = _apply(Browser(lang), lang, "food_permit",
                   [("business_name", name), ("g2g_consent", consent), ("email", "shop@example.pk")])
    return references.normalise(shown)


def test_a_step_gets_the_other_agencys_answer(site: Site) -> None:
    from centre_core import g2g_store, store
    from centre_web import g2g, runtime

    a_before, b_before = _log(runtime.connection()), _log(site.trade_conn)
    found = _apply_food("en", "Ali Traders", "yes")  # the citizen ticks consent on the form
    absent = _apply_food("ur", "Nobody Traders", "yes")
    rejected_there = _apply_food("en", "Closed Shop", "yes")  # B's licence was rejected: not registered
    assert g2g.run_steps() == 3  # what the timers' job runs each round
    moved = {ref: store.view(runtime.connection(), ref) for ref in (found, absent, rejected_there)}
    assert [t.step for t in moved[found].ready] == ["inspect"]  # B said registered: on to the inspector
    assert moved[absent].status == moved[rejected_there].status == "closed"
    assert moved[absent].outcome == "rejected"
    assert _new(a_before, _log(runtime.connection())) == [
        ("asked", "trade", "business_registered", "answered", None, True),
        ("asked", "trade", "business_registered", "answered", None, False),
        ("asked", "trade", "business_registered", "answered", None, False)]
    b_log = _log(site.trade_conn)[len(b_before):]
    assert [(e["side"], e["peer"], e["outcome"], e["found"], e["reference"]) for e in b_log] == [
        ("answered", "health", "answered", True, found), ("answered", "health", "answered", False, absent),
        ("answered", "health", "answered", False, rejected_there)]
    b_app = site.trade_conn.execute("SELECT id FROM applications WHERE reference = %s", (site.trade_ref,)).fetchone()
    assert b_log[0]["application_id"] == b_app[0] and b_log[1]["application_id"] is None
    assert all(e["purpose"] == PURPOSE and e["consent"] for e in b_log)
    raw = site.trade_conn.execute("SELECT subject_hmac FROM g2g_log ORDER BY id DESC LIMIT 3").fetchall()
    digest = hmac.new(site.trade_key, b"Ali Traders", hashlib.sha256).hexdigest()  # under B's key, no identifier
    assert raw[-1][0] == digest and all(len(r[0]) == 64 and "Traders" not in r[0] for r in raw)
    # the answer is on the application: the step's field and the audit trail
    trail = [e for e in store.audit_entries(runtime.connection()) if e.subject == found]
    assert trail[-1].action == "task:check_registration:found" and trail[-1].actor == "g2g:health"
    assert trail[-1].details == {"g2g_business_registered": "found"}
    assert g2g.run_steps() == 0  # nothing left waiting
    assert g2g_store.pending(runtime.connection()) == []


def test_without_consent_nothing_is_sent(site: Site) -> None:
    from centre_core import store
    from centre_web import g2g, runtime

    a_before, b_before = _log(runtime.connection()), _log(site.trade_conn)
    ref = _apply_food("en", "Ali Traders", "no")
    assert g2g.run_steps() == 1
    assert store.view(runtime.connection(), ref).outcome == "rejected"
    assert _new(a_before, _log(runtime.connection())) == [
        ("asked", "trade", "business_registered", "refused", "no_consent", None)]
    assert _log(site.trade_conn) == b_before  # never reached B


def test_the_timers_job_does_the_steps(site: Site) -> None:
    """What the role's `-timers` program runs (every few seconds, with the outbox): the step is done by it."""
    from django.core.management import call_command

    from centre_core import store
    from centre_web import runtime

    ref = _apply_food("en", "Ali Traders", "yes")
    out = io.StringIO()
    call_command("centre_run_timers", stdout=out)
    assert "g2g: 1 steps done" in out.getvalue(), out.getvalue()
    assert [t.step for t in store.view(runtime.connection(), ref).ready] == ["inspect"]


def _request(site: Site, signer_slug: str, **changes: Any) -> str:
    from centre_core import g2g
    from centre_core.g2g_keys import FileSigner

    grant = g2g.Grant("business_registered", "health", "trade", PURPOSE, True, "business_name", "")
    claims = g2g.request_claims(grant, "7K3M9Q2XJH4B", "Ali Traders", True, secrets.token_urlsafe(18),
                                datetime.now(UTC))
    cert, key = site.keys[signer_slug]
    return g2g.sign({**claims, **changes}, FileSigner(key, cert))


def _post(site: Site, token: str) -> tuple[int, dict[str, Any]]:
    from centre_web import g2g

    status, body = g2g.transport("")(f"{site.trade_url}/api/g2g/requests", token)
    return status, json.loads(body) if status != 200 else {"token": body}


@pytest.mark.parametrize(("signer", "changes", "status", "reason"), [
    ("health", {"service": "tax_clearance"}, 403, "not_granted"),  # offered by B, not granted to A
    ("health", {"service": "land_record"}, 403, "not_offered"),
    ("police", {}, 403, "agency_mismatch"),  # C's key, claiming to be A
    ("police", {"iss": "police"}, 403, "not_granted"),  # C as itself
    ("health", {"purpose": "curiosity"}, 403, "purpose"),
    ("health", {"consent": False}, 403, "no_consent"),
], ids=["not-granted", "not-offered", "c-key", "c-itself", "other-purpose", "no-consent"])
def test_refused_and_logged_by_the_answering_agency(site: Site, signer: str, changes: dict[str, Any], status: int,
                                                     reason: str) -> None:
    before = _log(site.trade_conn)
    got, body = _post(site, _request(site, signer, **changes))
    assert (got, body["error"]) == (status, reason)
    claimed = changes.get("iss", "health")
    assert _new(before, _log(site.trade_conn)) == [
        ("answered", claimed, changes.get("service", "business_registered"), "refused", reason, None)]


def test_replay_and_garbage_refused(site: Site) -> None:
    token = _request(site, "health")
    assert _post(site, token)[0] == 200
    assert _post(site, token) == (403, {"error": "replay", "detail": "this request was seen already"})
    head, body, sig = token.split(".")
    assert _post(site, f"{head}.{body}.{sig[::-1]}")[1]["error"] in ("bad_signature", "malformed")
    status, _ = _post(site, "not a token")
    assert status == 400
    from centre_web import g2g

    assert g2g.transport("")(f"{site.trade_url}/api/g2g/requests", "")[0] in (400, 415)
    assert _log(site.trade_conn)[-1]["outcome"] == "refused"


def test_the_asker_logs_refusals_too(site: Site) -> None:
    """A's own side: asking with a grant the directorate did not give (B refuses), and with C's key (B refuses),
    each logged by A as refused, with B's reason."""
    from centre_core import g2g, g2g_store
    from centre_core.g2g_keys import FileSigner
    from centre_web import g2g as web
    from centre_web import runtime

    setup = web.setup()
    assert setup is not None
    grant = setup.directory.asks["business_registered"]
    conn = runtime.connection()
    app = conn.execute("SELECT id, reference FROM applications ORDER BY id LIMIT 1").fetchone()
    answers = {"business_name": "Ali Traders", "g2g_consent": "yes"}
    police = FileSigner(site.keys["police"][1], site.keys["police"][0])
    before = _log(conn)
    for use_grant, signer, reason in ((replace(grant, service="tax_clearance"), setup.signer, "not_granted"),
                                      (grant, police, "agency_mismatch")):
        with pytest.raises(g2g.G2GError) as caught:
            g2g_store.ask(conn, runtime.tracking_key(), setup.directory, setup.ca, signer, use_grant, app[1], app[0],
                          answers, web.transport(setup.ca_file), datetime.now(UTC))
        assert caught.value.reason == reason
    assert _new(before, _log(conn)) == [("asked", "trade", "tax_clearance", "refused", "not_granted", None),
                                        ("asked", "trade", "business_registered", "refused", "agency_mismatch", None)]


@pytest.mark.parametrize("lang", ["en", "ur"])
def test_the_citizens_page_lists_the_access(site: Site, lang: str) -> None:
    """A's tracking page: the food permit's office checked B's register, when and why; in both languages."""
    from centre_web import g2g

    ref = _apply_food(lang, "Ali Traders", "yes")
    g2g.run_steps()
    browser = Browser(lang)
    browser.get(f"/{lang}/track/")
    response = browser.post(f"/{lang}/track/", {"reference": ref, "code": _code(ref)})
    page = browser.get(response["Location"])
    heading = "Who looked at your data" if lang == "en" else "آپ کے کوائف کس نے دیکھے"
    assert heading in page and PURPOSE in page and "Health Department" in page
    assert ("Business registration, a record of Trade Office" if lang == "en"
            else "کاروبار کی رجسٹریشن، Trade Office کا ریکارڈ") in page
    assert page.count("<li><dl") == 1  # this application's one check


def test_the_record_holders_page_in_a_browser(site: Site, chromium: Chromium, shots: Shots) -> None:
    """B's tracking page (gunicorn, Chromium without JavaScript): its trade licence lists the health department's
    checks, with axe-core finding no WCAG 2.2 AA violation, in English and Urdu."""
    from centre_core import store

    for lang in ("en", "ur"):
        code = store.issue_code(site.trade_conn, site.trade_key, site.trade_ref, datetime.now(UTC))
        page = chromium.page(javascript=False, locale=lang)
        visit = Visit(chromium, shots, page, f"g2g-{lang}")
        try:
            page.goto(f"{site.trade_url}/{lang}/track/")
            page.fill("#reference", site.trade_ref)
            page.fill("#code", code)
            follow(page, page.locator("main form button[type=submit]").first)
            assert page.url.endswith(f"/{lang}/track/status/"), page.url
            rows = page.locator("ol.g2g-access > li")
            assert rows.count() >= 2  # the checks of the tests before (found, and the citizen's page's)
            text = rows.first.inner_text()
            assert "Health Department" in text and PURPOSE in text, text
            visit.seen("status")
        finally:
            page.close()
        visit.check()
