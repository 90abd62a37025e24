"""Signed certificates (issue 16, item 1) on a real PostgreSQL 15 and SeaweedFS, through the API a client uses
(Django's test client; staff with real RS256 tokens from the loopback issuer): a trade licence sent, accepted and
approved ends issued, its certificate rendered, signed, kept in the agency's bucket; the PDF served with the
access code validates with pyHanko (intact, trusted, timestamped), a byte changed fails; without a code, with a
wrong one, for an unknown reference: the same 404; the public page says valid, then revoked (date and category,
not the note) after a supervisor revokes through the API (a clerk refused, twice refused), in the audit trail, the
chain intact; the page in Urdu RTL; `manage.py centre_verify`; the verification page in Chromium (axe, weight).

SIGNING IS THE TEST-ONLY STAND-IN (tests/signing_kit.py: pyHanko in process, a throwaway CA, pyHanko's dummy
timestamper) set as `centre_web.certificates.OVERRIDE`; at merge this module is pointed at the platform's signing
service (`HttpSigner`, SIGNING_URL) and trusts the platform CA."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator
from contextlib import redirect_stdout
from typing import Any

import pytest

from centre_core import audit, signing, store
from tests.centre_signing_kit import ThrowawaySigner
from tests.integration._browser import Visit
from tests.integration._centre import centre_database, setup_django
from tests.integration._centre_server import centre_server
from tests.integration._oidc_issuer import ISSUER, Issuer
from tests.integration._s3 import running_s3

pytestmark = [pytest.mark.integration]
AUDIENCE = "health-centre"
TRADE = {"business_name": "Ali Traders", "business_kind": "shop", "email": "ali@example.pk"}


@pytest.fixture(scope="module")
def site() -> Iterator[dict[str, Any]]:
    from django.conf import settings

    from centre_web import certificates

    with centre_database("centrecerts") as (box, root), running_s3(root) as s3:
        own = s3["health"]
        setup_django(box, root, {"S3_ENDPOINT": s3["endpoint"], "S3_BUCKET": own["bucket"],
                                 "S3_ACCESS_KEY": own["access_key"], "S3_SECRET_KEY": own["secret_key"]})
        issuer = Issuer(ISSUER, AUDIENCE)
        before = settings.CENTRE_OIDC
        settings.CENTRE_OIDC = {**before, "issuer": ISSUER, "audience": AUDIENCE, "jwks_url": issuer.url,
                                "desk_prefix": "centre-"}
        signer = ThrowawaySigner()
        certificates.OVERRIDE = signer
        try:
            yield {"box": box, "root": root, "s3": s3, "issuer": issuer, "signer": signer}
        finally:
            certificates.OVERRIDE = None
            settings.CENTRE_OIDC = before
            issuer.close()
            from centre_web import runtime

            runtime.connection().close()


def client() -> Any:
    from django.test import Client

    client.made = getattr(client, "made", 0) + 1  # type: ignore[attr-defined]
    return Client(enforce_csrf_checks=True, HTTP_HOST="centre.test",
                  HTTP_X_FORWARDED_FOR=f"192.0.2.{client.made}")  # type: ignore[attr-defined]


def bearer(site: dict[str, Any], *desks: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {site['issuer'].token([f'centre-{d}' for d in desks])}"}


def issued(site: dict[str, Any]) -> dict[str, Any]:
    """A trade licence through the API to the end: sent, accepted by the clerk, approved by the officer."""
    c = client()
    sent = c.post("/api/applications", json.dumps({"serviceKey": "trade_licence", "answers": TRADE}),
                  content_type="application/json").json()
    for desk, action in (("clerk", "accept"), ("licensing_officer", "approve")):
        task = next(t for t in c.get("/api/tasks", **bearer(site, desk)).json() if t["reference"] == sent["reference"])
        done = c.post(f"/api/tasks/{task['id']}/{action}", b"", content_type="", **bearer(site, desk))
        assert done.status_code == 200, done.content
    assert done.json()["status"] == "closed" and done.json()["outcome"] == "issued"
    return {"reference": sent["reference"], "code": sent["accessCode"]["code"]}


def certificate_row(site: dict[str, Any], reference: str) -> tuple[str, str, str]:
    with site["box"].pg_admin("centre") as conn:
        row = conn.execute("SELECT c.id, c.object_key, c.sha256 FROM certificates c JOIN applications a "
                           "ON a.id = c.application_id WHERE a.reference = %s", (reference,)).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def test_an_issued_certificate_is_signed_kept_served_with_its_code_and_verifies(site: dict[str, Any],
                                                                                tmp_path: Any) -> None:
    app = issued(site)
    cert_id, key, digest = certificate_row(site, app["reference"])
    stored = site["s3"]["admin"].get_object(Bucket="ag-health", Key=key)["Body"].read()
    assert key == f"centre/certificates/{cert_id}.pdf"
    c = client()
    url = f"/en/certificate/{app['reference']}"
    refusals = [c.get(url), c.get(url + "?code=AAAAAAAA"), c.get("/en/certificate/0000000000000?code=AAAAAAAA"),
                client().get(f"/en/certificate/{'1' * 12}?code={app['code']}")]
    assert [r.status_code for r in refusals] == [404] * 4
    bodies = {r.content.replace(r.wsgi_request.path.rsplit("/", 1)[1].encode(), b"REF") for r in refusals}
    assert len(bodies) == 1  # one answer (but the path in its language link): nothing says whether it exists
    got = c.get(f"{url}?code={app['code']}")
    assert got.status_code == 200 and got["Content-Type"] == "application/pdf", got.content[:300]
    pdf = b"".join(got.streaming_content) if got.streaming else got.content
    assert pdf == stored and len(pdf) < 100 * 1024
    assert c.get(url).status_code == 200  # this browser keeps it for a while (the tracking session)
    verdict = signing.verify(pdf, [site["signer"].root_pem])
    assert verdict.ok and verdict.intact and verdict.trusted and verdict.timestamped, verdict
    assert verdict.certificate_id == cert_id
    at = pdf.index(b"Health Department")
    changed = pdf[:at] + b"Wealth" + pdf[at + 6:]
    assert not signing.verify(changed, [site["signer"].root_pem]).ok
    # the offline command, with the throwaway root as the CA
    from django.core.management import call_command

    (tmp_path / "cert.pdf").write_bytes(pdf)
    (tmp_path / "bad.pdf").write_bytes(changed)
    (tmp_path / "root.pem").write_bytes(site["signer"].root_pem)
    out = io.StringIO()
    with redirect_stdout(out):
        call_command("centre_verify", str(tmp_path / "cert.pdf"), "--ca", str(tmp_path / "root.pem"), "--json",
                     stdout=out)
    said = json.loads(out.getvalue())
    assert said["ok"] and said["certificate"] == cert_id and said["verify"].endswith(f"/en/verify/{cert_id}")
    with pytest.raises(SystemExit) as failed:
        call_command("centre_verify", str(tmp_path / "bad.pdf"), "--ca", str(tmp_path / "root.pem"),
                     stdout=io.StringIO())
    assert failed.value.code == 1
    # the tracking status page links it
    status = c.get("/en/track/status/").content.decode()
    assert f'href="/en/certificate/{app["reference"]}"' in status and f'href="/en/verify/{cert_id}"' in status


def test_the_one_client_signs_with_the_agencys_key_in_the_real_signing_service(site: dict[str, Any]) -> None:
    """The certificates' real signer (`signing.HttpSigner`, as `certificates.signer()` builds it from SIGNING_URL)
    against the platform's real signing service (`tests/signing_kit.signing_service`, keys from the box CA): the PDF
    comes back PAdES B-T by the agency's key and verifies offline against the platform CA; `certificate()` is that
    key's; the trade office's secret signs nothing for the health department (403), and no error quotes it."""
    from govcloud_platform.signing.sample import minimal_pdf
    from tests.signing_kit import signing_service

    box, root = site["box"], site["root"] / "service"
    root.mkdir()
    with signing_service(root, box.ca, {"health": "Health Department", "trade": "Trade Office"}) as (url, secrets):
        client = signing.HttpSigner(f"{url}/sign/health", str(secrets["health"]), str(box.ca.cert_file))
        signed = client.sign(minimal_pdf("certificate"))
        verdict = signing.verify(signed, [box.ca.cert_file.read_bytes()])
        assert verdict.ok and "Health Department" in verdict.signer, verdict
        chain = client.certificate()
        assert chain[0].subject.rfc4514_string().startswith("CN=Health Department,OU=health")
        stolen = signing.HttpSigner(f"{url}/sign/health", str(secrets["trade"]), str(box.ca.cert_file))
        with pytest.raises(signing.SigningError, match="HTTP 403") as caught:
            stolen.sign(minimal_pdf("certificate"))
        assert secrets["trade"].read_text().strip() not in str(caught.value)


def test_the_public_page_says_valid_then_revoked_after_a_supervisor_revokes(site: dict[str, Any]) -> None:
    app = issued(site)
    cert_id, _, _ = certificate_row(site, app["reference"])
    c = client()
    page = c.get(f"/en/verify/{cert_id}").content.decode()
    assert "This certificate is valid" in page and "Trade licence" in page and "Health Department" in page
    assert "Ali Traders" not in page and "ali@example.pk" not in page and app["reference"] not in page
    assert c.get(f"/en/verify/{'z' * 20}").status_code == 404 and c.get("/en/verify/..%2f").status_code == 404
    revoke = f"/api/applications/{app['reference']}/certificate/revoke"
    body = json.dumps({"reason": "obtained_by_fraud", "note": "the NTN given belongs to another firm"})
    boss = bearer(site, "licensing_officer", "supervisor")
    assert c.post(revoke, body, content_type="application/json", **bearer(site, "clerk")).status_code == 403
    assert c.post(revoke, json.dumps({"reason": "because", "note": "x"}), content_type="application/json",
                  **boss).status_code == 400
    assert c.post(revoke, body, content_type="application/json").status_code == 401
    done = c.post(revoke, body, content_type="application/json", **boss)
    assert done.status_code == 200, done.content
    assert done.json()["certificate"] == cert_id and done.json()["reason"] == "obtained_by_fraud"
    assert c.post(revoke, body, content_type="application/json", **boss).status_code == 409
    page = c.get(f"/en/verify/{cert_id}").content.decode()
    assert "This certificate has been revoked" in page and "Obtained by fraud" in page
    from centre_web import runtime  # the page says the day in the agency's time zone (UTC+5 here), not UTC's

    revoked_on = dt.datetime.fromisoformat(done.json()["revokedAt"]).astimezone(runtime.calendar().zone).date()
    assert revoked_on.isoformat() in page and "NTN" not in page
    urdu = c.get(f"/ur/verify/{cert_id}").content.decode()
    print(f"verify page HTML: en {len(page.encode())} bytes, ur {len(urdu.encode())} bytes (revoked)")
    assert 'lang="ur" dir="rtl"' in urdu and "یہ سند منسوخ کر دی گئی ہے" in urdu and len(urdu.encode()) < 100 * 1024
    with site["box"].pg_admin("centre") as conn:
        entries = store.audit_entries(conn)
    mine = [(e.actor, e.action, dict(e.details)) for e in entries if e.subject == app["reference"]
            and e.action.startswith("certificate:")]
    assert [a for _, a, _ in mine] == ["certificate:issued", "certificate:revoked"]
    assert mine[1][0].startswith("staff:") and mine[1][2]["note"].startswith("the NTN")
    assert audit.verify(entries) == []


def test_a_certificate_waits_when_signing_fails_and_the_timers_issue_it(site: dict[str, Any]) -> None:
    from django.core.management import call_command

    from centre_web import certificates

    class Down:
        def sign(self, pdf: bytes) -> bytes:
            raise signing.SigningError("the signing service cannot be reached (test)")

    certificates.OVERRIDE = Down()
    try:
        app = issued(site)  # the action is done all the same
    finally:
        certificates.OVERRIDE = site["signer"]
    with site["box"].pg_admin("centre") as conn:
        assert conn.execute("SELECT count(*) FROM certificates c JOIN applications a ON a.id = c.application_id "
                            "WHERE a.reference = %s", (app["reference"],)).fetchone() == (0,)
    c = client()
    assert c.get(f"/en/certificate/{app['reference']}?code={app['code']}").status_code == 404  # not yet; tracked
    assert "being prepared" in c.get("/en/track/status/").content.decode()
    call_command("centre_run_timers", stdout=io.StringIO())
    certificate_row(site, app["reference"])


def test_the_verification_page_in_chromium(site: dict[str, Any], chromium: Any, shots: Any) -> None:
    app = issued(site)
    cert_id, _, _ = certificate_row(site, app["reference"])
    with centre_server(site["root"]) as base:
        for lang in ("en", "ur"):
            page = chromium.page(javascript=False, locale=lang)
            page.goto(f"{base}/{lang}/verify/{cert_id}")
            visit = Visit(chromium, shots, page, lang)
            visit.seen("verify")
            assert page.locator("html").get_attribute("dir") == ("rtl" if lang == "ur" else "ltr")
            visit.check()
            page.context.close()


class DjangoTransport:
    """The demo's transport over Django's test client (the deployed demo uses HTTPS to the centre)."""

    def __init__(self) -> None:
        self.client = client()

    def request(self, method: str, path: str, body: Any | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, Any]:
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}
        if method == "GET":
            answer = self.client.get(path, **extra)
        else:
            answer = self.client.post(path, json.dumps(body) if body is not None else b"",
                                      content_type="application/json" if body is not None else "", **extra)
        return answer.status_code, answer.json()


def test_the_demo_drives_an_application_to_its_signed_certificate(site: dict[str, Any]) -> None:
    """Item 6's in-process part: `centre_demo.run` through the API with one token holding every desk; its
    certificate_url serves the signed PDF with the code it prints, its verify_url says valid."""
    from govcloud_platform import centre_demo

    token = site["issuer"].token(["centre-clerk", "centre-licensing_officer", "centre-supervisor"])
    result = centre_demo.run(DjangoTransport(), token, "https://centre.test", wait_s=0)
    doc = json.loads(centre_demo.dumps(result))
    assert set(doc) == {"reference", "access_code", "certificate_url", "verify_url"}
    assert doc["certificate_url"] == f"https://centre.test/en/certificate/{doc['reference']}?code={doc['access_code']}"
    pdf = client().get(doc["certificate_url"].removeprefix("https://centre.test"))
    assert pdf.status_code == 200 and signing.verify(pdf.content, [site["signer"].root_pem]).ok
    page = client().get(doc["verify_url"].removeprefix("https://centre.test")).content.decode()
    assert "This certificate is valid" in page


def staff_browser(desks: list[str]) -> Any:
    """A staff member's browser with a signed-in session (the sign-in itself is test_centre_staff_pages.py's)."""
    import time

    from django.conf import settings
    from django.contrib.sessions.backends.signed_cookies import SessionStore

    b = client()
    session = SessionStore()
    session["staff"] = {"sub": "bilal", "name": "Bilal", "desks": desks, "end": int(time.time()) + 600}
    session.save()
    b.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
    return b


def test_a_supervisor_revokes_from_the_staff_pages_a_clerk_cannot(site: dict[str, Any]) -> None:
    import re

    app = issued(site)
    cert_id, _, _ = certificate_row(site, app["reference"])
    url = f"/en/staff/applications/{app['reference']}/certificate/"
    clerk = staff_browser(["clerk"])
    page = clerk.get(url).content.decode()
    assert cert_id in page and 'name="reason"' not in page  # no form for a clerk
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', clerk.get(f"/en/staff/applications/"
                                                                              f"{app['reference']}/").content.decode())
    assert token is not None
    refused = clerk.post(url, {"csrfmiddlewaretoken": token.group(1), "reason": "withdrawn", "note": "x"})
    assert refused.status_code == 403
    boss = staff_browser(["licensing_officer", "supervisor"])
    form = boss.get(f"/ur/staff/applications/{app['reference']}/certificate/").content.decode()
    assert 'dir="rtl"' in form and 'name="reason"' in form and "سند منسوخ کریں" in form
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    assert csrf is not None
    empty = boss.post(url, {"csrfmiddlewaretoken": csrf.group(1), "reason": "withdrawn", "note": ""})
    assert empty.status_code == 400 and "govuk-error-summary" in empty.content.decode()
    done = boss.post(url, {"csrfmiddlewaretoken": csrf.group(1), "reason": "superseded", "note": "new licence"})
    assert done.status_code == 302
    assert "Replaced by a new certificate" in client().get(f"/en/verify/{cert_id}").content.decode()
    with site["box"].pg_admin("centre") as conn:
        row = conn.execute("SELECT actor, details FROM audit WHERE subject = %s AND action = 'certificate:revoked'",
                           (app["reference"],)).fetchone()
    assert row is not None and row[0] == "staff:bilal" and json.loads(row[1])["reason"] == "superseded"
