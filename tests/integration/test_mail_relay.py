"""The operator's relay setting on real Postfix: with `platform.services.mail.relay` set, an agency's message goes to
the relay (here a small SMTP sink of the test's own, which offers no STARTTLS: `tls: may`) with the relay login
from the operator's password file, and nothing lands in the box's Maildir. The box's Postfix is prepared by the
mail service itself and its master started by the test (no other service is needed)."""

from __future__ import annotations

import base64
import shutil
import socketserver
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from govcloud_platform.box.context import Box
from govcloud_platform.box.ports import free_port_base
from govcloud_platform.box.services.mail import MailService, paths
from govcloud_platform.box.services.mail_conf import DAEMON_DIR
from govcloud_platform.brokers.mail import MailBroker
from govcloud_platform.mailbox import delivered
from govcloud_platform.spec import load_spec_text
from govcloud_platform.spec.example import EXAMPLE_SPEC
from tests.conftest import new_home
from tests.mail_kit import send

pytestmark = pytest.mark.integration


class Sink(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SinkHandler)
        self.messages: list[dict[str, Any]] = []


class SinkHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for Postfix's client: EHLO with AUTH PLAIN, MAIL, RCPT, DATA, QUIT."""

    def handle(self) -> None:
        assert isinstance(self.server, Sink)
        got: dict[str, Any] = {"rcpt": [], "auth": None}
        self.wfile.write(b"220 sink ESMTP\r\n")
        while line := self.rfile.readline():
            cmd = line.decode(errors="replace").rstrip("\r\n")
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.wfile.write(b"250-sink\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n")
            elif verb == "AUTH":
                _, user, password = base64.b64decode(cmd.split()[2]).split(b"\0")
                got["auth"] = (user.decode(), password.decode())
                self.wfile.write(b"235 2.7.0 ok\r\n")
            elif verb == "MAIL":
                got["from"] = cmd.split(":", 1)[1].split()[0].strip("<>")
                self.wfile.write(b"250 ok\r\n")
            elif verb == "RCPT":
                got["rcpt"].append(cmd.split(":", 1)[1].split()[0].strip("<>"))
                self.wfile.write(b"250 ok\r\n")
            elif verb == "DATA":
                self.wfile.write(b"354 go\r\n")
                body = b"".join(iter(self.rfile.readline, b".\r\n"))
                self.server.messages.append({**got, "data": body.decode(errors="replace")})
                self.wfile.write(b"250 queued\r\n")
            elif verb == "QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture(scope="module")
def relayed() -> Iterator[tuple[Box, Sink, dict[str, Any]]]:
    sink = Sink()
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    root = new_home("mail-relay")
    home = root / "home"
    home.mkdir(mode=0o711)
    password_file = root / "relay-password"
    password_file.write_text("relay-secret-42\n")
    password_file.chmod(0o600)
    spec = load_spec_text(EXAMPLE_SPEC.replace("  services:\n", f"""  services:
    mail:
      relay:
        host: 127.0.0.1
        port: {sink.server_address[1]}
        tls: may
        username: box-relay
        password_file: {password_file}
""", 1), "g.yaml")
    box = Box(home=home, spec=spec, port_base=free_port_base())
    box.ca.ensure()
    service = MailService()
    service.prepare(box)
    master = subprocess.Popen([f"{DAEMON_DIR}/master", "-c", str(paths(box).etc), "-d"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        service.wait_ready(box, 20)
        broker = MailBroker()
        creds = broker.new_credentials(box, "relayer")
        broker.provision(box, "relayer", "Relayer", spec.resolve_quota("standard"), creds)
        yield box, sink, broker.bind(box, "relayer", creds)
    finally:
        master.terminate()
        master.wait(20)
        sink.shutdown()
        shutil.rmtree(root, ignore_errors=True)


def test_with_a_relay_mail_goes_out_with_the_relay_login_and_not_to_the_maildir(
        relayed: tuple[Box, Sink, dict[str, Any]]) -> None:
    box, sink, mail = relayed
    relay_file = paths(box).relay_passwords
    assert relay_file.stat().st_mode & 0o777 == 0o600 and "relay-secret-42" in relay_file.read_text()
    assert "relay-secret-42" not in (paths(box).etc / "main.cf").read_text()
    to = f"out-{uuid.uuid4().hex[:8]}@example.org"
    sent = send(mail, to)
    deadline = time.monotonic() + 20
    while not any(to in m["rcpt"] for m in sink.messages) and time.monotonic() < deadline:
        time.sleep(0.1)
    got = next(m for m in sink.messages if to in m["rcpt"])
    assert got["from"] == "noreply@relayer.gov.example" and got["auth"] == ("box-relay", "relay-secret-42")
    assert sent["Subject"] in got["data"]
    assert delivered(box.home, to) == []


def test_the_sender_rule_holds_with_a_relay(relayed: tuple[Box, Sink, dict[str, Any]]) -> None:
    import smtplib

    _, sink, mail = relayed
    to = f"forged-{uuid.uuid4().hex[:8]}@example.org"
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(mail, to, sender="noreply@other.gov.example")
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(mail, to, login=("", ""))
    time.sleep(1)
    assert not any(to in m["rcpt"] for m in sink.messages)
