"""Agency level: a logical backup of the agency's databases and a copy of its bucket into the agency's
encrypted restic repository; restore in place or into a new agency, never touching any other agency.

A backup run: for each database, a REPEATABLE READ transaction exports its snapshot; `pg_dump --snapshot`
streams into `restic backup --stdin` while the same transaction computes the row checksums, so the
manifest describes exactly what the dump holds even while the agency keeps writing. Meanwhile the objects are
staged (hashed on the way); they are stored with the manifest as the run's last snapshot: a run without it is
incomplete and ignored.

A restore in place changes nothing live until every dump is restored into a fresh database and every object
checked; then the databases are swapped in (the old ones kept) and the bucket written (its previous objects
kept aside); any failure from there puts the old databases and objects back."""

from __future__ import annotations

import fcntl
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from govcloud_platform import faults
from govcloud_platform.backups import manifest as mf
from govcloud_platform.backups import restic
from govcloud_platform.backups.common import (
    BackupRecord,
    Progress,
    StorageWatch,
    backup_lock,
    backups_dir,
    iso,
    new_run_id,
    quiet,
    require_storage,
    utcnow,
)
from govcloud_platform.box.context import Box
from govcloud_platform.box.services.database import PG_BIN
from govcloud_platform.brokers.backups import ensure_repository
from govcloud_platform.errors import InputError, OperationFailed, ServiceError, last_line
from govcloud_platform.names import bucket as bucket_of
from govcloud_platform.names import parse_pg, pg_owner
from govcloud_platform.state.registry import AgencyRecord, Registry


def pg_local(box: Box, program: str, *args: str) -> tuple[list[str], dict[str, Any]]:
    """pg_dump/pg_restore as the postgres OS user over the box's Unix socket (peer authentication): the dump
    never goes through TLS (about 1 s of CPU per GB on each side, on 2 cores shared with the pipeline) and no
    password is in any environment. Returns (argv, keyword arguments for subprocess.Popen). On the hosts target
    they run on the database's host and their stream goes through the operator's SSH master."""
    from govcloud_platform.box.services.database import PG_USER, DatabaseService, pg_ids

    if not box.runs("database"):  # the hosts target: on the database's host, the stream through SSH
        import shlex

        from govcloud_platform.box import remote

        # under Patroni the leader's host: a restore writes, and a parallel dump's workers share its snapshot
        leader = DatabaseService().leader_name(box)
        host = remote.remote_host(box, leader) if leader else remote.host_for(box, "database")
        sockets = Path(host.home) / DatabaseService().socket_dir(box).relative_to(box.home)
        command = ["runuser", "-u", PG_USER, "--", "env", f"PGHOST={sockets}", f"PGPORT={box.ports.postgres}",
                   f"PGUSER={PG_USER}", "PGCONNECT_TIMEOUT=10", str(PG_BIN / program), *args]
        return [*remote.ssh_base(box), host.name, "--", shlex.join(command)], {"env": box.child_env(), "cwd": "/"}
    env = box.child_env({"PGHOST": str(DatabaseService().socket_dir(box)), "PGPORT": str(box.ports.postgres),
                         "PGUSER": PG_USER, "PGCONNECT_TIMEOUT": "10"})
    for name in ("PGPASSWORD", "PGSSLMODE", "PGSSLROOTCERT", "PGSERVICE", "PGPASSFILE"):
        env.pop(name, None)
    uid, gid = pg_ids()
    return [str(PG_BIN / program), *args], {"env": env, "user": uid, "group": gid, "extra_groups": [], "cwd": "/"}


def agency_record(box: Box, slug: str) -> AgencyRecord:
    record = Registry(box.home).agency(slug)
    if record is None:
        raise InputError(f"unknown agency {slug!r}", hint="`govcloud agency list` shows the agencies")
    return record


def agency_databases(box: Box, slug: str) -> list[str]:
    """The agency's database and its apps' databases (names.py: each parses back to this agency)."""
    base = pg_owner(slug)
    pattern = base.replace("_", "\\_") + "%"
    with box.pg_admin() as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s ORDER BY 1", (pattern,)).fetchall()
    return [str(r[0]) for r in rows if (owner := parse_pg(str(r[0]))) is not None and owner.slug == slug]


@contextmanager
def private_dir(box: Box, kind: str) -> Iterator[Path]:
    """A 0700 working directory under <home>/backups, always removed."""
    path = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=backups_dir(box, "work")))
    path.chmod(0o700)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _storage_lost(what: str) -> ServiceError:
    return ServiceError(f"{what} failed: object storage stopped answering during the backup",
                        hint="run `govcloud up`, then re-run; incomplete runs are ignored and cleaned up")


def _storage_gone(box: Box, seconds: float = 3.0) -> bool:
    """After restic failed: is object storage going away? restic may fail at once (connection refused) before
    the watch's grace period; a store that is shutting down can still accept a connection or two."""
    from govcloud_platform.backups.common import storage_alive

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not storage_alive(box):
            return True
        time.sleep(0.5)
    return False


# --- backup ---------------------------------------------------------------------------------------
# pg_dump compresses (gzip level 1, per table) and restic stores the stream as is (`--compression off`; still
# encrypted). Measured on 2 cores with a 1.1 GB pgbench database: restic chunking and zstd-compressing an
# uncompressed dump cost 7.5 s of CPU next to pg_dump's 2 s; gzip -1 in pg_dump costs 1.2 s more and leaves
# restic almost nothing (pipe 14 s -> 7.5 s). Each table's data is compressed on its own, so tables that did not
# change still deduplicate between runs; changed tables are stored again in full (compressed).
DUMP_COMPRESSION = "-Z1"


class _Relay:
    """Moves the dump's bytes into restic's stdin. pg_dump starts at once: until restic reads (an agency's first
    backup creates its repository, ~2.5 s), up to SPOOL bytes wait in memory, then pg_dump waits on a full pipe."""

    SPOOL = 256 << 20
    PIPE = 1 << 20  # pipe-max-size's default: fewer, larger reads

    def __init__(self, source: IO[bytes]) -> None:
        with suppress(OSError):
            fcntl.fcntl(source.fileno(), fcntl.F_SETPIPE_SZ, self.PIPE)
        self._chunks: queue.Queue[bytes] = queue.Queue(maxsize=self.SPOOL // self.PIPE)
        self._stop = threading.Event()
        self._source = source
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        fd = self._source.fileno()
        try:
            while not self._stop.is_set():
                chunk = os.read(fd, self.PIPE)
                while not self._stop.is_set():
                    try:
                        self._chunks.put(chunk, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if not chunk:
                    return
        finally:
            self._source.close()  # pg_dump, if still writing, gets EPIPE

    def drain(self, sink: int) -> None:
        """Write everything into the file descriptor `sink` (restic's stdin), then close it."""
        try:
            while not self._stop.is_set():
                try:
                    view = memoryview(self._chunks.get(timeout=0.5))
                except queue.Empty:
                    continue
                if not view:
                    return
                while view:
                    view = view[os.write(sink, view):]
        except OSError:  # restic went away: its exit status says why
            self._stop.set()
        finally:
            os.close(sink)

    def abort(self) -> None:
        self._stop.set()


def _dump_database(box: Box, slug: str, pw: str, dbname: str, tags: list[str],
                   repository: Future[None]) -> dict[str, Any]:
    """pg_dump | restic backup --stdin, and the row checksums from the same snapshot. The checksum scan and
    pg_dump start at once; restic starts when the repository is ready (created on an agency's first backup)."""
    import psycopg

    with psycopg.connect(**box.pg_conninfo(dbname)) as conn, ThreadPoolExecutor(2) as pool:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        row = conn.execute("SELECT pg_export_snapshot()").fetchone()
        snapshot = str(row[0]) if row else ""
        scan = pool.submit(mf.table_checksums, conn)  # the connection is used by this thread only from here
        argv, how = pg_local(box, "pg_dump", "-Fc", DUMP_COMPRESSION, f"--snapshot={snapshot}", "-d", dbname)
        dump = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **how)
        assert dump.stdout is not None and dump.stderr is not None
        relay = _Relay(dump.stdout)
        dump_err = pool.submit(dump.stderr.read)
        try:
            repository.result()  # raises if the repository could not be created or unlocked
        except BaseException:
            relay.abort()
            dump.kill()
            dump.wait()
            with suppress(Exception):  # the repository's error is the one to report
                scan.result()
            raise
        read_end, write_end = os.pipe()
        try:
            store = restic.popen(box, slug, pw, "backup", "--json", "--quiet", "--host", restic.HOST,
                                 "--compression", "off", "--stdin", "--stdin-filename", f"{dbname}.dump",
                                 *[a for t in tags for a in ("--tag", t)], "--tag", f"part=db:{dbname}",
                                 stdin=read_end, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except BaseException:
            os.close(write_end)
            relay.abort()
            dump.kill()
            raise
        finally:
            os.close(read_end)
        feeding = threading.Thread(target=relay.drain, args=(write_end,), daemon=True)
        feeding.start()
        faults.backup_started(box)
        with StorageWatch(box, [dump, store]) as watch:
            out, err = store.communicate()
            relay.abort()  # restic is done: whatever pg_dump still writes goes nowhere
            feeding.join()
            dump.wait()
            tables = scan.result()
        conn.rollback()
    if watch.lost or (store.returncode != 0 and _storage_gone(box)):
        raise _storage_lost(f"backup of {slug}")
    if store.returncode != 0:  # first: pg_dump dies of SIGPIPE when restic stops reading
        raise OperationFailed(f"restic backup of {dbname} failed: {last_line(err, f'exit {store.returncode}')}")
    if dump.returncode != 0:
        raise OperationFailed(
            f"pg_dump of {dbname} failed: {last_line(dump_err.result(), f'exit {dump.returncode}')}")
    done = restic.summary(out.decode(errors="replace"))
    return {"snapshot": done["snapshot_id"], "dump_bytes": int(done.get("total_bytes_processed", 0)),
            "tables": tables}


def _stage_objects(box: Box, slug: str, into: Path, client: threading.Event,
                   cancel: threading.Event) -> dict[str, dict[str, Any]]:
    """Copy every object of the agency's bucket into `into/objects/`, hashing on the way (while the databases
    are dumped: it is network and disk, the dumps are CPU)."""
    client.wait()
    s3 = box.s3_client()
    bucket = bucket_of(slug)
    objects_dir = into / "objects"
    objects_dir.mkdir()
    out: dict[str, dict[str, Any]] = {}
    n = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            if cancel.is_set():
                return out
            name = f"{n:08d}"  # keys may hold '/', '..' or anything: files are numbered, the manifest maps them
            n += 1
            resp = s3.get_object(Bucket=bucket, Key=obj["Key"])
            with (objects_dir / name).open("wb") as fh:
                digest, size = mf.sha256_stream(resp["Body"].iter_chunks(mf.CHUNK), fh)
            out[obj["Key"]] = {"file": f"objects/{name}", "sha256": digest, "bytes": size,
                               "content_type": resp.get("ContentType") or "binary/octet-stream"}
    return out


def _prepare_repository(box: Box, slug: str, pw: str, client: threading.Event) -> None:
    try:
        box.s3_client()  # once (~0.4 s of imports and models): the bucket copy waits for it, then shares it
    finally:
        client.set()
    ensure_repository(box, slug, pw)  # created lazily, on the agency's first backup
    restic.unlock_stale(box, slug, pw)  # stale locks of a killed run only


def _dump_all(box: Box, slug: str, pw: str, tags: list[str], repository: Future[None],
              progress: Progress) -> dict[str, dict[str, Any]]:
    parts = {}
    for dbname in agency_databases(box, slug):
        progress(f"{slug}: dumping {dbname}")
        parts[dbname] = _dump_database(box, slug, pw, dbname, tags, repository)
    repository.result()
    return parts


def run_backup(box: Box, slug: str, actor: str | None = None, progress: Progress = quiet) -> BackupRecord:
    """One backup run of an agency; recorded in the audit log whatever the outcome."""
    registry = Registry(box.home)
    agency_record(box, slug)
    pw = restic.password(box, slug)
    run_id = new_run_id()
    started = utcnow()
    tags = [restic.TAG, f"run={run_id}"]
    try:
        require_storage(box, f"backup of {slug}")
        with backup_lock(box, f"agency:{slug}", wait=600):
            staging = backups_dir(box, "staging") / slug  # a stable path: restic finds its parent snapshot
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(mode=0o700)
            try:
                client, cancel = threading.Event(), threading.Event()
                # Three things at once: the repository is made ready, the bucket is copied, the databases are
                # dumped (pg_dump and the first checksum scan start at once; restic waits for the repository).
                with ThreadPoolExecutor(2) as pool:
                    repository = pool.submit(_prepare_repository, box, slug, pw, client)
                    progress(f"{slug}: copying objects of bucket {bucket_of(slug)}")
                    objects = pool.submit(_stage_objects, box, slug, staging, client, cancel)
                    try:
                        parts = _dump_all(box, slug, pw, tags, repository, progress)
                    except BaseException:
                        cancel.set()  # the copy stops at the next object
                        raise
                    doc: dict[str, Any] = {"version": mf.VERSION, "agency": slug, "run": run_id,
                                           "started": iso(started), "databases": parts,
                                           "objects": objects.result()}
                total = sum(int(part["dump_bytes"]) for part in parts.values())
                total += sum(int(o["bytes"]) for o in doc["objects"].values())
                finished = utcnow()
                doc["finished"] = iso(finished)
                (staging / "manifest.json").write_text(json.dumps(doc, indent=1, sort_keys=True))
                progress(f"{slug}: storing {len(doc['objects'])} objects and the manifest")
                proc = restic.popen(box, slug, pw, "backup", "--json", "--quiet", "--host", restic.HOST,
                                    *[a for t in tags for a in ("--tag", t)], "--tag", "part=files",
                                    "--tag", f"bytes={total}", "--tag", f"started={iso(started)}",
                                    "--tag", f"finished={iso(finished)}", str(staging),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                with StorageWatch(box, [proc]) as watch:
                    out, err = proc.communicate()
                if watch.lost or (proc.returncode != 0 and _storage_gone(box)):
                    raise _storage_lost(f"backup of {slug}")
                if proc.returncode != 0:
                    raise OperationFailed(f"restic backup of {slug}'s objects failed: {last_line(err, 'restic')}")
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        record = BackupRecord(run_id, f"agency:{slug}", "logical", iso(started), iso(finished), total)
    except Exception as exc:
        if type(exc).__module__.startswith(("botocore", "boto3", "urllib3")):
            from govcloud_platform.backups.common import storage_alive

            exc = _storage_lost(f"backup of {slug}") if not storage_alive(box) else OperationFailed(
                f"backup of {slug} failed: object storage answered {type(exc).__name__}")
            registry.audit("backup run", slug, "failed", actor, json.dumps({"id": run_id, "error": str(exc)}))
            _forget_quietly(box, slug, pw, run_id)
            raise exc from None
        registry.audit("backup run", slug, "failed", actor, json.dumps({"id": run_id, "error": str(exc)}))
        _forget_quietly(box, slug, pw, run_id)
        raise
    registry.audit("backup run", slug, "ok", actor, json.dumps(record.as_dict()))
    return record


def _forget_quietly(box: Box, slug: str, pw: str, run_id: str) -> None:
    """Drop the snapshots of a failed run when the repository is reachable (they are ignored otherwise)."""
    from govcloud_platform.backups.common import storage_alive

    if storage_alive(box):
        restic.run(box, slug, pw, "forget", "--tag", f"run={run_id}", timeout=120)


def list_backups(box: Box, slug: str) -> list[BackupRecord]:
    agency_record(box, slug)
    require_storage(box, f"backup list of {slug}")
    return [BackupRecord(r.id, f"agency:{slug}", "logical", r.started, r.finished, r.bytes)
            for r in restic.runs(box, slug, restic.password(box, slug))]
