"""The staff pages' part of the store: the desks' task lists with what a desk needs to sort them, holding a task
(claim, assign, release), comments, the staff seen at sign-in, an application's answers and history. Every
change is audited in the same transaction as it is made (the hash chain of `store._audit`); the task actions
themselves are `store.act`, as for the API."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from . import audit
from .errors import NotFound
from .store import _audit


@dataclass(frozen=True)
class DeskTask:
    id: str
    reference: str
    service_id: str
    step: str
    name: str
    desk: str
    actions: tuple[str, ...]
    created_at: datetime
    submitted_at: datetime
    assigned_to: str | None


@dataclass(frozen=True)
class TaskRow:
    """A task of an application's history (ready, done or cancelled by a timer)."""

    id: str
    step: str
    name: str
    desk: str
    state: str
    created_at: datetime
    finished_at: datetime | None
    finished_by: str | None
    action: str | None
    assigned_to: str | None
    actions: tuple[str, ...]


@dataclass(frozen=True)
class File:
    reference: str
    service_id: str
    status: str
    outcome: str | None
    answers: dict[str, Any]
    email: str | None
    submitted_at: datetime
    tasks: tuple[TaskRow, ...]
    history: tuple[audit.Entry, ...]
    erased_at: datetime | None = None  # its answers and contact addresses erased at the end of its retention
    held_since: datetime | None = None  # on legal hold since (retention_store.hold)


_TASK = ("SELECT t.id, a.reference, a.service_id, t.step, t.name, t.desk, t.actions, t.created_at, a.submitted_at, "
         "t.assigned_to FROM tasks t JOIN applications a ON a.id = t.application_id ")


def _desk_task(r: Any) -> DeskTask:
    return DeskTask(str(r[0]), r[1], r[2], r[3], r[4], r[5], tuple(r[6]), r[7], r[8], r[9])


def desk_tasks(conn: psycopg.Connection[Any], desk: str, limit: int = 200) -> list[DeskTask]:
    """The tasks waiting at a desk, oldest first."""
    return [_desk_task(r) for r in conn.execute(
        _TASK + "WHERE t.desk = %s AND t.state = 'ready' ORDER BY t.created_at, t.id LIMIT %s", (desk, limit))]


def ready_task(conn: psycopg.Connection[Any], task_id: str) -> DeskTask | None:
    """A task still waiting (None: unknown, finished, or not a task id at all)."""
    from .store import task_at

    if task_at(conn, task_id) is None:  # checks the id's shape too
        return None
    row = conn.execute(_TASK + "WHERE t.id = %s AND t.state = 'ready'", (task_id,)).fetchone()
    return _desk_task(row) if row else None


def hold(conn: psycopg.Connection[Any], task_id: str, desk: str, holder: str | None, actor: str,
         verb: str, now: datetime) -> None:
    """Set who holds a ready task of `desk` (`verb`: claim, assign or release), audited as `task:<step>:<verb>`.
    NotFound when the task is not waiting at that desk any more."""
    with conn.transaction():
        row = conn.execute("SELECT a.reference, t.step FROM tasks t JOIN applications a ON a.id = t.application_id "
                           "WHERE t.id = %s AND t.desk = %s AND t.state = 'ready' FOR UPDATE OF t",
                           (task_id, desk)).fetchone()
        if row is None:
            raise NotFound("no such task waiting at this desk")
        conn.execute("UPDATE tasks SET assigned_to = %s WHERE id = %s", (holder, task_id))
        _audit(conn, now, actor, f"task:{row[1]}:{verb}", row[0], {"holder": holder} if holder else {})


def comment(conn: psycopg.Connection[Any], reference: str, actor: str, text: str, now: datetime) -> None:
    """A staff comment on an application: an entry of the audit chain (who, when, the text)."""
    with conn.transaction():
        if conn.execute("SELECT 1 FROM applications WHERE reference = %s FOR UPDATE", (reference,)).fetchone() is None:
            raise NotFound("no such application")
        _audit(conn, now, actor, "comment", reference, {"text": text})


def downloaded(conn: psycopg.Connection[Any], reference: str, actor: str, document: str, sha256: str,
               now: datetime) -> None:
    """A staff member took a copy of an application's document: an entry of the audit chain (who, when, which
    document, its hash)."""
    with conn.transaction():
        if conn.execute("SELECT 1 FROM applications WHERE reference = %s FOR UPDATE", (reference,)).fetchone() is None:
            raise NotFound("no such application")
        _audit(conn, now, actor, f"download:{document}", reference, {"sha256": sha256})


def seen(conn: psycopg.Connection[Any], subject: str, name: str, at_desks: frozenset[str], now: datetime) -> None:
    """Record a staff member's sign-in: their name and desks (so colleagues can assign them a task)."""
    conn.execute("INSERT INTO staff_members (subject, name, desks, seen_at) VALUES (%s, %s, %s, %s) "
                 "ON CONFLICT (subject) DO UPDATE SET name = EXCLUDED.name, desks = EXCLUDED.desks, "
                 "seen_at = EXCLUDED.seen_at", (subject, name[:200], sorted(at_desks), now))


def colleagues(conn: psycopg.Connection[Any], desk: str) -> list[tuple[str, str]]:
    """(subject, name) of the staff seen at `desk`, by name."""
    return [(r[0], r[1]) for r in conn.execute(
        "SELECT subject, name FROM staff_members WHERE %s = ANY(desks) ORDER BY name, subject", (desk,))]


def desks_of_member(conn: psycopg.Connection[Any], subject: str) -> list[str] | None:
    row = conn.execute("SELECT desks FROM staff_members WHERE subject = %s", (subject,)).fetchone()
    return list(row[0]) if row else None


def names(conn: psycopg.Connection[Any], subjects: set[str]) -> dict[str, str]:
    return {r[0]: r[1] for r in conn.execute("SELECT subject, name FROM staff_members WHERE subject = ANY(%s)",
                                             (sorted(subjects),))}


def file(conn: psycopg.Connection[Any], reference: str, at_desks: frozenset[str]) -> File:
    """An application as a desk sees it: answers, tasks, and its audit entries. NotFound unless one of its tasks
    is or was at one of `at_desks` (a desk sees the applications that reached it, and nothing else; the same
    answer as for an unknown reference)."""
    row = conn.execute("SELECT id, service_id, status, outcome, answers, email, submitted_at, erased_at, held_since "
                       "FROM applications WHERE reference = %s", (reference,)).fetchone()
    if row is None:
        raise NotFound("no such application")
    tasks = tuple(TaskRow(str(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], tuple(r[10]))
                  for r in conn.execute(
        "SELECT id, step, name, desk, state, created_at, finished_at, finished_by, action, assigned_to, actions "
        "FROM tasks "
        "WHERE application_id = %s ORDER BY created_at, id", (row[0],)))
    if not any(t.desk in at_desks for t in tasks):
        raise NotFound("no such application")
    history = tuple(audit.Entry(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7], r[8]) for r in
                    conn.execute("SELECT seq, at, actor, action, subject, details, document_sha256, prev_hash, hash "
                                 "FROM audit WHERE subject = %s ORDER BY seq", (reference,)))
    return File(reference, row[1], row[2], row[3], dict(row[4]), row[5], row[6], tasks, history, row[7], row[8])

