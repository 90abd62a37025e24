"""One-time tracking codes: what a citizen types, with the reference, to see an application.

A code is 8 Crockford symbols (40 bits) sent by e-mail or SMS. Only an HMAC-SHA256 of it under the
application's secret key is kept (a leaked table does not give codes, and 40 bits cannot be brute-forced
offline without the key), with an expiry, a count of wrong attempts and the time it was used. Each check is
a pure decision over that record: the store applies the returned record in the same transaction, under a row
lock, so concurrent guesses cannot overrun the attempt limit."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from .references import ALPHABET

CODE_LENGTH = 8
MAX_ATTEMPTS = 5
DEFAULT_TTL = timedelta(minutes=30)


class Outcome(StrEnum):
    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"
    USED = "used"
    LOCKED = "locked"  # too many wrong attempts: a new code must be sent


@dataclass(frozen=True)
class CodeRecord:
    digest: str
    expires_at: datetime
    attempts: int = 0
    used_at: datetime | None = None


def code_digest(key: bytes, reference: str, code: str) -> str:
    """Bound to the reference too: the same code for two applications gives two digests."""
    message = f"{reference}:{code.upper().replace('-', '').replace(' ', '')}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def issue(key: bytes, reference: str, now: datetime, ttl: timedelta = DEFAULT_TTL) -> tuple[str, CodeRecord]:
    """A new code (to send, never to store) and the record to store."""
    if len(key) < 32:
        raise ValueError("the tracking key must be at least 32 bytes")
    code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return code, CodeRecord(code_digest(key, reference, code), now + ttl)


def check(key: bytes, reference: str, record: CodeRecord, attempt: str, now: datetime) -> tuple[Outcome, CodeRecord]:
    """The outcome of one attempt and the record as it must be stored after it. A used, expired or locked
    code never succeeds again, even with the right value."""
    if record.used_at is not None:
        return Outcome.USED, record
    if record.attempts >= MAX_ATTEMPTS:
        return Outcome.LOCKED, record
    if now >= record.expires_at:
        return Outcome.EXPIRED, record
    attempt = attempt if isinstance(attempt, str) and len(attempt) <= 40 else ""
    if hmac.compare_digest(code_digest(key, reference, attempt), record.digest):
        return Outcome.OK, replace(record, used_at=now)
    updated = replace(record, attempts=record.attempts + 1)
    return (Outcome.LOCKED if updated.attempts >= MAX_ATTEMPTS else Outcome.WRONG), updated
