"""Data sharing between agencies (G2G) over the agency's database: answering a peer's request (verified, decided,
looked up by the declared query, logged, signed), asking a peer from a process step (the request signed, sent through
a transport the caller gives, the answer verified, logged, and the step completed with it), and what the citizen's
page lists. Each request and each refusal is logged on the side that sees it (`g2g_log`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from cryptography import x509
from psycopg.types.json import Jsonb

from . import g2g, store
from .g2g import Directory, G2GError, Grant
from .g2g_keys import Signer
from .timers import Calendar

NO_CALENDAR = store.NO_CALENDAR

DESK_PREFIX = "g2g_"  # a user task in lane `g2g_<service>` is done by the centre: it asks for `<service>`
CONSENT_ANSWER = "g2g_consent"  # the application's answer that says the citizen consented ("yes")

# (url, token) -> (HTTP status, body): the network, given by the caller (urllib in the app, anything in tests)
Transport = Callable[[str, str], tuple[int, str]]


@dataclass(frozen=True)
class Access:
    """A line of the citizen's page: which agency looked at which record, when, why."""

    at: datetime
    side: str  # asked: this application's office asked `peer`; answered: `peer` read this application's record
    peer: str
    service: str
    purpose: str
    found: bool | None


def _digest(key: bytes, subject: str) -> str:
    """The identifier as the log keeps it: an HMAC under the agency's key (a short identifier cannot be guessed back
    from the log without the key)."""
    return hmac.new(key, subject.encode(), hashlib.sha256).hexdigest()


def log(conn: psycopg.Connection[Any], key: bytes, now: datetime, side: str, peer: str, service: str, purpose: str,
        reference: str, application_id: int | None, subject: str, consent: bool, outcome: str,
        reason: str | None = None, found: bool | None = None, nonce: str | None = None) -> None:
    """One line of the log; `key`: the agency's HMAC key for the identifier (the tracking key)."""
    conn.execute("INSERT INTO g2g_log (at, side, peer, service, purpose, reference, application_id, subject_hmac, "
                 "consent, outcome, reason, found, nonce) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                 (now, side, peer[:64], service[:64], purpose[:300], reference[:32], application_id,
                  _digest(key, subject), consent, outcome, reason, found, nonce))


def _peek(token: str) -> dict[str, Any]:
    """The claims of a token as it claims them (unverified: for the log of a refusal only)."""
    try:
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        return claims if isinstance(claims, dict) else {}
    except (ValueError, IndexError):
        return {}


def _text(claims: dict[str, Any], key: str) -> str:
    value = claims.get(key)
    return value if isinstance(value, str) else ""


def answer(conn: psycopg.Connection[Any], key: bytes, mine: Directory, ca: x509.Certificate, signer: Signer,
           token: str, now: datetime) -> tuple[int, str]:
    """(HTTP status, body) for a peer's request: 200 and the signed answer, or 400/403 and the reason's code."""
    try:
        signed_by, claims = g2g.verify(token, ca, now)
        request = g2g.check_request(mine, signed_by, claims, now)
    except G2GError as exc:
        peek = _peek(token)
        claimed = _text(peek, "iss")
        log(conn, key, now, "answered", claimed or "?", _text(peek, "service") or "?", _text(peek, "purpose"),
            _text(peek, "ref"), None, _text(peek, "sub"), peek.get("consent") is True, "refused", exc.reason,
            nonce=_text(peek, "nonce")[:64] or None)
        return (400 if exc.reason == "malformed" else 403), json.dumps({"error": exc.reason, "detail": exc.message})
    query = mine.offers[request.service].query
    with conn.transaction():
        fresh = conn.execute("INSERT INTO g2g_nonces (issuer, nonce, expires_at) VALUES (%s, %s, %s) "
                             "ON CONFLICT DO NOTHING RETURNING 1",
                             (request.asker, request.nonce, request.expires)).fetchone()
        if fresh is None:
            log(conn, key, now, "answered", request.asker, request.service, request.purpose, request.reference,
                None, request.subject, request.consent, "refused", "replay", nonce=request.nonce)
            return 403, json.dumps({"error": "replay", "detail": "this request was seen already"})
        row = conn.execute(
            "SELECT id, updated_at FROM applications WHERE service_id = %s AND status = 'closed' AND outcome = %s "
            "AND erased_at IS NULL AND answers @> %s ORDER BY updated_at DESC LIMIT 1",  # the GIN index of schema_g2g
            (query.service, query.outcome, Jsonb({query.match: request.subject}))).fetchone()
        result: dict[str, Any] = {"found": row is not None}
        if row is not None:
            result["since"] = row[1].date().isoformat()
        log(conn, key, now, "answered", request.asker, request.service, request.purpose, request.reference,
            row[0] if row else None, request.subject, request.consent, "answered", found=row is not None,
            nonce=request.nonce)
    return 200, g2g.sign(g2g.answer_claims(mine, request, result, secrets.token_urlsafe(18), now), signer)


def purge_nonces(conn: psycopg.Connection[Any], now: datetime) -> int:
    return conn.execute("DELETE FROM g2g_nonces WHERE expires_at < %s", (now,)).rowcount


def ask(conn: psycopg.Connection[Any], key: bytes, mine: Directory, ca: x509.Certificate, signer: Signer,
        grant: Grant, reference: str, application_id: int, answers: dict[str, Any], send: Transport,
        now: datetime) -> dict[str, Any]:
    """Ask `grant.answerer` for `grant.service` about this application; the verified result, or `G2GError` (logged
    here either way: refused before sending without consent, refused by the peer, or a bad answer)."""
    subject = str(answers.get(grant.identifier, ""))
    consent = str(answers.get(CONSENT_ANSWER, "")).lower() == "yes"
    nonce = secrets.token_urlsafe(18)

    def logged(outcome: str, reason: str | None = None, found: bool | None = None) -> None:
        log(conn, key, now, "asked", grant.answerer, grant.service, grant.purpose, reference, application_id, subject,
            consent, outcome, reason, found, nonce)

    try:
        if not subject:
            raise G2GError("malformed", f"the application has no answer {grant.identifier!r} to ask about")
        claims = g2g.request_claims(grant, reference, subject, consent, nonce, now)
    except G2GError as exc:
        logged("refused", exc.reason)
        raise
    try:
        status, body = send(grant.url, g2g.sign(claims, signer))
    except OSError as exc:
        logged("failed", "unreachable")
        raise G2GError("unreachable", f"{grant.answerer} could not be reached: {exc.__class__.__name__}") from None
    if status != 200:
        try:
            reason = str(json.loads(body).get("error", status))
        except (ValueError, AttributeError):
            reason = str(status)
        logged("refused", reason[:40])
        raise G2GError(reason[:40], f"{grant.answerer} refused the request ({status})")
    try:
        signed_by, answer_claims = g2g.verify(body.strip(), ca, now)
        result = g2g.check_answer(grant, signed_by, answer_claims, nonce, now)
    except G2GError as exc:
        logged("failed", exc.reason)
        raise
    logged("answered", found=bool(result["found"]))
    return result


def pending(conn: psycopg.Connection[Any], limit: int = 50) -> list[tuple[str, str, str, int, dict[str, Any]]]:
    """(task id, desk, reference, application id, answers) of the ready tasks the centre does itself (G2G steps)."""
    rows = conn.execute("SELECT t.id::text, t.desk, a.reference, a.id, a.answers FROM tasks t "
                        "JOIN applications a ON a.id = t.application_id WHERE t.state = 'ready' AND t.desk LIKE %s "
                        "ORDER BY t.created_at LIMIT %s", (DESK_PREFIX.replace("_", r"\_") + "%", limit)).fetchall()
    return [(r[0], r[1], r[2], int(r[3]), dict(r[4])) for r in rows]


def run_steps(conn: psycopg.Connection[Any], key: bytes, mine: Directory, ca: x509.Certificate, signer: Signer,
              send: Transport, now: datetime, calendar: Calendar = NO_CALENDAR) -> list[tuple[str, str]]:
    """Do the G2G steps waiting: ask, then complete the step with the action named by the outcome (`found`,
    `not_found`, `refused`, when the process has it; else `done`), the result in the step's fields
    (`g2g_<service>`: found / not_found / refused). A step whose service this agency may not ask is completed as
    refused without sending anything (and logged). Returns (reference, action) of each step done."""
    done = []
    for task_id, desk, reference, app_id, answers in pending(conn):
        service = desk[len(DESK_PREFIX):]
        grant = mine.asks.get(service)
        if grant is None:
            log(conn, key, now, "asked", "?", service, "", reference, app_id, "", False, "refused", "not_granted")
            outcome = "refused"
        else:
            try:
                outcome = "found" if ask(conn, key, mine, ca, signer, grant, reference, app_id, answers, send,
                                         now)["found"] else "not_found"
            except G2GError as exc:
                if exc.reason in ("unreachable", "failed"):
                    continue  # tried again next round
                outcome = "refused"
        actions = next((t.actions for t in store.view(conn, reference).ready if t.id == task_id), ())
        action = outcome if outcome in actions else "done" if "done" in actions else None
        if action is None:
            continue  # the process has no way on for this outcome: staff see it waiting at the G2G desk
        store.act(conn, reference, task_id, action, desk, f"g2g:{mine.agency}", {f"g2g_{service}": outcome},
                  now, calendar)
        done.append((reference, action))
    return done


def accesses(conn: psycopg.Connection[Any], reference: str) -> list[Access]:
    """What the citizen's page lists for an application: the records its office asked for (answered), and the
    agencies that read this application's record (answered), newest first."""
    rows = conn.execute(
        "SELECT l.at, l.side, l.peer, l.service, l.purpose, l.found FROM g2g_log l "
        "LEFT JOIN applications a ON a.id = l.application_id "
        "WHERE l.outcome = 'answered' AND ((l.side = 'asked' AND l.reference = %s) "
        "OR (l.side = 'answered' AND a.reference = %s)) ORDER BY l.at DESC, l.id DESC LIMIT 100",
        (reference, reference)).fetchall()
    return [Access(*row) for row in rows]


def entries(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """The whole log, oldest first (tests and the operator)."""
    cur = conn.execute("SELECT at, side, peer, service, purpose, reference, application_id, consent, outcome, reason, "
                       "found FROM g2g_log ORDER BY id")
    names = [d.name for d in cur.description or []]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

