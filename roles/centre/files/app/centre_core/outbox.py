"""Notifications to the applicant: an outbox in the centre's database.

A change a citizen should hear of (submitted, returned to them for a document, closed with its outcome, a code
asked for with "send me a code") queues one row in `outbox` in the same transaction as the change itself: the
change never waits for the mail server and never fails because of it, and no message is queued for a change
that was rolled back. The timers' job (`centre_run_timers`) delivers the due rows (`due` leases them for a few
minutes, so two senders never send one row twice at once), marks them sent, or after a failure tries again
later (1, 2, 4 ... 60 minutes) until MAX_ATTEMPTS, then `dead` (a permanent refusal, 5xx, is dead at once; a
code's message is dead once the code would have expired). A sent or dead row keeps what happened, not what it
said: its params (a code among them) are emptied.

Each row has its channel: `email` (the application's e-mail) or `sms` (its mobile number, sent through the
agency's SMS provider: `centre_web.texter`). A status change queues one row per contact the application has; a
code goes by SMS when the application has a mobile number and the agency an SMS provider, else by e-mail.

"Send me a code" is limited per reference and per client (HMACs of each, never the values, in
`code_requests`), on the pattern of `throttle`: the page answers the same whether or not the reference exists or
has an e-mail, and a reference past its limit is answered the same too, with nothing sent. A code sent by SMS is
the exception: the page says it went to the number ending in two digits (`sms.last_digits`), so that the citizen
knows where to look; that tells whoever holds the reference (60 unguessable bits) that it has a mobile number.

Pure decisions first; the SQL after them."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from . import references, throttle, tracking
from .sms import last_digits

KINDS = ("submitted", "returned", "closed", "code")
CHANNELS = ("email", "sms")
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(minutes=1)
LAST_RETRY = timedelta(minutes=60)
LEASE = timedelta(minutes=5)  # a row being sent is not due again before this (a sender that died mid-way)
CODE_WINDOW = timedelta(hours=1)
CODES_PER_REFERENCE = 3  # "send me a code" per reference and hour: a mailbox cannot be flooded
CODES_PER_CLIENT = 10  # per client (address) and hour: references cannot be tried at speed
REASON_MAX = 2000


# ---- pure decisions ----

def notice_for(before: str | None, after: str, outcome: str | None,
               fields: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The message a status change calls for: returned to the applicant (with the desk's `reason`, else its
    `comment`: what the status page shows too), closed (with its outcome and the desk's `reason` only: a comment
    on a decision may be for colleagues), else None (a move between desks, or the citizen's own step, tells the
    citizen nothing new)."""
    def text(*keys: str) -> str | None:
        found = next((fields[k] for k in keys if isinstance(fields.get(k), str) and fields[k].strip()), None)
        return str(found)[:REASON_MAX] if found else None

    if after == "action_needed" and before != "action_needed":
        return "returned", {"reason": text("reason", "comment")}
    if after == "closed" and before != "closed":
        return "closed", {"outcome": outcome, "reason": text("reason")}
    return None


def retry_delay(attempts: int) -> timedelta:
    """Pure: the wait after the `attempts`-th failure (1, 2, 4 ... minutes, at most an hour)."""
    return min(LAST_RETRY, FIRST_RETRY * (2 ** max(0, min(attempts - 1, 12))))


def after_failure(kind: str, attempts: int, permanent: bool, created_at: datetime,
                  now: datetime) -> tuple[str, datetime | None]:
    """Pure: ('pending', when to try again) or ('dead', None) once `attempts` failures happened."""
    if permanent or attempts >= MAX_ATTEMPTS:
        return "dead", None
    again = now + retry_delay(attempts)
    if kind == "code" and again >= created_at + tracking.DEFAULT_TTL:  # the code would be expired by then
        return "dead", None
    return "pending", again


def code_channel(has_email: bool, has_mobile: bool, channels: tuple[str, ...] | frozenset[str]) -> str | None:
    """Pure: how a code goes: by SMS when the application has a mobile number and SMS is on, else by e-mail
    when it has an e-mail and mail is on, else not at all."""
    if has_mobile and "sms" in channels:
        return "sms"
    if has_email and "email" in channels:
        return "email"
    return None


def request_key(key: bytes, what: str, value: str) -> str:
    """The `code_requests` key of a reference (`what` = "reference") or a client's address ("client")."""
    return hmac.new(key, f"code-{what}:{value}".encode(), hashlib.sha256).hexdigest()


# ---- the database ----

@dataclass(frozen=True)
class Pending:
    id: int
    recipient: str
    kind: str
    language: str
    params: dict[str, Any]
    reference: str
    service_id: str
    attempts: int
    created_at: datetime
    channel: str = "email"


def queue(conn: psycopg.Connection[Any], app_id: int, kind: str, params: Mapping[str, Any], now: datetime,
          channel: str | None = None) -> bool:
    """Queue a message (in the caller's transaction) to each contact the application has (its e-mail, its
    mobile number), or only on `channel`; False when none was queued."""
    assert kind in KINDS and (channel is None or channel in CHANNELS)
    rows = conn.execute(
        "INSERT INTO outbox (application_id, channel, kind, language, params, state, next_attempt_at, created_at) "
        "SELECT a.id, c.channel, %s, a.language, %s, 'pending', %s, %s FROM applications a "
        "CROSS JOIN (VALUES ('email'), ('sms')) AS c(channel) WHERE a.id = %s "
        "AND ((c.channel = 'email' AND coalesce(a.email, '') <> '') "
        "OR (c.channel = 'sms' AND coalesce(a.mobile, '') <> '')) "
        "AND (%s::text IS NULL OR c.channel = %s) ORDER BY c.channel RETURNING id",
        (kind, Jsonb(dict(params)), now, now, app_id, channel, channel)).fetchall()
    return bool(rows)


def due(conn: psycopg.Connection[Any], now: datetime, limit: int = 50, channel: str = "email") -> list[Pending]:
    """The rows of `channel` to send now, oldest first, leased for LEASE (skipping rows another sender holds)."""
    assert channel in CHANNELS
    with conn.transaction():
        rows = conn.execute(
            "UPDATE outbox o SET next_attempt_at = %s FROM applications a WHERE a.id = o.application_id AND o.id IN "
            "(SELECT id FROM outbox WHERE state = 'pending' AND channel = %s AND next_attempt_at <= %s "
            "ORDER BY next_attempt_at, id LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING o.id, "
            "CASE o.channel WHEN 'sms' THEN a.mobile ELSE a.email END, o.kind, o.language, o.params, a.reference, "
            "a.service_id, o.attempts, o.created_at, o.channel", (now + LEASE, channel, now, limit)).fetchall()
    return sorted((Pending(int(r[0]), str(r[1]), r[2], r[3], dict(r[4]), r[5], r[6], int(r[7]), r[8], r[9])
                   for r in rows), key=lambda p: p.id)


def mark_sent(conn: psycopg.Connection[Any], row_id: int, now: datetime) -> None:
    conn.execute("UPDATE outbox SET state = 'sent', params = '{}', attempts = attempts + 1, finished_at = %s, "
                 "last_error = NULL WHERE id = %s AND state = 'pending'", (now, row_id))


def mark_failed(conn: psycopg.Connection[Any], pending: Pending, error: str, permanent: bool,
                now: datetime) -> str:
    """Record a failed try: pending again later, or dead. Returns the new state."""
    attempts = pending.attempts + 1
    state, again = after_failure(pending.kind, attempts, permanent, pending.created_at, now)
    if state == "dead":
        conn.execute("UPDATE outbox SET state = 'dead', params = '{}', attempts = %s, last_error = %s, "
                     "finished_at = %s WHERE id = %s AND state = 'pending'", (attempts, error[:200], now, pending.id))
    else:
        conn.execute("UPDATE outbox SET attempts = %s, last_error = %s, next_attempt_at = %s "
                     "WHERE id = %s AND state = 'pending'", (attempts, error[:200], again, pending.id))
    return state


def switch_off(conn: psycopg.Connection[Any], now: datetime, channel: str = "email") -> int:
    """Without a mail service (SMS provider): the channel's pending rows are not sent ('off', params emptied);
    returns how many."""
    return conn.execute("UPDATE outbox SET state = 'off', params = '{}', finished_at = %s WHERE state = 'pending' "
                        "AND channel = %s", (now, channel)).rowcount


def counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """Rows per state (pending, sent, dead, off)."""
    return {str(r[0]): int(r[1]) for r in conn.execute("SELECT state, count(*) FROM outbox GROUP BY state")}


def of_application(conn: psycopg.Connection[Any], reference: str,
                   channel: str = "email") -> list[tuple[str, str, int]]:
    """(kind, state, attempts) of an application's messages on `channel`, oldest first (for staff and tests)."""
    return [(r[0], r[1], int(r[2])) for r in conn.execute(
        "SELECT o.kind, o.state, o.attempts FROM outbox o JOIN applications a ON a.id = o.application_id "
        "WHERE a.reference = %s AND o.channel = %s ORDER BY o.id", (reference, channel))]


def _count(conn: psycopg.Connection[Any], key: str, now: datetime) -> tuple[datetime, int]:
    conn.execute("INSERT INTO code_requests (key, window_start, attempts) VALUES (%s, %s, 0) "
                 "ON CONFLICT (key) DO NOTHING", (key, now))
    row = conn.execute("SELECT window_start, attempts FROM code_requests WHERE key = %s FOR UPDATE", (key,)).fetchone()
    assert row is not None
    start, attempts = throttle.counted(row[0] if row[1] else None, int(row[1]), now, CODE_WINDOW)
    conn.execute("UPDATE code_requests SET window_start = %s, attempts = %s WHERE key = %s", (start, attempts, key))
    return start, attempts


def request_code(conn: psycopg.Connection[Any], key: bytes, typed_reference: str, client: str,
                 now: datetime, channels: tuple[str, ...] = ("email",)) -> tuple[bool, int, str]:
    """"Send me a code": count the client and the reference; when both are within their limits and the
    application exists with a contact on one of `channels` (those the agency has), issue a new code (the previous
    one stops working: only the latest counts) and queue it (`code_channel`), all in one transaction. Returns
    (client allowed, seconds until the client's window ends, the last two digits of the mobile number when the
    code goes by SMS, else ""): whether a code went by e-mail is never told; the digits are the same whether the
    reference is within its limit or not."""
    reference = references.normalise(typed_reference)
    with conn.transaction():
        start, client_count = _count(conn, request_key(key, "client", client), now)
        wait = throttle.retry_after(start, now, CODE_WINDOW)
        if client_count > CODES_PER_CLIENT:
            return False, wait, ""
        if reference is None:
            return True, wait, ""
        over = _count(conn, request_key(key, "reference", reference), now)[1] > CODES_PER_REFERENCE
        app = conn.execute("SELECT id, coalesce(email, '') <> '', coalesce(mobile, '') FROM applications "
                           "WHERE reference = %s FOR UPDATE", (reference,)).fetchone()
        channel = code_channel(bool(app[1]), bool(app[2]), channels) if app is not None else None
        if app is None or channel is None:
            return True, wait, ""
        hint = last_digits(str(app[2])) if channel == "sms" else ""
        if over:
            return True, wait, hint
        code, record = tracking.issue(key, reference, now)
        conn.execute("INSERT INTO tracking_codes (application_id, digest, expires_at, created_at) "
                     "VALUES (%s, %s, %s, %s)", (app[0], record.digest, record.expires_at, now))
        queue(conn, app[0], "code", {"code": code, "expires_at": record.expires_at.isoformat()}, now, channel)
    return True, wait, hint


def purge_requests(conn: psycopg.Connection[Any], now: datetime) -> int:
    """Forget the code requests whose window has ended (the timers' job calls it)."""
    return conn.execute("DELETE FROM code_requests WHERE window_start <= %s", (now - CODE_WINDOW,)).rowcount
