"""The centre's work on the agency's bucket outside a citizen's request: the catalogue's open data (the deploy,
`centre_converge`), documents of closed applications archived with their service's retention class, and pending
uploads of applications never sent deleted (the timers' job, `centre_run_timers`)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from centre_core import documents, store
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
