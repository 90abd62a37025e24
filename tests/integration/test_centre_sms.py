"""The centre's text messages in process: a real PostgreSQL 15, the citizen's pages through Django's test client,
and a real HTTP JSON SMS provider written for the tests (a threading HTTPS server on loopback with a certificate
of its own test CA, which the centre is configured to trust: SMS_CA_FILE; it checks the bearer key and records
what it is asked to send). A citizen applies with a mobile number, the timers' job texts the submission, "send
me a code" texts a code (the page shows the number's last two digits only) that tracks; a wrong key and a
provider failing with 500 are retried, then dead after the limit; a number the provider refuses is dead at once;
nothing the job says, nothing logged and nothing kept once sent holds the number or the code."""

from __future__ import annotations

import io
import json
import logging
import re
import secrets
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from centre_core import outbox, references, store
from centre_core.catalogue import load_samples
from govcloud_platform.box.ca import CertificateAuthority
from govcloud_platform.box.context import Box
from tests.integration._centre import centre_database, setup_django
from tests.integration.test_centre_web import Browser, _apply, _track

pytestmark = [pytest.mark.integration]
KEY = secrets.token_urlsafe(32)
MOBILE = "+923001234567"


class Provider(BaseHTTPRequestHandler):
    """POST /v1/messages with the bearer key: 202 {"id"}; a wrong key 401; `fail` set: 500; a number in +999: 422."""

    messages: list[dict[str, Any]] = []
    keys: list[str] = []
    fail = False
    lock = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802 - the http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path != "/v1/messages":
            return self._answer(404, {})
        if self.headers.get("Authorization") != f"Bearer {KEY}":
            return self._answer(401, {"error": "unauthorised"})
        if Provider.fail:
            return self._answer(500, {"error": "down"})
        message = json.loads(body)
        if message["to"].startswith("+999"):
            return self._answer(422, {"error": "no such number"})
        with Provider.lock:
            Provider.messages.append(message)
            Provider.keys.append(self.headers.get("Idempotency-Key", ""))
            self._answer(202, {"id": f"m-{len(Provider.messages)}"})

    def _answer(self, status: int, doc: dict[str, Any]) -> None:
        raw = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass


def to(number: str) -> list[dict[str, Any]]:
    with Provider.lock:
        return [m for m in Provider.messages if m["to"] == number]


@pytest.fixture(scope="module")
def sms_site() -> Iterator[tuple[Box, str]]:
    """The centre with an SMS provider and no mail service; the provider's certificate from a CA of its own."""
    with centre_database("centresms") as (box, root):
        ca = CertificateAuthority(root / "provider-ca", "sms-provider-test")
        ca.ensure()
        cert, key = ca.issue("sms-provider", ["localhost"], ["127.0.0.1"])
        server = ThreadingHTTPServer(("127.0.0.1", 0), Provider)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        url = f"https://127.0.0.1:{server.server_address[1]}/v1/messages"
        try:
            setup_django(box, root, {"SMS_URL": url, "SMS_KEY": KEY, "SMS_SENDER": "HEALTH",
                                     "SMS_CA_FILE": str(ca.cert_file), "SMS_TIMEOUT_S": "5"})
            yield box, url
        finally:
            server.shutdown()
            server.server_close()
            from centre_web import runtime

            runtime.connection().close()


def _timers() -> str:
    from django.core.management import call_command

    out = io.StringIO()
    call_command("centre_run_timers", stdout=out)
    return out.getvalue()


_CODE = re.compile(r"\b([0-9A-HJKMNP-TV-Z]{8})\b")


def _code_of(message: dict[str, Any]) -> str:
    found = [c for c in _CODE.findall(message["text"].replace("\u2066", " ").replace("\u2069", " "))]
    assert found, message
    return found[-1]


@pytest.mark.parametrize("lang", ["en", "ur"])
def test_apply_with_a_mobile_number_then_texted_a_code_that_tracks(
        sms_site: tuple[Box, str], lang: str, caplog: pytest.LogCaptureFixture) -> None:
    box, _ = sms_site
    caplog.set_level(logging.DEBUG)
    number = MOBILE[:-2] + ("67" if lang == "en" else "89")
    browser = Browser(lang)
    browser.get(f"/{lang}/services/building_permit/apply/mobile/")
    page = browser.post(f"/{lang}/services/building_permit/apply/mobile/", {"answer": "0300 1234567"}, status=400)
    assert ("country code" if lang == "en" else "ملک کے کوڈ") in page.content.decode()  # not E.164: told
    shown = _apply(browser, lang, "building_permit", [("plot_address", "Plot 5"), ("floors", "2"),
                                                      ("email", f"{lang}@example.pk"), ("mobile", number)])
    reference = references.normalise(shown) or ""
    with box.pg_admin("centre") as conn:
        assert conn.execute("SELECT mobile FROM applications WHERE reference = %s", (reference,)).fetchone() \
            == (number,)
        assert outbox.of_application(conn, reference, "sms") == [("submitted", "pending", 0)]
    out = _timers()
    assert "sms: 1 sent, 0 to retry, 0 dead" in out and "notifications are off (no mail service): 1" in out
    [submitted] = to(number)
    assert shown in submitted["text"] and submitted["sender"] == "HEALTH" and submitted["parts"] == 1
    assert submitted["encoding"] == ("GSM-7" if lang == "en" else "UCS-2")
    assert re.fullmatch(r"health-[0-9]+", Provider.keys[-1])  # the idempotency key: agency and outbox row
    # "send me a code": by text message, the page shows the last two digits only
    assert ("by text message or e-mail" if lang == "en" else "ایس ایم ایس یا ای میل") in Browser(lang).get(
        f"/{lang}/track/")
    asker = Browser(lang)
    intro = asker.get(f"/{lang}/track/code/")
    assert ("by text message" if lang == "en" else "ایس ایم ایس") in intro
    assert asker.post(f"/{lang}/track/code/", {"reference": shown})["Location"] == f"/{lang}/track/code/"
    answer = asker.get(f"/{lang}/track/code/")
    assert number[-2:] in answer and number[-4:] not in answer and number[1:4] not in answer.split("<main")[-1]
    assert "sms: 1 sent" in _timers()
    code_message = to(number)[-1]
    assert code_message["parts"] == 1
    code = _code_of(code_message)
    status_page = _track(Browser(lang), lang, shown, code)
    assert shown in status_page
    with box.pg_admin("centre") as conn:
        assert outbox.of_application(conn, reference, "sms") == [("submitted", "sent", 1), ("code", "sent", 1)]
        assert conn.execute("SELECT count(*) FROM outbox WHERE params::text LIKE %s", (f"%{code}%",)).fetchone() \
            == (0,)
    assert number not in caplog.text and code not in caplog.text and number not in out


def test_a_status_change_is_texted(sms_site: tuple[Box, str]) -> None:
    box, _ = sms_site
    number = MOBILE[:-3] + "111"
    now = datetime.now(UTC)
    with box.pg_admin("centre") as conn:
        reference = store.submit(conn, load_samples(), "trade_licence", {"business_name": "T", "business_kind": "shop"},
                                 None, now, language="ur", mobile=number)
        task = next(r for r in store.inbox(conn, "clerk", 1000) if r[0] == reference)
        store.act(conn, reference, task[1], "return", "clerk", "staff:clerk", {"reason": "the lease"}, now)
        assert [k for k, _, _ in outbox.of_application(conn, reference, "sms")] == ["submitted", "returned"]
        assert outbox.of_application(conn, reference) == []  # no e-mail: no mail row
    assert "sms: 2 sent" in _timers()
    returned = to(number)[-1]
    assert "دستاویز" in returned["text"] and "the lease" not in returned["text"] and returned["parts"] == 1


def test_wrong_key_and_provider_failure_are_retried_then_dead(sms_site: tuple[Box, str],
                                                              caplog: pytest.LogCaptureFixture) -> None:
    """500 and a wrong key (401): retried 1, 2 ... minutes later, the rest of the round waiting; dead after
    MAX_ATTEMPTS; a number the provider refuses (422): dead at once. The provider's own CA is needed (the box
    CA does not sign it): without it, TLS fails and is retried."""
    from django.conf import settings

    from centre_web import runtime, texter
    from centre_web.sms_provider import SmsSettings, provider_of, settings_of

    box, url = sms_site
    caplog.set_level(logging.DEBUG)
    loaded = load_samples()
    conf = settings_of(settings.CENTRE_SMS)
    assert KEY not in repr(conf) and KEY not in repr(provider_of(settings.CENTRE_SMS))
    number = MOBILE[:-3] + "222"
    when = datetime.now(UTC)
    with box.pg_admin("centre") as conn:
        first = store.submit(conn, loaded, "trade_licence", {"business_name": "F", "business_kind": "shop"}, None,
                             when, mobile=number)
        second = store.submit(conn, loaded, "trade_licence", {"business_name": "G", "business_kind": "shop"}, None,
                              when, mobile=number)
    Provider.fail = True
    try:
        done = texter.deliver(runtime.connection(), provider_of(settings.CENTRE_SMS), loaded, "health",
                              "https://centre.test", when)
    finally:
        Provider.fail = False
    assert (done.sent, done.retried, done.dead, done.failure) == (0, 2, 0, "http 500")  # the second not tried
    with box.pg_admin("centre") as conn:
        assert outbox.of_application(conn, first, "sms") == [("submitted", "pending", 1)]
        assert conn.execute("SELECT last_error FROM outbox o JOIN applications a ON a.id = o.application_id "
                            "WHERE a.reference = %s", (second,)).fetchone() == ("http 500",)
    wrong = provider_of({**settings.CENTRE_SMS, "key": secrets.token_urlsafe(32)})
    box_ca = provider_of({**settings.CENTRE_SMS, "ca_file": str(box.ca_file)})
    states = []
    for attempt in range(1, outbox.MAX_ATTEMPTS):
        when += outbox.LAST_RETRY + timedelta(seconds=1)
        done = texter.deliver(runtime.connection(), box_ca if attempt == 1 else wrong, loaded, "health",
                              "https://centre.test", when)
        assert done.failure == ("SSLCertVerificationError" if attempt == 1 else "http 401")
        with box.pg_admin("centre") as conn:
            states.append(outbox.of_application(conn, first, "sms")[0][1:])
    assert states == [("pending", n) for n in range(2, outbox.MAX_ATTEMPTS)] + [("dead", outbox.MAX_ATTEMPTS)]
    with box.pg_admin("centre") as conn:
        rows = conn.execute("SELECT state, last_error, params::text FROM outbox WHERE state = 'dead' "
                            "AND application_id IN (SELECT id FROM applications WHERE reference IN (%s, %s))",
                            (first, second)).fetchall()
        assert rows == [("dead", "http 401", "{}")] * 2
        refused = store.submit(conn, loaded, "trade_licence", {"business_name": "R", "business_kind": "shop"}, None,
                               datetime.now(UTC), mobile="+99912345678")
    out = _timers()
    assert "sms: 0 sent, 0 to retry, 1 dead" in out
    with box.pg_admin("centre") as conn:
        assert outbox.of_application(conn, refused, "sms") == [("submitted", "dead", 1)]
        kept = " ".join(str(r) for r in conn.execute("SELECT last_error, params::text FROM outbox"))
    assert to("+99912345678") == [] and number not in kept and "+999" not in kept
    assert number not in caplog.text and "+999" not in caplog.text and "+999" not in out
    assert Path(conf.ca_file).exists() and isinstance(conf, SmsSettings)


def test_without_a_provider_nothing_is_sent_and_the_option_is_hidden(sms_site: tuple[Box, str]) -> None:
    from django.test import override_settings

    box, _ = sms_site
    with override_settings(CENTRE_SMS=None), box.pg_admin("centre") as conn:
        off = store.submit(conn, load_samples(), "trade_licence", {"business_name": "O", "business_kind": "shop"},
                           None, datetime.now(UTC), mobile=MOBILE)
        sent_before = len(Provider.messages)
        assert "sms: text messages are off (no SMS provider): 1 not sent" in _timers()
        assert outbox.of_application(conn, off, "sms") == [("submitted", "off", 0)]
        assert len(Provider.messages) == sent_before
        browser = Browser("en")
        page = browser.get("/en/track/code/")
        assert "does not send codes" in page and 'name="reference"' not in page  # no mail service either
        assert "text message" not in browser.get("/en/track/")
        browser.get("/en/services/building_permit/apply/email/")  # the mobile question is not asked
        assert browser.post("/en/services/building_permit/apply/email/", {"answer": "o@example.pk"})["Location"] \
            == "/en/services/building_permit/check/"
        browser.get("/en/services/building_permit/apply/mobile/", status=404)
