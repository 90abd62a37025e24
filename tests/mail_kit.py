"""Sending through the box's Postfix as an agency does: smtplib, STARTTLS verified against the box CA, AUTH with the
`mail` document of `agency credentials --json --show-secrets`. Reading what it delivered:
`govcloud_platform.mailbox` (delivered, wait_for)."""

from __future__ import annotations

import smtplib
import ssl
import uuid
from email.message import EmailMessage
from typing import Any


def message(sender: str, to: str, subject: str | None = None, body: str = "A notification.\n") -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"] = sender, to
    msg["Subject"] = subject or f"test {uuid.uuid4().hex[:12]}"
    msg.set_content(body)
    return msg


def connect(mail: dict[str, Any], login: tuple[str, str] | None = None, tls: bool = True) -> smtplib.SMTP:
    """A session to the box's submission port: STARTTLS (the box CA's certificate checked), then AUTH with
    `login` ((username, password); None: the agency's own; ("", ""): no AUTH)."""
    smtp = smtplib.SMTP(mail["host"], mail["port"], timeout=15)
    try:
        if tls:
            smtp.starttls(context=ssl.create_default_context(cafile=mail["ca_file"]))
        user, password = login if login is not None else (mail["username"], mail["password"])
        if user:
            smtp.login(user, password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def send(mail: dict[str, Any], to: str, sender: str | None = None, login: tuple[str, str] | None = None,
         tls: bool = True, subject: str | None = None) -> EmailMessage:
    """Submit one message (envelope and From: `sender`, default the agency's from_address); smtplib raises
    SMTPException (SMTPRecipientsRefused, SMTPSenderRefused, SMTPAuthenticationError, ...) on any refusal."""
    frm = mail["from_address"] if sender is None else sender
    msg = message(frm, to, subject)
    with connect(mail, login, tls) as smtp:
        smtp.send_message(msg, from_addr=frm, to_addrs=[to])
    return msg
