"""Every backup the box holds: the platform's (pgBackRest) and each agency's (restic), in one list."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from govcloud_platform.backups import agency, cluster
from govcloud_platform.backups.common import BackupRecord, require_storage
from govcloud_platform.box.context import Box
from govcloud_platform.brokers.backups import repository_exists
from govcloud_platform.state.registry import Registry

# Each restic repository costs a process and ~0.6 s of key derivation to open: a few at a time.
PARALLEL = 4


def agencies_with_backups(box: Box) -> list[str]:
    """Agencies holding a restic key whose repository exists (it is created on an agency's first backup)."""
    registry = Registry(box.home)
    slugs = [r.slug for r in registry.agencies() if (registry.binding(r.slug, "backups") or {}).get("restic_password")]
    return [slug for slug in slugs if repository_exists(box, slug)]


def list_all(box: Box) -> list[BackupRecord]:
    """The platform's backups and every agency's, oldest first (`scope` tells whose)."""
    require_storage(box, "backup list")
    slugs = agencies_with_backups(box)
    with ThreadPoolExecutor(PARALLEL) as pool:
        per_agency = pool.map(lambda slug: agency.list_backups(box, slug), slugs)
        records = cluster.list_backups(box)
        for found in per_agency:
            records.extend(found)
    return sorted(records, key=lambda r: (r.started, r.scope, r.id))

