"""Restore drills: restore into a scratch database and a scratch bucket, recompute row checksums and object
sha256s, compare with the manifest taken at backup time; check the repositories themselves."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from govcloud_platform.backups import cluster, restic
from govcloud_platform.backups import manifest as mf
from govcloud_platform.backups.agency import agency_record, private_dir
from govcloud_platform.backups.agency_restore import create_database, drop_database, fetch_files, restore_dump
from govcloud_platform.backups.common import Progress, quiet, require_storage
from govcloud_platform.box.context import Box
from govcloud_platform.errors import last_line
from govcloud_platform.state.registry import Registry

VERIFY_BUCKET = "govcloud-verify"  # reused and emptied: every bucket costs SeaweedFS volumes


def restic_check(box: Box, slug: str, pw: str) -> dict[str, Any]:
    restic.unlock_stale(box, slug, pw)
    result = restic.run(box, slug, pw, "check", timeout=3600)
    text = (result.stderr or "") + (result.stdout or "")
    return {"ok": result.returncode == 0, "detail": "no errors were found" if result.returncode == 0
            else last_line(text, f"exit {result.returncode}")}


def _empty_bucket(s3: Any, bucket: str) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


def _scratch_bucket(s3: Any) -> str:
    names = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if VERIFY_BUCKET not in names:
        s3.create_bucket(Bucket=VERIFY_BUCKET)
    _empty_bucket(s3, VERIFY_BUCKET)
    return VERIFY_BUCKET


def verify_agency(box: Box, slug: str, snapshot: str | None = None, progress: Progress = quiet) -> dict[str, Any]:
    import psycopg

    agency_record(box, slug)
    require_storage(box, f"verify of {slug}")
    pw = restic.password(box, slug)
    started = time.monotonic()
    chosen = restic.pick(restic.runs(box, slug, pw), snapshot, slug)
    result = mf.Comparison()
    with private_dir(box, "verify") as work:
        progress(f"{slug}: fetching objects and manifest of {chosen.id}")
        doc, base = fetch_files(box, slug, pw, chosen, work)
        for dbname, snap in sorted(chosen.databases.items()):
            scratch = f"govcloud_verify_{secrets.token_hex(4)}"
            progress(f"{slug}: restoring {dbname} into scratch database {scratch}")
            create_database(box, scratch)
            try:
                restore_dump(box, slug, pw, str(snap["id"]), dbname, scratch, ["--no-owner", "--no-privileges"])
                with psycopg.connect(**box.pg_conninfo(scratch), autocommit=True) as conn:
                    actual = mf.table_checksums(conn)
            finally:
                drop_database(box, scratch)
            mf.compare_tables(dbname, doc["databases"].get(dbname, {}).get("tables", {}), actual, result)
        missing = set(doc["databases"]) - set(chosen.databases)
        result.mismatches += [f"database {name} is in the manifest but has no dump" for name in sorted(missing)]
        s3 = box.s3_client()
        bucket = _scratch_bucket(s3)
        progress(f"{slug}: restoring {len(doc['objects'])} objects into scratch bucket {bucket}")
        try:
            for key, meta in doc["objects"].items():
                s3.upload_file(str(base / meta["file"]), bucket, key)
            actual_objects: dict[str, str] = {}
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for obj in page.get("Contents", []):
                    body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"]
                    actual_objects[obj["Key"]] = mf.sha256_stream(body.iter_chunks(mf.CHUNK))[0]
        finally:
            _empty_bucket(s3, bucket)
        mf.compare_objects(doc["objects"], actual_objects, result)
    progress(f"{slug}: restic check")
    check = restic_check(box, slug, pw)
    return {"scope": f"agency:{slug}", "backup": chosen.id, "backup_started": chosen.started,
            **result.as_dict(), "ok": result.ok and check["ok"], "restic_check": check,
            "seconds": round(time.monotonic() - started, 2)}


def verify_platform(box: Box, progress: Progress = quiet) -> dict[str, Any]:
    """`pgbackrest verify`, then a scratch restore of the latest state with every table read."""
    started = time.monotonic()
    progress("pgbackrest verify")
    repo = cluster.verify_repository(box)
    drill: dict[str, Any]
    try:
        with cluster.scratch_restore(box, None, progress) as scratch:
            drill = {"ok": True, **scratch.report()}
    except Exception as exc:  # noqa: BLE001 - the report says what failed
        drill = {"ok": False, "detail": str(exc)[:300]}
    return {"scope": "platform", "ok": repo["ok"] and drill["ok"], "pgbackrest_verify": repo,
            "restore_drill": drill, "seconds": round(time.monotonic() - started, 2)}


def verify(box: Box, slug: str | None = None, snapshot: str | None = None, actor: str | None = None,
           progress: Progress = quiet) -> dict[str, Any]:
    """One agency's drill, or the platform's plus every agency that has a backup."""
    registry = Registry(box.home)
    reports: list[dict[str, Any]] = []
    try:
        if slug:
            reports.append(verify_agency(box, slug, snapshot, progress))
        else:
            reports.append(verify_platform(box, progress))
            for record in registry.agencies():
                if record.state != "ready" or registry.binding(record.slug, "backups") is None:
                    continue
                if not restic.runs(box, record.slug, restic.password(box, record.slug)):
                    continue
                reports.append(verify_agency(box, record.slug, None, progress))
    except Exception as exc:
        registry.audit("backup verify", slug or "all", "failed", actor, str(exc))
        raise
    ok = all(r["ok"] for r in reports)
    registry.audit("backup verify", slug or "all", "ok" if ok else "mismatch", actor,
                   json.dumps([{"scope": r["scope"], "ok": r["ok"]} for r in reports]))
    return {"ok": ok, "reports": reports}


def drill_outcome(entries: list[dict[str, Any]], slug: str) -> dict[str, Any] | None:
    """The agency's last restore drill from audit entries of `backup verify` (the newest first, pure): its time,
    whether it passed, who ran it. A drill of every agency (target `all`) counts when its report names the agency.
    None: never drilled."""
    for entry in entries:
        if entry["command"] != "backup verify":
            continue
        if entry["target"] == slug:
            ok: bool | None = entry["result"] == "ok"
        elif entry["target"] == "all":
            try:
                scopes = {r["scope"]: r["ok"] for r in json.loads(entry["detail"])}
            except (ValueError, TypeError, KeyError):
                continue
            if f"agency:{slug}" not in scopes:
                continue
            ok = bool(scopes[f"agency:{slug}"])
        else:
            continue
        return {"at": entry["at"], "ok": ok, "result": entry["result"], "actor": entry["actor"]}
    return None


def last_drill(box: Box, slug: str) -> dict[str, Any] | None:
    """The agency's last restore drill (`backup verify`, recorded in the audit log whatever its outcome)."""
    registry = Registry(box.home)
    try:
        own = registry.audit_log(limit=20, target=slug, command="backup verify")
        every = registry.audit_log(limit=20, target="all", command="backup verify")
    finally:
        registry.close()
    return drill_outcome(sorted(own + every, key=lambda e: -int(e["id"])), slug)
