"""The archive's part of the store: the archived documents a retention class may have done with, and a deletion
recorded (the row keeps what the document was, its `deleted_at` says it is gone) and audited in the application's
history with the document's hash, in one transaction. What is due is decided by `retention`, not here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from . import documents
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
