"""Sending the outbox (`centre_core.outbox`) through the platform's mail service: one SMTP session per round
(STARTTLS verifying the box CA, then AUTH with the agency's login), one message per due row, plain text in the
citizen's language. The envelope sender and `From:` are the agency's (`centre@<slug>.<mail domain>` unless the
settings name another address there): the mail service refuses any other domain for this login.

Nothing here logs an address, a code or the password: a failure is recorded (and said) as the SMTP reply code or
the exception's class only."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import psycopg

from centre_core import outbox, references
from centre_core.catalogue import Loaded

from .texts_notify import compose

TIMEOUT_S = 20


@dataclass(frozen=True)
class MailSettings:
    host: str
    port: int
    username: str
    password: str
    from_address: str
    ca_file: str

    def __repr__(self) -> str:  # never the password
        return f"MailSettings(host={self.host!r}, port={self.port}, username={self.username!r})"


def sender_of(conf: dict[str, Any], slug: str) -> str:
    """Pure: the centre's sender: `centre@` the domain of the agency's from address (its own sender domain),
    or the settings' address itself when it is not an address at all (a test's)."""
    given = str(conf.get("from_address") or "")
    if "@" in given:
        return "centre@" + given.rsplit("@", 1)[1]
    return given or f"centre@{slug}.invalid"


def settings_of(conf: dict[str, Any], slug: str) -> MailSettings:
    return MailSettings(str(conf["host"]), int(conf["port"]), str(conf["username"]), str(conf["password"]),
                        sender_of(conf, slug), str(conf["ca_file"]))


def message(pending: outbox.Pending, loaded: Loaded, sender: str, agency: str, public_url: str) -> EmailMessage:
    """The e-mail of an outbox row (pure but for the clock of its Date header)."""
    service = loaded.catalogue.service(pending.service_id)
    lang = "ur" if pending.language == "ur" else "en"
    service_name = str(getattr(service.name, lang)) if service else pending.service_id
    outcome_id = str(pending.params.get("outcome") or "")
    text = service.steps.get(outcome_id) if service else None
    outcome = str(getattr(text, lang)) if text is not None else outcome_id.replace("_", " ")
    base = public_url.rstrip("/") + f"/{lang}"
    subject, body = compose(pending.kind, lang, pending.params, reference=references.display(pending.reference),
                            service=service_name, outcome=outcome, agency=agency, track_url=f"{base}/track/",
                            code_url=f"{base}/track/code/")
    msg = EmailMessage()
    msg.set_content(body, charset="utf-8")  # first: it clears the Content-* headers
    msg["From"] = Address(agency, addr_spec=sender) if agency else sender
    msg["To"] = pending.recipient
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now().astimezone())
    msg["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1])
    msg["Content-Language"] = lang
    msg["Auto-Submitted"] = "auto-generated"
    return msg


@dataclass
class Round:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    failure: str | None = None  # why the session could not be had (connection, TLS, AUTH): code or class only


def _reply(exc: Exception) -> tuple[str, bool]:
    """(what to record, permanent?) of a failure: the SMTP code (5xx permanent) or the exception's class."""
    code = getattr(exc, "smtp_code", None)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [c for c, _ in exc.recipients.values()]
        code = codes[0] if codes else None
    if isinstance(code, int):
        return f"smtp {code}", 500 <= code < 600
    return type(exc).__name__, False


def deliver(conn: psycopg.Connection[Any], conf: MailSettings, loaded: Loaded, agency: str, public_url: str,
            now: datetime, limit: int = 50) -> Round:
    """Send the due rows (at most `limit`) in one session; each row marked sent, retried later or dead."""
    result = Round()
    batch = outbox.due(conn, now, limit)
    if not batch:
        return result
    try:
        smtp = smtplib.SMTP(conf.host, conf.port, timeout=TIMEOUT_S)
    except (OSError, smtplib.SMTPException) as exc:
        smtp = None
        result.failure, _ = _reply(exc)
    if smtp is not None:
        try:
            smtp.ehlo()
            smtp.starttls(context=ssl.create_default_context(cafile=conf.ca_file))
            smtp.ehlo()
            smtp.login(conf.username, conf.password)
        except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
            result.failure, _ = _reply(exc)
            smtp.close()
            smtp = None
    for pending in batch:
        if smtp is None:  # no session: every row is tried again later (a refused login is no row's fault)
            state = outbox.mark_failed(conn, pending, result.failure or "no session", False, now)
        else:
            try:
                smtp.send_message(message(pending, loaded, conf.from_address, agency, public_url),
                                  from_addr=conf.from_address, to_addrs=[pending.recipient])
                outbox.mark_sent(conn, pending.id, now)
                result.sent += 1
                continue
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
                error, permanent = _reply(exc)
                state = outbox.mark_failed(conn, pending, error, permanent, now)
            except (OSError, smtplib.SMTPException) as exc:  # the session broke: the rest wait for the next round
                error, _ = _reply(exc)
                state = outbox.mark_failed(conn, pending, error, False, now)
                smtp = None
                result.failure = error
        if state == "dead":
            result.dead += 1
        else:
            result.retried += 1
    if smtp is not None:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            pass
    return result
