"""The Citizen's Centre's whole journey in a real browser (Debian's Chromium, JavaScript off), as issue 14 names it:
a citizen applies for a trade licence with two uploads and gets the reference; the first desk returns it for a
missing document; the citizen asks for a code by e-mail ("send me a code"), tracks the application with it and
sends the document from the status page; the second desk approves; the citizen sees each step on the tracking page
and receives each e-mail. The same in Urdu (right to left). Every server is real: PostgreSQL 15, SeaweedFS's S3
(the agency's bucket), an SMTP server with STARTTLS and AUTH (aiosmtpd, standing for the box's Postfix, which
tests/integration/test_apps_centre.py uses), the centre under gunicorn, and the desks acting through the API with
RS256 access tokens verified against a JWKS over HTTP. On every citizen page: axe WCAG 2.2 AA, ≤ 100 KB, reflow at
320 px, no browser error, a screenshot kept (the directory is printed)."""

from __future__ import annotations

import io
import re
import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import requests

from centre_core.references import ALPHABET
from govcloud_platform.box.ports import free_port_base
from tests.integration._browser import Chromium, Shots, Visit, follow
from tests.integration._centre import centre_database, setup_django
from tests.integration._centre_server import centre_server
from tests.integration._oidc_issuer import ISSUER, Issuer
from tests.integration._s3 import running_s3
from tests.integration.test_centre_api import AUDIENCE
from tests.integration.test_centre_notify import LOGIN, PASSWORD, Server, Sink

pytestmark = [pytest.mark.integration]
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n" + b"0" * 3000
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"1" * 2000
_CODE = re.compile(rf"(?<![0-9A-Z])([{ALPHABET}]{{8}})(?![0-9A-Z])")


@pytest.fixture(scope="module")
def journey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with centre_database("centrejourney") as (box, root), running_s3(root) as s3:
        cert, key = box.ca.issue("smtp-journey", ["localhost"], ["127.0.0.1"])
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        sink, issuer = Sink(), Issuer(ISSUER, AUDIENCE)
        server = Server(sink, context, free_port_base() + 15)
        server.start()
        own = s3["health"]
        try:
            setup_django(box, root, {
                "S3_ENDPOINT": s3["endpoint"], "S3_BUCKET": own["bucket"], "S3_ACCESS_KEY": own["access_key"],
                "S3_SECRET_KEY": own["secret_key"],
                "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(server.port), "SMTP_USERNAME": LOGIN,
                "SMTP_PASSWORD": PASSWORD, "SMTP_FROM": "noreply@health.gov.example", "SMTP_CA_FILE": str(box.ca_file),
                "OIDC_ISSUER": ISSUER, "OIDC_AUDIENCE": AUDIENCE, "OIDC_JWKS_URL": issuer.url,
                "OIDC_DESK_PREFIX": "centre-"})
            files = tmp_path_factory.mktemp("uploads")
            (files / "cnic.pdf").write_bytes(PDF)
            (files / "lease.png").write_bytes(PNG)
            (files / "lease-signed.pdf").write_bytes(PDF + b"signed")
            with centre_server(root) as base:
                yield {"base": base, "sink": sink, "issuer": issuer, "files": files}
        finally:
            server.stop()
            issuer.close()
            from centre_web import runtime

            runtime.connection().close()


def _deliver() -> None:
    """The timers' job, as the role runs it every few seconds: the outbox goes to the SMTP server."""
    from django.core.management import call_command

    out = io.StringIO()
    call_command("centre_run_timers", stdout=out)
    assert " 0 to retry, 0 dead" in out.getvalue(), out.getvalue()


def _mails(journey: dict[str, Any], address: str) -> list[EmailMessage]:
    return list(journey["sink"].to(address))


def _body(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def _desk(journey: dict[str, Any], desk: str, reference: str, action: str, **fields: str) -> None:
    """A desk acts through the API (`POST /api/tasks/<id>/<action>`) with an access token of its group."""
    token = journey["issuer"].token([f"centre-{desk}"], sub=f"{desk}-1")
    headers = {"Authorization": f"Bearer {token}"}
    listed = requests.get(f"{journey['base']}/api/tasks", headers=headers, timeout=30)
    assert listed.status_code == 200, listed.text[:300]
    task = next(t for t in listed.json() if t["reference"] == reference)
    done = requests.post(f"{journey['base']}/api/tasks/{task['id']}/{action}", json={"fields": fields},
                         headers=headers, timeout=30)
    assert done.status_code == 200, done.text[:300]


def _submit(page: Any) -> None:
    follow(page, page.locator("main form button[type=submit]").first)


JOURNEYS = [
    ("en", [("business_name", "Ali Traders"), ("business_kind", "shop")], "ali@example.pk", "Review of the application",
     "You are here"),
    ("ur", [("business_name", "علی ٹریڈرز"), ("business_kind", "shop")], "ali.ur@example.pk", "درخواست کا جائزہ",
     "آپ یہاں ہیں"),
]


@pytest.mark.parametrize(("lang", "answers", "email", "first_step", "here_words"), JOURNEYS, ids=["en", "ur"])
def test_apply_with_uploads_returned_document_sent_approved_each_step_seen_and_mailed(
        journey: dict[str, Any], chromium: Chromium, shots: Shots, lang: str, answers: list[tuple[str, str]],
        email: str, first_step: str, here_words: str) -> None:
    base, files = journey["base"], journey["files"]
    page = chromium.page(javascript=False, locale=lang)
    visit = Visit(chromium, shots, page, f"journey-{lang}")
    try:
        # apply: the questions, then one page per document (a multipart form), the check page, the reference
        page.goto(f"{base}/{lang}/services/trade_licence/")
        visit.seen("service")
        follow(page, page.locator("main a.start"))
        for qid, value in [*answers, ("email", email)]:
            assert page.url.endswith(f"/{lang}/services/trade_licence/apply/{qid}/"), page.url
            if (radio := page.locator(f'input[type=radio][value="{value}"]')).count():
                radio.check()
            else:
                page.locator("#answer").fill(value)
            _submit(page)
        for doc, name in (("owner_cnic", "cnic.pdf"), ("premises_proof", "lease.png")):
            assert page.url.endswith(f"/{lang}/services/trade_licence/documents/{doc}/"), page.url
            visit.seen(f"upload-{doc}")
            page.locator("#file").set_input_files(str(Path(files) / name))
            _submit(page)
        assert page.url.endswith(f"/{lang}/services/trade_licence/check/"), page.url
        assert "cnic.pdf" in page.locator("main").inner_text() and "lease.png" in page.locator("main").inner_text()
        visit.seen("check")
        _submit(page)
        assert page.url.endswith(f"/{lang}/services/trade_licence/sent/")
        shown = page.locator(".reference").inner_text().strip()
        reference = shown.replace("-", "")
        visit.seen("sent")
        _deliver()
        [submitted] = _mails(journey, email)
        assert shown in str(submitted["Subject"]) and submitted["Content-Language"] == lang

        # the first desk returns it for a missing document: the citizen is mailed the desk's reason
        _desk(journey, "clerk", reference, "return", reason="The lease must be signed by both parties.")
        _deliver()
        returned = _mails(journey, email)[1]
        assert "The lease must be signed by both parties." in _body(returned)

        # "send me a code", the code read from the mail, the status page: the citizen's own step is current
        def track() -> None:
            page.goto(f"{base}/{lang}/track/code/")
            visit.seen("send-code")
            page.locator("#reference").fill(shown)
            _submit(page)
            visit.seen("code-sent")
            _deliver()
            mailed = _mails(journey, email)[-1]
            code = next(c for c in _CODE.findall(_body(mailed)) if c not in reference)
            page.goto(f"{base}/{lang}/track/")
            page.locator("#reference").fill(shown)
            page.locator("#code").fill(code)
            _submit(page)
            assert page.url.endswith(f"/{lang}/track/status/"), page.url

        track()
        here = page.locator('ol.steps li[aria-current="step"]')
        assert here.count() == 1 and here_words in here.inner_text()
        assert "The lease must be signed by both parties." in page.locator("main").inner_text()
        visit.seen("status-returned")
        page.locator('input[name=document][value="premises_proof"]').check()
        page.locator("#file").set_input_files(str(Path(files) / "lease-signed.pdf"))
        _submit(page)
        assert page.url.endswith(f"/{lang}/track/status/"), page.url
        here = page.locator('ol.steps li[aria-current="step"]')
        assert here.count() == 1 and first_step in here.inner_text(), here.all_inner_texts()
        assert "lease-signed.pdf" in page.locator("main").inner_text()
        visit.seen("status-document-sent")

        # the desks go on: accepted, then approved; the citizen is mailed the outcome and sees every step done
        _desk(journey, "clerk", reference, "accept")
        _desk(journey, "licensing_officer", reference, "approve")
        _deliver()
        closed = _mails(journey, email)[-1]
        assert shown in str(closed["Subject"]) and closed["Content-Language"] == lang
        track()
        assert page.locator('ol.steps li[aria-current="step"]').count() == 0
        assert page.locator("ol.steps li").count() >= 2
        visit.seen("status-closed")
        kinds = [str(m["Subject"]) for m in _mails(journey, email)]
        assert len(kinds) == 5, kinds  # submitted, returned, a code, closed, a code
    finally:
        page.context.close()
    visit.check()
