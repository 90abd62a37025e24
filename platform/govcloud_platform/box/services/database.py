"""PostgreSQL 15 from Debian, run as user `postgres`: TLS on, the box's address only (127.0.0.1 by default),
WAL archived by pgBackRest."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from govcloud_platform.box.context import Box
from govcloud_platform.box.secrets import write_private
from govcloud_platform.box.services import patroni, pg_hardening, pg_hba
from govcloud_platform.box.services.base import Program, Service, file_holds
from govcloud_platform.box.services.pg_os import PG_USER, STANZA, chown_tree, ha, pg_ids, tls_dir
from govcloud_platform.errors import InputError, ServiceError

# Debian's layout; GOVCLOUD_PG_BINDIR points elsewhere (another packaging of PostgreSQL 15).
PG_BIN = Path(os.environ.get("GOVCLOUD_PG_BINDIR", "/usr/lib/postgresql/15/bin"))
# Patroni from PyPI in a virtualenv of Debian's own Python (`scripts/install-system.sh`): postgres runs it, and
# govcloud's own virtualenv may be root's only
PATRONI = os.environ.get("GOVCLOUD_PATRONI", "/opt/govcloud/patroni/bin/patroni")


def as_postgres(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a command as the postgres OS user (initdb refuses root)."""
    return subprocess.run(["runuser", "-u", PG_USER, "--", *cmd], text=True, capture_output=True, **kwargs)  # type: ignore[call-overload]


def hba_path(box: Box) -> Path:
    """pg_hba.conf: in the data directory on one host; beside it under Patroni (a replica's data directory is a
    copy of the leader's, and Patroni leaves a file it does not own alone)."""
    return box.home / "pg" / ("pg_hba.conf" if ha(box) else "data/pg_hba.conf")


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
    parts = [frag.read_text() for frag in sorted(hba_dir(box).glob("*.conf"))]
    peers = [w.address for w in box.placement.instances_of("database")] if ha(box) and box.placement else []
    text = pg_hba.hba_text(box.client_networks, parts, replication=peers)
    path = hba_path(box)
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)
    uid, gid = pg_ids()
    os.chown(path, uid, gid)
    os.chmod(path, 0o600)
    return True


def server_settings(box: Box) -> dict[str, str]:
    """PostgreSQL's settings, in postgresql.conf's syntax: on one host `govcloud.conf`, under Patroni its
    `parameters` (`patroni.conf`)."""
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
    return settings


def render_conf(box: Box) -> str:
    """`<data>/govcloud.conf`, included by postgresql.conf (an `ALTER SYSTEM` still wins over it)."""
    settings = server_settings(box)
    return "# written by govcloud on every `up`\n" + "".join(f"{k} = {v}\n" for k, v in settings.items())


def patroni_file(box: Box) -> Path:
    return box.home / "pg" / "patroni.yml"


def render_patroni(box: Box) -> str:
    """patroni.yml of this database host (0600, postgres's: it holds the passwords)."""
    import yaml

    from govcloud_platform.box.services import dcs, patroni

    placement = box.placement
    assert placement is not None
    files = {"data": box.home / "pg" / "data", "bin": PG_BIN, "socket": box.home / "pg" / "run",
             "tls": tls_dir(box), "hba": hba_path(box), "pgpass": box.home / "pg" / "patroni" / "pgpass"}
    # its own host's member first: Patroni keeps talking to the first member that answers, and a lost host's
    # member would hold it until a timeout, when the failover is due
    members = sorted(placement.instances_of("dcs"), key=lambda w: w.address != box.address)
    etcd = [f"{w.address}:{box.ports.etcd_client}" for w in members]
    data = patroni.conf(box, dcs.my_name(box, "database"), server_settings(box), files, etcd)
    return "# written by govcloud on every `up`; holds secrets\n" + yaml.safe_dump(data, sort_keys=False)


def reload(box: Box) -> None:
    """PostgreSQL re-reads pg_hba.conf: this host's server (under Patroni, a replica's too)."""
    with box.pg_admin(local=True) as conn:
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

    def check_binaries(self, box: Box) -> None:
        super().check_binaries(box)
        if ha(box) and not Path(PATRONI).exists():
            from govcloud_platform.errors import MissingDependency

            raise MissingDependency(f"database: {PATRONI} not found (a database on several hosts runs under Patroni)",
                                    hint="run `scripts/install-system.sh` (it installs Patroni there) or set "
                                         "GOVCLOUD_PATRONI")

    def prepare(self, box: Box) -> None:
        self._check_traversable(box)
        password = box.secrets.get_or_create("postgres-superuser")
        data = self.data_dir(box)
        run = box.dir("pg", "run")
        chown_tree(run)
        run.chmod(0o700)  # the socket: postgres's own (pgBackRest, the agencies' dumps); others use TCP and TLS
        (box.home / "pg").chmod(0o711)  # noqa: S103 - postgres traverses to its data and socket, nobody lists
        hba_dir(box).chmod(0o700)
        if ha(box):
            self._prepare_patroni(box, data)
            return
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

    def _prepare_patroni(self, box: Box, data: Path) -> None:
        """Under Patroni: an empty data directory for it to fill (initdb on the first leader, a clone of the leader
        elsewhere), the certificates and pg_hba.conf beside it, pgBackRest's configuration (any database host may
        be the leader that archives WAL) and patroni.yml."""
        from govcloud_platform.box.services.pgbackrest_conf import write_pgbackrest_conf

        uid, gid = pg_ids()
        for path in (data, tls_dir(box), box.home / "pg" / "patroni"):  # patroni/: its pgpass, rewritten at will
            path.mkdir(mode=0o700, exist_ok=True)
            os.chown(path, uid, gid)
            path.chmod(0o700)
        cert, key = box.ca.issue("postgres", *box.certificate_names())
        api_cert, api_key = box.ca.issue("patroni", *box.certificate_names(), client=True)
        tls = tls_dir(box)
        for src, dst in ((cert, tls / "server.crt"), (key, tls / "server.key"), (api_cert, tls / "patroni.pem"),
                         (api_key, tls / "patroni.key")):
            shutil.copyfile(src, dst)
            os.chown(dst, uid, gid)
            os.chmod(dst, 0o600)
        render_hba(box)
        write_pgbackrest_conf(box)  # archive_command's, and its TLS server's (on the backups' host: the same file)
        write_private(patroni_file(box), render_patroni(box))
        os.chown(patroni_file(box), uid, gid)

    def reconfigure(self, box: Box) -> bool:
        """pg_hba.conf for the networks of the day (`up --allow-from` on a running box): PostgreSQL re-reads
        it on a reload, no restart. Under Patroni also patroni.yml, which Patroni re-reads on SIGHUP (its
        PostgreSQL settings included, restarting PostgreSQL itself only for those that need it)."""
        if ha(box):
            if not patroni_file(box).exists():
                return False  # not prepared yet: `up` prepares it next
            from govcloud_platform.box.services.pgbackrest_conf import conf_text, pgbackrest_conf, write_pgbackrest_conf
            from govcloud_platform.box.supervisor import Supervisor

            sup = Supervisor(box)
            backrest = not file_holds(pgbackrest_conf(box), conf_text(box))
            changed = not file_holds(patroni_file(box), render_patroni(box))
            if changed:
                self._prepare_patroni(box, self.data_dir(box))
                sup.signal("database", "HUP")
            elif backrest:
                write_pgbackrest_conf(box)
            if backrest:  # its TLS server reads the file once: restarted (it serves backups only: no failover)
                if "pgbackrest-server" in sup.info():
                    sup.stop("pgbackrest-server")
                    sup.ensure_running("pgbackrest-server")
            return self._reload_hba(box) or changed or backrest
        if not (self.data_dir(box) / "PG_VERSION").exists():
            return False
        return self._reload_hba(box)

    def _reload_hba(self, box: Box) -> bool:
        if not render_hba(box):
            return False
        import psycopg

        try:
            reload(box)
        except psycopg.Error:
            pass  # not running: it reads the file when it starts
        return True

    def stale_programs(self, box: Box) -> list[str]:
        """A changed `govcloud.conf` (another govcloud, the spec's settings, log_failed_statements among them)
        restarts PostgreSQL on `up`: a running cluster would keep the old one. (Under Patroni, `reconfigure`
        reloads it instead: restarting the leader's Patroni would fail the database over.)"""
        if ha(box):
            return []
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
        if ha(box):  # Patroni runs PostgreSQL; on TERM it stops it and hands the leader key over
            from govcloud_platform.box.services.pgbackrest_conf import pgbackrest_conf

            return [Program("database", [PATRONI, str(patroni_file(box))], priority=20,
                            user=PG_USER, stopwaitsecs=60, directory=str(box.home / "pg"), startsecs=2,
                            environment={"HOME": str(box.home / "pg")}),
                    # pgBackRest's TLS server: the backups' host backs up and checks through it, whichever host leads
                    Program("pgbackrest-server", ["pgbackrest", f"--config={pgbackrest_conf(box)}", "server"],
                            priority=21, user=PG_USER, directory=str(box.home / "pg"), stopwaitsecs=10)]
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
        if not ha(box):
            return self._converge(box)
        import time

        import psycopg

        # Under Patroni, this host's server may be restarted under our feet: a former leader that returns from a
        # partition is still "leader" in its own view for a moment, then is demoted and rewound ("the database
        # system is shutting down"). Asked again once it answers, it knows it is a replica.
        deadline = time.monotonic() + 90
        while self.leads_once_elected(box):  # what follows writes: the leader's host does it, its replicas get it
            try:
                return self._converge(box)
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(1)
            self.wait_ready(box, max(1.0, deadline - time.monotonic()))
        return None

    @staticmethod
    def _converge(box: Box) -> None:
        pg_hardening.harden_cluster(box)  # what tenants may read of the catalogs (pg_hardening.py)
        if not box.runs("identity"):  # a host of the hosts target: the IdP's host holds no superuser password
            from govcloud_platform.box.services.identity import make_idp_store

            make_idp_store(box)

    def check(self, box: Box) -> tuple[bool, str]:
        return self.probe_role(box)[:2]

    def probe_role(self, box: Box) -> tuple[bool, str, str | None]:
        """This host's server answers over TLS (under Patroni, a replica as well as the leader); its role under
        Patroni (leader, sync_replica, replica), from one answer of its REST API."""
        import psycopg

        try:
            with psycopg.connect(**{**box.pg_conninfo(local=True), "connect_timeout": 2}) as conn:
                conn.execute("select 1")
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return False, f"select 1 failed: {first}", None
        if not ha(box):
            return True, "select 1 ok (TLS verify-full)", None
        member = self.member(box)
        if member is None:
            return False, "select 1 ok, but Patroni does not list this host in its cluster", None
        role, lag, state = patroni.role_of(member), patroni.lag_of(member), str(member.get("state", "?"))
        if role != "leader" and state != "streaming":  # a returning host: rewinding, or not caught up yet
            return False, f"{role} answers but is {state}, not streaming from the leader yet", role
        return True, f"select 1 ok (TLS verify-full); {role}" + (f", lag {lag} B" if lag is not None else ""), role

    def cluster(self, box: Box, anywhere: bool = False) -> dict[str, Any] | None:
        """Patroni's /cluster answer from this host's REST API, or with `anywhere` from the first database host
        that answers (from the control too); None when none does."""
        import requests

        placement = box.placement
        addresses = [w.address for w in placement.instances_of("database")] if anywhere and placement else []
        for address in addresses or [box.address]:
            try:
                reply = requests.get(f"https://{address}:{box.ports.patroni_api}/cluster", verify=str(box.ca_file),
                                     timeout=2)
                data = reply.json()
            except (requests.RequestException, ValueError):
                continue
            if isinstance(data, dict):
                return data
        return None

    def leader_name(self, box: Box) -> str | None:
        """Under Patroni the host whose database leads (asked of any database host); None on one database host
        or when no host answers."""
        if not ha(box):
            return None
        members = (self.cluster(box, anywhere=True) or {}).get("members", [])
        return next((str(m["name"]) for m in members if isinstance(m, dict) and patroni.role_of(m) == "leader"), None)

    def standby_runs(self, box: Box) -> bool:
        """Whether a replica runs that pgBackRest can back up from (`backup-standby`)."""
        members = (self.cluster(box, anywhere=True) or {}).get("members", [])
        return any(isinstance(m, dict) and m.get("role") in ("sync_standby", "replica")
                   and m.get("state") in ("running", "streaming") for m in members)

    def member(self, box: Box) -> dict[str, Any] | None:
        from govcloud_platform.box.services.dcs import my_name

        name = my_name(box, "database")
        cluster = self.cluster(box) or {}
        return next((m for m in cluster.get("members", []) if isinstance(m, dict) and m.get("name") == name), None)

    def is_leader(self, box: Box) -> bool:
        member = self.member(box)
        return member is not None and patroni.role_of(member) == "leader"

    def leads_once_elected(self, box: Box, timeout: float = 60) -> bool:
        """Whether this host leads, asked once the cluster has a leader (a new cluster elects one within seconds
        of its members' start; until then neither host could tell)."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            members = (self.cluster(box) or {}).get("members", [])
            if any(isinstance(m, dict) and patroni.role_of(m) == "leader" for m in members):
                return self.is_leader(box)
            if time.monotonic() > deadline:
                raise ServiceError(f"no database leader elected after {timeout:.0f}s",
                                   hint="see `govcloud logs database` and `govcloud logs dcs` on each database host")
            time.sleep(0.5)

    def endpoint(self, box: Box) -> str:
        return f"postgresql://{box.address if ha(box) else box.address_of('database')}:{box.ports.postgres}"
