"""Class "database": privilege escalation from an agency's PostgreSQL roles (the owner and the read-only role)
against its quota, the cluster and the other agency. Every row is one `attack(...)` with a real psycopg client
over TLS, using only what `agency credentials` hands the agency; positive controls prove that the roles work.

Before the fix (issue 10, items 4 and 6) the owner role owned its database: `ALTER DATABASE own CONNECTION LIMIT
-1` succeeded and the agency opened more connections than its quota; it could open its database to PUBLIC; and
every role read every database's limit and ACL, every role's attributes and every session's user@database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.conftest import BoxHandle
from tests.security.conftest import INTRUDER, VICTIM
from tests.security.matrix import attack

pytestmark = pytest.mark.integration
ROLES = ("owner", "reader")
SECRET = "citizen 42: private record of the victim"


def connect(creds: dict[str, Any], who: str = "owner", dbname: str | None = None) -> psycopg.Connection[Any]:
    db = creds["database"]
    user, password = ((db["user"], db["password"]) if who == "owner"
                      else (db["readonly_user"], db["readonly_password"]))
    return psycopg.connect(host=db["host"], port=db["port"], dbname=dbname or db["dbname"], user=user,
                           password=password, sslmode="verify-full", sslrootcert=db["sslrootcert"],
                           autocommit=True, connect_timeout=5)


def names(tenants: dict[str, dict[str, Any]], who: str) -> dict[str, Any]:
    """Placeholders of the statements below, from the attacker's (intruder's `who` role) point of view."""
    me, victim = tenants[INTRUDER]["database"], tenants[VICTIM]["database"]
    own_role = me["user"] if who == "owner" else me["readonly_user"]
    return {
        "own_db": sql.Identifier(me["dbname"]), "own_role": sql.Identifier(own_role),
        "victim_db": sql.Identifier(victim["dbname"]), "victim_owner": sql.Identifier(victim["user"]),
        "victim_reader": sql.Identifier(victim["readonly_user"]),
        "victim_db_name": sql.Literal(victim["dbname"]), "victim_owner_name": sql.Literal(victim["user"]),
    }


@pytest.fixture(scope="module")
def seeded(tenants: dict[str, dict[str, Any]]) -> Iterator[dict[str, dict[str, Any]]]:
    """Positive controls first: each owner creates a table and its reader reads it; the victim also shares a
    table with PUBLIC (its own choice) and keeps a session open while the attacks run."""
    for slug in (VICTIM, INTRUDER):
        with connect(tenants[slug]) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS records (id serial PRIMARY KEY, body text NOT NULL)")
            conn.execute("CREATE INDEX IF NOT EXISTS records_body ON records (body)")
            conn.execute("ALTER TABLE records ADD COLUMN IF NOT EXISTS created timestamptz DEFAULT now()")
            conn.execute("INSERT INTO records (body) VALUES (%s)", (f"{SECRET} ({slug})",))
            conn.execute("CREATE TABLE IF NOT EXISTS shared (v text)")
            conn.execute("GRANT SELECT ON shared TO PUBLIC")
            conn.execute("CREATE TEMPORARY TABLE scratch (v int)")
        with connect(tenants[slug], "reader") as conn:
            assert conn.execute("SELECT body FROM records").fetchall(), "the reader reads its agency's table"
    with connect(tenants[VICTIM]) as victim_session:
        yield tenants
        victim_session.execute("SELECT 1")


def test_positive_controls(seeded: dict[str, dict[str, Any]]) -> None:
    """What the agency and its apps need still works: DDL in its schema, a trusted extension, the locale check
    Synapse makes at start-up, its own database's catalogs."""
    with connect(seeded[INTRUDER]) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto")
        assert conn.execute("SELECT length(gen_random_uuid()::text)").fetchone() == (36,)
        row = conn.execute("SELECT datcollate, datctype FROM pg_database WHERE datname = current_database()")
        assert row.fetchone() is not None
        tables = conn.execute("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                              "WHERE n.nspname = 'public' AND c.relkind = 'r'").fetchall()
        assert ("records",) in tables
        assert conn.execute("SELECT count(*) FROM pg_stat_user_tables").fetchone()[0] >= 1  # type: ignore[index]
    with connect(seeded[INTRUDER], "reader") as conn:
        assert conn.execute("SELECT count(*) FROM records").fetchone()[0] >= 1  # type: ignore[index]


# --- escalation from the attacker's own database: (what, statement, effect) --------------------------------
# A statement "succeeds" when it raises nothing; when PostgreSQL answers a GRANT it may not make with a warning
# instead of an error, `effect` (run by the attacker afterwards) says whether it had any.
ESCALATIONS: list[tuple[str, str, str | None]] = [
    ("ALTER DATABASE own CONNECTION LIMIT", "ALTER DATABASE {own_db} CONNECTION LIMIT -1", None),
    ("ALTER DATABASE own SET", "ALTER DATABASE {own_db} SET statement_timeout = 0", None),
    ("ALTER DATABASE own OWNER TO self", "ALTER DATABASE {own_db} OWNER TO {own_role}", None),
    ("ALTER DATABASE own RENAME", "ALTER DATABASE {own_db} RENAME TO pwned", None),
    ("GRANT CONNECT ON own database TO PUBLIC", "GRANT CONNECT ON DATABASE {own_db} TO PUBLIC",
     "SELECT has_database_privilege('public', current_database(), 'CONNECT')"),
    ("ALTER DATABASE other CONNECTION LIMIT", "ALTER DATABASE {victim_db} CONNECTION LIMIT -1", None),
    ("GRANT CONNECT ON other database TO self", "GRANT CONNECT ON DATABASE {victim_db} TO {own_role}", None),
    ("DROP DATABASE other", "DROP DATABASE {victim_db}", None),
    ("CREATE DATABASE", "CREATE DATABASE pwned", None),
    ("ALTER ROLE self CONNECTION LIMIT", "ALTER ROLE {own_role} CONNECTION LIMIT -1", None),
    ("ALTER ROLE self CREATEROLE", "ALTER ROLE {own_role} CREATEROLE", None),
    ("ALTER ROLE other PASSWORD", "ALTER ROLE {victim_owner} PASSWORD 'pwned-pwned-pwned'", None),
    ("ALTER ROLE other CONNECTION LIMIT", "ALTER ROLE {victim_owner} CONNECTION LIMIT 0", None),
    ("CREATE ROLE", "CREATE ROLE pwned LOGIN PASSWORD 'pwned-pwned-pwned'", None),
    ("GRANT other agency's role to self", "GRANT {victim_owner} TO {own_role}", None),
    ("SET ROLE other agency's owner", "SET ROLE {victim_owner}", None),
    ("SET ROLE other agency's reader", "SET ROLE {victim_reader}", None),
    ("SET SESSION AUTHORIZATION other", "SET SESSION AUTHORIZATION {victim_owner}", None),
    ("SET SESSION AUTHORIZATION postgres", "SET SESSION AUTHORIZATION postgres", None),
    ("CREATE EXTENSION dblink", "CREATE EXTENSION dblink", None),
    ("CREATE EXTENSION postgres_fdw", "CREATE EXTENSION postgres_fdw", None),
    ("CREATE EXTENSION file_fdw", "CREATE EXTENSION file_fdw", None),
    ("CREATE EXTENSION adminpack", "CREATE EXTENSION adminpack", None),
    ("CREATE EXTENSION plpython3u", "CREATE EXTENSION plpython3u", None),
    ("CREATE EXTENSION plperlu", "CREATE EXTENSION plperlu", None),
    ("dblink to the other database", "SELECT dblink_connect('dbname=' || {victim_db_name})", None),
    ("COPY TO PROGRAM", "COPY (SELECT 1) TO PROGRAM 'id'", None),
    ("COPY FROM PROGRAM", "CREATE TEMPORARY TABLE p (v text); COPY p FROM PROGRAM 'id'", None),
    ("COPY TO server file", "COPY (SELECT 1) TO '/tmp/govcloud-pwned'", None),
    ("COPY FROM server file", "CREATE TEMPORARY TABLE f (v text); COPY f FROM '/etc/passwd'", None),
    ("pg_read_file", "SELECT pg_read_file('/etc/passwd')", None),
    ("pg_read_binary_file", "SELECT pg_read_binary_file('postgresql.conf')", None),
    ("pg_ls_dir", "SELECT pg_ls_dir('.')", None),
    ("pg_stat_file", "SELECT pg_stat_file('pg_hba.conf')", None),
    ("lo_import of a server file", "SELECT lo_import('/etc/passwd')", None),
    ("lo_export to a server file", "SELECT lo_export(lo_create(0), '/tmp/govcloud-pwned')", None),
    ("ALTER SYSTEM", "ALTER SYSTEM SET log_statement = 'all'", None),
    ("pg_reload_conf", "SELECT pg_reload_conf()", None),
    ("SET a superuser-only setting", "SET log_statement = 'none'", None),
]


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize(("what", "statement", "effect"), ESCALATIONS, ids=[e[0] for e in ESCALATIONS])
def test_escalation_is_denied(seeded: dict[str, dict[str, Any]], who: str, what: str, statement: str,
                              effect: str | None) -> None:
    query = sql.SQL(statement).format(**names(seeded, who))  # type: ignore[arg-type]
    with connect(seeded[INTRUDER], who) as conn:
        before = effect is not None and bool(conn.execute(effect).fetchone()[0])  # type: ignore[index]
        with attack("database", f"{who}: {what}", denied=(psycopg.Error,)) as a:
            conn.execute(query)
            if effect is not None:  # it had an effect only if it made the difference
                after = bool(conn.execute(effect).fetchone()[0])  # type: ignore[index]
                a.succeeded, a.detail = after and not before, f"effect before {before}, after {after}"


# --- catalog reads: (what, query); a row returned reveals another agency's metadata -----------------------
CATALOG: list[tuple[str, str]] = [
    ("other database's connection limit and ACL",
     "SELECT datconnlimit, datacl FROM pg_database WHERE datname = {victim_db_name}"),
    ("databases' owners", "SELECT datdba FROM pg_database WHERE datname = {victim_db_name}"),
    ("other role's attributes and limit",
     "SELECT rolconnlimit, rolsuper, rolvaliduntil FROM pg_roles WHERE rolname = {victim_owner_name}"),
    ("pg_user", "SELECT usesuper FROM pg_user WHERE usename = {victim_owner_name}"),
    ("role memberships (pg_auth_members)", "SELECT count(*) FROM pg_auth_members"),
    ("per-role and per-database settings", "SELECT count(*) FROM pg_db_role_setting"),
    ("comments on databases and roles", "SELECT count(*) FROM pg_shdescription"),
    ("shared dependencies (who owns what where)", "SELECT count(*) FROM pg_shdepend"),
    ("other sessions' user@database (pg_stat_activity)",
     "SELECT usename, datname FROM pg_stat_activity WHERE datname = {victim_db_name}"),
    ("other sessions through pg_stat_get_backend_*",
     "SELECT pg_stat_get_backend_userid(b), pg_stat_get_backend_dbid(b) FROM pg_stat_get_backend_idset() b"),
    ("sessions' TLS details (pg_stat_ssl)", "SELECT count(*) FROM pg_stat_ssl"),
    ("other database's statistics", "SELECT numbackends FROM pg_stat_database WHERE datname = {victim_db_name}"),
    ("per-database counters by OID", "SELECT pg_stat_get_db_numbackends(oid) FROM pg_database"),
    ("locks of every database (pg_locks)", "SELECT count(*) FROM pg_locks"),
    ("prepared transactions of every database", "SELECT count(*) FROM pg_prepared_xacts"),
    ("progress of other sessions' VACUUM", "SELECT count(*) FROM pg_stat_progress_vacuum"),
    ("replication slots", "SELECT count(*) FROM pg_replication_slots"),
    ("WAL archiver status", "SELECT count(*) FROM pg_stat_archiver"),
    ("other database's size", "SELECT pg_database_size({victim_db_name})"),
]


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize(("what", "query"), CATALOG, ids=[c[0] for c in CATALOG])
def test_catalog_read_is_denied(seeded: dict[str, dict[str, Any]], who: str, what: str, query: str) -> None:
    statement = sql.SQL(query).format(**names(seeded, who))  # type: ignore[arg-type]
    with connect(seeded[INTRUDER], who) as conn, attack("database", f"{who}: reads {what}",
                                                       denied=(psycopg.Error,)) as a:
        rows = conn.execute(statement).fetchall()
        a.succeeded, a.detail = bool(rows), f"{len(rows)} row(s)"


# --- other databases: pg_hba.conf admits each role only to its agency's database --------------------------
TARGETS = ("victim", "postgres", "template1", "idp")


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize("target", TARGETS)
def test_connecting_to_another_database_is_denied(seeded: dict[str, dict[str, Any]], who: str, target: str) -> None:
    dbname = seeded[VICTIM]["database"]["dbname"] if target == "victim" else target
    with attack("database", f"{who}: connects to {target}'s database", denied=(psycopg.OperationalError,)) as a:
        with connect(seeded[INTRUDER], who, dbname) as conn:
            rows = conn.execute("SELECT body FROM records").fetchall() if target == "victim" else [(1,)]
            a.succeeded, a.detail = True, f"connected, {len(rows)} row(s)"


@pytest.mark.parametrize("who", ROLES)
def test_reading_what_the_victim_shared_with_public_is_denied(seeded: dict[str, dict[str, Any]], who: str) -> None:
    """The victim granted a table to PUBLIC (its choice): PUBLIC reaches only roles that can connect to its
    database, and no other agency's role can."""
    victim_db = seeded[VICTIM]["database"]["dbname"]
    with attack("database", f"{who}: reads the victim's PUBLIC table", denied=(psycopg.OperationalError,)) as a:
        with connect(seeded[INTRUDER], who, victim_db) as conn:
            a.succeeded = conn.execute("SELECT count(*) FROM shared").fetchone() is not None


def test_reader_cannot_write_or_create(seeded: dict[str, dict[str, Any]]) -> None:
    with connect(seeded[INTRUDER], "reader") as conn:
        for what, statement in (("reader writes the owner's table", "INSERT INTO records (body) VALUES ('x')"),
                                ("reader creates a table", "CREATE TABLE public.pwned (v int)"),
                                ("reader becomes the owner", "SET ROLE " + seeded[INTRUDER]["database"]["user"])):
            with attack("database", what, denied=(psycopg.Error,)):
                conn.execute(statement)


# --- the connection quota ------------------------------------------------------------------------------------
def quota_connections(box: BoxHandle, slug: str) -> int:
    shown = box.cli("--json", "agency", "show", slug)
    assert shown.rc == 0, shown.stderr
    return box.box().spec.resolve_quota(shown.json()["quota"]).database_connections


def open_until_refused(stack: ExitStack, creds: dict[str, Any], whos: tuple[str, ...], most: int) -> int:
    opened = 0
    for i in range(most):
        try:
            stack.enter_context(connect(creds, whos[i % len(whos)]))
        except psycopg.OperationalError:
            break
        opened += 1
    return opened


@pytest.mark.parametrize("whos", [("owner",), ("reader",), ("owner", "reader")], ids=["owner", "reader", "both"])
def test_more_connections_than_the_quota_are_refused(box: BoxHandle, seeded: dict[str, dict[str, Any]],
                                                     whos: tuple[str, ...]) -> None:
    """The agency first tries to lift its limits (database and roles), then opens connections: never more than
    its quota's database_connections, owner and reader together."""
    limit = quota_connections(box, INTRUDER)
    creds = seeded[INTRUDER]
    for who in whos:
        for statement in ("ALTER DATABASE {own_db} CONNECTION LIMIT -1", "ALTER ROLE {own_role} CONNECTION LIMIT -1"):
            try:
                with connect(creds, who) as conn:
                    conn.execute(sql.SQL(statement).format(**names(seeded, who)))  # type: ignore[arg-type]
            except psycopg.Error:
                pass
    with ExitStack() as stack, attack("database", f"{'+'.join(whos)}: opens more connections than its quota") as a:
        opened = open_until_refused(stack, creds, whos, limit + 5)
        a.succeeded, a.detail = opened > limit, f"{opened} connections open, quota {limit}"
