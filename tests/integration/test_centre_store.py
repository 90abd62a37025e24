"""The centre's store on a real PostgreSQL 15 (TLS, the box's CA): applications through their processes, the
desks' inboxes, SLA timers fired by moving time, tracking codes under row locks, and an audit table that
refuses UPDATE, DELETE and TRUNCATE, and whose chain shows a row removed behind the trigger's back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from centre_core import catalogue, store
from centre_core.errors import ActionError
from centre_core.tracking import Outcome
from govcloud_platform.box.context import Box
from tests.integration._centre import centre_database

pytestmark = [pytest.mark.integration]
T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
KEY = b"t" * 32


@pytest.fixture(scope="module")
def pg() -> Iterator[Box]:
    with centre_database("centre") as (box, _root):
        yield box


@pytest.fixture(scope="module")
def conn(pg: Box) -> Iterator[psycopg.Connection[Any]]:
    with pg.pg_admin("centre") as c:
        store.migrate(c)
        store.migrate(c)  # twice: idempotent
        yield c


@pytest.fixture(scope="module")
def loaded() -> catalogue.Loaded:
    return catalogue.load_samples()


def test_an_application_goes_through_desks_and_is_tracked(conn: psycopg.Connection[Any],
                                                          loaded: catalogue.Loaded) -> None:
    ref = store.submit(conn, loaded, "trade_licence", {"business_name": "Ali Traders"}, "a@example.pk", T0)
    inbox = [row for row in store.inbox(conn, "clerk") if row[0] == ref]
    assert len(inbox) == 1 and inbox[0][3] == ["return", "reject", "accept"]
    store.act(conn, ref, inbox[0][1], "return", "clerk", "staff:clerk1", {"reason": "premises proof"}, T0)
    code = store.issue_code(conn, KEY, ref, T0)
    outcome, seen = store.track(conn, KEY, ref.lower()[:4] + "-" + ref[4:], code, T0 + timedelta(minutes=1))
    assert outcome is Outcome.OK and seen is not None
    assert seen.status == "action_needed" and [t.desk for t in seen.ready] == ["citizen"]
    assert store.track(conn, KEY, ref, code, T0)[0] is Outcome.USED  # one time only
    store.act(conn, ref, seen.ready[0].id, "done", "citizen", "citizen", {}, T0)
    task = next(r for r in store.inbox(conn, "clerk") if r[0] == ref)
    with pytest.raises(ActionError):
        store.act(conn, ref, task[1], "accept", "licensing_officer", "staff:x", {}, T0)
    store.act(conn, ref, task[1], "accept", "clerk", "staff:clerk1", {}, T0)
    task = next(r for r in store.inbox(conn, "licensing_officer") if r[0] == ref)
    status = store.act(conn, ref, task[1], "approve", "licensing_officer", "staff:officer", {}, T0)
    assert status.outcome == "issued"
    row = conn.execute("SELECT status, outcome FROM applications WHERE reference = %s", (ref,)).fetchone()
    assert row == ("closed", "issued")
    states = conn.execute("SELECT state, finished_by FROM tasks t JOIN applications a ON a.id = t.application_id "
                          "WHERE a.reference = %s ORDER BY t.created_at, t.finished_by", (ref,)).fetchall()
    assert [s for s, _ in states] == ["done"] * 4


def test_wrong_codes_lock_the_code_and_unknown_references_say_nothing(conn: psycopg.Connection[Any],
                                                                      loaded: catalogue.Loaded) -> None:
    ref = store.submit(conn, loaded, "birth_certificate", {"child_name": "Sara"}, None, T0)
    code = store.issue_code(conn, KEY, ref, T0)
    outcomes = [store.track(conn, KEY, ref, "00000000", T0)[0] for _ in range(5)]
    assert outcomes[-1] is Outcome.LOCKED and store.track(conn, KEY, ref, code, T0)[0] is Outcome.LOCKED
    assert store.track(conn, KEY, "0000-0000-0000", code, T0) == (Outcome.WRONG, None)
    assert store.track(conn, KEY, "not a reference", code, T0) == (Outcome.WRONG, None)
    fresh = store.issue_code(conn, KEY, ref, T0)
    assert store.track(conn, KEY, ref, fresh, T0)[0] is Outcome.OK
    stored = [r[0] for r in conn.execute("SELECT digest FROM tracking_codes")]
    assert code not in stored and fresh not in stored


def test_the_timer_job_escalates_past_the_sla(conn: psycopg.Connection[Any], loaded: catalogue.Loaded) -> None:
    ref = store.submit(conn, loaded, "building_permit", {"plot_address": "Plot 7"}, None, T0)
    assert ref not in store.run_timers(conn, T0 + timedelta(days=6))  # 5 working days: due Tue 8th, 09:00
    assert ref in store.run_timers(conn, T0 + timedelta(days=7))
    assert any(r[0] == ref for r in store.inbox(conn, "supervisor"))
    assert not any(r[0] == ref for r in store.inbox(conn, "intake"))
    cancelled = conn.execute("SELECT t.state FROM tasks t JOIN applications a ON a.id = t.application_id "
                             "WHERE a.reference = %s AND t.step = 'intake_review'", (ref,)).fetchone()
    assert cancelled == ("cancelled",)


@pytest.mark.parametrize("sql", ["UPDATE audit SET actor = 'someone else'", "DELETE FROM audit WHERE seq = 1",
                                 "TRUNCATE audit"])
def test_the_audit_table_refuses_changes(conn: psycopg.Connection[Any], loaded: catalogue.Loaded, sql: str) -> None:
    store.submit(conn, loaded, "trade_licence", {}, None, T0)
    before = store.audit_entries(conn)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        with conn.transaction():
            conn.execute(sql)
    assert store.audit_entries(conn) == before


def test_the_chain_verifies_and_shows_a_row_deleted_behind_the_trigger(pg: Box, conn: psycopg.Connection[Any],
                                                                       loaded: catalogue.Loaded) -> None:
    for _ in range(3):
        store.submit(conn, loaded, "trade_licence", {}, None, T0)
    entries = store.audit_entries(conn)
    assert len(entries) >= 3 and store.audit.verify(entries, head=(entries[-1].seq, entries[-1].hash)) == []
    victim = entries[len(entries) // 2].seq
    with conn.transaction():  # a superuser goes round the trigger
        conn.execute("ALTER TABLE audit DISABLE TRIGGER audit_append_only")
        conn.execute("DELETE FROM audit WHERE seq = %s", (victim,))
        conn.execute("UPDATE audit SET details = '{\"comment\": \"forged\"}' WHERE seq = %s", (victim + 1,))
        conn.execute("ALTER TABLE audit ENABLE TRIGGER audit_append_only")
    breaks = store.audit.verify(store.audit_entries(conn))
    assert {b.seq for b in breaks} >= {victim + 1} and any("altered" in b.reason for b in breaks)


def test_a_deploy_converges_the_schema_and_records_the_catalogues_processes_once(pg: Box,
                                                                                 loaded: catalogue.Loaded) -> None:
    """What `centre_converge` reports: the first migrate and the first record change something, the next none."""
    with pg.pg_admin() as admin:
        admin.execute("CREATE DATABASE centre_fresh")
    with pg.pg_admin("centre_fresh") as c:
        assert store.migrate(c) is True
        assert store.migrate(c) is False
        assert store.record_processes(c, loaded) == ["birth_certificate", "trade_licence", "building_permit",
                                                      "grievance"]
        assert store.record_processes(c, loaded) == []
        reference = store.submit(c, loaded, "trade_licence", {}, None, T0)  # starts on the recorded version
        assert c.execute("SELECT count(*) FROM process_versions").fetchone() == (4,)
        assert c.execute("SELECT v.service_id FROM applications a JOIN process_versions v "
                         "ON v.id = a.process_version_id WHERE a.reference = %s", (reference,)).fetchone() \
            == ("trade_licence",)
