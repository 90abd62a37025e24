"""Data sharing between agencies (G2G) with real servers: the trade office's centre (B) served by gunicorn over HTTP,
the health department's (A) in this process through Django, both on one real PostgreSQL 15 (a database each), and
the platform's real signing service (`signing/app.py` over HTTPS on loopback, `tests/signing_kit.signing_service`)
holding A's, B's and the police's (C) keys, certificates from the box's platform CA: each centre signs its requests
and answers there (`SIGNING_URL`, one key home: no G2G key file). A citizen applies to A for a food shop permit,
ticking consent; A's G2G step asks B whether the business is registered and goes on with B's signed answer. A
request for a service not granted, one signed by C's key in the service claiming to be A, one by a key file the
platform CA issued to C (the hosts target's kind), one by a key of another CA, a replay and one without consent are
refused and logged on both sides; B's secret signs nothing for A (`/jws`, `/sign`); A's and B's tracking pages list
who looked at the data and why (English and Urdu), B's in Chromium with axe-core."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import secrets
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from govcloud_platform.box.context import Box
from tests.g2g_kit import TestCA, directory_docs
from tests.integration._browser import Chromium, Shots, Visit, follow
from tests.integration._centre import centre_database, setup_django
from tests.integration._centre_server import centre_server, free_port
from tests.integration.test_centre_web import Browser, _apply
from tests.signing_kit import signing_service

pytestmark = [pytest.mark.integration]
CATALOGUE = Path(__file__).parent / "g2g_catalogue" / "catalogue.yaml"
PURPOSE = "food shop permit: is the business registered"


@dataclass
class Site:
    box: Box
    trade_url: str
    trade_conn: psycopg.Connection[Any]
    trade_key: bytes
    keys: dict[str, tuple[Path, Path]]  # key files: (cert, key) from the platform CA ("police"), another CA ("rogue")
    signing_url: str  # the signing service's base URL
    secret_files: dict[str, Path]  # agency -> its bearer secret at the signing service (0600)
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
    with centre_database("centreg2g") as (box, root), ExitStack() as stack:
        with box.pg_admin() as admin:
            admin.execute("CREATE DATABASE trade")
        keys = {"police": box.ca.issue("g2g-police", ["police.g2g.govcloud"], client=True),
                "rogue": tuple(reversed(TestCA().issue(root / "rogue", "health")))}
        names = {"health": "Health Department", "trade": "Trade Office", "police": "Police"}
        signing, secret_files = stack.enter_context(signing_service(root, box.ca, names))
        port = free_port()
        trade_url = f"http://127.0.0.1:{port}"
        dirs = _directories(root, trade_url)
        setup_django(box, root, {"CATALOGUE": str(CATALOGUE), "G2G_DIRECTORY": str(dirs["health"]),
                                 "SIGNING_URL": f"{signing}/sign/health",
                                 "SIGNING_SECRET_FILE": str(secret_files["health"]),
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
            f"TRACKING_KEY={trade_key.hex()}", f"G2G_DIRECTORY={dirs['trade']}", f"SIGNING_URL={signing}/sign/trade",
            f"SIGNING_SECRET_FILE={secret_files['trade']}", f"G2G_CA_FILE={box.ca.cert_file}", ""]))
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
                yield Site(box, trade_url, conn, trade_key, dict(keys), signing, secret_files, ref)
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


def _service_signer(site: Site, agency: str, secret_of: str | None = None) -> Any:
    """`agency`'s key in the signing service through the centre's one client, with `secret_of`'s secret."""
    from centre_core.g2g_keys import ServiceSigner
    from centre_core.signing import HttpSigner

    return ServiceSigner(HttpSigner(f"{site.signing_url}/sign/{agency}", str(site.secret_files[secret_of or agency]),
                                    str(site.box.ca.cert_file), 10.0))


def _request(site: Site, signer: str, **changes: Any) -> str:
    """A request claiming to be A's, signed by `signer`: an agency's key in the signing service, or a key file
    (`police-file`: from the platform CA, as on the hosts target; `rogue`: another CA's, naming health)."""
    from centre_core import g2g
    from centre_core.g2g_keys import FileSigner

    grant = g2g.Grant("business_registered", "health", "trade", PURPOSE, True, "business_name", "")
    claims = g2g.request_claims(grant, "7K3M9Q2XJH4B", "Ali Traders", True, secrets.token_urlsafe(18),
                                datetime.now(UTC))
    if signer in site.secret_files:
        return g2g.sign({**claims, **changes}, _service_signer(site, signer))
    cert, key = site.keys[signer.removesuffix("-file")]
    return g2g.sign({**claims, **changes}, FileSigner(key, cert))


def _post(site: Site, token: str) -> tuple[int, dict[str, Any]]:
    from centre_web import g2g

    status, body = g2g.transport("")(f"{site.trade_url}/api/g2g/requests", token)
    return status, json.loads(body) if status != 200 else {"token": body}


@pytest.mark.parametrize(("signer", "changes", "status", "reason"), [
    ("health", {"service": "tax_clearance"}, 403, "not_granted"),  # offered by B, not granted to A
    ("health", {"service": "land_record"}, 403, "not_offered"),
    ("police", {}, 403, "agency_mismatch"),  # C's key in the signing service, claiming to be A
    ("police-file", {}, 403, "agency_mismatch"),  # a G2G key file the platform CA issued to C, claiming to be A
    ("rogue", {}, 403, "untrusted"),  # a key of another CA whose certificate names A
    ("police", {"iss": "police"}, 403, "not_granted"),  # C as itself
    ("health", {"purpose": "curiosity"}, 403, "purpose"),
    ("health", {"consent": False}, 403, "no_consent"),
], ids=["not-granted", "not-offered", "c-key", "c-key-file", "other-ca", "c-itself", "other-purpose", "no-consent"])
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


def test_both_centres_sign_with_the_agencys_key_in_the_signing_service(site: Site) -> None:
    """One key home: A's requests and B's answers are JWS the signing service made with each agency's key (header
    `kid` = the agency, `x5c` its certificate from the platform CA: `OU=<slug>`), and no G2G key file is configured."""
    from cryptography import x509

    from centre_core import g2g
    from centre_core.g2g_keys import ServiceSigner
    from centre_web import g2g as web

    setup = web.setup()
    assert setup is not None and isinstance(setup.signer, ServiceSigner)
    root = site.secret_files["trade"].parent
    for env in (root / "centre.env", root / "trade" / "centre.env"):  # A's and B's, as the role writes them
        text = env.read_text()
        assert "SIGNING_URL=" in text and "G2G_KEY_FILE" not in text and "G2G_CERT_FILE" not in text
    status, body = _post(site, _request(site, "health"))
    assert status == 200
    header = json.loads(g2g._unb64(body["token"].split(".")[0]))
    assert header["kid"] == "trade" and header["alg"] == "RS256"
    leaf = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    leaf.verify_directly_issued_by(x509.load_pem_x509_certificate(site.box.ca.cert_file.read_bytes()))
    assert g2g.cert_agency(leaf) == "trade" and leaf.subject.rfc4514_string().startswith("CN=Trade Office,OU=trade")


def test_another_agencys_secret_signs_nothing_for_it(site: Site) -> None:
    """B's (the trade office's) secret on A's `/jws` and `/sign` is refused by the service (403): B cannot make a
    request that A's key signed; no error quotes the secret."""
    from centre_core.errors import CentreError
    from centre_core.signing import HttpSigner, SigningError

    with pytest.raises(CentreError, match="HTTP 403") as caught:
        _request_with(site, _service_signer(site, "health", secret_of="trade"))
    secret = site.secret_files["trade"].read_text().strip()
    assert secret not in str(caught.value)
    pdf = (Path(__file__).parent / "g2g_catalogue" / "catalogue.yaml").read_bytes()  # any body: refused before
    client = HttpSigner(f"{site.signing_url}/sign/health", str(site.secret_files["trade"]), str(site.box.ca.cert_file))
    for call in (lambda: client.sign(b"%PDF-1.7\n" + pdf), lambda: client.jws({"iss": "health"})):
        with pytest.raises(SigningError, match="HTTP 403") as refused:
            call()
        assert secret not in str(refused.value)
    own = HttpSigner(f"{site.signing_url}/sign/trade", str(site.secret_files["trade"]), str(site.box.ca.cert_file))
    assert own.jws({"iss": "trade"}).count(".") == 2  # the control: B's secret signs for B
    assert own.certificate()[0].subject.rfc4514_string().startswith("CN=Trade Office,OU=trade")


def _request_with(site: Site, signer: Any) -> str:
    from centre_core import g2g

    grant = g2g.Grant("business_registered", "health", "trade", PURPOSE, True, "business_name", "")
    return g2g.sign(g2g.request_claims(grant, "7K3M9Q2XJH4B", "Ali Traders", True, secrets.token_urlsafe(18),
                                       datetime.now(UTC)), signer)


def test_the_asker_logs_refusals_too(site: Site) -> None:
    """A's own side: asking with a grant the directorate did not give (B refuses), and with C's key (B refuses),
    each logged by A as refused, with B's reason."""
    from centre_core import g2g, g2g_store
    from centre_web import g2g as web
    from centre_web import runtime

    setup = web.setup()
    assert setup is not None
    grant = setup.directory.asks["business_registered"]
    conn = runtime.connection()
    app = conn.execute("SELECT id, reference FROM applications ORDER BY id LIMIT 1").fetchone()
    answers = {"business_name": "Ali Traders", "g2g_consent": "yes"}
    police = _service_signer(site, "police")
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
