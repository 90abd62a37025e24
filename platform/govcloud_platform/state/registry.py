"""The registry: SQLite (WAL) in the box directory. Agencies, encrypted bindings, append-only audit log."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govcloud_platform.box.secrets import write_private
from govcloud_platform.errors import RegistryDamaged
from govcloud_platform.state.registry_guard import (
    key_fingerprint,
    recorded_fingerprint,
    registry_problem,
)
from govcloud_platform.text import printable

MIGRATIONS: list[str] = [
    """
    CREATE TABLE agencies (
        slug TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        email TEXT NOT NULL,
        quota TEXT NOT NULL,
        services TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE bindings (
        agency TEXT NOT NULL,
        service TEXT NOT NULL,
        secret BLOB NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (agency, service)
    );
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        command TEXT NOT NULL,
        target TEXT NOT NULL,
        result TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    """,
    # 2: SaaS app deployments per agency (govcloud_platform.apps.store); secret holds the app's credentials.
    """
    CREATE TABLE app_deployments (
        agency TEXT NOT NULL,
        app TEXT NOT NULL,
        state TEXT NOT NULL,
        port INTEGER NOT NULL UNIQUE,
        secret BLOB NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (agency, app)
    )
    """,
    # 3: apps removed with their data kept (govcloud_platform.apps.store): what they left on the servers stays
    # recorded as the agency's, so a later deploy takes it back while a foreign object of the same name is refused.
    """
    CREATE TABLE app_retained (
        agency TEXT NOT NULL,
        app TEXT NOT NULL,
        since TEXT NOT NULL,
        PRIMARY KEY (agency, app)
    )
    """,
    # 4: the resolved quota values last applied to each agency's servers (`apply` compares the spec's with them,
    # `doctor` the servers'); JSON of spec.Quota. Gone with its agency.
    """
    CREATE TABLE applied_quotas (
        agency TEXT PRIMARY KEY REFERENCES agencies (slug) ON DELETE CASCADE,
        quota_values TEXT NOT NULL,
        applied_at TEXT NOT NULL
    )
    """,
    # 5: onboarding requests filed in the console (state.onboarding_requests): an agency asks, an operator approves
    # (then `Onboarding.add` onboards it, as `agency add` does) or declines with a reason. Kept after the decision.
    """
    CREATE TABLE onboarding_requests (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        slug TEXT NOT NULL,
        name TEXT NOT NULL,
        email TEXT NOT NULL,
        quota TEXT NOT NULL,
        apps TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'declined')),
        filed_by TEXT NOT NULL,
        filed_at TEXT NOT NULL,
        decided_by TEXT NOT NULL DEFAULT '',
        decided_at TEXT NOT NULL DEFAULT '',
        reason TEXT NOT NULL DEFAULT ''
    )
    """,
    # 6: usage over time (state.usage_samples): what the console's sampler measured per agency. A row is one sample
    # or, once old, the merge of `n` samples of an hour or a day (means, and the peaks of the bytes); pruned after
    # the retention. No foreign key: a removed agency's history stays for the month's chargeback.
    """
    CREATE TABLE usage_samples (
        agency TEXT NOT NULL,
        at TEXT NOT NULL,
        n INTEGER NOT NULL DEFAULT 1,
        storage_bytes INTEGER NOT NULL,
        storage_peak INTEGER NOT NULL,
        database_bytes INTEGER NOT NULL,
        database_peak INTEGER NOT NULL,
        backup_bytes INTEGER NOT NULL,
        backup_peak INTEGER NOT NULL,
        connections INTEGER NOT NULL,
        objects INTEGER NOT NULL,
        PRIMARY KEY (agency, at)
    );
    CREATE INDEX usage_samples_at ON usage_samples (at)
    """,
    # 7: the console's long operations (state.jobs): a deploy, removal, backup or restore drill started in the
    # console, run by its job runner, with its progress steps. One job per agency and target at a time (the partial
    # unique index: a second start while one is queued or running fails, 409).
    """
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        agency TEXT NOT NULL,
        target TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
        actor TEXT NOT NULL,
        created_at TEXT NOT NULL,
        started_at TEXT NOT NULL DEFAULT '',
        ended_at TEXT NOT NULL DEFAULT '',
        result TEXT NOT NULL DEFAULT '',
        error TEXT NOT NULL DEFAULT ''
    );
    CREATE UNIQUE INDEX jobs_one_at_a_time ON jobs (agency, target) WHERE state IN ('queued', 'running');
    CREATE TABLE job_steps (
        job INTEGER NOT NULL REFERENCES jobs (id),
        n INTEGER NOT NULL,
        at TEXT NOT NULL,
        message TEXT NOT NULL,
        PRIMARY KEY (job, n)
    )
    """,
    # 8: the console's script clients (state.console_clients): confidential OIDC clients of the IdP with the
    # client-credentials grant only, and the standing each has in the console (an operator's, or an agency's member
    # or administrator). The console refuses a client's tokens once its row is gone; gone with its agency.
    """
    CREATE TABLE console_clients (
        name TEXT PRIMARY KEY,
        client_id TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL CHECK (role IN ('operator', 'admin', 'member')),
        agency TEXT REFERENCES agencies (slug) ON DELETE CASCADE,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        CHECK ((role = 'operator') = (agency IS NULL))
    )
    """,
    # 9: invitations of staff to an agency (state.invitations): an agency administrator invites an e-mail address;
    # the mailed link (its token is stored only as its SHA-256) creates the IdP user once, before it expires.
    """
    CREATE TABLE invitations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        agency TEXT NOT NULL,
        email TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('member', 'admin')),
        token_hash TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'revoked')),
        invited_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        login TEXT NOT NULL DEFAULT '',
        closed_by TEXT NOT NULL DEFAULT '',
        closed_at TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX invitations_agency ON invitations (agency)
    """,
    # 10: an onboarding request's language (the console's page it was filed on: its decision is mailed in it) and
    # the deploy jobs its approval started for its apps (state.onboarding_requests; the request's page links them)
    """
    ALTER TABLE onboarding_requests ADD COLUMN lang TEXT NOT NULL DEFAULT 'en';
    ALTER TABLE onboarding_requests ADD COLUMN jobs TEXT NOT NULL DEFAULT '[]'
    """,
    # 11: an approval is a console job (state.onboarding_requests): the request is `approving` (claimed) while its
    # onboarding job runs, and records that job. SQLite cannot change a CHECK in place: the table is made again with
    # its rows and ids (requests are never deleted, so AUTOINCREMENT's counter is the highest id copied).
    """
    CREATE TABLE onboarding_requests_11 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        slug TEXT NOT NULL,
        name TEXT NOT NULL,
        email TEXT NOT NULL,
        quota TEXT NOT NULL,
        apps TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'approving', 'approved', 'declined')),
        filed_by TEXT NOT NULL,
        filed_at TEXT NOT NULL,
        decided_by TEXT NOT NULL DEFAULT '',
        decided_at TEXT NOT NULL DEFAULT '',
        reason TEXT NOT NULL DEFAULT '',
        lang TEXT NOT NULL DEFAULT 'en',
        jobs TEXT NOT NULL DEFAULT '[]',
        approval_job INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO onboarding_requests_11 (id, slug, name, email, quota, apps, state, filed_by, filed_at, decided_by,
        decided_at, reason, lang, jobs)
    SELECT id, slug, name, email, quota, apps, state, filed_by, filed_at, decided_by, decided_at, reason, lang, jobs
    FROM onboarding_requests;
    DROP TABLE onboarding_requests;
    ALTER TABLE onboarding_requests_11 RENAME TO onboarding_requests
    """,
]


# An agency's states (table `agencies`): onboarding writes them; apps and backups read them.
PROVISIONING = "provisioning"  # its credentials are stored; a broker has not finished (a re-run converges)
READY = "ready"
REMOVING = "removing"  # a removal started; a re-run of `agency remove` completes it
RETIRED = "retired"  # removed with its data kept; adding it again restores access


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass(frozen=True)
class AgencyRecord:
    slug: str
    name: str
    email: str
    quota: str
    services: tuple[str, ...]
    state: str
    created_at: str
    updated_at: str

    def settings(self) -> dict[str, Any]:
        return {"name": self.name, "email": self.email, "quota": self.quota, "services": sorted(self.services)}

    def as_dict(self) -> dict[str, Any]:
        return {
            "slug": self.slug, "name": self.name, "email": self.email, "quota": self.quota,
            "services": list(self.services), "state": self.state,
            "created_at": self.created_at, "updated_at": self.updated_at,
        }


FILE = "registry.db"


def registry_path(home: Path) -> Path:
    """The agencies' registry of a box home (the control's, on the hosts target)."""
    return home / FILE


class Registry:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.path = registry_path(home)
        self.key_path = home / "secrets" / "registry.key"
        self._fernet: Any = None
        self._conn: sqlite3.Connection | None = None

    # --- connection ---------------------------------------------------------------------------
    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """The registry's connection (opened, migrated and made private once per Registry; autocommit:
        every statement is its own transaction unless a caller says BEGIN)."""
        if self._conn is None:
            if not self.path.exists():
                self._refuse_to_make_another()
                self.home.mkdir(parents=True, exist_ok=True)  # commands reach here only in a box (require_box)
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA foreign_keys=ON")
            self._migrate(conn)
            for suffix in ("", "-wal", "-shm"):
                path = self.path.with_name(self.path.name + suffix)
                if path.exists():
                    path.chmod(0o600)
            self._conn = conn
        yield self._conn

    def _refuse_to_make_another(self) -> None:
        """A missing registry.db is made afresh only where there never was one: not in a box that recorded its
        key, nor beside a key (an empty registry would hide every agency and orphan their objects)."""
        if recorded_fingerprint(self.home) is not None or self.key_path.exists():
            raise RegistryDamaged(f"{self.path} is missing")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version >= len(MIGRATIONS):
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for i, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in script.split(";\n"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {int(i)}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # --- encryption ---------------------------------------------------------------------------
    def _cipher(self) -> Any:
        if self._fernet is None:
            from cryptography.fernet import Fernet

            recorded = recorded_fingerprint(self.home)
            if not self.key_path.exists():
                if recorded is not None or self.holds_secrets():
                    raise RegistryDamaged(f"the registry's key {self.key_path} is missing: the credentials in "
                                          f"{self.path} cannot be read")
                self.key_path.parent.mkdir(parents=True, exist_ok=True)
                self.key_path.parent.chmod(0o700)
                write_private(self.key_path, Fernet.generate_key())
            key = self.key_path.read_bytes().strip()
            if recorded is not None and key_fingerprint(key) != recorded:
                raise RegistryDamaged(f"{self.key_path} is not the key of this box's registry")
            try:
                self._fernet = Fernet(key)
            except ValueError:
                raise RegistryDamaged(f"{self.key_path} is not a registry key") from None
        return self._fernet

    def holds_secrets(self) -> bool:
        """Whether any row holds something encrypted with the registry's key."""
        with self.connect() as conn:
            return any(conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone()  # noqa: S608 - constant
                       for table in ("bindings", "app_deployments"))

    def opens_secrets(self) -> bool | None:
        """Whether the key decrypts a sample of the encrypted rows (None: there are none). Costs one decrypt."""
        from cryptography.fernet import Fernet, InvalidToken

        with self.connect() as conn:
            row = conn.execute("SELECT secret FROM bindings LIMIT 1").fetchone() or \
                conn.execute("SELECT secret FROM app_deployments LIMIT 1").fetchone()
        if row is None:
            return None
        try:
            Fernet(self.key_path.read_bytes().strip()).decrypt(row[0])
        except (InvalidToken, ValueError, OSError):
            return False
        return True

    def initialize(self) -> str:
        """Make the registry and its key where there are none (`govcloud up`), or check those that exist.
        Returns the key's fingerprint, for box.json."""
        check_registry(self.home)
        self._cipher()
        return key_fingerprint(self.key_path.read_bytes())

    def encrypt(self, data: dict[str, Any]) -> bytes:
        token: bytes = self._cipher().encrypt(json.dumps(data).encode())
        return token

    def decrypt(self, token: bytes) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self._cipher().decrypt(token))
        return value

    # --- agencies -----------------------------------------------------------------------------
    @staticmethod
    def _row(row: tuple[Any, ...]) -> AgencyRecord:
        return AgencyRecord(row[0], row[1], row[2], row[3], tuple(json.loads(row[4])), row[5], row[6], row[7])

    def agencies(self) -> list[AgencyRecord]:
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT slug, name, email, quota, services, state, created_at, updated_at FROM agencies ORDER BY slug"
            ).fetchall()
        return [self._row(r) for r in rows]

    def agency(self, slug: str) -> AgencyRecord | None:
        with self.connect() as conn:
            row = conn.execute(
                "SELECT slug, name, email, quota, services, state, created_at, updated_at FROM agencies WHERE slug = ?",
                (slug,),
            ).fetchone()
        return self._row(row) if row else None

    def save_agency(self, slug: str, name: str, email: str, quota: str, services: list[str], state: str) -> None:
        stamp = now()
        with self.connect() as conn:
            conn.execute(
                """INSERT INTO agencies (slug, name, email, quota, services, state, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(slug) DO UPDATE SET name=excluded.name, email=excluded.email, quota=excluded.quota,
                   services=excluded.services, state=excluded.state, updated_at=excluded.updated_at""",
                (slug, name, email, quota, json.dumps(sorted(services)), state, stamp, stamp),
            )

    def set_state(self, slug: str, state: str) -> None:
        with self.connect() as conn:
            conn.execute("UPDATE agencies SET state = ?, updated_at = ? WHERE slug = ?", (state, now(), slug))

    def delete_agency(self, slug: str) -> None:
        with self.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("DELETE FROM bindings WHERE agency = ?", (slug,))
                conn.execute("DELETE FROM agencies WHERE slug = ?", (slug,))
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # --- applied quotas ----------------------------------------------------------------------------
    def applied_quota(self, slug: str) -> dict[str, Any] | None:
        """The resolved quota values last applied to the agency's servers (None: none recorded yet)."""
        with self.connect() as conn:
            row = conn.execute("SELECT quota_values FROM applied_quotas WHERE agency = ?", (slug,)).fetchone()
        return dict(json.loads(row[0])) if row else None

    def save_applied_quota(self, slug: str, values: dict[str, Any]) -> None:
        with self.connect() as conn:
            conn.execute(
                """INSERT INTO applied_quotas (agency, quota_values, applied_at) VALUES (?, ?, ?)
                   ON CONFLICT(agency) DO UPDATE SET quota_values = excluded.quota_values,
                   applied_at = excluded.applied_at""",
                (slug, json.dumps(values, sort_keys=True), now()),
            )

    # --- bindings (credentials, encrypted) ----------------------------------------------------
    def binding(self, slug: str, service: str) -> dict[str, Any] | None:
        with self.connect() as conn:
            row = conn.execute(
                "SELECT secret FROM bindings WHERE agency = ? AND service = ?", (slug, service)
            ).fetchone()
        return self.decrypt(row[0]) if row else None

    def save_binding(self, slug: str, service: str, data: dict[str, Any]) -> None:
        with self.connect() as conn:
            conn.execute(
                """INSERT INTO bindings (agency, service, secret, created_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT(agency, service) DO UPDATE SET secret = excluded.secret""",
                (slug, service, self.encrypt(data), now()),
            )

    def delete_binding(self, slug: str, service: str) -> None:
        with self.connect() as conn:
            conn.execute("DELETE FROM bindings WHERE agency = ? AND service = ?", (slug, service))

    # --- audit ----------------------------------------------------------------------------------
    def audit(self, command: str, target: str, result: str, actor: str | None = None, detail: str = "") -> None:
        with self.connect() as conn:
            conn.execute(
                "INSERT INTO audit (at, actor, command, target, result, detail) VALUES (?, ?, ?, ?, ?, ?)",
                (now(), printable(actor or default_actor(), 200), command, printable(target, 200), result,
                 printable(detail, 500)),
            )

    def audit_log(self, limit: int = 100, target: str | None = None, *, agencies: list[str] | None = None,
                  actor: str | None = None, command: str | None = None, since: str | None = None,
                  until: str | None = None, before: int | None = None) -> list[dict[str, Any]]:
        """The newest entries first. `agencies`: only entries about these agencies (the target is the slug, or
        `<slug>/<app>`); an empty list matches none. `since`/`until` are ISO times in UTC, as `at` is stored.
        `before`: only entries older than this id (keyset paging: the id of a page's last entry gives the next)."""
        where: list[str] = []
        args: list[Any] = []
        if target:
            where.append("target = ?")
            args.append(target)
        if agencies is not None:
            ors = ["target = ? OR substr(target, 1, length(?) + 1) = ? || '/'"] * len(agencies)
            where.append("(" + " OR ".join(ors) + ")" if ors else "0")
            for slug in agencies:
                args += [slug, slug, slug]
        for clause, value in (("actor = ?", actor), ("command = ?", command), ("at >= ?", since),
                              ("at <= ?", until), ("id < ?", before)):
            if value:
                where.append(clause)
                args.append(value)
        query = "SELECT id, at, actor, command, target, result, detail FROM audit"
        if where:
            query += " WHERE " + " AND ".join(where)
        with self.connect() as conn:
            rows = conn.execute(query + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        keys = ("id", "at", "actor", "command", "target", "result", "detail")
        return [dict(zip(keys, r, strict=True)) for r in rows]


def check_registry(home: Path) -> None:
    """Refuse (RegistryDamaged, exit 2) a box whose registry or key is missing or not its own. Reads box.json, checks
    two files and decrypts one row: cheap enough for every command that uses the registry."""
    registry = Registry(home)
    db_exists = registry.path.exists()
    try:
        key: bytes | None = registry.key_path.read_bytes()
    except FileNotFoundError:
        key = None
    holds = opens = None
    if db_exists:
        conn = sqlite3.connect(f"file:{registry.path}?mode=ro", uri=True, timeout=30)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            raise RegistryDamaged(f"{registry.path} is not a registry ({exc})") from None
        finally:
            conn.close()
        if {"bindings", "app_deployments"} <= tables:
            holds = registry.holds_secrets()
            opens = registry.opens_secrets() if key is not None else None
        registry.close()
    problem = registry_problem(recorded_fingerprint(home), db_exists, key_fingerprint(key) if key else None,
                               bool(holds), opens)
    if problem:
        raise RegistryDamaged(f"box at {home}: {problem}")
