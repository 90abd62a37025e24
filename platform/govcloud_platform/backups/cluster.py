"""Platform level: pgBackRest backups of the whole PostgreSQL cluster, and restores of it.

A restore goes into a scratch cluster by default (new data directory, free port, archiving off so it never
writes into the live repository), is started as postgres to prove it recovers, and is stopped again. In place
only on request: everything that depends on the database is stopped first and the old data directory is
kept aside until the restored cluster is up."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govcloud_platform import faults
from govcloud_platform.backups.common import (
    BackupRecord,
    Progress,
    StorageWatch,
    backup_lock,
    backups_dir,
    free_port,
    iso,
    parse_time,
    quiet,
    require_storage,
    utcnow,
)
from govcloud_platform.backups.common import rolled_back as rolled_back_error
from govcloud_platform.box import agent
from govcloud_platform.box.context import Box
from govcloud_platform.box.services.backups import pgbackrest, pgbackrest_argv
from govcloud_platform.box.services.database import PG_BIN, as_postgres, chown_tree
from govcloud_platform.errors import InputError, OperationFailed, ServiceError, last_line
from govcloud_platform.state.registry import Registry

TYPES = ("full", "diff", "incr")
DATABASE_PRIORITY = 20  # the database program's supervisord priority: higher numbers depend on it


def _pgbackrest_popen(box: Box, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(pgbackrest_argv(box, *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _standby_option(box: Box) -> list[str]:
    """Under Patroni pgBackRest copies from a standby (`backup-standby=y`); with none running, from the leader."""
    from govcloud_platform.box.services.database import DatabaseService, ha

    return ["--backup-standby=n"] if ha(box) and not DatabaseService().standby_runs(box) else []


def run_backup(box: Box, kind: str = "full", actor: str | None = None, progress: Progress = quiet) -> BackupRecord:
    """A pgBackRest backup of the cluster; recorded in the audit log whatever the outcome."""
    if kind not in TYPES:
        raise InputError(f"unknown backup type {kind!r}", hint="use full, diff or incr")
    registry = Registry(box.home) if box.keeps_registry else None  # a host's scheduler: no registry there
    try:
        require_storage(box, "platform backup")
        with backup_lock(box, "platform"):
            progress(f"pgbackrest backup --type={kind}")
            proc = _pgbackrest_popen(box, "backup", f"--type={kind}", *_standby_option(box))
            with StorageWatch(box, [proc]) as watch:
                out, err = proc.communicate(timeout=6 * 3600)
            if watch.lost:
                raise ServiceError(
                    "platform backup failed: object storage stopped answering during the backup",
                    hint="run `govcloud up`, then re-run; the repository keeps only complete backups",
                )
            if proc.returncode != 0:
                raise OperationFailed(f"platform backup failed: {last_line(err or out, 'pgbackrest failed')}")
            record = list_backups(box)[-1]
            if registry is not None:
                progress("the registry and its key (backups/registry.py)")
                from govcloud_platform.backups.registry import take_backup as backup_registry

                backup_registry(box)
    except Exception as exc:  # recorded like an agency's: {"id", "error"} (no label: pgBackRest keeps none)
        if registry is not None:
            registry.audit("backup run", "platform", "failed", actor, json.dumps({"id": None, "error": str(exc)}))
        raise
    if registry is not None:
        registry.audit("backup run", "platform", "ok", actor, json.dumps(record.as_dict()))
    return record


def info(box: Box) -> dict[str, Any]:
    result = pgbackrest(box, "info", "--output=json", timeout=120)
    if result.returncode != 0:
        raise ServiceError(f"pgbackrest info failed: {last_line(result.stderr or result.stdout)}")
    doc = json.loads(result.stdout or "[]")
    return doc[0] if doc else {}


def list_backups(box: Box) -> list[BackupRecord]:
    """Every backup in the repository, oldest first."""
    import datetime as dt

    out = []
    for b in info(box).get("backup", []):
        ts = b.get("timestamp", {})
        out.append(BackupRecord(
            id=b["label"], scope="platform", type=b["type"],
            started=iso(dt.datetime.fromtimestamp(ts["start"], dt.UTC)),
            finished=iso(dt.datetime.fromtimestamp(ts["stop"], dt.UTC)),
            bytes=int(b.get("info", {}).get("size", 0)),
        ))
    return out


def archive_now(box: Box, timeout: float = 60) -> str | None:
    """Close the current WAL segment and wait until it is archived: the newest commits become restorable.
    Returns the segment name, or None when the live cluster is not reachable."""
    try:
        with box.pg_admin() as conn:
            row = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()
            segment = str(row[0]) if row else None
            deadline = time.monotonic() + timeout
            while segment and time.monotonic() < deadline:
                done = conn.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()
                if done and done[0] and str(done[0])[:24] >= segment:
                    return segment
                time.sleep(0.2)
    except Exception:  # noqa: BLE001 - best effort: a stopped cluster has nothing newer to archive
        return None
    raise ServiceError(f"WAL segment {segment} was not archived within {timeout:.0f}s", hint="check `govcloud status`")


def target_text(to: str) -> str:
    """The recovery target in the form both pgBackRest and PostgreSQL accept."""
    try:
        moment = parse_time(to)
    except ValueError:
        raise InputError(f"--to {to!r} is not a time", hint="use ISO 8601, e.g. 2026-11-21T10:15:00Z") from None
    return moment.astimezone(__import__("datetime").UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")


def backup_set_for(backups: list[BackupRecord], moment: Any) -> BackupRecord | None:
    """The newest backup a recovery to `moment` starts from: one that surely ended before it. pgBackRest
    records a backup's end in whole seconds and compares the target at that resolution, so a backup that ended
    in the target's own second may end after it: only one that ended in an earlier second counts."""
    whole = moment.replace(microsecond=0)
    fit = [b for b in backups if parse_time(b.finished) < whole]
    return max(fit, key=lambda b: parse_time(b.finished)) if fit else None


def check_target(box: Box, to: str | None) -> str | None:
    """Refuse, before anything happens, a restore that recovery cannot complete: no backup at all, a target
    before the end of the oldest backup (not consistent yet) or in the future (PostgreSQL 15 stops with
    "recovery ended before configured recovery target was reached"). Returns the label of the backup set the
    recovery starts from (pgBackRest's `--set`; None: the latest, for a restore without a target)."""
    moment = parse_time(target_text(to)) if to else None
    backups = list_backups(box)
    if not backups:
        raise InputError("the platform has no backup to restore", hint="run `govcloud backup run` first")
    if moment is None:
        return None
    if moment > utcnow():
        raise InputError(f"--to {to} is in the future", hint="leave --to out to restore the latest state")
    chosen = backup_set_for(backups, moment)
    if chosen is None:
        raise InputError(f"--to {to} is before the end of the oldest backup ({backups[0].finished}; backups "
                         "end in whole seconds)",
                         hint="`govcloud backup list` shows the backups; choose a time at least a second later")
    return chosen.id


@dataclass
class ScratchCluster:
    """A restored cluster on a free port; `stop()` stops it and removes its directory unless kept."""

    box: Box
    data: Path
    port: int
    target: str | None
    seconds: float = 0.0
    databases: dict[str, dict[str, int]] = field(default_factory=dict)

    def conninfo(self, dbname: str = "postgres") -> dict[str, Any]:
        return {**self.box.pg_conninfo(dbname, local=True), "port": self.port}

    def connect(self, dbname: str = "postgres") -> Any:
        import psycopg

        return psycopg.connect(**self.conninfo(dbname), autocommit=True)

    def stop(self, remove: bool = True) -> None:
        as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop"],
                    check=False, timeout=90)
        if remove:
            shutil.rmtree(self.data.parent, ignore_errors=True)

    def report(self) -> dict[str, Any]:
        return {"data_dir": str(self.data), "port": self.port, "target": self.target,
                "seconds": round(self.seconds, 2), "databases": self.databases}


def _restore_args(to: str | None, backup_set: str | None) -> list[str]:
    if to:
        chosen = [f"--set={backup_set}"] if backup_set else []
        return ["--type=time", f"--target={target_text(to)}", "--target-action=promote", *chosen]
    return ["--type=default"]


def _pgbackrest_restore(box: Box, data: Path, to: str | None, backup_set: str | None = None) -> None:
    if to and backup_set is None:
        backup_set = check_target(box, to)
    proc = _pgbackrest_popen(box, "restore", f"--pg1-path={data}", *_restore_args(to, backup_set))
    with StorageWatch(box, [proc]) as watch:
        out, err = proc.communicate(timeout=6 * 3600)
    if watch.lost:
        raise ServiceError("restore failed: object storage stopped answering", hint="run `govcloud up`, then re-run")
    if proc.returncode != 0:
        raise OperationFailed(f"pgbackrest restore failed: {last_line(err or out, 'pgbackrest failed')}")


def _wait_promoted(conninfo: dict[str, Any], timeout: float) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    detail = ""
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(**{**conninfo, "connect_timeout": 2}, autocommit=True) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                if row and not row[0]:
                    return
                detail = "still recovering"
        except psycopg.Error as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        time.sleep(0.2)
    raise OperationFailed(f"restored cluster did not finish recovery within {timeout:.0f}s ({detail})")


def scan(conn: Any) -> dict[str, int]:
    """Read every table of a database (every page: data checksums are verified on read): rows per table."""
    from psycopg import sql

    tables = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1, 2").fetchall()
    counts = {}
    for schema, table in tables:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table)))
        counts[f"{schema}.{table}"] = int(row.fetchone()[0])
    return counts


def _host_files(box: Box) -> str:
    """Under Patroni the restored postgresql.conf is the leader's at backup time, naming that host's certificate and
    pg_hba.conf: this host's own instead ("" on one database host, where they live in the data directory)."""
    from govcloud_platform.box.services.database import ha, hba_path, tls_dir

    if not ha(box):
        return ""
    tls = tls_dir(box)
    return (f"ssl_cert_file = '{tls / 'server.crt'}'\nssl_key_file = '{tls / 'server.key'}'\n"
            f"hba_file = '{hba_path(box)}'\n")


@contextmanager
def scratch_restore(box: Box, to: str | None = None, progress: Progress = quiet,
                    scan_tables: bool = True, flush: bool = True,
                    backup_set: str | None = None) -> Iterator[ScratchCluster]:
    """Restore the cluster (latest, or as of `to`) into a scratch directory, start it, yield it, stop it.
    `flush` first archives the current WAL segment; without it the restore shows what a disaster at this
    moment would leave (the RPO measurement)."""
    require_storage(box, "platform restore")
    started = time.monotonic()
    root = backups_dir(box, "scratch") / f"pg-{utcnow().strftime('%Y%m%dT%H%M%S%f')}"
    data = root / "data"
    # Unix socket paths are limited to 107 bytes: the socket directory lives under /tmp, not the box.
    run = Path(tempfile.mkdtemp(prefix="govcloud-pg-"))
    for d in (root, data):
        d.mkdir(parents=True, exist_ok=True)
    root.parent.chmod(0o711)  # noqa: S103 - postgres traverses to its scratch cluster (made 0700 by box.dir)
    chown_tree(root)
    chown_tree(run)
    root.chmod(0o700)
    data.chmod(0o700)
    cluster = ScratchCluster(box, data, free_port(box.address), to)  # where box.pg_conninfo connects
    try:
        if flush:
            progress("archiving the current WAL segment")
            archive_now(box)
        progress(f"pgbackrest restore into {data}" + (f" as of {to}" if to else ""))
        _pgbackrest_restore(box, data, to, backup_set)
        with (data / "postgresql.auto.conf").open("a") as conf:
            # the scratch copy must never archive into the live repository nor take the live port
            conf.write(f"\n# govcloud scratch restore\nport = {cluster.port}\nlisten_addresses = '{box.address}'\n"
                       f"unix_socket_directories = '{run}'\narchive_mode = 'off'\n" + _host_files(box))
        chown_tree(root)
        progress(f"starting the restored cluster on port {cluster.port}")
        log = root / "postgres.log"
        result = as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "300", "start"],
                             check=False, timeout=330)
        if result.returncode != 0:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
            why = " | ".join(tail)[-300:] or last_line(result.stderr)
            raise OperationFailed(f"restored cluster did not start: {why}")
        _wait_promoted(cluster.conninfo(), 300)
        cluster.seconds = time.monotonic() - started
        if scan_tables:
            with cluster.connect() as conn:
                names = [r[0] for r in conn.execute(
                    "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1")]
            for name in names:
                with cluster.connect(name) as conn:
                    cluster.databases[name] = scan(conn)
        yield cluster
    finally:
        cluster.stop(remove=True)
        shutil.rmtree(run, ignore_errors=True)


def drill(box: Box, to: str | None = None, progress: Progress = quiet) -> dict[str, Any]:
    """The restore drill itself, where the database runs: here, or on its host of the hosts target (`govcloud
    box restore-drill` there: the scratch cluster is restored and started next to the live one)."""
    if not box.runs("database"):
        from govcloud_platform.box import remote

        progress(f"restore drill on host {box.host_of('database')}")
        done = remote.govcloud(box, "database", ["box", "restore-drill", *(["--to", to] if to else [])],
                               timeout=3600)
        report: dict[str, Any] = json.loads(done.stdout)
        return report
    require_storage(box, "platform restore")
    backup_set = check_target(box, to)
    with scratch_restore(box, to, progress, backup_set=backup_set) as cluster:
        report = cluster.report()
    report["in_place"] = False
    report["rto_seconds"] = report.pop("seconds")
    return report


def restore_scratch(box: Box, to: str | None = None, actor: str | None = None,
                    progress: Progress = quiet) -> dict[str, Any]:
    """Restore drill of the cluster: restored, started, every table read, stopped, removed."""
    registry = Registry(box.home)
    if to:
        target_text(to)  # bad input fails before anything happens
    try:
        report = drill(box, to, progress)
    except Exception as exc:
        registry.audit("backup restore", "platform", "failed", actor, f"scratch: {exc}")
        raise
    registry.audit("backup restore", "platform", "ok", actor, f"scratch to={to or 'latest'}")
    return report


def restore_in_place(box: Box, to: str | None = None, actor: str | None = None,
                     progress: Progress = quiet) -> dict[str, Any]:
    """Replace the live cluster by a restore. Stops every program that depends on the database, then the
    database; the old data directory is kept aside (`pg/data.before-restore-*`) until this succeeds."""
    from govcloud_platform.box import runtime
    from govcloud_platform.box.supervisor import Supervisor
    from govcloud_platform.state.lock import box_lock

    registry = Registry(box.home)
    if to:
        target_text(to)
    require_storage(box, "platform restore")
    backup_set = check_target(box, to)  # before anything is stopped: a target recovery cannot reach leaves no database
    started = time.monotonic()
    data = box.home / "pg" / "data"
    aside = data.with_name(f"data.before-restore-{utcnow().strftime('%Y%m%dT%H%M%S')}")
    sup = Supervisor(box)
    stopped: list[str] = []
    rolled_back = False
    try:
        with box_lock(box.home, "backup restore --platform --in-place", wait=30), backup_lock(box, "platform"):
            progress("archiving the current WAL segment")
            archive_now(box)
            # what runs on the database (the CLI agent does not: it may be running this very command)
            dependents = [p for p in sup.info().values()
                          if p.get("statename") == "RUNNING" and p.get("name") != agent.NAME]
            for proc in sorted(dependents, key=lambda p: -_priority(sup, str(p["name"]))):
                if _priority(sup, str(proc["name"])) >= DATABASE_PRIORITY:
                    progress(f"stopping {proc['name']}")
                    sup.stop(str(proc["name"]))
                    stopped.append(str(proc["name"]))
            data.rename(aside)
            data.mkdir(mode=0o700)
            chown_tree(data)
            try:
                progress("pgbackrest restore in place" + (f" as of {to}" if to else ""))
                _pgbackrest_restore(box, data, to, backup_set)
                # half-way: the live data directory is aside, the restored one in its place
                faults.restore_point("platform")
                progress("starting the restored database")
                sup.ensure_running("database")
                _wait_promoted(box.pg_conninfo(), 600)
            except BaseException:
                progress("restore failed: putting the previous data directory back")
                sup.stop("database")
                shutil.rmtree(data, ignore_errors=True)
                aside.rename(data)
                rolled_back = True
                raise
        progress("bringing the box back up")
        runtime.up(box, progress)
    except Exception as exc:
        registry.audit("backup restore", "platform", "failed", actor, f"in place: {exc}")
        if not rolled_back:
            raise
        try:  # the box as it was before the command (up takes the box lock: released above)
            runtime.up(box, progress)
        except Exception as again:  # noqa: BLE001 - the restore's error is the one to report
            raise rolled_back_error(exc, "in-place platform restore",
                                    f"previous data directory back, but `govcloud up` failed: {again}") from None
        raise rolled_back_error(exc, "in-place platform restore", "previous data directory back, box up") from None
    seconds = time.monotonic() - started
    registry.audit("backup restore", "platform", "ok", actor, f"in place to={to or 'latest'} kept={aside.name}")
    return {"in_place": True, "target": to, "rto_seconds": round(seconds, 2), "stopped": stopped,
            "previous_data_dir": str(aside)}


def _priority(sup: Any, name: str) -> int:
    from govcloud_platform.box.runtime import _priority as prio

    return prio(sup, name)


def verify_repository(box: Box) -> dict[str, Any]:
    """`pgbackrest verify`: every file of every backup and the WAL archive read back and checked."""
    require_storage(box, "pgbackrest verify")
    result = pgbackrest(box, "verify", "--log-level-console=info", timeout=3600)
    text = (result.stdout or "") + (result.stderr or "")
    return {"ok": result.returncode == 0, "detail": last_line(text, "ok") if result.returncode else "ok"}
