"""PostgreSQL 15 from Debian, run as user `postgres`: TLS on, the box's address only (127.0.0.1 by default),
WAL archived by pgBackRest."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

from govcloud_platform.box.context import Box
from govcloud_platform.box.secrets import write_private
from govcloud_platform.box.services import pg_hardening, pg_hba
from govcloud_platform.box.services.base import Program, Service
from govcloud_platform.errors import InputError, ServiceError

# Debian's layout; GOVCLOUD_PG_BINDIR points elsewhere (another packaging of PostgreSQL 15).
PG_BIN = Path(os.environ.get("GOVCLOUD_PG_BINDIR", "/usr/lib/postgresql/15/bin"))
PG_USER = "postgres"
STANZA = "govcloud"


def pg_ids() -> tuple[int, int]:
    entry = pwd.getpwnam(PG_USER)
    return entry.pw_uid, entry.pw_gid


def chown_tree(path: Path) -> None:
    uid, gid = pg_ids()
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)


def as_postgres(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a command as the postgres OS user (initdb refuses root)."""
    return subprocess.run(["runuser", "-u", PG_USER, "--", *cmd], text=True, capture_output=True, **kwargs)  # type: ignore[call-overload]


def hba_dir(box: Box) -> Path:
    """Fragments added by the database broker: one file per agency (root's: they name every agency's roles)."""
    return box.dir("pg", "hba.d")


def logging_settings(log_failed_statements: bool) -> dict[str, str]:
    """What PostgreSQL writes to its log. A statement's text, its parameters and the DETAIL of an error (the
    failing row, the duplicate key) can carry citizens' data: none of it is logged unless the operator sets
    `platform.services.database.log_failed_statements`. The line prefix holds role and database names only,
    never what a client sends (application_name). Errors themselves are logged (an operator needs them), and
    their message may quote a value (`invalid input syntax for type integer: "..."`): the log is root's."""
    return {
        "log_destination": "'stderr'",
        "logging_collector": "off",
        "log_line_prefix": "'%m [%p] %q%u@%d '",
        "log_connections": "off",
        "log_statement": "'none'",
        "log_min_duration_statement": "-1",
        "log_min_error_statement": "error" if log_failed_statements else "panic",
        "log_error_verbosity": "default" if log_failed_statements else "terse",
        "log_parameter_max_length": "0",
        "log_parameter_max_length_on_error": "-1" if log_failed_statements else "0",
    }


def render_hba(box: Box) -> bool:
    """pg_hba.conf = our base lines + every part, for the box's client networks (`pg_hba`); True if it
    changed. TLS required for TCP."""
    data = box.home / "pg" / "data"
    parts = [frag.read_text() for frag in sorted(hba_dir(box).glob("*.conf"))]
    text = pg_hba.hba_text(box.client_networks, parts)
    path = data / "pg_hba.conf"
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)
    uid, gid = pg_ids()
    os.chown(path, uid, gid)
    os.chmod(path, 0o600)
    return True


def render_conf(box: Box) -> str:
    """`<data>/govcloud.conf`, included by postgresql.conf (an `ALTER SYSTEM` still wins over it)."""
    db = box.spec.platform.services.database
    backup = box.spec.platform.services.backups
    conf_path = box.home / "pgbackrest" / "pgbackrest.conf"
    settings = {
        "listen_addresses": f"'{box.address}'",  # the box's address only (network.py)
        "port": str(box.ports.postgres),
        "unix_socket_directories": f"'{box.home / 'pg' / 'run'}'",
        "max_connections": str(db.max_connections),
        "shared_buffers": f"'{db.shared_buffers_mb}MB'",
        "password_encryption": "'scram-sha-256'",
        "ssl": "on",
        "ssl_cert_file": "'server.crt'",
        "ssl_key_file": "'server.key'",
        "ssl_min_protocol_version": "'TLSv1.2'",
        "wal_level": "replica",
        "archive_mode": "on",
        "archive_command": f"'pgbackrest --config={conf_path} --stanza={STANZA} archive-push %p'",
        "archive_timeout": str(backup.archive_timeout_s),
        "max_wal_senders": "3",
        "unix_socket_permissions": "0700",
        **logging_settings(db.log_failed_statements),
    }
    return "# written by govcloud on every `up`\n" + "".join(f"{k} = {v}\n" for k, v in settings.items())


def reload(box: Box) -> None:
    with box.pg_admin() as conn:
        conn.execute("select pg_reload_conf()")


class DatabaseService(Service):
    name = "database"
    ready_interval = 0.1
    binaries = ((str(PG_BIN / "postgres"), "postgresql-15"), ("runuser", "util-linux"))

    def data_dir(self, box: Box) -> Path:
        return box.home / "pg" / "data"

    def socket_dir(self, box: Box) -> Path:
        return box.home / "pg" / "run"

    def _check_traversable(self, box: Box) -> None:
        result = as_postgres(["test", "-x", str(box.home)], check=False)
        if result.returncode != 0:
            raise InputError(
                f"the postgres user cannot reach the box directory {box.home}",
                hint="use a --home whose parent directories are traversable (chmod o+x), e.g. under /var/lib",
            )

    def prepare(self, box: Box) -> None:
        self._check_traversable(box)
        password = box.secrets.get_or_create("postgres-superuser")
        data = self.data_dir(box)
        run = box.dir("pg", "run")
        chown_tree(run)
        run.chmod(0o700)  # the socket: postgres's own (pgBackRest, the agencies' dumps); others use TCP and TLS
        (box.home / "pg").chmod(0o711)  # noqa: S103 - postgres traverses to its data and socket, nobody lists
        hba_dir(box).chmod(0o700)
        if not (data / "PG_VERSION").exists():
            self._initdb(box, data, password)
        cert, key = box.ca.issue("postgres", *box.certificate_names())
        for src, dst in ((cert, data / "server.crt"), (key, data / "server.key"), (box.ca_file, data / "root.crt")):
            shutil.copyfile(src, dst)
            os.chmod(dst, 0o600)
        write_private(data / "govcloud.conf", render_conf(box))
        main_conf = data / "postgresql.conf"
        text = main_conf.read_text()
        if "include 'govcloud.conf'" not in text:
            main_conf.write_text(text + "\ninclude 'govcloud.conf'\n")
        render_hba(box)
        chown_tree(data)
        os.chmod(data, 0o700)

    def reconfigure(self, box: Box) -> bool:
        """pg_hba.conf for the networks of the day (`up --allow-from` on a running box): PostgreSQL re-reads
        it on a reload, no restart."""
        if not (self.data_dir(box) / "PG_VERSION").exists() or not render_hba(box):
            return False
        import psycopg

        try:
            reload(box)
        except psycopg.Error:
            pass  # not running: it reads the file when it starts
        return True

    def stale_programs(self, box: Box) -> list[str]:
        """A changed `govcloud.conf` (another govcloud, the spec's settings, log_failed_statements among them)
        restarts PostgreSQL on `up`: a running cluster would keep the old one."""
        try:
            current = (self.data_dir(box) / "govcloud.conf").read_text()
        except OSError:
            return []
        return [] if current == render_conf(box) else ["database"]

    def _initdb(self, box: Box, data: Path, password: str) -> None:
        # initdb into a fresh directory and rename: an interrupted initdb never leaves a half-made cluster.
        staging = data.with_name("data.initdb")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        pwfile = data.with_name(".pwfile")
        write_private(pwfile, password + "\n")
        uid, gid = pg_ids()
        os.chown(pwfile, uid, gid)
        chown_tree(staging)
        try:
            result = as_postgres(
                [str(PG_BIN / "initdb"), "-D", str(staging), "-U", PG_USER, "--auth-local=peer",
                 "--auth-host=scram-sha-256", f"--pwfile={pwfile}", "--encoding=UTF8", "--locale=C.UTF-8",
                 "--data-checksums"],
                check=False,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise ServiceError(f"initdb failed: {result.stderr.strip()[-300:]}")
        shutil.rmtree(data, ignore_errors=True)
        staging.rename(data)

    def programs(self, box: Box) -> list[Program]:
        return [
            Program(
                "database",
                [str(PG_BIN / "postgres"), "-D", str(self.data_dir(box))],
                priority=20,
                user=PG_USER,
                stopsignal="INT",
                stopwaitsecs=60,
                directory=str(self.data_dir(box)),
            )
        ]

    def post_start(self, box: Box) -> None:
        pg_hardening.harden_cluster(box)  # what tenants may read of the catalogs (pg_hardening.py)
        if not box.runs("identity"):  # a host of the hosts target: the IdP's host holds no superuser password
            from govcloud_platform.box.services.identity import make_idp_store

            make_idp_store(box)

    def check(self, box: Box) -> tuple[bool, str]:
        import psycopg

        try:
            with psycopg.connect(**{**box.pg_conninfo(), "connect_timeout": 2}) as conn:
                conn.execute("select 1")
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return False, f"select 1 failed: {first}"
        return True, "select 1 ok (TLS verify-full)"

    def endpoint(self, box: Box) -> str:
        return f"postgresql://{box.address_of('database')}:{box.ports.postgres}"
