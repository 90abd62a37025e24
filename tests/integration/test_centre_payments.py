"""E-payments end to end: a real PostgreSQL 15, the centre served by gunicorn, the demo payment provider
(`govcloud_platform.box.services.paydemo`) on 127.0.0.1, and Debian's Chromium with JavaScript off. A citizen
tracks an application whose fee is billed at submission, presses Pay, pays on the provider's page and comes back
to a signed receipt (axe, weight, Urdu). Then a replayed notification, a forged one, a stale one and a second
payment (online and at the counter) are each refused, and the database is byte-for-byte as it was."""

from __future__ import annotations

import io
import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from centre_core import payments, references, store
from centre_core.catalogue import SAMPLES, load
from centre_core.payments import Refused
from govcloud_platform.box.services.paydemo import PayDemo, serve, sign
from tests.integration._browser import Chromium, Shots, Visit, follow, say
from tests.integration._centre import centre_database, setup_django
from tests.integration._centre_server import centre_server, free_port

pytestmark = [pytest.mark.integration]
SECRET = b"paydemo-secret-" + b"k" * 24


def _catalogue(folder: Path) -> Path:
    """The samples with the trade licence's fee billed at submission."""
    shutil.copytree(SAMPLES, folder)
    path = folder / "catalogue.yaml"
    text = path.read_text()
    path.write_text(text.replace('fee: {amount: "1500.00", currency: PKR}',
                                 'fee: {amount: "1500.00", currency: PKR, billed_at: submission}', 1))
    return path


@pytest.fixture(scope="module")
def site() -> Iterator[dict[str, Any]]:
    with centre_database("centrepay") as (box, root):
        from centre_web import receipts, runtime

        key = root / "receipt.pem"
        key.write_bytes(receipts.new_key_pem())
        key.chmod(0o600)
        provider = PayDemo({"health": SECRET})
        server, provider_url = serve(provider)
        port = free_port()
        catalogue = _catalogue(root / "catalogue")
        try:
            setup_django(box, root, {"PUBLIC_URL": f"http://127.0.0.1:{port}", "CATALOGUE": str(catalogue),
                                     "RECEIPT_KEY_FILE": str(key), "PAY_URL": f"{provider_url}/m/health",
                                     "PAY_SECRET": SECRET.decode()})
            with centre_server(root, port=port) as base:
                yield {"base": base, "provider": provider, "loaded": load(catalogue), "root": root, "box": box}
        finally:
            server.shutdown()
            server.server_close()
            runtime.connection().close()


def _apply(site: dict[str, Any]) -> str:
    from centre_web import runtime

    return store.submit(runtime.connection(), site["loaded"], "trade_licence",
                        {"business_name": "Ali Traders", "business_kind": "shop", "email": "ali@example.pk"},
                        "ali@example.pk", datetime.now(UTC))


def _code(reference: str) -> str:
    from django.core.management import call_command

    out = io.StringIO()
    call_command("centre_issue_code", reference, stdout=out)
    return out.getvalue().strip()


def _snapshot() -> dict[str, Any]:
    """Every row of the payment tables and the audit trail (nothing may change on a refusal)."""
    from centre_web import runtime

    conn = runtime.connection()
    return {table: conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()  # noqa: S608 - fixed names
            for table in ("bills", "payments", "payment_nonces", "payment_notices", "audit")}


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", **headers},
                                     method="POST")
    try:
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture(scope="module")
def paid(site: dict[str, Any], chromium: Chromium, shots: Shots, request: pytest.FixtureRequest) -> dict[str, Any]:
    """The payment through the provider's page in Chromium (JavaScript off), checked page by page."""
    reference = _apply(site)
    page = chromium.page(javascript=False, locale="en")
    visit = Visit(chromium, shots, page, "pay-en")
    try:
        page.goto(f"{site['base']}/en/track/")
        page.locator("#reference").fill(references.display(reference))
        page.locator("#code").fill(_code(reference))
        follow(page, page.locator("main form button[type=submit]").first)
        assert "/en/track/status/" in page.url
        visit.seen("status-bill")
        assert "Fee to pay" in page.content() and "PKR 1500.00" in page.content()
        assert page.locator("#pay").count() == 1
        page.goto(f"{site['base']}/ur/track/status/")
        assert "ادا کرنے کی فیس" in page.content() and page.locator("#pay").inner_text() == "آن لائن ادا کریں"
        visit.seen("status-bill-ur")
        page.goto(f"{site['base']}/en/track/status/")
        visit.meter.reset()
        follow(page, page.locator("#pay"))
        assert page.url.startswith(site["provider"] and "http://127.0.0.1") and "/pay/" in page.url, page.url
        assert "PKR 1500.00" in page.content()
        visit.meter.reset()  # the provider's page is not the centre's (its own weight and design)
        follow(page, page.locator("#pay"))
        assert "/en/payments/" in page.url and "/return/" in page.url, page.url
        visit.seen("return")
        assert "Your payment was received" in page.content(), page.content()
        follow(page, page.get_by_role("link", name="Your receipt"))
        visit.seen("receipt")
        jws = page.locator("pre.jws").inner_text().strip()
        receipt_url = page.url
        page.goto(receipt_url.replace("/en/", "/ur/"))
        html = page.content()
        assert 'lang="ur"' in html and 'dir="rtl"' in html and "ادائیگی کی رسید" in html
        visit.seen("receipt-ur")
        page.goto(f"{site['base']}/en/track/status/")
        visit.seen("status-paid")
        assert "Paid" in page.content() and page.locator("#pay").count() == 0
        say(request.config, "\npayment pages (bytes received, cache off): "
            + ", ".join(f"{name} {size}" for name, size in visit.weights))
        visit.check()
    finally:
        page.context.close()
    checkout = next(c for c in site["provider"].checkouts.values() if c.paid)
    return {"reference": reference, "jws": jws, "checkout": checkout}


def test_paid_through_the_providers_page(site: dict[str, Any], paid: dict[str, Any]) -> None:
    from centre_web import receipts

    checkout = paid["checkout"]
    assert checkout.notified == [200]
    with urllib.request.urlopen(f"{site['base']}/api/payments/receipt-keys") as answer:
        jwks = json.loads(answer.read())
    claims = receipts.verify(paid["jws"], jwks)
    assert claims["bill"] == checkout.bill and claims["amount"] == "1500.00" and claims["channel"] == "online"
    assert claims["application"] == paid["reference"] and claims["transaction"] == checkout.paid
    with urllib.request.urlopen(f"{site['base']}/api/bills/{checkout.bill}") as answer:
        bill = json.loads(answer.read())
    assert bill["status"] == "paid" and bill["amount"] == "1500.00" and bill["currency"] == "PKR"
    forged = paid["jws"][:-4] + ("AAAA" if not paid["jws"].endswith("AAAA") else "BBBB")
    with pytest.raises(Exception):  # noqa: B017, PT011 - any JOSE failure
        receipts.verify(forged, jwks)


def test_a_replayed_notification_is_refused(site: dict[str, Any], paid: dict[str, Any]) -> None:
    body, headers = paid["checkout"].sent[0]
    before = _snapshot()
    status, answer = _post(paid["checkout"].notify_url, body, headers)
    assert (status, answer["error"]) == (409, "replay")
    assert _snapshot() == before


@pytest.mark.parametrize("forgery", ["other_secret", "body_changed", "no_signature", "stale"])
def test_a_forged_notification_changes_nothing(site: dict[str, Any], forgery: str) -> None:
    """On an open bill (another application): a forged 'paid' notification is refused and the bill stays open."""
    from centre_core import payments_store
    from centre_web import runtime

    reference = _apply(site)
    service = site["loaded"].catalogue.service("trade_licence")
    bill = payments_store.ensure_bill(runtime.connection(), reference, service, datetime.now(UTC))
    body = payments.notice_body(payments.Notice(bill.bill_ref, "forged-1", 150000, "PKR", "paid"))
    headers = {"other_secret": sign(b"not-the-agency-secret-000000", body),
               "body_changed": sign(SECRET, body.replace(b"forged-1", b"forged-2")),
               "no_signature": {},
               "stale": sign(SECRET, body, now=(datetime.now(UTC) - timedelta(minutes=10)).timestamp())}[forgery]
    before = _snapshot()
    status, answer = _post(f"{site['base']}/api/payments/notify", body, headers)
    assert status == 401, answer
    assert _snapshot() == before
    assert payments_store.bill(runtime.connection(), bill.bill_ref).state is payments.BillState.OPEN


def test_a_second_payment_is_refused(site: dict[str, Any], paid: dict[str, Any]) -> None:
    """A paid bill: another provider transaction (kept for the reconciliation, the bill untouched), the counter,
    and the database itself (a second payments row, a paid bill set open again) all refuse."""
    import psycopg

    from centre_core import payments_store
    from centre_core.payments import Channel, Refused
    from centre_web import pay, runtime

    checkout = paid["checkout"]
    body = payments.notice_body(payments.Notice(checkout.bill, "pd-second", 150000, "PKR", "paid"))
    before = _snapshot()
    status, answer = _post(checkout.notify_url, body, sign(SECRET, body))
    assert (status, answer["error"]) == (409, "already_paid")
    after = _snapshot()
    assert {k: v for k, v in after.items() if k not in ("payment_nonces", "payment_notices")} == \
        {k: v for k, v in before.items() if k not in ("payment_nonces", "payment_notices")}
    assert [row[-1] for row in after["payment_notices"][len(before["payment_notices"]):]] == ["duplicate"]

    before = _snapshot()
    conn = runtime.connection()
    with pytest.raises(Refused) as refused:
        payments_store.pay(conn, checkout.bill, Channel.COUNTER, "counter:R-1", 150000, "PKR", "staff:ayesha",
                           datetime.now(UTC), lambda claims: "x", "health")
    assert refused.value.code == "already_paid"
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("UPDATE bills SET state = 'open', closed_at = NULL WHERE bill_ref = %s", (checkout.bill,))
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("INSERT INTO payments (bill_id, channel, transaction, amount_minor, currency, paid_at, actor, "
                     "receipt) SELECT id, 'counter', 'x-2', 150000, 'PKR', now(), 'staff:x', 'x' FROM bills "
                     "WHERE bill_ref = %s", (checkout.bill,))
    assert _snapshot() == before
    text = pay.report_text(datetime.now(UTC).astimezone(runtime.calendar().zone).date())
    lines = [line.split(",") for line in text.splitlines() if checkout.bill in line]
    assert [(row[0], row[4], row[7]) for row in lines] == [("payment", checkout.paid, "provider:paydemo"),
                                                          ("unmatched", "pd-second", "duplicate")]
    assert "total_online" in text


def test_counter_payment_is_audited_and_signed(site: dict[str, Any]) -> None:
    from django.core.management import call_command

    from centre_core import payments_store
    from centre_web import pay, receipts, runtime

    reference = _apply(site)
    service = site["loaded"].catalogue.service("trade_licence")
    conn = runtime.connection()
    bill = payments_store.ensure_bill(conn, reference, service, datetime.now(UTC))
    assert payments_store.ensure_bill(conn, reference, service, datetime.now(UTC)) == bill  # idempotent
    made = payments_store.pay(conn, bill.bill_ref, payments.Channel.COUNTER, "counter:R-77", 150000, "PKR",
                              "staff:ayesha", datetime.now(UTC), pay._sign, "health")
    again = payments_store.pay(conn, bill.bill_ref, payments.Channel.COUNTER, "counter:R-77", 150000, "PKR",
                               "staff:ayesha", datetime.now(UTC), pay._sign, "health")
    assert again == made  # the same confirmation again: the same receipt, nothing new
    signer = receipts.signer()
    assert signer is not None
    assert receipts.verify(made.receipt, signer.jwks())["channel"] == "counter"
    entry = store.audit_entries(conn)[-1]
    assert (entry.actor, entry.action, entry.subject) == ("staff:ayesha", "payment:counter", reference)
    out = io.StringIO()
    call_command("centre_payments_report", "--day",
                 datetime.now(UTC).astimezone(runtime.calendar().zone).date().isoformat(), stdout=out)
    assert "counter:R-77" in out.getvalue() and "total_counter" in out.getvalue()


def _staff_browser() -> Any:
    """Django's test client holding a staff session at the clerk's desk (the signed-cookie session the sign-in
    writes; the sign-in itself is test_centre_staff_pages.py's)."""
    import time

    from django.conf import settings
    from django.contrib.sessions.backends.signed_cookies import SessionStore
    from django.test import Client

    session = SessionStore()
    session["staff"] = {"sub": "ayesha", "name": "Ayesha", "desks": ["clerk"], "end": int(time.time()) + 600}
    session.save()
    browser = Client(HTTP_HOST="centre.test")
    browser.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
    return browser


def test_receipts_signed_by_the_agencys_key_in_the_real_signing_service(site: dict[str, Any]) -> None:
    """The receipts' signer when no receipt key is set (`receipts.ServiceSigner`, over the centre's one client of
    the signing service) against the platform's real signing service (`tests/signing_kit.signing_service`): the
    receipt is RS256 by the agency's key, verifies with the published JWKS, whose `x5c` chains to the platform CA;
    with another agency's secret nothing is signed (the payment would not be recorded)."""
    import base64

    from cryptography import x509

    from centre_web import receipts
    from tests.signing_kit import signing_service

    box, root = site["box"], site["root"] / "service"
    root.mkdir()
    with signing_service(root, box.ca, {"health": "Health Department", "trade": "Trade Office"}) as (url, secrets):
        signer = receipts.ServiceSigner(f"{url}/sign/health", str(secrets["health"]), str(box.ca.cert_file))
        claims = payments.receipt_claims("health", "B" * 12, "A" * 12, "trade_licence", 150000, "PKR", "online",
                                         "pd-1", datetime.now(UTC))
        jwks = signer.jwks()
        assert receipts.verify(signer.sign(claims), jwks) == claims
        leaf = x509.load_der_x509_certificate(base64.b64decode(jwks["keys"][0]["x5c"][0]))
        leaf.verify_directly_issued_by(x509.load_pem_x509_certificate(box.ca.cert_file.read_bytes()))
        assert jwks["keys"][0]["kid"] == "health" and "OU=health" in leaf.subject.rfc4514_string()
        stolen = receipts.ServiceSigner(f"{url}/sign/health", str(secrets["trade"]), str(box.ca.cert_file))
        with pytest.raises(receipts.SigningUnavailable, match="HTTP 403"):
            stolen.sign(claims)


def test_the_counter_page_and_the_report(site: dict[str, Any]) -> None:
    from centre_core import payments_store
    from centre_web import runtime

    reference = _apply(site)
    service = site["loaded"].catalogue.service("trade_licence")
    bill = payments_store.ensure_bill(runtime.connection(), reference, service, datetime.now(UTC))
    staff = _staff_browser()
    for lang in ("en", "ur"):
        page = staff.get(f"/{lang}/staff/payments/", {"bill": references.display(bill.bill_ref).lower()})
        assert page.status_code == 200 and "1500.00" in page.content.decode()
    assert "ادائیگیاں" in page.content.decode()
    assert staff.post("/en/staff/payments/", {"bill": bill.bill_ref, "receipt_no": "bad no"}).status_code == 400
    done = staff.post("/en/staff/payments/", {"bill": bill.bill_ref, "receipt_no": "R-900"})
    assert done.status_code == 200 and "The payment is recorded." in done.content.decode()
    entry = store.audit_entries(runtime.connection())[-1]
    assert (entry.actor, entry.action, entry.subject) == ("staff:ayesha", "payment:counter", reference)
    before = _snapshot()
    again = staff.post("/en/staff/payments/", {"bill": bill.bill_ref, "receipt_no": "R-901"})
    assert again.status_code == 409 and "paid already" in again.content.decode()
    assert _snapshot() == before
    other = payments_store.ensure_bill(runtime.connection(), _apply(site), service, datetime.now(UTC))
    before = _snapshot()
    reused = staff.post("/en/staff/payments/", {"bill": other.bill_ref, "receipt_no": "R-900"})
    assert reused.status_code == 409 and "used for another bill" in reused.content.decode()
    assert _snapshot() == before
    citizen = _staff_browser()
    assert citizen.get(f"/en/receipts/{other.bill_ref}/").status_code == 404  # not paid: no receipt
    assert citizen.get(f"/en/payments/{payments.new_bill_reference()}/return/").status_code == 404
    waiting = citizen.get(f"/ur/payments/{other.bill_ref}/return/")
    assert waiting.status_code == 200 and "ابھی آپ کی ادائیگی کی تصدیق نہیں کی" in waiting.content.decode()
    day = datetime.now(UTC).astimezone(runtime.calendar().zone).date().isoformat()
    report = staff.get("/en/staff/payments/report.csv", {"day": day})
    assert report.status_code == 200 and report["Content-Type"].startswith("text/csv")
    assert "counter:R-900" in report.content.decode() and "staff:ayesha" in report.content.decode()
    assert staff.get("/en/staff/payments/report.csv", {"day": "someday"}).status_code == 400
    from django.test import Client

    assert Client(HTTP_HOST="centre.test").post("/en/staff/payments/", {"bill": bill.bill_ref,
                                                                       "receipt_no": "R-1"}).status_code == 403


def test_the_bill_api_inquiry_and_confirm(site: dict[str, Any]) -> None:
    """GovStack-style: inquiry by reference, then pay/confirm with a staff token; the same transaction again is
    the same answer (idempotent), another one 409 and nothing changed."""
    from django.conf import settings
    from django.test import Client

    from centre_core import payments_store
    from centre_web import runtime
    from tests.integration._oidc_issuer import ISSUER, Issuer

    reference = _apply(site)
    service = site["loaded"].catalogue.service("trade_licence")
    bill = payments_store.ensure_bill(runtime.connection(), reference, service, datetime.now(UTC))
    api = Client(HTTP_HOST="centre.test")
    assert api.get(f"/api/bills/{references.display(bill.bill_ref)}").json()["status"] == "open"
    assert api.get("/api/bills/not-a-bill").status_code == 400
    assert api.get(f"/api/bills/{payments.new_bill_reference()}").status_code == 404
    issuer = Issuer(ISSUER, "health-centre")
    before_oidc = settings.CENTRE_OIDC
    settings.CENTRE_OIDC = {**before_oidc, "issuer": ISSUER, "audience": "health-centre", "jwks_url": issuer.url,
                            "desk_prefix": "centre-"}
    try:
        auth = {"HTTP_AUTHORIZATION": f"Bearer {issuer.token(['centre-clerk'])}"}
        url = f"/api/bills/{bill.bill_ref}/payments"

        def confirm(body: dict[str, Any], **extra: Any) -> Any:
            return api.post(url, json.dumps(body), content_type="application/json", **extra)

        body = {"transactionId": "bank-42", "amount": "1500.00", "currency": "PKR"}
        assert confirm(body).status_code == 401
        assert confirm({**body, "amount": 1500}, **auth).status_code == 400
        before = _snapshot()
        assert confirm({**body, "amount": "1499.00"}, **auth).status_code == 409
        assert _snapshot() == before
        first = confirm(body, **auth)
        assert first.status_code == 201, first.content
        assert first.json()["status"] == "paid" and first.json()["receipt"].count(".") == 2
        before = _snapshot()
        second = confirm(body, **auth)
        assert second.status_code == 200 and second.json()["receipt"] == first.json()["receipt"]
        other = confirm({**body, "transactionId": "bank-43"}, **auth)
        assert (other.status_code, other.json()["error"]) == (409, "already_paid")
        assert _snapshot() == before
    finally:
        settings.CENTRE_OIDC = before_oidc
        issuer.close()


def test_the_demo_provider_over_tls(tmp_path: Path) -> None:
    """The demo provider served over TLS with a certificate of a CA (as the box's would be): the centre's client
    creates a checkout verifying it, an unsigned or wrongly signed checkout is refused, Pay sends a notification
    that the agency's secret verifies, then redirects back."""
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from centre_web.payment_provider import DemoProvider
    from govcloud_platform.box.ca import CertificateAuthority

    ca = CertificateAuthority(tmp_path / "ca", "paydemo-test")
    ca.ensure()
    cert, key = ca.issue("paydemo", ["localhost"], ["127.0.0.1"])
    got: list[tuple[bytes, dict[str, str]]] = []

    class Centre(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            got.append((self.rfile.read(int(self.headers["Content-Length"])), dict(self.headers)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    centre = ThreadingHTTPServer(("127.0.0.1", 0), Centre)
    threading.Thread(target=centre.serve_forever, daemon=True).start()
    provider = PayDemo({"civic": SECRET})
    server, base = serve(provider, cert=cert, key=key)
    try:
        assert base.startswith("https://")
        client = DemoProvider(f"{base}/m/civic", SECRET.decode(), str(ca.cert_file))
        bill = payments.new_bill_reference()
        url = client.start(payments.Checkout(bill, 150000, "PKR", "Trade licence", "https://centre.test/back",
                                             f"http://127.0.0.1:{centre.server_address[1]}/api/payments/notify"))
        assert url.startswith(f"{base}/pay/")
        context = ssl.create_default_context(cafile=str(ca.cert_file))
        with urllib.request.urlopen(url, context=context) as answer:  # noqa: S310 - https, our test server
            assert "PKR 1500.00" in answer.read().decode()
        with pytest.raises(Refused):
            DemoProvider(f"{base}/m/civic", "another-secret-" + "x" * 30, str(ca.cert_file)).start(
                payments.Checkout(bill, 150000, "PKR", "x", "https://c/b", "https://c/n"))
        with pytest.raises(Refused):
            DemoProvider(f"{base}/m/civic", SECRET.decode(), str(tmp_path / "ca" / "missing.pem")).start(
                payments.Checkout(bill, 150000, "PKR", "x", "https://c/b", "https://c/n"))

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: Any) -> None:
                return None

        opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=context))
        with pytest.raises(urllib.error.HTTPError) as moved:
            opener.open(urllib.request.Request(url, data=b"", method="POST"))
        assert moved.value.code == 303 and moved.value.headers["Location"] == "https://centre.test/back"
        (body, headers), = got
        notice = payments.parse_notice(body)
        assert (notice.bill, notice.amount_minor, notice.status) == (bill, 150000, "paid")
        assert payments.verify(SECRET, body, headers["X-Pay-Timestamp"], headers["X-Pay-Nonce"],
                               headers["X-Pay-Signature"], datetime.now(UTC))
    finally:
        server.shutdown()
        centre.shutdown()


def test_the_timers_job_bills_what_is_due(site: dict[str, Any]) -> None:
    """Submitted to a service billed at submission: the timers' job makes the bill; billed at a step: once the
    application has a task at that step (waiting or done), not before."""
    from django.core.management import call_command

    from centre_core import payments_store
    from centre_core.catalogue import Fee
    from centre_web import runtime

    conn = runtime.connection()
    reference = _apply(site)
    out = io.StringIO()
    call_command("centre_run_timers", stdout=out)
    assert "bills made" in out.getvalue() and payments_store.bill_of_application(conn, reference) is not None
    conn.execute("INSERT INTO payment_nonces VALUES ('old-nonce-0123456789', now() - interval '2 hours'), "
                 "('new-nonce-0123456789', now() - interval '10 minutes')")
    assert payments_store.purge_nonces(conn, datetime.now(UTC)) == 1
    assert conn.execute("SELECT count(*) FROM payment_nonces WHERE nonce LIKE '%%-nonce-%%'").fetchone() == (1,)
    loaded = site["loaded"]
    trade = loaded.catalogue.service("trade_licence")
    for step, due in (("approve", False), ("review", True)):
        other = _apply(site)
        billed_at_step = trade.model_copy(update={"fee": Fee(amount=trade.fee.amount, billed_at=step)})
        at_step = loaded.model_copy(update={"catalogue": loaded.catalogue.model_copy(update={"services": tuple(
            billed_at_step if s.id == "trade_licence" else s for s in loaded.catalogue.services)})})
        payments_store.make_due_bills(conn, at_step, datetime.now(UTC))
        assert (payments_store.bill_of_application(conn, other) is not None) is due, step
