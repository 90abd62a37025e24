"""What an agency's roles may read of the cluster's metadata (issue 10, item 6).

PostgreSQL lets every role read the shared catalogs and the cluster-wide statistics: any agency listed every
database with its connection limit and ACL, every role with its limits, and every other session's user and
database. We revoke from PUBLIC what PostgreSQL lets a superuser revoke and no app of the catalogue needs
(measured: psql, psycopg, Django/Wagtail's introspection and migrations, Synapse's start-up checks). The
privileges of a system catalog or view are held in each database's own `pg_class`, so this runs in every
database: once per database when the broker makes it (`harden_database`), and over the whole cluster on `up`
and on the first `apply` of a newer govcloud (`harden_cluster`).

What stays visible, and why (docs/database-isolation.md says it for operators):
- role and database names: `oid::regrole` and `pg_describe_object` print any role's or database's name with no
  privilege check, so names are not secrets; `pg_database` keeps the columns Synapse reads at start-up
  (`datname`, `datcollate`, `datctype`) and other harmless ones; owner, connection limit, ACL and xid horizons
  are hidden.
- `pg_settings` (the session's own values; the superuser-only ones stay hidden by PostgreSQL itself) and
  `pg_tablespace` (only the two built-in tablespaces exist).
- the own database's catalogs and statistics (`pg_class`, `pg_stat_user_tables`, ...): per database, so they
  hold only the agency's own objects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from govcloud_platform.box.context import Box

#: bump when the SQL below changes: `apply` re-runs `harden_cluster` on a box hardened by an older version
VERSION = 1

#: columns of pg_database every role may still read (Synapse checks datcollate/datctype of its database)
DATABASE_COLUMNS = (
    "oid", "datname", "encoding", "datlocprovider", "datistemplate", "datallowconn", "datcollate", "datctype",
    "daticulocale", "datcollversion", "dattablespace",
)

#: columns of pg_roles every role may still read: names are not secret (see above), and psql's `\d` and pg_dump
#: map owners' OIDs to names through this view
ROLE_COLUMNS = ("oid", "rolname")

#: catalogs and views whose rows describe other databases, roles or sessions: no SELECT for PUBLIC
HIDDEN_RELATIONS = (
    # roles, memberships, per-role and per-database settings, comments and dependencies of shared objects
    "pg_user", "pg_group", "pg_auth_members", "pg_db_role_setting", "pg_shdescription",
    "pg_shdepend", "pg_shseclabel", "pg_replication_origin", "pg_parameter_acl",
    # sessions, locks and prepared transactions of every database
    "pg_stat_activity", "pg_stat_ssl", "pg_stat_gssapi", "pg_locks", "pg_prepared_xacts",
    "pg_stat_progress_analyze", "pg_stat_progress_basebackup", "pg_stat_progress_cluster", "pg_stat_progress_copy",
    "pg_stat_progress_create_index", "pg_stat_progress_vacuum",
    # per-database and cluster-wide statistics
    "pg_stat_database", "pg_stat_database_conflicts", "pg_stat_archiver", "pg_stat_bgwriter", "pg_stat_wal",
    "pg_stat_slru", "pg_stat_recovery_prefetch",
    # replication
    "pg_replication_slots", "pg_stat_replication", "pg_stat_replication_slots", "pg_stat_wal_receiver",
    "pg_stat_subscription", "pg_stat_subscription_stats",
)

#: functions behind those views (a view's functions run with the caller's privileges): LIKE patterns
HIDDEN_FUNCTION_PATTERNS = (
    r"pg\_stat\_get\_backend\_%", r"pg\_stat\_get\_db\_%", r"pg\_stat\_get\_bgwriter\_%", r"pg\_stat\_get\_buf\_%",
    r"pg\_stat\_get\_checkpoint\_%",
)
HIDDEN_FUNCTIONS = (
    "pg_stat_get_activity", "pg_stat_get_progress_info", "pg_stat_get_wal_senders", "pg_stat_get_wal_receiver",
    "pg_stat_get_subscription", "pg_stat_get_subscription_stats", "pg_stat_get_replication_slot",
    "pg_stat_get_archiver", "pg_stat_get_wal", "pg_stat_get_slru", "pg_stat_get_recovery_prefetch",
    "pg_lock_status", "pg_prepared_xact", "pg_get_replication_slots", "pg_blocking_pids",
    "pg_safe_snapshot_blocking_pids", "pg_tablespace_databases",
)


def _quoted(names: tuple[str, ...]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def database_sql() -> str:
    """The statements that harden one database (idempotent; constants only, no input). One simple query, so
    one implicit transaction."""
    relations = ", ".join(f"pg_catalog.{r}" for r in HIDDEN_RELATIONS)
    columns = ", ".join(DATABASE_COLUMNS)
    patterns = " OR ".join(f"p.proname LIKE '{p}'" for p in HIDDEN_FUNCTION_PATTERNS)
    return f"""
REVOKE SELECT ON {relations} FROM PUBLIC;
REVOKE SELECT ON pg_catalog.pg_database FROM PUBLIC;
GRANT SELECT ({columns}) ON pg_catalog.pg_database TO PUBLIC;
REVOKE SELECT ON pg_catalog.pg_roles FROM PUBLIC;
GRANT SELECT ({", ".join(ROLE_COLUMNS)}) ON pg_catalog.pg_roles TO PUBLIC;
DO $hardening$
DECLARE f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
           WHERE p.pronamespace = 'pg_catalog'::regnamespace
             AND ({patterns} OR p.proname IN ({_quoted(HIDDEN_FUNCTIONS)}))
  LOOP
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
  END LOOP;
END
$hardening$;
"""  # noqa: S608 - module constants only


def harden_database(conn: Any) -> None:
    """Harden the database `conn` (a superuser connection) is connected to."""
    conn.execute(database_sql())


def _marker(box: Box) -> Path:
    return box.home / "pg" / "catalog-hardening"


def harden_cluster(box: Box) -> list[str]:
    """Harden every database that accepts connections (template1 too: databases made from it inherit it);
    returns their names. Records VERSION so that `apply` knows the cluster is done."""
    with box.pg_admin() as conn:
        names = [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname")]
        harden_database(conn)  # "postgres" itself, on this connection
    for name in names:
        if name != "postgres":
            with box.pg_admin(name) as conn:
                harden_database(conn)
    box.dir("pg")  # the operator's home of the hosts target has no cluster of its own, only this record
    _marker(box).write_text(f"{VERSION}\n")
    return names


def cluster_current(box: Box) -> bool:
    """The whole cluster was hardened by this VERSION (new databases are hardened as they are made)."""
    marker = _marker(box)
    return marker.exists() and marker.read_text().strip() == str(VERSION)
