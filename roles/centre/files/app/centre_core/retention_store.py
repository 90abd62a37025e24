"""The archive's part of the store: the archived documents a retention class may have done with, and a deletion
recorded (the row keeps what the document was, its `deleted_at` says it is gone) and audited in the application's
history with the document's hash, in one transaction; then the closed applications whose answers and contact
addresses are erased the same way (`erase`). What is due is decided by `retention`, not here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from . import documents, engine
from .errors import NotFound
from .store import _audit


@dataclass(frozen=True)
class Archived:
    """An archived document of a closed application, not deleted yet."""

    row: int
    reference: str
    closed_at: datetime  # when its application (last) closed
    object_key: str  # where it came in (centre/applications/...): the copy the archive was made from
    archived_key: str  # centre/archive/<retention>/...


def archived_of_class(conn: psycopg.Connection[Any], retention: str, closed_before: datetime,
                      limit: int = 100) -> list[Archived]:
    """Archived documents under `retention`'s prefix whose (closed) application closed before `closed_before`, the
    longest closed first. An application reopened since is not closed: its documents wait for its next close."""
    prefix = f"{documents.PREFIX}archive/{retention}/"
    return [Archived(int(r[0]), str(r[1]), r[2], str(r[3]), str(r[4])) for r in conn.execute(
        "SELECT d.id, a.reference, a.updated_at, d.object_key, d.archived_key FROM documents d "
        "JOIN applications a ON a.id = d.application_id WHERE a.status = 'closed' AND d.deleted_at IS NULL "
        "AND a.held_since IS NULL "
        "AND starts_with(d.archived_key, %s) AND a.updated_at < %s ORDER BY a.updated_at, d.id LIMIT %s",
        (prefix, closed_before, limit))]


def mark_deleted(conn: psycopg.Connection[Any], document_row: int, retention: str, now: datetime) -> bool:
    """Record that the document's objects are gone at the end of its retention (audited `deleted:<document>` with
    its hash); False when another round recorded it first."""
    with conn.transaction():
        row = conn.execute("UPDATE documents d SET deleted_at = %s FROM applications a "
                           "WHERE d.id = %s AND a.id = d.application_id AND d.deleted_at IS NULL "
                           "RETURNING a.reference, d.document, d.sha256", (now, document_row)).fetchone()
        if row is None:
            return False
        _audit(conn, now, "system", f"deleted:{row[1]}", row[0], {"retention": retention, "why": "retention ended"},
               row[2])
    return True


@dataclass(frozen=True)
class Closed:
    """A closed application whose answers and contact addresses are still kept."""

    row: int
    reference: str
    service_id: str
    closed_at: datetime


def closed_to_erase(conn: psycopg.Connection[Any], service_ids: Sequence[str], closed_before: datetime,
                    limit: int = 100) -> list[Closed]:
    """Closed applications of `service_ids` (one retention class) closed before `closed_before`, not erased yet and
    with every document deleted (an application goes after its documents: one held by its tag keeps it too), the
    longest closed first."""
    return [Closed(int(r[0]), str(r[1]), str(r[2]), r[3]) for r in conn.execute(
        "SELECT a.id, a.reference, a.service_id, a.updated_at FROM applications a "
        "WHERE a.status = 'closed' AND a.erased_at IS NULL AND a.held_since IS NULL AND NOT EXISTS (SELECT 1 "
        "FROM documents d WHERE d.application_id = a.id AND d.deleted_at IS NULL) "
        "AND a.service_id = ANY(%s) AND a.updated_at < %s ORDER BY a.updated_at, a.id LIMIT %s",
        (list(service_ids), closed_before, limit))]


def erase(conn: psycopg.Connection[Any], row: int, retention: str, now: datetime) -> bool:
    """Erase a closed application's answers, e-mail address and mobile number at the end of its retention, in one
    transaction under its row lock: the answers from its row and from its workflow's stored state (the process's
    own data stays, so its status and steps are still shown), the messages' parameters, and audited `erased`
    (actor `system`, the names of what went, never a value). The reference, status, outcome, tasks, documents' rows
    and audit entries stay: the chain is only appended to. False when it no longer qualifies (another round erased
    it, it was reopened, or it is on legal hold)."""
    with conn.transaction():
        found = conn.execute(
            "SELECT a.reference, a.answers, a.email, a.mobile, w.state FROM applications a "
            "JOIN workflow_states w ON w.application_id = a.id "
            "WHERE a.id = %s AND a.status = 'closed' AND a.erased_at IS NULL AND a.held_since IS NULL "
            "AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.application_id = a.id AND d.deleted_at IS NULL) "
            "FOR UPDATE OF a, w", (row,)).fetchone()
        if found is None:
            return False
        reference, answers = str(found[0]), dict(found[1] or {})
        names = sorted(str(k) for k in answers)
        state = engine.dump(engine.forget(engine.restore(str(found[4]), now), names))
        conn.execute("UPDATE applications SET answers = '{}'::jsonb, email = NULL, mobile = NULL, erased_at = %s "
                     "WHERE id = %s", (now, row))
        conn.execute("UPDATE workflow_states SET state = %s WHERE application_id = %s", (state, row))
        conn.execute("UPDATE outbox SET params = '{}'::jsonb WHERE application_id = %s", (row,))
        contacts = [name for name, value in (("email", found[2]), ("mobile", found[3])) if value]
        _audit(conn, now, "system", "erased", reference,
               {"retention": retention, "why": "retention ended", "answers": names, "contacts": contacts})
    return True


MAX_HOLD_REASON = 500


def hold(conn: psycopg.Connection[Any], reference: str, actor: str, reason: str, now: datetime) -> bool:
    """Put an application on legal hold: retention deletes none of its documents and erases none of its data
    until it is released, whatever its class and age. Audited `hold:placed` with the reason, under the row lock
    (a deletion under way finishes first: `on_hold`). False when it is held already. NotFound for no such
    application; ValueError for an empty or too long reason."""
    return _set_hold(conn, reference, actor, reason, now, placing=True)


def release(conn: psycopg.Connection[Any], reference: str, actor: str, reason: str, now: datetime) -> bool:
    """End a legal hold (audited `hold:released` with the reason): retention applies again from the next round,
    counted from the closing as ever. False when it was not held."""
    return _set_hold(conn, reference, actor, reason, now, placing=False)


def held_since(conn: psycopg.Connection[Any], reference: str) -> datetime | None:
    row = conn.execute("SELECT held_since FROM applications WHERE reference = %s", (reference,)).fetchone()
    return row[0] if row else None


def on_hold(conn: psycopg.Connection[Any], reference: str) -> bool:
    """Whether the application is held, read under a share lock in the caller's transaction: a hold being placed
    waits for the deletion that asked, and a deletion asks after a hold placed first."""
    row = conn.execute("SELECT held_since IS NOT NULL FROM applications WHERE reference = %s FOR SHARE",
                       (reference,)).fetchone()
    return bool(row and row[0])


def _set_hold(conn: psycopg.Connection[Any], reference: str, actor: str, reason: str, now: datetime,
              placing: bool) -> bool:
    reason = reason.strip()
    if not reason or len(reason) > MAX_HOLD_REASON:
        raise ValueError(f"a legal hold needs a reason of 1 to {MAX_HOLD_REASON} characters")
    with conn.transaction():
        row = conn.execute("SELECT id, held_since FROM applications WHERE reference = %s FOR UPDATE",
                           (reference,)).fetchone()
        if row is None:
            raise NotFound("no such application")
        if (row[1] is not None) == placing:
            return False
        conn.execute("UPDATE applications SET held_since = %s WHERE id = %s", (now if placing else None, row[0]))
        _audit(conn, now, actor, "hold:placed" if placing else "hold:released", reference, {"reason": reason})
    return True
