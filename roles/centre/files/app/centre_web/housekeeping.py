"""The centre's work on the agency's bucket outside a citizen's request: the catalogue's open data (the deploy,
`centre_converge`), documents of closed applications archived with their service's retention class, and pending
uploads of applications never sent deleted, and archived documents deleted when their retention ends (the timers'
job, `centre_run_timers`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from centre_core import documents, retention, retention_store, store
from centre_core.catalogue import Loaded
from centre_core.objects import Bucket

log = logging.getLogger(__name__)
OPENDATA_TYPES = {".csv": "text/csv; charset=utf-8", ".json": "application/json"}


def publish_opendata(bucket: Bucket, loaded: Loaded, public_url: str) -> list[str]:
    """Write `opendata/centre-services.csv` and `.json` when they differ from what the bucket has (compared by
    the SHA-256 kept with each object): the keys written (empty when the catalogue did not change)."""
    written = []
    for key, body in documents.opendata_files(loaded.catalogue, public_url).items():
        sha = documents.digest(body)
        if bucket.sha256_of(key) != sha:
            bucket.put(key, body, OPENDATA_TYPES[key[key.rfind("."):]], sha)
            written.append(key)
    return written


def archive_closed(conn: Any, bucket: Bucket, loaded: Loaded, now: datetime, limit: int = 100) -> int:
    """Copy the documents of closed applications to `centre/archive/<retention class>/<reference>/...`, tagged
    with the class and the reference (the bucket's lifecycle rules can act on the tag), and record it (audited
    with the document's hash). A service no longer in the catalogue keeps its documents as `permanent`."""
    done = 0
    for row, reference, service_id, key in store.to_archive(conn, limit):
        service = loaded.catalogue.service(service_id)
        retention = service.retention.value if service else "permanent"
        target = documents.archive_key(retention, key)
        try:
            bucket.copy(key, target, {"retention": retention, "reference": reference})
        except (BotoCoreError, ClientError) as exc:  # one document's trouble does not hold up the others
            log.warning("archive: a document could not be copied (%s); the next round tries again",
                        type(exc).__name__)
            continue
        store.mark_archived(conn, row, target, retention, now)
        done += 1
    return done


def purge_pending(bucket: Bucket, now: datetime) -> int:
    """Delete pending uploads (`centre/pending/`) older than a day: applications never sent."""
    old = [key for key, modified in bucket.listed(documents.PREFIX + "pending/")
           if documents.pending_expired(modified, now)]
    for key in old:
        bucket.delete(key)
    return len(old)


@dataclass(frozen=True)
class Deleted:
    """What a round of `delete_expired` did (counts only: the log names no application)."""

    deleted: int = 0
    held: int = 0  # the object's own `retention` tag disagrees with its prefix, or a legal hold came meanwhile: kept
    failed: int = 0  # the bucket refused or was away: the next round tries again


def delete_expired(conn: Any, bucket: Bucket, now: datetime, zone: tzinfo, limit: int = 100) -> Deleted:
    """Delete the archived documents whose retention has ended (`retention.is_due`, in the agency's time zone),
    each class in batches of `limit`, the longest closed first: the archived object and the one it was copied
    from, then the row marked and the deletion audited. The archived object's `retention` tag must agree with the
    class its prefix names (an object re-tagged, e.g. `permanent` for a legal hold, is kept); an object already
    gone (a round that stopped between the deletion and the record) is recorded as deleted. An application on legal
    hold (`retention_store.hold`) is not asked for, and is checked again under its row's share lock before each
    deletion."""
    deleted = held = failed = 0
    for klass in retention.finite_classes():
        bound = retention.closed_before(klass, now)
        assert bound is not None
        kept: set[int] = set()  # held or failed this round: not asked for again
        while True:
            asked = limit + len(kept)
            fetched = retention_store.archived_of_class(conn, klass, bound, asked)
            batch = [d for d in fetched if d.row not in kept]
            due = [d for d in batch if retention.is_due(klass, d.closed_at, now, zone)]
            trouble = False
            for doc in due:
                with conn.transaction():  # a legal hold placed meanwhile wins; one placed now waits for this one
                    if retention_store.on_hold(conn, doc.reference):
                        held += 1
                        kept.add(doc.row)
                        continue
                    try:
                        tags = bucket.tags(doc.archived_key)
                        if tags is not None and tags.get("retention") != klass:
                            held += 1
                            kept.add(doc.row)
                            continue
                        bucket.delete(doc.archived_key)
                        bucket.delete(doc.object_key)
                    except (BotoCoreError, ClientError) as exc:  # the next round tries again
                        log.warning("retention: a document could not be deleted (%s)", type(exc).__name__)
                        failed += 1
                        kept.add(doc.row)
                        trouble = True
                        continue
                    if retention_store.mark_deleted(conn, doc.row, klass, now):
                        deleted += 1
            # ordered by closing time: once one is not due, none after it is; a short batch was the last
            if trouble or len(due) < len(batch) or len(fetched) < asked:
                break
    return Deleted(deleted, held, failed)


def erase_expired(conn: Any, loaded: Loaded, now: datetime, zone: tzinfo, limit: int = 100) -> int:
    """Erase the answers, e-mail address and mobile number of closed applications whose retention has ended
    (`retention.is_due` over the service's class, in the agency's time zone, as for documents), in batches of
    `limit`, the longest closed first, once their documents are deleted: `retention_store.erase`. A service no
    longer in the catalogue keeps its applications' data (`permanent`, as its documents). How many were erased."""
    erased = 0
    for klass in retention.finite_classes():
        services = [s.id for s in loaded.catalogue.services if s.retention.value == klass]
        bound = retention.closed_before(klass, now)
        if not services or bound is None:
            continue
        while True:
            batch = retention_store.closed_to_erase(conn, services, bound, limit)
            due = [a for a in batch if retention.is_due(klass, a.closed_at, now, zone)]
            erased += sum(retention_store.erase(conn, a.row, klass, now) for a in due)
            # ordered by closing time: once one is not due, none after it is; a short batch was the last
            if len(due) < len(batch) or len(batch) < limit:
                break
    return erased
