"""The box's mail service on real Postfix with real smtplib: an agency onboarded with `mail` gets an SMTP login in
`agency credentials`, sends as itself and the mail lands in the box's Maildir; it cannot send as another agency,
an unauthenticated client cannot relay, a wrong password is refused, a removed agency's login is refused; status
shows mail healthy, `up` converges, `logs mail` reads Postfix's log. (The attacker's rows: tests/security/
test_mail.py.)"""

from __future__ import annotations

import smtplib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from govcloud_platform.mailbox import delivered, wait_for
from govcloud_platform.onboarding import AgencyRequest, Onboarding
from govcloud_platform.spec import DEFAULT_SERVICES
from tests.conftest import BoxHandle
from tests.mail_kit import connect, send

pytestmark = pytest.mark.integration
FULL, SMALL, GONE = "mail-full", "mail-small", "mail-gone"


def onboard(box: BoxHandle, slug: str, services: list[str]) -> dict[str, Any]:
    Onboarding(box.box(), actor="test").add(AgencyRequest(slug, f"Mail {slug}", f"it@{slug}.example", "standard",
                                                          services))
    creds = box.cli("--json", "agency", "credentials", slug, "--show-secrets")
    assert creds.rc == 0, creds.stderr
    return dict(creds.json())


@pytest.fixture(scope="module")
def agencies(box: BoxHandle) -> Iterator[dict[str, dict[str, Any]]]:
    yield {FULL: onboard(box, FULL, [*DEFAULT_SERVICES, "mail"]), SMALL: onboard(box, SMALL, ["mail"]),
           GONE: onboard(box, GONE, ["mail"])}
    for slug in (FULL, SMALL):  # the session box's later modules meet only their own agencies
        box.cli("agency", "remove", slug, "--purge-data", "--yes")


def rcpt() -> str:
    return f"citizen-{uuid.uuid4().hex[:10]}@example.org"


def test_onboarding_with_mail_adds_a_mail_key_and_keeps_the_others(box: BoxHandle,
                                                                     agencies: dict[str, dict[str, Any]]) -> None:
    full = agencies[FULL]
    assert set(full) == {"database", "storage", "identity", "backups", "mail", "signing"}  # signing: every agency's
    mail = full["mail"]
    assert set(mail) == {"host", "port", "username", "password", "from_address", "sender_domain", "tls", "ca_file"}
    assert mail["username"] == "ag-mail-full" and mail["tls"] == "starttls"
    assert mail["from_address"] == "noreply@mail-full.gov.example" and mail["port"] == box.box().ports.smtp
    assert set(agencies[SMALL]) == {"mail", "signing"}
    masked = box.cli("--json", "agency", "credentials", FULL).json()
    assert masked["mail"]["password"] == "********" and masked["mail"]["username"] == mail["username"]
    # the password: in the registry (encrypted) and Postfix's SASL database only; never in a log
    logs = box.home / "logs"
    assert not [p.name for p in logs.glob("*.log") if mail["password"] in p.read_text(errors="replace")]
    sasldb = box.home / "mail" / "sasl" / "sasldb2"
    assert sasldb.stat().st_mode & 0o777 == 0o600


def test_an_agency_sends_as_itself_and_the_mail_lands_in_the_maildir(box: BoxHandle,
                                                                       agencies: dict[str, dict[str, Any]]) -> None:
    to = rcpt()
    sent = send(agencies[FULL]["mail"], to)
    got = wait_for(box.home, to, lambda m: m["Subject"] == sent["Subject"])
    assert got["From"] == "noreply@mail-full.gov.example" and got["Return-Path"] == "<noreply@mail-full.gov.example>"
    assert "A notification." in got.get_content()
    other = send(agencies[FULL]["mail"], to, sender="receipts@mail-full.gov.example")  # any local part of its own
    assert wait_for(box.home, to, lambda m: m["Subject"] == other["Subject"])


def test_an_agency_cannot_send_as_another(box: BoxHandle, agencies: dict[str, dict[str, Any]]) -> None:
    to = rcpt()
    for forged in (agencies[SMALL]["mail"]["from_address"], "ceo@mail-small.gov.example", "noreply@gov.example",
                   "noreply@x.mail-full.gov.example", "someone@gmail.com"):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            send(agencies[FULL]["mail"], to, sender=forged)
        code, text = refused.value.recipients[to]
        assert code == 553 and b"not owned by user ag-mail-full" in text, (forged, code, text)
    marker = send(agencies[FULL]["mail"], to)  # delivered after the refusals: nothing of theirs came before it
    wait_for(box.home, to, lambda m: m["Subject"] == marker["Subject"])
    assert [m["Subject"] for m in delivered(box.home, to)] == [marker["Subject"]]


def test_no_auth_no_relay_no_plaintext_and_a_wrong_password_is_refused(box: BoxHandle,
                                                                       agencies: dict[str, dict[str, Any]]) -> None:
    mail, to = agencies[FULL]["mail"], rcpt()
    for sender in (mail["from_address"], "someone@gmail.com"):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            send(mail, to, sender=sender, login=("", ""))
        assert 500 <= refused.value.recipients[to][0] < 600
    with pytest.raises(smtplib.SMTPSenderRefused) as plain:  # before STARTTLS: nothing but STARTTLS
        send(mail, to, login=("", ""), tls=False)
    assert plain.value.smtp_code == 530
    with pytest.raises(smtplib.SMTPNotSupportedError):  # no AUTH offered over plaintext
        connect(mail, tls=False)
    with pytest.raises(smtplib.SMTPAuthenticationError) as wrong:
        send(mail, to, login=(mail["username"], mail["password"] + "x"))
    assert wrong.value.smtp_code == 535
    with pytest.raises(smtplib.SMTPAuthenticationError):  # another agency's login with one's own password
        send(mail, to, login=(agencies[SMALL]["mail"]["username"], mail["password"]))
    time.sleep(1)
    assert delivered(box.home, to) == []


def test_removing_the_agency_removes_its_login(box: BoxHandle, agencies: dict[str, dict[str, Any]]) -> None:
    mail, to = agencies[GONE]["mail"], rcpt()
    send(mail, to)
    removed = box.cli("agency", "remove", GONE, "--purge-data", "--yes")
    assert removed.rc == 0, removed.stderr
    with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        send(mail, to)
    assert refused.value.smtp_code == 535
    assert box.cli("--json", "agency", "credentials", GONE).rc != 0
    doctor = box.cli("--json", "doctor")
    assert "SMTP login ag-mail-gone" not in doctor.stdout


def test_status_up_and_logs_show_the_mail_service(box: BoxHandle, agencies: dict[str, dict[str, Any]]) -> None:
    doc = box.cli("--json", "status").json()
    mail = next(s for s in doc["services"] if s["name"] == "mail")
    port = box.box().ports.smtp
    assert mail["healthy"] is True and mail["endpoint"] == f"smtp://localhost:{port}", mail
    up = box.cli("--json", "up", timeout=600)
    assert up.rc == 0, up.stderr
    again = box.cli("--json", "status").json()
    assert next(s for s in again["services"] if s["name"] == "mail")["pid"] == mail["pid"]  # nothing restarted
    to = rcpt()
    sent = send(agencies[SMALL]["mail"], to)
    wait_for(box.home, to, lambda m: m["Subject"] == sent["Subject"])
    logs = box.cli("logs", "mail", "-n", "200")
    assert logs.rc == 0 and "postfix/" in logs.stdout, logs.stderr
    assert agencies[SMALL]["mail"]["password"] not in logs.stdout
