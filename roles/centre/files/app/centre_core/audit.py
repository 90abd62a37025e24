"""The audit trail: append-only entries, each holding the hash of the one before it.

An entry's hash is SHA-256 over a canonical JSON of all its fields (sorted keys, no spaces, UTF-8), its
predecessor's hash included, so altering any field of any entry, deleting one, or reordering them breaks the
chain at that point, and `verify` names it. What a chain alone cannot show is the loss of its last entries:
`verify` takes the head (sequence number and hash) recorded elsewhere (e.g. published daily, or kept by the
platform) to catch a truncated tail. The database also refuses UPDATE and DELETE on the table (store.py);
the chain is what still holds when someone with more rights than the app goes round that."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True)
class Entry:
    seq: int
    at: str  # ISO 8601, UTC
    actor: str  # "citizen", "staff:<name>", "system"
    action: str  # e.g. "submitted", "task:review:return", "timer:review_sla"
    subject: str  # the application's reference
    details: Mapping[str, Any]
    document_sha256: str | None
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Break:
    seq: int
    reason: str


def entry_hash(fields: Mapping[str, Any]) -> str:
    body = {k: v for k, v in fields.items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def append(previous: Entry | None, at: datetime, actor: str, action: str, subject: str,
           details: Mapping[str, Any] | None = None, document_sha256: str | None = None) -> Entry:
    """The next entry after `previous` (None for the first one)."""
    if at.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    fields: dict[str, Any] = {
        "seq": (previous.seq + 1) if previous else 1, "at": at.isoformat(), "actor": actor, "action": action,
        "subject": subject, "details": dict(details or {}), "document_sha256": document_sha256,
        "prev_hash": previous.hash if previous else GENESIS,
    }
    json.dumps(fields["details"])  # details must be JSON: fail here, not when verifying
    return Entry(**fields, hash=entry_hash(fields))


def verify(entries: Iterable[Entry], head: tuple[int, str] | None = None) -> list[Break]:
    """Every break of the chain, in order: a missing sequence number (deleted), a hash that does not match its
    content (altered), a link to a different predecessor (deleted, inserted or reordered), a short tail."""
    breaks: list[Break] = []
    expected_seq, prev_hash = 1, GENESIS
    last: Entry | None = None
    for entry in entries:
        if entry.seq != expected_seq:
            breaks.append(Break(entry.seq, f"expected entry {expected_seq}: entries are missing or out of order"))
        if entry_hash(asdict(entry)) != entry.hash:
            breaks.append(Break(entry.seq, "content does not match its hash: the entry was altered"))
        if entry.prev_hash != prev_hash:
            breaks.append(Break(entry.seq, "does not link to the entry before it"))
        expected_seq, prev_hash, last = entry.seq + 1, entry.hash, entry
    if head is not None:
        seq, digest = head
        if last is None or last.seq < seq:
            breaks.append(Break(seq, f"the trail ends at {last.seq if last else 0}: entries after it are gone"))
        elif last.seq == seq and last.hash != digest:
            breaks.append(Break(seq, "the last entry is not the one recorded as head"))
    return breaks
