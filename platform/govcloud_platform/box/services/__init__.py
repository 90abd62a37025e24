"""The shared services of the box, in start order (object storage first up, last down)."""

from __future__ import annotations

from govcloud_platform.box.services.base import Health, Program, Service


def all_services() -> list[Service]:
    from govcloud_platform.box.services.backups import BackupService
    from govcloud_platform.box.services.database import DatabaseService
    from govcloud_platform.box.services.identity import IdentityService
    from govcloud_platform.box.services.storage import StorageService

    return [StorageService(), DatabaseService(), IdentityService(), BackupService()]


__all__ = ["Health", "Program", "Service", "all_services"]
