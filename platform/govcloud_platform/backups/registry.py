"""The registry and its key in the platform's backups, and their restore.

The registry (`registry.db`) holds every agency and, encrypted with `secrets/registry.key`, every credential,
the restic passwords of the agencies' backups included: losing either file loses every agency's access and
backups. A copy of both is kept in the backup bucket as one *bundle* (`registry/<run id>.bundle`): a consistent
copy of the database (SQLite's online backup API: safe while other commands write) and the key, encrypted
together with a key derived (HKDF-SHA256) from the platform's backup passphrase
(`secrets/pgbackrest-cipher-pass`), which already encrypts the pgBackRest repository and is never stored in
the bucket. Whoever steals the bucket gets ciphertext only; whoever keeps that passphrase offline can bring back
the registry, its key and the cluster. The registry key itself never unlocks its own backup.

A bundle is taken by `govcloud up` once per key (so a key is in the bucket from the box's first `up`, before any
agency exists) and by every platform backup (`backup run`, the scheduler's full and differential runs).
`govcloud backup restore --registry` puts back what is missing or not this box's (the key, the database or both)
from the newest bundle or `--snapshot ID`, setting aside anything it replaces."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
from typing import Any

from govcloud_platform.backups.common import Progress, iso, new_run_id, quiet, require_storage, utcnow
from govcloud_platform.box.context import Box
from govcloud_platform.box.secrets import write_private
from govcloud_platform.errors import BoxDamaged, ConflictError, InputError
from govcloud_platform.state.registry import Registry, check_registry
from govcloud_platform.state.registry_guard import KEY_FIELD, key_fingerprint, recorded_fingerprint

PREFIX = "registry/"
SUFFIX = ".bundle"
KEEP = 60  # newest bundles kept (platform backups plus one per key)
PASSPHRASE = "pgbackrest-cipher-pass"
BACKED_UP_FIELD = "registry_key_backed_up"  # box.json: fingerprint of the key whose bundle `up` stored
_INFO = b"govcloud registry backup v1"


def bundle_cipher(passphrase: str) -> Any:
    """The Fernet cipher of registry bundles, derived from the platform's backup passphrase (high-entropy and
    random, so HKDF suffices; a distinct `info` keeps the derived key apart from any other use)."""
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(passphrase.strip().encode())
    return Fernet(base64.urlsafe_b64encode(raw))


def snapshot(registry: Registry) -> bytes:
    """A consistent copy of the registry database (online backup into memory, then its bytes)."""
    src = sqlite3.connect(f"file:{registry.path}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(":memory:")
    try:
        src.backup(dst)
        return bytes(dst.serialize())
    finally:
        src.close()
        dst.close()


def make_bundle(run_id: str, key: bytes, db: bytes, passphrase: str) -> bytes:
    doc = {
        "format": 1, "id": run_id, "taken": iso(utcnow()),
        "key": key.strip().decode(), "key_fingerprint": key_fingerprint(key),
        "db_sha256": hashlib.sha256(db).hexdigest(), "db": base64.b64encode(db).decode(),
    }
    token: bytes = bundle_cipher(passphrase).encrypt(json.dumps(doc).encode())
    return token


def open_bundle(token: bytes, passphrase: str) -> dict[str, Any]:
    """The bundle's content; InputError if this passphrase does not open it or it is damaged."""
    from cryptography.fernet import InvalidToken

    try:
        doc: dict[str, Any] = json.loads(bundle_cipher(passphrase).decrypt(token))
        db = base64.b64decode(doc["db"])
    except (InvalidToken, ValueError, KeyError):
        raise InputError("the registry backup cannot be opened with this box's platform backup passphrase",
                         hint=f"put back the box's own secrets/{PASSPHRASE} (docs/backups.md)") from None
    if hashlib.sha256(db).hexdigest() != doc.get("db_sha256"):
        raise InputError(f"registry backup {doc.get('id')} is damaged (checksum mismatch)",
                         hint="pass --snapshot with an older backup id")
    doc["db"] = db
    return doc


def _passphrase(box: Box) -> str:
    value = box.secrets.get(PASSPHRASE)
    if not value:
        raise BoxDamaged(f"the platform backup passphrase {box.home / 'secrets' / PASSPHRASE} is missing",
                         hint="put back your offline copy of it (docs/backups.md)")
    return value


def _bucket() -> str:
    from govcloud_platform.box.services.storage import BACKUP_BUCKET

    return BACKUP_BUCKET


def take_backup(box: Box) -> dict[str, Any]:
    """Store a bundle of the registry and its key in the backup bucket; prune the oldest beyond KEEP. Refuses a
    damaged registry (an empty one in its place would become the newest backup)."""
    check_registry(box.home)
    registry = Registry(box.home)
    key = registry.key_path.read_bytes()
    run_id = new_run_id()
    body = make_bundle(run_id, key, snapshot(registry), _passphrase(box))
    s3 = box.s3_client()
    s3.put_object(Bucket=_bucket(), Key=f"{PREFIX}{run_id}{SUFFIX}", Body=body)
    for old in list_ids(box)[:-KEEP]:
        s3.delete_object(Bucket=_bucket(), Key=f"{PREFIX}{old}{SUFFIX}")
    return {"id": run_id, "bytes": len(body), "key_fingerprint": key_fingerprint(key)}


def list_ids(box: Box) -> list[str]:
    """Bundle ids in the bucket, oldest first (run ids sort by time)."""
    s3 = box.s3_client()
    ids: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=_bucket(), Prefix=PREFIX):
        ids += [o["Key"][len(PREFIX):-len(SUFFIX)] for o in page.get("Contents", []) if o["Key"].endswith(SUFFIX)]
    return sorted(ids)


def ensure_registry(box: Box, progress: Progress = quiet) -> str:
    """`govcloud up`: make the registry and its key on a new box (or check those of an existing one: a damaged
    box is refused, exit 2, with how to restore), record the key's fingerprint in box.json, and store the key in
    the platform's backups once. Returns the fingerprint."""
    fingerprint = Registry(box.home).initialize()
    if recorded_fingerprint(box.home) != fingerprint:
        box.record(**{KEY_FIELD: fingerprint})
    try:
        backed_up = json.loads(box.state_file.read_text()).get(BACKED_UP_FIELD)
    except (OSError, ValueError):
        backed_up = None
    if backed_up != fingerprint:
        progress("registry: storing its key in the platform's backups")
        take_backup(box)
        box.record(**{BACKED_UP_FIELD: fingerprint})
    return fingerprint


def _set_aside(path: os.PathLike[str] | str, stamp: str) -> str | None:
    """Rename a file out of the way (never delete what an operator may still need)."""
    if not os.path.exists(path):
        return None
    aside = f"{path}.replaced-{stamp}"
    os.replace(path, aside)
    return aside


def _db_usable(box: Box) -> bool:
    """registry.db is there, is a database, and the (now right) key opens its credentials."""
    registry = Registry(box.home)
    if not registry.path.exists():
        return False
    try:
        return registry.opens_secrets() is not False
    except sqlite3.DatabaseError:
        return False
    finally:
        registry.close()


def restore(box: Box, snapshot_id: str | None = None, actor: str | None = None,
            progress: Progress = quiet) -> dict[str, Any]:
    """Put back the registry's key and/or database from a bundle when they are missing or not this box's. An
    intact registry is left alone (nothing to restore). What is replaced is set aside (`*.replaced-<time>`)."""
    from govcloud_platform.state.lock import box_lock

    registry = Registry(box.home)
    try:
        check_registry(box.home)
        return {"restored": [], "backup": None, "detail": "the registry and its key are intact; nothing to restore"}
    except BoxDamaged:
        pass
    require_storage(box, "registry restore")
    passphrase = _passphrase(box)
    ids = list_ids(box)
    if not ids:
        raise InputError("the platform's backups hold no registry backup",
                         hint="a box records one at `govcloud up` and at every `govcloud backup run`")
    if snapshot_id is not None and snapshot_id not in ids:
        raise InputError(f"no registry backup {snapshot_id!r}", hint=f"the newest is {ids[-1]}")
    chosen = snapshot_id or ids[-1]
    progress(f"registry: fetching backup {chosen}")
    body = box.s3_client().get_object(Bucket=_bucket(), Key=f"{PREFIX}{chosen}{SUFFIX}")["Body"].read()
    doc = open_bundle(body, passphrase)
    recorded = recorded_fingerprint(box.home)
    if recorded is not None and doc["key_fingerprint"] != recorded:
        raise ConflictError(f"registry backup {chosen} holds another box's key (box.json records {recorded})",
                            hint="pass --snapshot with a backup of this box")
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    restored: list[str] = []
    with box_lock(box.home, "backup restore --registry"):
        key = doc["key"].encode()
        current = registry.key_path.read_bytes() if registry.key_path.exists() else None
        if current is None or key_fingerprint(current) != doc["key_fingerprint"]:
            _set_aside(registry.key_path, stamp)
            registry.key_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_private(registry.key_path, key + b"\n")
            restored.append("registry.key")
        if not _db_usable(box):
            for suffix in ("", "-wal", "-shm"):  # a WAL left by another database must never be replayed
                _set_aside(f"{registry.path}{suffix}", stamp)
            write_private(registry.path, doc["db"])
            restored.append(registry.path.name)
        if recorded is None:
            box.record(**{KEY_FIELD: doc["key_fingerprint"]})
        check_registry(box.home)
        after = Registry(box.home)
        agencies = len(after.agencies())
        after.audit("backup restore", "registry", "ok", actor,
                    json.dumps({"backup": chosen, "taken": doc["taken"], "restored": restored}))
    return {"restored": restored, "backup": chosen, "taken": doc["taken"], "agencies": agencies,
            "detail": f"restored {', '.join(restored)} from the backup of {doc['taken']}"}
