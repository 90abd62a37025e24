"""The certificates' rows (schema_certificates.sql), each change in the audit trail in the same transaction:
`certificate:issued` (its id and the signed PDF's SHA-256) and `certificate:revoked` (the reason's category and
the staff member's note: the trail holds staff reasons as typed; the public page shows only the category)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from . import store
from .certificates import ISSUING_OUTCOMES, check_reason
from .errors import ActionError, NotFound


@dataclass(frozen=True)
class Stored:
    certificate_id: str
    reference: str
    service_id: str
    outcome: str
    issued_at: datetime
    sha256: str
    size: int
    object_key: str | None
    revoked_at: datetime | None
    revocation_reason: str | None


_SELECT = ("SELECT c.id, a.reference, c.service_id, c.outcome, c.issued_at, c.sha256, c.size, c.object_key, "
           "c.revoked_at, c.revocation_reason FROM certificates c JOIN applications a ON a.id = c.application_id ")


def due(conn: psycopg.Connection[Any], limit: int = 50) -> list[str]:
    """References of applications closed with an issuing outcome that have no certificate yet (signing failed or
    was not reachable when they closed: the timers' job tries again)."""
    rows = conn.execute("SELECT a.reference FROM applications a LEFT JOIN certificates c ON c.application_id = a.id "
                        "WHERE a.status = 'closed' AND a.outcome = ANY(%s) AND c.id IS NULL ORDER BY a.updated_at "
                        "LIMIT %s", (sorted(ISSUING_OUTCOMES), limit)).fetchall()
    return [str(r[0]) for r in rows]


def application_facts(conn: psycopg.Connection[Any], reference: str) -> tuple[str, str | None, str, dict[str, Any],
                                                                              datetime]:
    """(service id, outcome, status, answers, closed at) of an application."""
    row = conn.execute("SELECT service_id, outcome, status, answers, updated_at FROM applications WHERE reference = %s",
                       (reference,)).fetchone()
    if row is None:
        raise NotFound("no such application")
    return str(row[0]), row[1], str(row[2]), dict(row[3] or {}), row[4]


def record(conn: psycopg.Connection[Any], reference: str, certificate_id: str, sha256: str, size: int,
           key: str | None, pdf: bytes | None, now: datetime) -> bool:
    """Keep the signed certificate of a closed application (its PDF already in the bucket under `key`, or `pdf`
    here). False (nothing written) when it already has one: two workers issuing at once keep the first."""
    with conn.transaction():
        row = conn.execute("SELECT id, service_id, outcome, status FROM applications WHERE reference = %s FOR UPDATE",
                           (reference,)).fetchone()
        if row is None:
            raise NotFound("no such application")
        if row[3] != "closed" or row[2] not in ISSUING_OUTCOMES:
            raise ActionError("the application has not ended with a certificate")
        if conn.execute("SELECT 1 FROM certificates WHERE application_id = %s", (row[0],)).fetchone():
            return False
        conn.execute("INSERT INTO certificates (id, application_id, service_id, outcome, issued_at, sha256, size, "
                     "object_key, pdf) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                     (certificate_id, row[0], row[1], row[2], now, sha256, size, key, pdf))
        store._audit(conn, now, "system", "certificate:issued", reference,
                     {"certificate": certificate_id, "size": size, "key": key}, sha256)
    return True


def by_id(conn: psycopg.Connection[Any], certificate_id: str) -> Stored | None:
    row = conn.execute(_SELECT + "WHERE c.id = %s", (certificate_id,)).fetchone()
    return Stored(*row) if row else None


def of_reference(conn: psycopg.Connection[Any], reference: str) -> Stored | None:
    row = conn.execute(_SELECT + "WHERE a.reference = %s", (reference,)).fetchone()
    return Stored(*row) if row else None


def pdf_of(conn: psycopg.Connection[Any], certificate_id: str) -> bytes | None:
    """The PDF kept in the database (a centre without a bucket), else None."""
    row = conn.execute("SELECT pdf FROM certificates WHERE id = %s", (certificate_id,)).fetchone()
    return bytes(row[0]) if row and row[0] is not None else None


def revoke(conn: psycopg.Connection[Any], reference: str, reason: str, note: str, actor: str,
           now: datetime) -> Stored:
    """Revoke the application's certificate: `reason` one of certificates.REVOCATION_REASONS (ValueError
    otherwise), `note` the staff member's words for the audit trail. ActionError when already revoked, NotFound
    when there is no certificate."""
    check_reason(reason)
    with conn.transaction():
        row = conn.execute("SELECT c.id, c.revoked_at FROM certificates c JOIN applications a "
                           "ON a.id = c.application_id WHERE a.reference = %s FOR UPDATE OF c", (reference,)).fetchone()
        if row is None:
            raise NotFound("no certificate for this application")
        if row[1] is not None:
            raise ActionError("the certificate is already revoked")
        conn.execute("UPDATE certificates SET revoked_at = %s, revoked_by = %s, revocation_reason = %s WHERE id = %s",
                     (now, actor, reason, row[0]))
        store._audit(conn, now, actor, "certificate:revoked", reference,
                     {"certificate": row[0], "reason": reason, "note": note[:500]})
    found = of_reference(conn, reference)
    assert found is not None
    return found


def audit_of(conn: psycopg.Connection[Any], reference: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(actor, action, details) of the application's certificate entries in the audit trail, oldest first."""
    return [(str(r[0]), str(r[1]), json.loads(r[2])) for r in conn.execute(
        "SELECT actor, action, details FROM audit WHERE subject = %s AND action LIKE 'certificate:%%' ORDER BY seq",
        (reference,))]
