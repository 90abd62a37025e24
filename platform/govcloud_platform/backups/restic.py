"""restic against an agency's repository, as subprocesses (pipes for dumps) with secrets only in the
environment, and the snapshot bookkeeping of our backup runs (one run = one snapshot per database dump
plus one snapshot of the objects and the manifest, tied together by a `run=<id>` tag)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from typing import Any

from govcloud_platform.box.context import Box
from govcloud_platform.box.services.storage import backup_keys
from govcloud_platform.brokers.backups import restic_repo
from govcloud_platform.errors import InputError, OperationFailed, ServiceError
from govcloud_platform.names import restic_prefix
from govcloud_platform.state.registry import Registry

TAG = "govcloud"
HOST = "govcloud"  # fixed, so snapshots do not depend on the machine's name


def password(box: Box, slug: str) -> str:
    binding = Registry(box.home).binding(slug, "backups")
    if not binding or "restic_password" not in binding:
        raise InputError(f"agency {slug!r} has no backup repository",
                         hint="onboard it with the backups service (`govcloud agency add` / `apply`)")
    return str(binding["restic_password"])


def env(box: Box, slug: str, pw: str) -> dict[str, str]:
    access, secret = backup_keys(box)
    return box.child_env({
        "AWS_ACCESS_KEY_ID": access,
        "AWS_SECRET_ACCESS_KEY": secret,
        "RESTIC_PASSWORD": pw,
        "RESTIC_REPOSITORY": restic_repo(box, slug),
        "RESTIC_CACHE_DIR": str(box.dir("restic-cache")),
    })


def command(box: Box, *args: str) -> list[str]:
    return ["restic", "-o", "s3.bucket-lookup=path", "--cacert", str(box.ca_file), *args]


def run(box: Box, slug: str, pw: str, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(box, *args), env=env(box, slug, pw), capture_output=True, text=True,
                          timeout=timeout, check=False)


def popen(box: Box, slug: str, pw: str, *args: str, **kw: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command(box, *args), env=env(box, slug, pw), **kw)


def unlock_stale(box: Box, slug: str, pw: str) -> None:
    """`restic unlock` (stale locks only) when the repository holds any lock: a killed run leaves one. Listing
    the locks is one S3 request; opening the repository costs restic ~0.6 s of key derivation."""
    from govcloud_platform.box.services.storage import BACKUP_BUCKET

    found = box.s3_client().list_objects_v2(Bucket=BACKUP_BUCKET, Prefix=restic_prefix(slug) + "locks/", MaxKeys=1)
    if found.get("Contents"):
        run(box, slug, pw, "unlock", timeout=120)


def summary(stdout: str) -> dict[str, Any]:
    """The `summary` message of `restic backup --json`."""
    for line in reversed(stdout.strip().splitlines()):
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and doc.get("message_type") == "summary":
            return doc
    raise OperationFailed("restic backup printed no summary")


@dataclass
class Run:
    """One agency backup run: its database snapshots and its files snapshot (objects + manifest)."""

    id: str
    started: str = ""
    finished: str = ""
    bytes: int = 0
    files: dict[str, Any] | None = None
    databases: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.files is not None

    def snapshot_ids(self) -> list[str]:
        snaps = [*self.databases.values(), *([self.files] if self.files else [])]
        return [str(s["id"]) for s in snaps]


def _tags(snap: dict[str, Any]) -> dict[str, str]:
    return dict(t.split("=", 1) for t in snap.get("tags") or [] if "=" in t)


def runs(box: Box, slug: str, pw: str) -> list[Run]:
    """Every complete run, oldest first (none before the first backup created the repository)."""
    from govcloud_platform.brokers.backups import repository_exists

    if not repository_exists(box, slug):
        return []
    result = run(box, slug, pw, "snapshots", "--json", "--tag", TAG, timeout=300)
    if result.returncode != 0:
        why = (result.stderr.strip().splitlines() or ["?"])[-1][:200]
        raise ServiceError(f"restic snapshots for {slug} failed: {why}")
    by_id: dict[str, Run] = {}
    for snap in json.loads(result.stdout or "[]"):
        tags = _tags(snap)
        if "run" not in tags:
            continue
        entry = by_id.setdefault(tags["run"], Run(tags["run"]))
        part = tags.get("part", "")
        if part == "files":
            entry.files = snap
            entry.started = tags.get("started", snap["time"])
            entry.finished = tags.get("finished", snap["time"])
            entry.bytes = int(tags.get("bytes", "0"))
        elif part.startswith("db:"):
            entry.databases[part[3:]] = snap
    return sorted((r for r in by_id.values() if r.complete), key=lambda r: r.started)


def pick(all_runs: list[Run], wanted: str | None, slug: str) -> Run:
    """The run named by a run id or by any of its snapshot ids (a prefix of ≥ 8 characters); latest by default."""
    if not all_runs:
        raise InputError(f"agency {slug!r} has no complete backup", hint=f"run `govcloud backup run --agency {slug}`")
    if not wanted:
        return all_runs[-1]
    for r in all_runs:
        if r.id == wanted or (len(wanted) >= 8 and any(s.startswith(wanted) for s in r.snapshot_ids())):
            return r
    raise InputError(f"no backup {wanted!r} of agency {slug!r}", hint=f"`govcloud backup list --agency {slug}`")
