"""Sending the outbox's text messages (`centre_core.outbox`, channel `sms`) through the agency's SMS provider
(`sms_provider`): one request per due row, the text `texts_sms` chose in the citizen's language. A failure the
provider says is the message's own (`permanent`) makes the row dead at once; any other is tried again later, and
the rest of the round waits for the next one (a provider down or refusing the key is no row's fault). Nothing
here logs a number, a text, a code or the key: a failure is recorded as a status code or an exception's class."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from centre_core import outbox, references
from centre_core.catalogue import Loaded

from .sms_provider import SmsError, SmsProvider
from .texts_sms import sms_text


def text_of(pending: outbox.Pending, loaded: Loaded, public_url: str) -> str:
    """The text of an outbox row (pure): names from the catalogue in the citizen's language."""
    service = loaded.catalogue.service(pending.service_id)
    lang = "ur" if pending.language == "ur" else "en"
    service_name = str(getattr(service.name, lang)) if service else pending.service_id
    outcome_id = str(pending.params.get("outcome") or "")
    step = service.steps.get(outcome_id) if service else None
    outcome = str(getattr(step, lang)) if step is not None else outcome_id.replace("_", " ")
    text, _ = sms_text(pending.kind, lang, pending.params, reference=references.display(pending.reference),
                       service=service_name, outcome=outcome,
                       track_url=public_url.rstrip("/") + f"/{lang}/track/")
    return text


@dataclass
class Round:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    failure: str | None = None  # why the round stopped (the provider down, the key refused): code or class only


def deliver(conn: psycopg.Connection[Any], provider: SmsProvider, loaded: Loaded, agency_slug: str,
            public_url: str, now: datetime, limit: int = 50) -> Round:
    """Send the due text messages (at most `limit`); each row marked sent, retried later or dead."""
    result = Round()
    for pending in outbox.due(conn, now, limit, channel="sms"):
        if result.failure is not None:  # the provider failed this round: the rest are tried again later
            state = outbox.mark_failed(conn, pending, result.failure, False, now)
        else:
            try:
                provider.send(pending.recipient, text_of(pending, loaded, public_url),
                              idempotency_key=f"{agency_slug}-{pending.id}")
                outbox.mark_sent(conn, pending.id, now)
                result.sent += 1
                continue
            except SmsError as exc:
                state = outbox.mark_failed(conn, pending, str(exc), exc.permanent, now)
                if not exc.permanent:
                    result.failure = str(exc)
        if state == "dead":
            result.dead += 1
        else:
            result.retried += 1
    return result
