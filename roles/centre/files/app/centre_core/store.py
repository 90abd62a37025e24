"""The centre's state in PostgreSQL (psycopg, plain SQL): applications, their workflow state, the desks' tasks,
tracking codes and the audit trail. Each public function is one transaction that locks the application's row
(FOR UPDATE), so two desks acting at once, or a desk and the timer job, are serialised; the decisions are the
pure functions of engine, tracking and audit. Time is always passed in."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from . import audit, drafts, engine, grievance, outbox, references, throttle, tracking
from .bpmn import CITIZEN_DESK, Process, load_process
from .catalogue import Loaded
from .documents import Upload
from .errors import ActionError, NotFound
from .timers import Calendar

NO_CALENDAR = Calendar()

SCHEMA_VERSION = 1
_AUDIT_LOCK = 0x63656E747265  # "centre": one appender at a time keeps the chain a line


@dataclass(frozen=True)
class Tracked:
    """What a citizen sees after reference + code: status, outcome and the tasks waiting now."""

    reference: str
    service_id: str
    status: str
    outcome: str | None
    ready: tuple[engine.TaskView, ...]
    submitted_at: datetime
    process_version: int  # the process version (its BPMN) the application started on
    process_digest: str
    done_steps: frozenset[str] = frozenset()  # steps (BPMN task ids) completed at least once
    updated_at: datetime | None = None  # when it last moved (for a closed one: when it closed)
    rating: int | None = None  # the citizen's satisfaction rating (1-5) once closed, if given


def schema_files() -> list[Path]:
    """The centre's schema: `schema.sql`, then each part's own `schema_<part>.sql` (signing, payments, ...) in name
    order. Every file is idempotent (CREATE ... IF NOT EXISTS), so a deploy applies them all every time."""
    here = Path(__file__).parent
    return [here / "schema.sql", *sorted(here.glob("schema_*.sql"))]


def migrate(conn: psycopg.Connection[Any]) -> bool:
    """Create the centre's tables (idempotent). True when this call created the schema (a deploy reports it)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_AUDIT_LOCK + 1,))
        for part in schema_files():
            conn.execute(part.read_text())
        if conn.execute("SELECT count(*) FROM centre_schema").fetchone() == (0,):
            conn.execute("INSERT INTO centre_schema VALUES (%s)", (SCHEMA_VERSION,))
            return True
    return False


def record_processes(conn: psycopg.Connection[Any], loaded: Loaded) -> list[str]:
    """Keep the current BPMN file of every service of the catalogue in `process_versions` (by its SHA-256), as
    `submit` does for the version an application starts on: a deploy records what it ships before the first
    application. Returns the services whose current version was not recorded yet (empty: nothing changed)."""
    added: list[str] = []
    with conn.transaction():
        for service in loaded.catalogue.services:
            process = loaded.processes[service.id]
            xml = (loaded.folder / service.process).read_bytes()
            row = conn.execute(
                "INSERT INTO process_versions (service_id, process_id, digest, bpmn) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (digest) DO NOTHING RETURNING id",
                (service.id, process.process_id, process.digest, xml)).fetchone()
            if row is not None:
                added.append(service.id)
    return added


CATALOGUE_SUBJECT = "catalogue"  # the audit trail's subject of the catalogue's changes (not an application)


def record_catalogue_change(conn: psycopg.Connection[Any], now: datetime, actor: str,
                            details: Mapping[str, Any]) -> audit.Entry:
    """One entry in the audit trail for a catalogue switched to (`details`: its version, services, source)."""
    with conn.transaction():
        return _audit(conn, now, actor, "catalogue:install", CATALOGUE_SUBJECT, details)


def submit(conn: psycopg.Connection[Any], loaded: Loaded, service_id: str, answers: Mapping[str, Any],
           email: str | None, now: datetime, reference: str | None = None,
           uploads: Sequence[tuple[Upload, str]] = (), calendar: Calendar = NO_CALENDAR,
           language: str = "en", mobile: str | None = None) -> str:
    """A new application: its process started on the current version of the service's BPMN. `uploads`: its
    documents (each with its object key, already in the bucket), recorded with it and audited with their hash;
    `reference`: one made beforehand (the documents' keys name it), else a new one. `language`: the citizen's
    (en or ur), for the messages the application sends (with an e-mail or a `mobile` number in E.164, "submitted" is
    queued at once to each)."""
    service = loaded.catalogue.service(service_id)
    if service is None:
        raise NotFound(f"no service {service_id!r} in the catalogue")
    process = loaded.processes[service_id]
    xml = (loaded.folder / service.process).read_bytes()
    workflow = engine.start(process, {**answers, **service.step_sla_working_days}, now, calendar.holidays,
                            calendar.zone)
    reference = reference or references.new_reference()
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO process_versions (service_id, process_id, digest, bpmn) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (digest) DO UPDATE SET digest = EXCLUDED.digest RETURNING id",
            (service_id, process.process_id, process.digest, xml)).fetchone()
        assert row is not None
        app = conn.execute(
            "INSERT INTO applications (reference, service_id, process_version_id, status, answers, email, "
            "submitted_at, updated_at, language, mobile) VALUES (%s, %s, %s, 'in_progress', %s, %s, %s, %s, %s, %s) "
            "RETURNING id", (reference, service_id, row[0], Jsonb(dict(answers)), email, now, now,
                             language if language in ("en", "ur") else "en", mobile or None)).fetchone()
        assert app is not None
        outbox.queue(conn, app[0], "submitted", {}, now)
        _save(conn, app[0], workflow, now, None, None)
        _audit(conn, now, "citizen", "submitted", reference, {"service": service_id, "process": process.digest})
        for upload, key in uploads:
            _add_document(conn, app[0], reference, upload, key, "citizen", now)
    return reference


@dataclass(frozen=True)
class StoredDocument:
    """A document of an application as staff (and the API) see it."""

    document: str  # the catalogue's document id
    filename: str
    media_type: str
    size: int
    sha256: str
    object_key: str
    uploaded_at: datetime
    uploaded_by: str
    archived_key: str | None
    deleted_at: datetime | None = None  # its retention ended: the bucket's objects are gone


def documents(conn: psycopg.Connection[Any], reference: str) -> list[StoredDocument]:
    """The documents of an application, in the order they came (a document sent again is listed again)."""
    return [StoredDocument(*r) for r in conn.execute(
        "SELECT d.document, d.filename, d.media_type, d.size, d.sha256, d.object_key, d.uploaded_at, d.uploaded_by, "
        "d.archived_key, d.deleted_at FROM documents d JOIN applications a ON a.id = d.application_id "
        "WHERE a.reference = %s ORDER BY d.id", (reference,))]


def citizen_task(conn: psycopg.Connection[Any], reference: str) -> engine.TaskView | None:
    """The task waiting for the applicant (e.g. provide the missing document), or None."""
    seen = view(conn, reference)
    return next((t for t in seen.ready if t.desk == CITIZEN_DESK), None)


def return_reason(conn: psycopg.Connection[Any], reference: str) -> str | None:
    """What the desk wrote when it last returned the application to the applicant (its `reason`, else its
    `comment`), from the audit trail; None when it wrote nothing."""
    row = conn.execute("SELECT details FROM audit WHERE subject = %s AND action LIKE 'task:%%:return' "
                       "ORDER BY seq DESC LIMIT 1", (reference,)).fetchone()
    if row is None:
        return None
    details = json.loads(row[0])
    text = details.get("reason") or details.get("comment") if isinstance(details, dict) else None
    return str(text)[:2000] if text else None


def provide_document(conn: psycopg.Connection[Any], reference: str, upload: Upload, key: str,
                     now: datetime) -> engine.Status:
    """The citizen's task done with a document (already in the bucket under `key`): the document recorded and
    audited with its hash, then the task completed (its one action) through the engine, as a desk's is."""
    with conn.transaction():
        app_id, workflow = _locked(conn, reference, now)
        task = next((t for t in engine.status(workflow).ready if t.desk == CITIZEN_DESK), None)
        if task is None:
            raise ActionError("nothing is waiting for the applicant")
        _add_document(conn, app_id, reference, upload, key, "citizen", now)
        action = task.actions[0]
        workflow = engine.act(workflow, task.id, action, CITIZEN_DESK, {"document": upload.document}, now)
        _save(conn, app_id, workflow, now, "citizen", action)
        _audit(conn, now, "citizen", f"task:{task.step}:{action}", reference, {"document": upload.document},
               upload.sha256)
        return engine.status(workflow)


def to_archive(conn: psycopg.Connection[Any], limit: int = 100) -> list[tuple[int, str, str, str]]:
    """(document row id, reference, service id, object key) of documents of closed applications not archived."""
    return [(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in conn.execute(
        "SELECT d.id, a.reference, a.service_id, d.object_key FROM documents d JOIN applications a "
        "ON a.id = d.application_id WHERE a.status = 'closed' AND d.archived_key IS NULL ORDER BY d.id LIMIT %s",
        (limit,))]


def mark_archived(conn: psycopg.Connection[Any], document_row: int, archived_key: str, retention: str,
                  now: datetime) -> None:
    with conn.transaction():
        row = conn.execute("UPDATE documents d SET archived_key = %s, archived_at = %s FROM applications a "
                           "WHERE d.id = %s AND a.id = d.application_id AND d.archived_key IS NULL "
                           "RETURNING a.reference, d.document, d.sha256", (archived_key, now, document_row)).fetchone()
        if row is not None:
            _audit(conn, now, "system", f"archived:{row[1]}", row[0], {"retention": retention, "key": archived_key},
                   row[2])


def _add_document(conn: psycopg.Connection[Any], app_id: int, reference: str, upload: Upload, key: str, actor: str,
                  now: datetime) -> None:
    conn.execute("INSERT INTO documents (application_id, document, filename, media_type, size, sha256, object_key, "
                 "uploaded_at, uploaded_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                 (app_id, upload.document, upload.filename, upload.media_type, upload.size, upload.sha256, key, now,
                  actor))
    _audit(conn, now, actor, f"document:{upload.document}", reference,
           {"filename": upload.filename, "type": upload.media_type, "size": upload.size, "key": key}, upload.sha256)


def act(conn: psycopg.Connection[Any], reference: str, task_id: str, action: str, desk: str, actor: str,
        fields: Mapping[str, Any], now: datetime, calendar: Calendar = NO_CALENDAR) -> engine.Status:
    with conn.transaction():
        app_id, workflow = _locked(conn, reference, now, calendar)
        step = next((t.step for t in engine.status(workflow).ready if t.id == task_id), "?")
        workflow = engine.act(workflow, task_id, action, desk, fields, now, calendar.holidays, calendar.zone)
        _save(conn, app_id, workflow, now, actor, action, fields)
        _audit(conn, now, actor, f"task:{step}:{action}", reference, dict(fields))
        return engine.status(workflow)


def run_timers(conn: psycopg.Connection[Any], now: datetime, limit: int = 100,
               calendar: Calendar = NO_CALENDAR) -> list[str]:
    """Fire the SLA timers due by `now` (the periodic job); returns the references that moved."""
    moved = []
    rows = conn.execute("SELECT a.reference FROM workflow_states w JOIN applications a ON a.id = w.application_id "
                        "WHERE w.next_timer <= %s ORDER BY w.next_timer LIMIT %s", (now, limit)).fetchall()
    for (reference,) in rows:
        with conn.transaction():
            app_id, workflow = _locked(conn, reference, now, calendar)
            before = engine.status(workflow).timers
            workflow = engine.advance(workflow, now, calendar.holidays, calendar.zone)
            fired = [t for t, _ in before if t not in dict(engine.status(workflow).timers)]
            _save(conn, app_id, workflow, now, None, None)
            for timer in fired:
                _audit(conn, now, "system", f"timer:{timer}", reference, {})
            moved.append(reference)
    return moved


def issue_code(conn: psycopg.Connection[Any], key: bytes, reference: str, now: datetime) -> str:
    """A new one-time code for the application (to send by mail or SMS; only its HMAC is stored)."""
    with conn.transaction():
        row = conn.execute("SELECT id FROM applications WHERE reference = %s", (reference,)).fetchone()
        if row is None:
            raise NotFound("no such application")
        code, record = tracking.issue(key, reference, now)
        conn.execute("INSERT INTO tracking_codes (application_id, digest, expires_at, created_at) "
                     "VALUES (%s, %s, %s, %s)", (row[0], record.digest, record.expires_at, now))
    return code


def track(conn: psycopg.Connection[Any], key: bytes, typed_reference: str, code: str,
          now: datetime) -> tuple[tracking.Outcome, Tracked | None]:
    """Check the latest code of the application under a row lock; the view only when it is right."""
    reference = references.normalise(typed_reference)
    if reference is None:
        return tracking.Outcome.WRONG, None
    with conn.transaction():
        row = conn.execute(
            "SELECT c.id, c.digest, c.expires_at, c.attempts, c.used_at FROM tracking_codes c "
            "JOIN applications a ON a.id = c.application_id WHERE a.reference = %s "
            "ORDER BY c.created_at DESC, c.id DESC LIMIT 1 FOR UPDATE OF c", (reference,)).fetchone()
        if row is None:
            return tracking.Outcome.WRONG, None
        record = tracking.CodeRecord(row[1], row[2], row[3], row[4])
        outcome, after = tracking.check(key, reference, record, code, now)
        if after != record:
            conn.execute("UPDATE tracking_codes SET attempts = %s, used_at = %s WHERE id = %s",
                         (after.attempts, after.used_at, row[0]))
        if outcome is not tracking.Outcome.OK:
            return outcome, None
        return outcome, view(conn, reference)


def client_attempt(conn: psycopg.Connection[Any], client: str, now: datetime) -> tuple[bool, int]:
    """Count one tracking lookup of `client` (`throttle.client_key`) under a row lock: (allowed, seconds until its
    window ends)."""
    with conn.transaction():
        conn.execute("INSERT INTO tracking_clients (client, window_start, attempts) VALUES (%s, %s, 0) "
                     "ON CONFLICT (client) DO NOTHING", (client, now))
        row = conn.execute("SELECT window_start, attempts FROM tracking_clients WHERE client = %s FOR UPDATE",
                           (client,)).fetchone()
        assert row is not None
        start, attempts = throttle.counted(row[0] if row[1] else None, int(row[1]), now)
        conn.execute("UPDATE tracking_clients SET window_start = %s, attempts = %s WHERE client = %s",
                     (start, attempts, client))
    return throttle.allowed(attempts), throttle.retry_after(start, now)


def purge_clients(conn: psycopg.Connection[Any], now: datetime) -> int:
    """Forget the clients whose window has ended (the timers' job calls it); returns how many."""
    return conn.execute("DELETE FROM tracking_clients WHERE window_start <= %s", (now - throttle.WINDOW,)).rowcount


def save_draft(conn: psycopg.Connection[Any], service_id: str, answers: Mapping[str, str], now: datetime,
               token: str | None = None) -> tuple[str, datetime]:
    """Keep the answers so far under a link: the draft of `token` (when it is still there) is replaced, else a
    new token is made. Returns the token (to show once, never stored) and when the draft expires."""
    body = {str(k): str(v) for k, v in answers.items()}
    if len(json.dumps(body)) > drafts.MAX_ANSWERS_BYTES:
        raise ValueError("the answers are too long to save")
    expires_at = drafts.expires(now)
    with conn.transaction():
        if token is not None and drafts.well_formed(token):
            updated = conn.execute("UPDATE drafts SET answers = %s, saved_at = %s, expires_at = %s "
                                   "WHERE token_digest = %s AND service_id = %s AND expires_at > %s",
                                   (Jsonb(body), now, expires_at, drafts.digest(token), service_id, now))
            if updated.rowcount == 1:
                return token, expires_at
        token = drafts.new_token()
        conn.execute("INSERT INTO drafts (token_digest, service_id, answers, saved_at, expires_at) "
                     "VALUES (%s, %s, %s, %s, %s)", (drafts.digest(token), service_id, Jsonb(body), now, expires_at))
    return token, expires_at


def load_draft(conn: psycopg.Connection[Any], token: str, now: datetime) -> tuple[str, dict[str, str], datetime] | None:
    """(service, answers, expiry) of the draft behind a link, or None (malformed, unknown or expired)."""
    if not drafts.well_formed(token):
        return None
    row = conn.execute("SELECT service_id, answers, expires_at FROM drafts WHERE token_digest = %s "
                       "AND expires_at > %s", (drafts.digest(token), now)).fetchone()
    if row is None:
        return None
    return str(row[0]), {str(k): str(v) for k, v in dict(row[1]).items()}, row[2]


def delete_draft(conn: psycopg.Connection[Any], token: str) -> None:
    if drafts.well_formed(token):
        conn.execute("DELETE FROM drafts WHERE token_digest = %s", (drafts.digest(token),))


def purge_drafts(conn: psycopg.Connection[Any], now: datetime) -> int:
    """Delete the drafts past their expiry (the SLA timers' job calls it); returns how many."""
    return conn.execute("DELETE FROM drafts WHERE expires_at <= %s", (now,)).rowcount


def view(conn: psycopg.Connection[Any], reference: str) -> Tracked:
    row = conn.execute("SELECT a.service_id, a.status, a.outcome, a.submitted_at, w.state, a.process_version_id, "
                       "p.digest, a.updated_at, r.rating FROM applications a "
                       "JOIN workflow_states w ON w.application_id = a.id "
                       "JOIN process_versions p ON p.id = a.process_version_id "
                       "LEFT JOIN ratings r ON r.application_id = a.id WHERE a.reference = %s",
                       (reference,)).fetchone()
    if row is None:
        raise NotFound("no such application")
    status = engine.status(engine.restore(row[4], row[3]))
    done = conn.execute("SELECT DISTINCT t.step FROM tasks t JOIN applications a ON a.id = t.application_id "
                        "WHERE a.reference = %s AND t.state = 'done'", (reference,)).fetchall()
    return Tracked(reference, row[0], row[1], row[2], status.ready, row[3], int(row[5]), str(row[6]),
                   frozenset(r[0] for r in done), row[7], row[8])


def reopen(conn: psycopg.Connection[Any], loaded: Loaded, reference: str, now: datetime,
           calendar: Calendar = NO_CALENDAR) -> engine.Status:
    """The citizen reopens a closed application of a service that allows it (`reopen_within_days` after it
    closed): its process starts again from the beginning, on the version it started on, with the same answers;
    the tasks done before stay in its history. ActionError when the service or the time does not allow it."""
    with conn.transaction():
        row = conn.execute(
            "SELECT a.id, a.service_id, a.status, a.updated_at, a.answers, p.bpmn, p.digest, a.erased_at "
            "FROM applications a JOIN process_versions p ON p.id = a.process_version_id WHERE a.reference = %s "
            "FOR UPDATE OF a", (reference,)).fetchone()
        if row is None:
            raise NotFound("no such application")
        if row[7] is not None:  # its answers are gone at the end of its retention: nothing to start again with
            raise ActionError("its answers were erased at the end of its retention")
        service = loaded.catalogue.service(row[1])
        refusal = grievance.reopen_refusal(service.reopen_within_days if service else None, row[2], row[3], now)
        if refusal or service is None:
            raise ActionError(refusal or "this service is no longer offered")
        process = _process_of(bytes(row[5]), str(row[6]))
        variables = {**dict(row[4]), **service.step_sla_working_days}
        workflow = engine.start(process, variables, now, calendar.holidays, calendar.zone)
        conn.execute("DELETE FROM ratings WHERE application_id = %s", (row[0],))
        _save(conn, row[0], workflow, now, None, None)
        _audit(conn, now, "citizen", "reopened", reference, {})
        return engine.status(workflow)


def rate(conn: psycopg.Connection[Any], loaded: Loaded, reference: str, rating: int, now: datetime) -> None:
    """The citizen's satisfaction rating (1-5) of a closed application whose service asks for one; given again,
    it replaces the first. ActionError when not closed, not asked for, or not 1-5."""
    with conn.transaction():
        row = conn.execute("SELECT id, service_id, status FROM applications WHERE reference = %s FOR UPDATE",
                           (reference,)).fetchone()
        if row is None:
            raise NotFound("no such application")
        service = loaded.catalogue.service(row[1])
        refusal = grievance.rating_refusal(bool(service and service.satisfaction_rating), row[2], rating)
        if refusal:
            raise ActionError(refusal)
        conn.execute("INSERT INTO ratings (application_id, rating, rated_at) VALUES (%s, %s, %s) "
                     "ON CONFLICT (application_id) DO UPDATE SET rating = EXCLUDED.rating, "
                     "rated_at = EXCLUDED.rated_at",
                     (row[0], rating, now))
        _audit(conn, now, "citizen", "rated", reference, {"rating": rating})


_PROCESSES: dict[str, Process] = {}


def _process_of(xml: bytes, digest: str) -> Process:
    """A recorded process version, parsed (and checked) once per process."""
    if digest not in _PROCESSES:
        _PROCESSES[digest] = load_process(xml, f"process version {digest[:12]}")
    return _PROCESSES[digest]


def process_bpmn(conn: psycopg.Connection[Any], version: int) -> bytes:
    """The BPMN of a recorded process version (what an application started on)."""
    row = conn.execute("SELECT bpmn FROM process_versions WHERE id = %s", (version,)).fetchone()
    if row is None:
        raise NotFound("no such process version")
    return bytes(row[0])


def inbox(conn: psycopg.Connection[Any], desk: str, limit: int = 50) -> list[tuple[str, str, str, list[str]]]:
    """(reference, task id, step name, actions) waiting at a desk, oldest first."""
    return [(r[0], str(r[1]), r[2], list(r[3])) for r in conn.execute(
        "SELECT a.reference, t.id, t.name, t.actions FROM tasks t JOIN applications a ON a.id = t.application_id "
        "WHERE t.desk = %s AND t.state = 'ready' ORDER BY t.created_at, t.id LIMIT %s", (desk, limit))]


def task_at(conn: psycopg.Connection[Any], task_id: str) -> tuple[str, str] | None:
    """(reference, desk) of a task still waiting, or None (unknown, finished, or not a task id at all)."""
    try:
        uuid.UUID(task_id)
    except ValueError:
        return None
    row = conn.execute("SELECT a.reference, t.desk FROM tasks t JOIN applications a ON a.id = t.application_id "
                       "WHERE t.id = %s AND t.state = 'ready'", (task_id,)).fetchone()
    return (str(row[0]), str(row[1])) if row else None


def audit_entries(conn: psycopg.Connection[Any]) -> list[audit.Entry]:
    return [audit.Entry(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7], r[8]) for r in conn.execute(
        "SELECT seq, at, actor, action, subject, details, document_sha256, prev_hash, hash FROM audit ORDER BY seq")]


def _locked(conn: psycopg.Connection[Any], reference: str, now: datetime,
            calendar: Calendar = NO_CALENDAR) -> tuple[int, engine.BpmnWorkflow]:
    row = conn.execute("SELECT a.id, w.state FROM applications a JOIN workflow_states w ON w.application_id = a.id "
                       "WHERE a.reference = %s FOR UPDATE OF a, w", (reference,)).fetchone()
    if row is None:
        raise NotFound("no such application")
    return row[0], engine.restore(row[1], now, calendar.holidays, calendar.zone)


def _save(conn: psycopg.Connection[Any], app_id: int, workflow: engine.BpmnWorkflow, now: datetime,
          actor: str | None, action: str | None, fields: Mapping[str, Any] | None = None) -> None:
    """Store the workflow and its projections; a status change the applicant should hear of queues its message
    (`outbox.notice_for`) in the same transaction. `fields`: what the acting desk sent (its reason)."""
    status = engine.status(workflow)
    before = conn.execute("SELECT status FROM applications WHERE id = %s", (app_id,)).fetchone()
    next_timer = min((due for _, due in status.timers), default=None)
    conn.execute("INSERT INTO workflow_states (application_id, state, next_timer, updated_at) "
                 "VALUES (%s, %s, %s, %s) ON CONFLICT (application_id) DO UPDATE SET state = EXCLUDED.state, "
                 "next_timer = EXCLUDED.next_timer, updated_at = EXCLUDED.updated_at",
                 (app_id, engine.dump(workflow), next_timer, now))
    ready_ids = [t.id for t in status.ready]
    # Tasks no longer ready: done by this action, or cancelled (an SLA timer took the task away).
    conn.execute("UPDATE tasks SET state = CASE WHEN %s::text IS NULL THEN 'cancelled' ELSE 'done' END, "
                 "finished_at = %s, finished_by = %s, action = %s "
                 "WHERE application_id = %s AND state = 'ready' AND NOT (id::text = ANY(%s))",
                 (actor, now, actor, action, app_id, ready_ids))
    for t in status.ready:
        conn.execute("INSERT INTO tasks (id, application_id, step, name, desk, actions, state, created_at) "
                     "VALUES (%s, %s, %s, %s, %s, %s, 'ready', %s) ON CONFLICT (id) DO NOTHING",
                     (t.id, app_id, t.step, t.name, t.desk, list(t.actions), now))
    app_status = ("closed" if status.finished else
                  "action_needed" if any(t.desk == "citizen" for t in status.ready) else "in_progress")
    conn.execute("UPDATE applications SET status = %s, outcome = %s, updated_at = %s WHERE id = %s",
                 (app_status, status.outcome, now, app_id))
    notice = outbox.notice_for(before[0] if before else None, app_status, status.outcome, fields or {})
    if notice is not None:
        outbox.queue(conn, app_id, notice[0], notice[1], now)


def _audit(conn: psycopg.Connection[Any], now: datetime, actor: str, action: str, subject: str,
           details: Mapping[str, Any], document_sha256: str | None = None) -> audit.Entry:
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_AUDIT_LOCK,))
    row = conn.execute("SELECT seq, at, actor, action, subject, details, document_sha256, prev_hash, hash "
                       "FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    previous = audit.Entry(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), row[6], row[7], row[8]) \
        if row else None
    entry = audit.append(previous, now, actor, action, subject, details, document_sha256)
    conn.execute("INSERT INTO audit (seq, at, actor, action, subject, details, document_sha256, prev_hash, hash) "
                 "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                 (entry.seq, entry.at, entry.actor, entry.action, entry.subject,
                  json.dumps(entry.details, sort_keys=True, ensure_ascii=False), entry.document_sha256,
                  entry.prev_hash, entry.hash))
    return entry
