"""The centre's notifications in process: a real PostgreSQL 15, the citizen's pages through Django's test client,
and a real SMTP server in a thread (aiosmtpd: STARTTLS required with a certificate of the box CA, AUTH required
after it) standing for the platform's mail service. The outbox is written with the change it tells of and sent
by `centre_run_timers`; the server down, a submission still succeeds and the message waits, retried, then dead;
"send me a code" answers the same for every reference, mails a code that tracks, and is limited per reference
and per client. (The deployed centre with the box's own Postfix: tests/integration/test_apps_centre.py.)"""

from __future__ import annotations

import email
import email.policy
import io
import re
import secrets
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from centre_core import outbox, references, store
from govcloud_platform.box.context import Box
from govcloud_platform.box.ports import free_port_base
from tests.integration._centre import centre_database, setup_django
from tests.integration.test_centre_web import Browser, _apply

pytestmark = [pytest.mark.integration]
LOGIN = "ag-health"
PASSWORD = secrets.token_urlsafe(24)


class Sink:
    """What the server accepted: (envelope sender, recipients, the parsed message). A recipient at
    bounce.example is refused with 550 (a permanent refusal)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address.endswith("@bounce.example"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
        return "250 OK queued"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for _, rcpts, m in self.messages if address in rcpts]


def _auth(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login == LOGIN.encode() and data.password == PASSWORD.encode()
    return AuthResult(success=ok)


class Server:
    """The SMTP server on one port, stopped and started again (a new controller each time: one cannot restart)."""

    def __init__(self, sink: Sink, context: ssl.SSLContext, port: int) -> None:
        self.sink, self.context, self.port = sink, context, port
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port, tls_context=self.context,
                                     require_starttls=True, auth_required=True, auth_require_tls=True,
                                     authenticator=_auth)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture(scope="module")
def mail_site() -> Iterator[tuple[Box, Sink, Server]]:
    with centre_database("centrenotify") as (box, root):
        cert, key = box.ca.issue("smtp-test", ["localhost"], ["127.0.0.1"])
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        sink = Sink()
        port = free_port_base() + 15
        server = Server(sink, context, port)
        server.start()
        try:
            setup_django(box, root, {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_USERNAME": LOGIN,
                                     "SMTP_PASSWORD": PASSWORD, "SMTP_FROM": "noreply@health.gov.example",
                                     "SMTP_CA_FILE": str(box.ca_file)})
            yield box, sink, server
        finally:
            server.stop()
            from centre_web import runtime

            runtime.connection().close()


def _timers() -> str:
    from django.core.management import call_command

    out = io.StringIO()
    call_command("centre_run_timers", stdout=out)
    return out.getvalue()


def _body(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def test_submitted_returned_closed_each_mailed_in_the_citizens_language(mail_site: tuple[Box, Sink, Any]) -> None:
    """Urdu: the reference and how to track on submission; returned with the desk's reason; closed with the
    outcome's name. Sender: centre@ the agency's own domain, the login's. Sent rows keep nothing of what they said."""
    box, sink, _ = mail_site
    browser = Browser("ur")
    shown = _apply(browser, "ur", "trade_licence", [("business_name", "N"), ("business_kind", "shop"),
                                                    ("email", "urdu@example.pk")])
    reference = references.normalise(shown) or ""
    with box.pg_admin("centre") as conn:
        assert outbox.of_application(conn, reference) == [("submitted", "pending", 0)]
    assert "mail: 1 sent, 0 to retry, 0 dead" in _timers()
    [first] = sink.to("urdu@example.pk")
    sender = next(s for s, rcpts, m in sink.messages if m is first)
    assert sender == "centre@health.gov.example" and first["From"].addresses[0].addr_spec == sender
    assert shown in first["Subject"] and "موصول" in first["Subject"] and first["Content-Language"] == "ur"
    assert shown in _body(first) and "https://centre.test/ur/track/code/" in _body(first)
    now = datetime.now(UTC)
    with box.pg_admin("centre") as conn:
        task = next(r for r in store.inbox(conn, "clerk", 1000) if r[0] == reference)
        store.act(conn, reference, task[1], "return", "clerk", "staff:clerk", {"reason": "the lease is missing"}, now)
        citizen = next(t for t in store.view(conn, reference).ready if t.desk == "citizen")
        store.act(conn, reference, citizen.id, "done", "citizen", "citizen", {}, now)  # the citizen's own: no mail
        task = next(r for r in store.inbox(conn, "clerk", 1000) if r[0] == reference)
        store.act(conn, reference, task[1], "accept", "clerk", "staff:clerk", {"comment": "internal note"}, now)
        task = next(r for r in store.inbox(conn, "licensing_officer", 1000) if r[0] == reference)
        store.act(conn, reference, task[1], "approve", "licensing_officer", "staff:officer",
                  {"comment": "for colleagues only"}, now)
        assert [k for k, _, _ in outbox.of_application(conn, reference)] == ["submitted", "returned", "closed"]
    assert "mail: 2 sent" in _timers()
    _, returned, closed = sink.to("urdu@example.pk")
    assert "the lease is missing" in _body(returned) and "https://centre.test/ur/track/" in _body(returned)
    assert "لائسنس جاری کر دیا گیا" in closed["Subject"] and "for colleagues only" not in _body(closed)
    with box.pg_admin("centre") as conn:
        rows = conn.execute("SELECT state, params::text FROM outbox o JOIN applications a ON a.id = o.application_id "
                            "WHERE a.reference = %s", (reference,)).fetchall()
    assert rows == [("sent", "{}")] * 3


def test_the_mail_server_down_never_fails_a_submission(mail_site: tuple[Box, Sink, Server]) -> None:
    """The server stopped: the page still gives a reference, the message waits (retried 1, 2 ... minutes later);
    the server back, the next round sends it. A permanent refusal (550) is dead at once; eight failures too."""
    from django.conf import settings
    from django.test import override_settings

    from centre_core.catalogue import load_samples
    from centre_web import mailer, runtime

    box, sink, server = mail_site
    server.stop()
    try:
        browser = Browser("en")
        shown = _apply(browser, "en", "trade_licence", [("business_name", "Down"), ("business_kind", "shop"),
                                                        ("email", "down@example.pk")])
        reference = references.normalise(shown) or ""
        out = _timers()
        assert "mail: 0 sent, 1 to retry, 0 dead (ConnectionRefusedError)" in out and "down@" not in out
        with box.pg_admin("centre") as conn:
            assert outbox.of_application(conn, reference) == [("submitted", "pending", 1)]
            assert "mail: 0 sent" not in _timers()  # not due again yet (a minute later)
    finally:
        server.start()
    conf = mailer.settings_of(settings.CENTRE_MAIL, "health")
    later = datetime.now(UTC) + timedelta(minutes=2)
    done = mailer.deliver(runtime.connection(), conf, load_samples(), "Health Department", "https://centre.test",
                          later)
    assert done.sent == 1 and len(sink.to("down@example.pk")) == 1
    # a permanent refusal: dead at once, nothing kept of the message
    with box.pg_admin("centre") as conn:
        bounced = store.submit(conn, load_samples(), "trade_licence", {"business_name": "X", "business_kind": "shop"},
                               "someone@bounce.example", datetime.now(UTC))
    assert "0 sent, 0 to retry, 1 dead" in _timers()
    with box.pg_admin("centre") as conn:
        row = conn.execute("SELECT o.state, o.last_error, o.params::text FROM outbox o JOIN applications a "
                           "ON a.id = o.application_id WHERE a.reference = %s", (bounced,)).fetchone()
    assert row == ("dead", "smtp 550", "{}")
    # no session (the server unreachable): every row retried, until MAX_ATTEMPTS, then dead
    with box.pg_admin("centre") as conn:
        stuck = store.submit(conn, load_samples(), "trade_licence", {"business_name": "Y", "business_kind": "shop"},
                             "stuck@example.pk", datetime.now(UTC))
    assert conf.password not in repr(conf)
    closed_port = mailer.MailSettings(conf.host, free_port_base() + 16, conf.username, conf.password,
                                      conf.from_address, conf.ca_file)
    when = datetime.now(UTC)
    states = []
    for _ in range(outbox.MAX_ATTEMPTS):
        done = mailer.deliver(runtime.connection(), closed_port, load_samples(), "H", "https://centre.test", when)
        assert done.retried + done.dead == 1 and done.failure == "ConnectionRefusedError"
        with box.pg_admin("centre") as conn:
            states.append(outbox.of_application(conn, stuck)[0][1])
        when += outbox.LAST_RETRY + timedelta(seconds=1)
    assert states == ["pending"] * (outbox.MAX_ATTEMPTS - 1) + ["dead"]
    with override_settings(CENTRE_MAIL=None), box.pg_admin("centre") as conn:  # notifications off: dropped
        off = store.submit(conn, load_samples(), "trade_licence", {"business_name": "Z", "business_kind": "shop"},
                           "off@example.pk", datetime.now(UTC))
        assert "notifications are off (no mail service): 1 not sent" in _timers()
        assert outbox.of_application(conn, off) == [("submitted", "off", 0)]
        page = Browser("en").get("/en/track/code/")
        assert "does not send codes" in page and 'name="reference"' not in page


_CODE = re.compile(r"\b([0-9A-HJKMNP-TV-Z]{8})\b")


def test_send_me_a_code(mail_site: tuple[Box, Sink, Any]) -> None:
    """The same answer for a real reference, one without e-mail and an unknown one; the mailed code tracks
    (and the earlier code stops working); 3 codes per reference and hour (the 4th answered the same, nothing
    sent); 10 requests per client and hour, then 429 with Retry-After."""
    box, sink, _ = mail_site
    browser = Browser("en")
    shown = _apply(browser, "en", "trade_licence", [("business_name", "C"), ("business_kind", "shop"),
                                                    ("email", "code@example.pk")])
    reference = references.normalise(shown) or ""
    with box.pg_admin("centre") as conn:
        without = store.submit(conn, browser_loaded(), "trade_licence", {"business_name": "W", "business_kind": "shop"},
                               None, datetime.now(UTC))
    unknown = references.display(references.new_reference())
    asker = Browser("en")
    answers = []
    for typed in (shown.lower(), references.display(without), unknown):
        page = asker.get("/en/track/code/")
        assert "Send me a code" in page
        response = asker.post("/en/track/code/", {"reference": typed})
        assert response["Location"] == "/en/track/code/"
        answers.append(re.sub(r'value="[^"]*"', "", asker.get("/en/track/code/")))
    assert answers[0] == answers[1] == answers[2] and "If this reference number exists" in answers[0]
    asker.post("/en/track/code/", {"reference": "not-a-reference"}, status=400)  # a typing mistake is told
    _timers()
    mailed = [m for m in sink.to("code@example.pk") if "code" in m["Subject"]]
    assert len(mailed) == 1
    code = _CODE.findall(_body(mailed[0]).split(":", 1)[1])[0]
    tracker = Browser("en")
    tracker.get("/en/track/")
    assert tracker.post("/en/track/", {"reference": shown, "code": code})["Location"] == "/en/track/status/"
    with box.pg_admin("centre") as conn:
        assert ("code", "sent", 1) in outbox.of_application(conn, reference)
        assert conn.execute("SELECT count(*) FROM outbox WHERE params::text LIKE %s", (f"%{code}%",)).fetchone() == (0,)
    # per reference: 3 an hour (one used above); more are answered the same, and nothing is sent
    for _ in range(4):
        other = Browser("en")
        other.get("/en/track/code/")
        other.post("/en/track/code/", {"reference": shown})
    _timers()
    assert len([m for m in sink.to("code@example.pk") if "code" in m["Subject"]]) == 3
    # per client: 10 an hour (this client asked 3 times above: the malformed reference is not counted)
    for _ in range(7):
        asker.post("/en/track/code/", {"reference": unknown})
    asker.get("/en/track/code/")
    response = asker.post("/en/track/code/", {"reference": unknown}, status=429)
    assert int(response["Retry-After"]) > 3000 and "Too many codes" in response.content.decode()


def browser_loaded() -> Any:
    from centre_web import runtime

    return runtime.loaded()
