"""Agency restores: in place (the agency's databases and bucket become what a backup holds) or into a new
agency. Only the target agency's databases and bucket are written, and nothing live is changed until everything
that can be prepared aside is ready:

1. the run's objects and manifest are fetched and every object is checked against its sha256;
2. every dump is restored into a fresh database (`govcloud_restore_*`) with the agency's grants;
3. the bucket's objects that the restore would overwrite or delete are copied aside;
4. the databases are swapped in (the live ones renamed `govcloud_old_*`, kept), then the bucket is written.

A failure in step 4 puts everything back: the restored databases are dropped, the old ones renamed back and
reopened, the objects copied aside are written back and the objects the restore added are deleted."""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psycopg import sql

from govcloud_platform import faults
from govcloud_platform.backups import restic
from govcloud_platform.backups.agency import agency_record, pg_local, private_dir
from govcloud_platform.backups.common import (
    Progress,
    StorageWatch,
    backup_lock,
    backups_dir,
    quiet,
    require_storage,
    rolled_back,
)
from govcloud_platform.box.context import Box
from govcloud_platform.errors import ConflictError, InputError, OperationFailed, ServiceError, last_line
from govcloud_platform.names import bucket as bucket_of
from govcloud_platform.names import parse_pg, pg_app, pg_owner, pg_reader
from govcloud_platform.state.registry import Registry

CHUNK = 1 << 20


def fetch_files(box: Box, slug: str, pw: str, run: restic.Run, into: Path) -> tuple[dict[str, Any], Path]:
    """Restore the run's files snapshot into `into`; returns (manifest, directory holding objects/)."""
    assert run.files is not None
    result = restic.run(box, slug, pw, "restore", str(run.files["id"]), "--target", str(into))
    if result.returncode != 0:
        raise OperationFailed(f"restic restore of {slug}/{run.id} failed: {last_line(result.stderr, 'restic')}")
    base = into / str(run.files["paths"][0]).lstrip("/")
    return json.loads((base / "manifest.json").read_text()), base


def restore_dump(box: Box, slug: str, pw: str, snapshot: str, dump_name: str, dbname: str,
                 extra: list[str]) -> None:
    """restic dump | pg_restore into an existing (empty) database, in one transaction."""
    source = restic.popen(box, slug, pw, "dump", snapshot, f"/{dump_name}.dump", stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
    argv, how = pg_local(box, "pg_restore", "--exit-on-error", "--single-transaction", "-d", dbname, *extra)
    load = subprocess.Popen(argv, stdin=source.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **how)
    assert source.stdout is not None
    source.stdout.close()
    with StorageWatch(box, [source, load]) as watch:
        _, load_err = load.communicate()
        _, source_err = source.communicate()
    if watch.lost:
        raise ServiceError("restore failed: object storage stopped answering", hint="run `govcloud up`, then re-run")
    if source.returncode != 0:
        raise OperationFailed(f"restic dump of {dump_name} failed: {last_line(source_err, 'restic')}")
    if load.returncode != 0:
        raise OperationFailed(f"pg_restore into {dbname} failed: {last_line(load_err, 'pg_restore')}")


def create_database(box: Box, name: str, owner: str = "postgres") -> None:
    with box.pg_admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8' TEMPLATE template0").format(
            sql.Identifier(name), sql.Identifier(owner)))


def drop_database(box: Box, name: str) -> None:
    with box.pg_admin() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _rename_closed(conn: Any, name: str, to: str) -> None:
    """Close database `name` to new connections, end its sessions, rename it."""
    conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(sql.Identifier(name)))
    deadline = time.monotonic() + 30
    while True:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        try:
            conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(name), sql.Identifier(to)))
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def target_database(src_db: str, target: str) -> str:
    """The database of agency `target` that stands for `src_db` of a backup (its own, or the same app's)."""
    owner = parse_pg(src_db)
    if owner is None:
        raise OperationFailed(f"database {src_db!r} of the backup is no agency's", hint="restore another backup")
    return pg_app(target, owner.app) if owner.app else pg_owner(target)


def _owner_of(box: Box, dbname: str, default: str) -> str:
    """The agency's role that owns what is in `dbname`: the role of the same name (names.py: an agency's owner
    role and an app's role share their database's name), else the database's owner when it is not the platform
    (an older govcloud's), else `default`. Databases belong to the platform (brokers/database.py), so their
    owner no longer names the role."""
    from govcloud_platform.brokers.database import PLATFORM_OWNER

    with box.pg_admin() as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (dbname,)).fetchone():
            return dbname
        row = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if row and row[0] != PLATFORM_OWNER:
            return str(row[0])
    return default


def _digests(path: Path) -> tuple[str, str]:
    """(sha256, md5) of a file in one read: sha256 checks the manifest, md5 is what S3 gives as ETag."""
    sha, md5 = hashlib.sha256(), hashlib.md5()  # noqa: S324 - compared with S3 ETags, not for security
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            sha.update(chunk)
            md5.update(chunk)
    return sha.hexdigest(), md5.hexdigest()


@dataclass
class _Swap:
    """What the live side looked like before step 4, and what step 4 changed: enough to put it back."""

    databases: list[tuple[str, str, str | None]] = field(default_factory=list)  # (live, staged, old or None)
    swapped: list[tuple[str, str | None]] = field(default_factory=list)  # (live, old or None) once swapped
    saved: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> {"file", "content_type"} aside
    before: set[str] = field(default_factory=set)  # keys of the bucket before
    written: bool = False  # the bucket was touched


class _Restore:
    """One restore of run `chosen` of agency `slug` into agency `target` (the same one when in place)."""

    def __init__(self, box: Box, slug: str, target: str, pw: str, chosen: restic.Run, work: Path,
                 progress: Progress) -> None:
        self.box, self.slug, self.target, self.pw, self.chosen = box, slug, target, pw, chosen
        self.work, self.progress = work, progress
        self.state = _Swap()

    # steps 1-3: nothing live changes
    def prepare(self, into_new: bool) -> tuple[dict[str, Any], Path, dict[str, str]]:
        from govcloud_platform.brokers.database import ensure_database

        self.progress(f"fetching objects and manifest of {self.slug}/{self.chosen.id}")
        doc, base = fetch_files(self.box, self.slug, self.pw, self.chosen, self.work)
        md5s = {}
        for key, meta in doc["objects"].items():
            sha, md5s[key] = _digests(base / meta["file"])
            if sha != meta["sha256"]:
                raise OperationFailed(f"object {key!r} of backup {self.chosen.id} does not match its manifest sha256",
                                      hint="`govcloud backup verify` checks every backup; restore another one")
        registry = Registry(self.box.home)
        quota = self.box.spec.resolve_quota(registry.agency(self.target).quota)  # type: ignore[union-attr]
        for src_db, snap in self.chosen.databases.items():
            dst_db = target_database(src_db, self.target)
            owner = pg_owner(self.target) if into_new else _owner_of(self.box, dst_db, pg_owner(self.target))
            staged = f"govcloud_restore_{secrets.token_hex(4)}"
            self.progress(f"restoring {src_db} into a new database for {dst_db}")
            create_database(self.box, staged, owner)
            self.state.databases.append((dst_db, staged, None))
            extra = ["--no-owner", f"--role={owner}"] + (["--no-privileges"] if into_new else [])
            restore_dump(self.box, self.slug, self.pw, str(snap["id"]), src_db, staged, extra)
            # the broker's owner, grants and connection limit, before it goes live
            readers = [pg_reader(self.target)] if dst_db == pg_owner(self.target) else []
            ensure_database(self.box, staged, owner, readers, quota.database_connections)
        self._save_bucket(doc["objects"], md5s)
        return doc, base, md5s

    def _save_bucket(self, objects: dict[str, dict[str, Any]], md5s: dict[str, str]) -> None:
        """Copy aside every object the restore would overwrite (different content) or delete."""
        s3, bucket = self.box.s3_client(), bucket_of(self.target)
        aside = self.work / "before"
        aside.mkdir(mode=0o700)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                self.state.before.add(key)
                if key in objects and str(obj.get("ETag", "")).strip('"') == md5s[key]:
                    continue  # same content: neither written nor saved
                name = f"{len(self.state.saved):08d}"
                resp = s3.get_object(Bucket=bucket, Key=key)
                with (aside / name).open("wb") as fh:
                    for chunk in resp["Body"].iter_chunks(CHUNK):
                        fh.write(chunk)
                self.state.saved[key] = {"file": str(aside / name),
                                         "content_type": resp.get("ContentType") or "binary/octet-stream"}
        if self.state.saved:
            self.progress(f"{len(self.state.saved)} object(s) of {bucket} copied aside")

    # step 4: the live side changes; rollback() undoes it
    def swap_in(self) -> None:
        with self.box.pg_admin() as conn:
            for i, (live, staged, _) in enumerate(self.state.databases):
                exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (live,)).fetchone()
                old = f"govcloud_old_{secrets.token_hex(4)}" if exists else None
                if old:
                    _rename_closed(conn, live, old)
                self.state.databases[i] = (live, staged, old)
                self.state.swapped.append((live, old))
                conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(staged),
                                                                             sql.Identifier(live)))
                self.progress(f"{live} swapped in" + (f" (previous one kept as {old})" if old else ""))
        faults.restore_point("swap")

    def write_bucket(self, objects: dict[str, dict[str, Any]], base: Path, md5s: dict[str, str]) -> int:
        s3, bucket = self.box.s3_client(), bucket_of(self.target)
        self.progress(f"restoring {len(objects)} objects into {bucket}")
        changed = [k for k in objects if k not in self.state.before or k in self.state.saved]
        for n, key in enumerate(changed):
            if n == len(changed) // 2:
                faults.restore_point("objects")  # half-way through the bucket
            meta = objects[key]
            self.state.written = True
            s3.upload_file(str(base / meta["file"]), bucket, key,
                           ExtraArgs={"ContentType": meta.get("content_type", "binary/octet-stream")})
        extra = [k for k in self.state.before if k not in objects]
        for start in range(0, len(extra), 1000):
            self.state.written = True
            s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in extra[start:start + 1000]],
                                                     "Quiet": True})
        return len(extra)

    def commit(self) -> None:
        """Everything is in place: drop the old databases."""
        for _, old in self.state.swapped:
            if old:
                drop_database(self.box, old)

    def discard(self) -> None:
        """Nothing live changed: drop the databases restored aside."""
        for _, staged, _ in self.state.databases:
            drop_database(self.box, staged)

    def rollback(self) -> None:
        """Put the databases and the bucket back as they were before step 4."""
        with self.box.pg_admin() as conn:
            for live, old in reversed(self.state.swapped):
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(live)))
                if old:
                    conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(old),
                                                                                 sql.Identifier(live)))
                    conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(
                        sql.Identifier(live)))
        swapped = {live for live, _ in self.state.swapped}
        for live, staged, _ in self.state.databases:
            if live not in swapped:
                drop_database(self.box, staged)
        if not self.state.written:
            return
        s3, bucket = self.box.s3_client(), bucket_of(self.target)
        for key, meta in self.state.saved.items():
            s3.upload_file(meta["file"], bucket, key, ExtraArgs={"ContentType": meta["content_type"]})
        added = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            added += [{"Key": o["Key"]} for o in page.get("Contents", []) if o["Key"] not in self.state.before]
        for start in range(0, len(added), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": added[start:start + 1000], "Quiet": True})


def restore(box: Box, slug: str, snapshot: str | None = None, into: str | None = None, actor: str | None = None,
            progress: Progress = quiet) -> dict[str, Any]:
    """Restore an agency's backup in place (its databases and bucket become what the backup holds) or into a
    new agency onboarded for the purpose. Only the target agency's databases and bucket are written; a failure
    leaves them as they were."""
    from govcloud_platform.onboarding import AgencyRequest, Onboarding, validate_request

    registry = Registry(box.home)
    source = agency_record(box, slug)
    pw = restic.password(box, slug)
    target = into or slug
    if into is not None:
        request = AgencyRequest(into, f"{source.name} (restored from {slug})", source.email, source.quota,
                                list(source.services))
        validate_request(box, request)
        if into == slug:
            raise InputError("--into names the agency itself", hint="leave --into out to restore in place")
        if registry.agency(into) is not None:
            raise ConflictError(f"agency {into!r} exists", hint="choose a new slug for --into")
    started = time.monotonic()
    try:
        require_storage(box, f"restore of {slug}")
        chosen = restic.pick(restic.runs(box, slug, pw), snapshot, slug)
        if into is not None:
            progress(f"onboarding {into}")
            Onboarding(box, actor=actor).add(request)
        with backup_lock(box, f"agency:{target}", wait=600), private_dir(box, "restore") as work:
            job = _Restore(box, slug, target, pw, chosen, work, progress)
            try:
                doc, base, md5s = job.prepare(into_new=into is not None)
            except BaseException:
                job.discard()
                raise
            try:
                job.swap_in()
                removed = job.write_bucket(doc["objects"], base, md5s)
            except BaseException as exc:  # noqa: BLE001 - Ctrl-C rolls back too
                progress(f"restore failed ({exc}): putting {target}'s databases and bucket back")
                try:
                    job.rollback()
                except Exception as again:  # noqa: BLE001 - report both: the cause and what is left
                    kept = backups_dir(box, "kept") / f"{target}-{chosen.id}-objects"
                    (work / "before").rename(kept)
                    raise OperationFailed(
                        f"restore of {target} failed ({exc}) and so did its rollback ({again})",
                        hint=f"the previous databases are kept as govcloud_old_*, the previous objects in {kept}",
                    ) from again
                if not isinstance(exc, Exception):
                    raise
                raise rolled_back(exc, f"restore of {target}", "databases and bucket as before") from None
            job.commit()
            restored_dbs = [live for live, _ in job.state.swapped]
    except Exception as exc:
        registry.audit("backup restore", target, "failed", actor, f"from {slug}: {exc}")
        raise
    report = {"agency": slug, "into": target, "backup": chosen.id, "databases": restored_dbs,
              "objects": len(doc["objects"]), "objects_removed": removed,
              "seconds": round(time.monotonic() - started, 2)}
    registry.audit("backup restore", target, "ok", actor, json.dumps({k: report[k] for k in ("agency", "backup")}))
    return report
