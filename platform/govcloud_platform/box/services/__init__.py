"""The shared services of the box, in start order (object storage first up, last down)."""

from __future__ import annotations

from govcloud_platform.box.services.base import Health, Program, Service


def all_services() -> list[Service]:
    from govcloud_platform.box.services.backups import BackupService
    from govcloud_platform.box.services.console import ConsoleService
    from govcloud_platform.box.services.database import DatabaseService
    from govcloud_platform.box.services.identity import IdentityService
    from govcloud_platform.box.services.mail import MailService
    from govcloud_platform.box.services.paydemo_service import PaydemoService
    from govcloud_platform.box.services.signing import SigningService
    from govcloud_platform.box.services.storage import StorageService

    # signing: it needs only the CA (on one machine only: `Box.runs`); mail: it needs none of the others (on the
    # hosts target it runs on the `mail` host, where there is one); the console last, behind the identity's nginx and
    # its IdP, reading every other's health (only where enabled: `Box.runs`); the demo payment provider, like
    # signing, needs only the CA (where enabled, on one machine)
    return [StorageService(), DatabaseService(), IdentityService(), BackupService(), SigningService(),
            PaydemoService(), MailService(), ConsoleService()]


def edge_services() -> list[Service]:
    """The hosts target's two services that publish the apps (`placement.EDGE`, in start order): the apps' front and
    the edge proxy. A box on one machine has neither (its nginx is both)."""
    from govcloud_platform.box.services.edge import AppsFrontService, EdgeService

    return [AppsFrontService(), EdgeService()]


def hosts_services() -> list[Service]:
    """Every service a host of the hosts target may run, in start order (`placement.ALL`): the box's, etcd (`dcs`,
    with several database hosts) and the edge's."""
    from govcloud_platform.box.placement import ALL
    from govcloud_platform.box.services.dcs import DcsService

    by_name = {svc.name: svc for svc in [*all_services(), DcsService(), *edge_services()]}
    return [by_name[name] for name in ALL]


__all__ = ["Health", "Program", "Service", "all_services", "edge_services", "hosts_services"]
