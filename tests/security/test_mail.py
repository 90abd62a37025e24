"""Class "mail": agency B (`sec-mail-intruder`), and a client without any login, against the box's SMTP submission
(Postfix): sending as agency A (`sec-mail-victim`) under every form of its addresses, as the platform or anyone
else, relaying without AUTH or before STARTTLS, and logging in as A. Each row is one `attack(...)` with smtplib over
STARTTLS verified against the box CA, using only what `agency credentials` hands B; a refused row must also have
delivered nothing to its recipient. Positive control: B sends as itself, and the mail arrives."""

from __future__ import annotations

import smtplib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from govcloud_platform.mailbox import delivered, wait_for
from govcloud_platform.onboarding import AgencyRequest, Onboarding
from tests.conftest import BoxHandle
from tests.mail_kit import send
from tests.security.matrix import attack

pytestmark = pytest.mark.integration
VICTIM, INTRUDER = "sec-mail-victim", "sec-mail-intruder"
Mail = dict[str, Any]


@pytest.fixture(scope="module")
def mail(box: BoxHandle) -> Iterator[dict[str, Mail]]:
    out = {}
    for slug in (VICTIM, INTRUDER):
        Onboarding(box.box(), actor="security").add(
            AgencyRequest(slug, f"Security {slug}", f"it@{slug}.example", "standard", ["mail"]))
        creds = box.cli("--json", "agency", "credentials", slug, "--show-secrets")
        assert creds.rc == 0, creds.stderr
        out[slug] = creds.json()["mail"]
    yield out
    for slug in (VICTIM, INTRUDER):
        box.cli("agency", "remove", slug, "--purge-data", "--yes")


# (what, attack: (intruder's mail document, victim's, recipient) -> None)
ROWS: list[tuple[str, Callable[[Mail, Mail, str], object]]] = [
    ("send as the victim's from_address", lambda me, v, to: send(me, to, sender=v["from_address"])),
    ("send as another local part of the victim's domain", lambda me, v, to: send(
        me, to, sender=f"director@{v['sender_domain']}")),
    ("send as the victim's domain in upper case", lambda me, v, to: send(me, to, sender=v["from_address"].upper())),
    ("send as a sub-domain of the victim's", lambda me, v, to: send(me, to, sender=f"x@mail.{v['sender_domain']}")),
    ("send as the platform's mail domain", lambda me, v, to: send(
        me, to, sender="noreply@" + v["sender_domain"].split(".", 1)[1])),
    ("send as an outside address", lambda me, v, to: send(me, to, sender="president@gov.example.org")),
    ("send with the null sender", lambda me, v, to: send(me, to, sender="")),
    ("relay without AUTH as the victim", lambda me, v, to: send(v, to, login=("", ""))),
    ("relay without AUTH as an outside address", lambda me, v, to: send(
        me, to, sender="someone@example.net", login=("", ""))),
    ("submit before STARTTLS", lambda me, v, to: send(me, to, login=("", ""), tls=False)),
    ("AUTH before STARTTLS with its own login", lambda me, v, to: send(me, to, tls=False)),
    ("log in as the victim with its own password", lambda me, v, to: send(
        v, to, login=(v["username"], me["password"]))),
    ("log in as the victim with a realm in the login", lambda me, v, to: send(
        v, to, login=(f"{v['username']}@{v['sender_domain'].split('.', 1)[1]}", me["password"]))),
    ("log in with an empty password", lambda me, v, to: send(v, to, login=(v["username"], "\x00"))),
]


@pytest.mark.parametrize(("what", "run"), ROWS, ids=[r[0] for r in ROWS])
def test_intruder_cannot_send_as_or_for_the_victim(box: BoxHandle, mail: dict[str, Mail], what: str,
                                                   run: Callable[[Mail, Mail, str], object]) -> None:
    to = f"target-{uuid.uuid4().hex[:10]}@example.org"
    with attack("mail", what, denied=(smtplib.SMTPException,)) as attempt:
        run(mail[INTRUDER], mail[VICTIM], to)
        attempt.detail = "accepted for delivery"
    assert delivered(box.home, to) == []


def test_positive_control_the_intruder_sends_as_itself(box: BoxHandle, mail: dict[str, Mail]) -> None:
    to = f"target-{uuid.uuid4().hex[:10]}@example.org"
    sent = send(mail[INTRUDER], to)
    assert wait_for(box.home, to, lambda m: m["Subject"] == sent["Subject"])["From"] == mail[INTRUDER]["from_address"]
