"""A box's registry is its own or it is damage: box.json records the fingerprint of the registry's key, and
`registry_problem` decides (pure) what is wrong with a registry and its key. state/registry.py refuses to
make another registry where one was; `check_registry` there runs the decision on every command."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

# box.json records the fingerprint of the registry's key once `up` has made (or adopted) the registry: from then
# on a missing registry.db or registry.key, or another key, is damage to refuse, never a reason to start afresh.
KEY_FIELD = "registry_key"


def key_fingerprint(key: bytes) -> str:
    """Identifies a key without revealing it (a truncated SHA-256 of 256 random bits)."""
    return "sha256:" + hashlib.sha256(key.strip()).hexdigest()[:16]


def recorded_fingerprint(home: Path) -> str | None:
    try:
        value = json.loads((home / "box.json").read_text()).get(KEY_FIELD)
    except (OSError, ValueError, AttributeError):
        return None
    return str(value) if value else None


def registry_problem(recorded: str | None, db_exists: bool, key_fp: str | None, holds_secrets: bool,
                     opens_secrets: bool | None) -> str | None:
    """What is wrong with a box's registry, or None. Pure. `recorded`: the key fingerprint box.json holds (None on
    a box that never recorded one); `key_fp`: the fingerprint of registry.key (None if missing); `holds_secrets`:
    the registry has encrypted rows; `opens_secrets`: the key decrypts a sample of them (None: nothing to try)."""
    made = recorded is not None or key_fp is not None  # a key exists only once a registry was made
    if not db_exists and made:
        return "the registry registry.db and its key are missing" if key_fp is None else \
            "the registry registry.db is missing"
    if db_exists and key_fp is None and (recorded is not None or holds_secrets):
        return "the registry's key secrets/registry.key is missing"
    if recorded is not None and key_fp is not None and key_fp != recorded:
        return "secrets/registry.key is not the key of this box's registry"
    if opens_secrets is False:
        return "secrets/registry.key does not open the credentials in registry.db (they are not this box's)"
    return None
