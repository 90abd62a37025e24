"""Database broker: a PostgreSQL database per agency, an owner role and a read-only role, reachable only by
them, only over TLS, with a connection limit. Identifiers always composed with psycopg.sql.

Every agency's and app's database belongs to the platform (PLATFORM_OWNER), not to the agency: the owner of a
database may change its CONNECTION LIMIT, and an agency that owned its own raised it to -1 (issue 10, item 4).
The agency's role holds CONNECT, CREATE and TEMPORARY on it and owns its schema `public`, where apps run their
migrations. The quota's `database_connections` is enforced twice, where the agency cannot change it: as the
database's CONNECTION LIMIT (every role together: owner, read-only role) and as each role's own (a role without
CREATEROLE cannot alter it). Each app's database and role get the same limit (docs/database-isolation.md)."""

from __future__ import annotations

import json
import re
from contextlib import nullcontext
from typing import Any

from psycopg import sql

from govcloud_platform.box.context import Box
from govcloud_platform.box.idp_api import scram_verifier
from govcloud_platform.box.secrets import new_password
from govcloud_platform.box.services import pg_hba
from govcloud_platform.box.services.database import PG_USER, hba_dir, reload, render_hba
from govcloud_platform.box.services.pg_hardening import harden_database
from govcloud_platform.brokers.base import Broker, Provisioning, in_parallel, naming
from govcloud_platform.brokers.limits import Limit
from govcloud_platform.names import parse_pg, pg_app, pg_owner, pg_reader
from govcloud_platform.spec import Quota

#: the owner of every agency's and app's database: the bootstrap superuser
PLATFORM_OWNER = PG_USER
#: what the agency's role holds on its database (its owner used to hold these implicitly)
TENANT_PRIVILEGES = "CTc"  # CREATE, TEMPORARY, CONNECT as aclitem letters
READER_PRIVILEGES = "c"  # CONNECT


def expected_acl(tenant: str, readers: list[str]) -> list[str]:
    """The database's ACL as `datacl::text[]` prints it, sorted: the platform, the agency's role, its readers;
    no PUBLIC and nobody else."""
    grantor = PLATFORM_OWNER
    items = [f"{PLATFORM_OWNER}={TENANT_PRIVILEGES}/{grantor}", f"{tenant}={TENANT_PRIVILEGES}/{grantor}"]
    items += [f"{reader}={READER_PRIVILEGES}/{grantor}" for reader in readers]
    return sorted(items)


def ensure_role(conn: Any, role: str, password: str, limit: int) -> None:
    """The password goes as a SCRAM verifier: a statement the server logs (failing, or with log_statement on)
    never carries it."""
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    verb = "ALTER" if exists else "CREATE"
    conn.execute(
        sql.SQL(verb + " ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                "CONNECTION LIMIT {} PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(limit), sql.Literal(scram_verifier(password))
        )
    )


def ensure_database(box: Box, dbname: str, tenant: str, readers: list[str], limit: int, admin: Any = None) -> None:
    """Create or converge the database: the platform's, `limit` connections, CONNECT/CREATE/TEMPORARY for
    `tenant` (owner of schema public) and CONNECT plus SELECT for `readers`, nobody else; catalogs hardened.
    Only what differs is changed. `admin`: an autocommit superuser connection to reuse (else one is opened)."""
    with nullcontext(admin) if admin is not None else box.pg_admin() as conn:
        db = sql.Identifier(dbname)
        row = conn.execute("SELECT pg_get_userbyid(datdba), datconnlimit, datacl::text[] FROM pg_database "
                           "WHERE datname = %s", (dbname,)).fetchone()
        if row is None:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8' TEMPLATE template0").format(
                db, sql.Identifier(PLATFORM_OWNER)))
            row = (PLATFORM_OWNER, -1, None)
        owner, current_limit, acl = row
        if owner != PLATFORM_OWNER:  # an older govcloud's database, owned by the agency
            conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(db, sql.Identifier(PLATFORM_OWNER)))
        if current_limit != limit:
            conn.execute(sql.SQL("ALTER DATABASE {} CONNECTION LIMIT {}").format(db, sql.Literal(limit)))
        if owner != PLATFORM_OWNER or sorted(acl or []) != expected_acl(tenant, readers):
            with conn.transaction():  # others see the old ACL or the new one, never none
                grantees = conn.execute(
                    "SELECT DISTINCT pg_get_userbyid(a.grantee) FROM pg_database d, aclexplode(d.datacl) a "
                    "WHERE d.datname = %s AND a.grantee <> 0", (dbname,)).fetchall()
                conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
                for (grantee,) in grantees:
                    if grantee != PLATFORM_OWNER:
                        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM {} CASCADE").format(
                            db, sql.Identifier(grantee)))
                conn.execute(sql.SQL("GRANT CONNECT, CREATE, TEMPORARY ON DATABASE {} TO {}").format(
                    db, sql.Identifier(tenant)))
                for reader in readers:
                    conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(db, sql.Identifier(reader)))
    with box.pg_admin(dbname) as conn:
        conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(tenant)))
        conn.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
        for reader in readers:
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(sql.Identifier(reader)))
            conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(sql.Identifier(reader)))
            conn.execute(sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public GRANT SELECT ON TABLES TO {}")
                         .format(sql.Identifier(tenant), sql.Identifier(reader)))
        harden_database(conn)


def set_role_limit(conn: Any, role: str, limit: int) -> None:
    """A role's own CONNECTION LIMIT (a role without CREATEROLE cannot change it)."""
    conn.execute(sql.SQL("ALTER ROLE {} CONNECTION LIMIT {}").format(sql.Identifier(role), sql.Literal(limit)))


def agency_databases(slug: str, databases: set[str]) -> dict[str, tuple[str, list[str]]]:
    """The agency's databases among the server's `databases`: database -> (its tenant role, its read-only
    roles). The agency's own always (made if missing); each app's that exists (names.py: an app's role and
    database share one name)."""
    out = {pg_owner(slug): (pg_owner(slug), [pg_reader(slug)])}
    for name in sorted(databases):
        owner = parse_pg(name)
        if owner is not None and owner.slug == slug and owner.app is not None:
            out[pg_app(slug, owner.app)] = (pg_app(slug, owner.app), [])
    return out


def database_limits(quotas: dict[str, Quota], dbs: dict[str, tuple[str, int, list[str]]],
                    roles: dict[str, int]) -> list[Limit]:
    """Decide, touching nothing: the limits each agency's databases and roles must have (from its quota) next
    to what the server holds. `dbs`: name -> (owner, connection limit, sorted ACL); `roles`: name -> limit."""
    out: list[Limit] = []
    for slug, quota in sorted(quotas.items()):
        n = quota.database_connections
        for db, (tenant, readers) in agency_databases(slug, set(dbs)).items():
            state = dbs.get(db)
            target = f"database {db}"
            out.append(Limit(slug, target, "owner", PLATFORM_OWNER, state[0] if state else None))
            out.append(Limit(slug, target, "connection limit", n, state[1] if state else None))
            out.append(Limit(slug, target, "access", expected_acl(tenant, readers), state[2] if state else None))
            for role in [tenant, *readers]:
                if db == pg_owner(slug) or role in roles:  # an app's role goes with its database
                    out.append(Limit(slug, f"role {role}", "connection limit", n, roles.get(role)))
    return out


def write_hba_part(box: Box, key: str, dbname: str, roles: list[str]) -> None:
    """One hostssl line per database, role and client network, in the part of pg_hba.conf named `key` (not yet
    live; `pg_hba`)."""
    text = pg_hba.part_text(dbname, roles, box.client_networks)
    path = hba_dir(box) / f"{key}.conf"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


HbaGrant = tuple[str, str, list[str]]  # (part's key, database, roles)
_HBA_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


def check_hba_change(allow: Any, revoke: Any) -> tuple[list[HbaGrant], list[str]]:
    """A change of pg_hba parts as the database host receives it (`govcloud box hba`): every name a plain
    PostgreSQL identifier of ours, or ValueError (nothing else may reach pg_hba.conf or a file name)."""
    if not isinstance(allow, list) or not isinstance(revoke, list):
        raise ValueError("expected lists 'allow' and 'revoke'")
    grants: list[HbaGrant] = []
    for item in allow:
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[2], list)):
            raise ValueError("an 'allow' entry is [key, database, [roles]]")
        key, dbname, roles = item
        for name in (key, dbname, *roles):
            if not isinstance(name, str) or not _HBA_NAME.fullmatch(name):
                raise ValueError(f"not a name of ours: {str(name)[:64]!r}")
        grants.append((key, dbname, list(roles)))
    for key in revoke:
        if not isinstance(key, str) or not _HBA_NAME.fullmatch(key):
            raise ValueError(f"not a name of ours: {str(key)[:64]!r}")
    return grants, list(revoke)


def apply_hba(box: Box, allow: list[HbaGrant], revoke: list[str]) -> None:
    """Write and remove parts of pg_hba.conf, then reload only when it changed. Where the database runs: here,
    or on its hosts of the hosts target (`govcloud box hba` there, the change on stdin; the parts are expanded
    for each host's client networks). Under Patroni every database host gets it; one that does not answer (a host
    lost) is skipped as long as one did, and gets the control's record of every grant on the next `up`
    (`resync_hba`): the roles themselves replicate with the data."""
    if not box.runs("database"):
        from govcloud_platform.box import remote

        _record_hba(box, allow, revoke)
        change = json.dumps({"allow": [[k, d, r] for k, d, r in allow], "revoke": revoke})
        hosts = box.placement.hosts_of("database") if box.placement is not None else ()

        def push(host: str) -> Exception | None:
            try:
                remote.govcloud(box, "database", ["box", "hba"], stdin=change, on=host,
                                timeout=120 if len(hosts) == 1 else 20)
            except Exception as exc:  # noqa: BLE001 - ServiceError or an SSH failure: judged below
                return exc
            return None

        if len(hosts) <= 1:
            outcomes = [push(host) for host in hosts]
        else:  # at once: a lost host costs its timeout once, not once per host before it
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(len(hosts)) as pool:
                outcomes = list(pool.map(push, hosts))
        failed = [exc for exc in outcomes if exc is not None]
        if failed and (len(failed) == len(hosts) or len(hosts) == 1):
            raise failed[0]
        return
    for key, dbname, roles in allow:
        write_hba_part(box, key, dbname, roles)
    for key in revoke:
        (hba_dir(box) / f"{key}.conf").unlink(missing_ok=True)
    if render_hba(box):
        reload(box)


HBA_RECORD = "hba.json"


def _record_hba(box: Box, allow: list[HbaGrant], revoke: list[str]) -> None:
    """The control's record of every grant it sent the database hosts (`<home>/pg/hba.json`, 0600)."""
    from govcloud_platform.box.secrets import write_private

    path = box.dir("pg") / HBA_RECORD
    try:
        grants = json.loads(path.read_text())
    except (OSError, ValueError):
        grants = {}
    grants = grants if isinstance(grants, dict) else {}
    grants.update({k: [d, r] for k, d, r in allow})
    for key in revoke:
        grants.pop(key, None)
    write_private(path, json.dumps(grants, indent=1, sort_keys=True) + "\n")


def resync_hba(box: Box) -> int:
    """The control sends its record of grants to every database host again (a host that missed some while it was
    lost converges on `up`); additive: a revoke a lost host missed leaves a line for a role that no longer
    exists. Returns how many grants were sent."""
    try:
        grants = json.loads((box.home / "pg" / HBA_RECORD).read_text())
        allow, _ = check_hba_change([[k, d, r] for k, (d, r) in grants.items()], [])
    except (OSError, ValueError, TypeError, AttributeError):
        return 0
    if allow:
        apply_hba(box, allow, [])
    return len(allow)


def allow_in_hba(box: Box, key: str, dbname: str, roles: list[str]) -> None:
    """`write_hba_part`, then reload only when pg_hba.conf changed."""
    apply_hba(box, [(key, dbname, roles)], [])


def revoke_in_hba(box: Box, key: str) -> None:
    apply_hba(box, [], [key])


def drop_database(box: Box, dbname: str, roles: list[str]) -> None:
    with box.pg_admin() as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (dbname,))
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
        for role in roles:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def disable_roles(box: Box, roles: list[str]) -> None:
    """Keep the data but let nobody log in as these roles, and end their sessions."""
    with box.pg_admin() as conn:
        for role in roles:
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(sql.Identifier(role)))
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,))


class DatabaseBroker(Broker):
    service = "database"

    def new_credentials(self, box: Box, slug: str) -> dict[str, Any]:
        return {"password": new_password(), "readonly_password": new_password()}

    def provision(self, box: Box, slug: str, name: str, quota: Quota, creds: dict[str, Any], new: bool = False) -> None:
        owner, reader = pg_owner(slug), pg_reader(slug)
        with box.pg_admin() as conn:
            ensure_role(conn, owner, creds["password"], quota.database_connections)
            ensure_role(conn, reader, creds["readonly_password"], quota.database_connections)
            ensure_database(box, owner, owner, [reader], quota.database_connections, conn)
        allow_in_hba(box, owner, owner, [owner, reader])

    def provision_many(self, box: Box, jobs: list[Provisioning]) -> None:
        """Roles on one connection, databases by a few workers (CREATE DATABASE is I/O-bound, and each
        database needs its own connection for the schema grants), then one pg_hba.conf render and reload."""
        with box.pg_admin() as conn:
            for job in jobs:
                with naming(job.slug, self.service):
                    ensure_role(conn, pg_owner(job.slug), job.creds["password"], job.quota.database_connections)
                    ensure_role(conn, pg_reader(job.slug), job.creds["readonly_password"],
                                job.quota.database_connections)

        def databases(chunk: list[Provisioning]) -> list[None]:
            with box.pg_admin() as admin:
                for job in chunk:
                    with naming(job.slug, self.service):
                        owner = pg_owner(job.slug)
                        ensure_database(box, owner, owner, [pg_reader(job.slug)], job.quota.database_connections,
                                        admin)
            return []

        in_parallel(databases, jobs, workers=3)
        apply_hba(box, [(pg_owner(job.slug), pg_owner(job.slug), [pg_owner(job.slug), pg_reader(job.slug)])
                        for job in jobs], [])

    def bind(self, box: Box, slug: str, creds: dict[str, Any]) -> dict[str, Any]:
        attrs = {"target_session_attrs": box.pg_session_attrs} if box.pg_session_attrs else {}
        return {
            "host": box.pg_hosts,  # several, comma-separated, under Patroni (libpq finds the leader)
            "port": box.ports.postgres,
            **attrs,
            "dbname": pg_owner(slug),
            "user": pg_owner(slug),
            "password": creds["password"],
            "readonly_user": pg_reader(slug),
            "readonly_password": creds["readonly_password"],
            "sslmode": "verify-full",
            "sslrootcert": str(box.ca_file),
        }

    def deprovision(self, box: Box, slug: str, purge: bool) -> None:
        owner = pg_owner(slug)
        revoke_in_hba(box, owner)
        if purge:
            drop_database(box, owner, [owner, pg_reader(slug)])
        else:
            disable_roles(box, [owner, pg_reader(slug)])

    def usage(self, box: Box, slug: str) -> dict[str, Any]:
        """Size, open connections and the connection limit the server enforces (not the spec's: `Onboarding.usage`
        compares it with the applied quota)."""
        with box.pg_admin() as conn:
            row = conn.execute(
                "SELECT pg_database_size(d.oid), d.datconnlimit, "
                "(SELECT count(*) FROM pg_stat_activity a WHERE a.datname = d.datname) "
                "FROM pg_database d WHERE d.datname = %s", (pg_owner(slug),)).fetchone()
        if row is None:
            return {"bytes": 0, "connections": 0, "connection_limit": None}
        return {"bytes": int(row[0]), "connection_limit": int(row[1]), "connections": int(row[2])}

    def limits(self, box: Box, quotas: dict[str, Quota]) -> list[Limit]:
        """Owner, connection limit and ACL of every agency's and app's database, and its roles' connection
        limits: one query of each catalog for all agencies."""
        if not quotas:
            return []
        with box.pg_admin() as conn:
            dbs = {r[0]: (str(r[1]), int(r[2]), sorted(r[3] or [])) for r in conn.execute(
                "SELECT datname, pg_get_userbyid(datdba), datconnlimit, datacl::text[] FROM pg_database "
                "WHERE datname LIKE 'ag\\_%'")}
            roles = {str(r[0]): int(r[1]) for r in conn.execute(
                "SELECT rolname, rolconnlimit FROM pg_roles WHERE rolname LIKE 'ag\\_%'")}
        return database_limits(quotas, dbs, roles)

    def restore_limits(self, box: Box, jobs: list[Provisioning]) -> None:
        """The agency's own database and roles as `provision_many` makes them, then each app's database and role
        (found on the server) with the same limit."""
        self.provision_many(box, jobs)
        with box.pg_admin() as conn:
            dbs = {r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'ag\\_%'")}
            roles = {r[0] for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE 'ag\\_%'")}
            for job in jobs:
                with naming(job.slug, self.service):
                    for db, (role, _) in agency_databases(job.slug, dbs).items():
                        if db != pg_owner(job.slug) and role in roles:
                            set_role_limit(conn, role, job.quota.database_connections)
                            ensure_database(box, db, role, [], job.quota.database_connections, conn)

    def taken(self, box: Box, slugs: list[str]) -> dict[str, list[str]]:
        wanted = {name: slug for slug in slugs for name in (pg_owner(slug), pg_reader(slug))}
        with box.pg_admin() as conn:
            roles = conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (list(wanted),)).fetchall()
            dbs = conn.execute("SELECT datname FROM pg_database WHERE datname = ANY(%s)", (list(wanted),)).fetchall()
        out: dict[str, list[str]] = {}
        for kind, rows in (("role", roles), ("database", dbs)):
            for (name,) in rows:
                out.setdefault(wanted[name], []).append(f"PostgreSQL {kind} {name}")
        return out

    def orphans(self, box: Box, known: set[str]) -> list[str]:
        """Roles and databases named like an agency's (names.py) whose agency the registry does not know; the
        agency's own apps' are its own (the app store reports those)."""
        with box.pg_admin() as conn:
            roles = [r[0] for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE 'ag\\_%'")]
            dbs = [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'ag\\_%'")]

        def foreign(name: str) -> bool:
            owner = parse_pg(name)
            return owner is None or owner.slug not in known

        return [f"role {r}" for r in roles if foreign(r)] + [f"database {d}" for d in dbs if foreign(d)]
