"""PaaS service brokers (Open Service Broker idea): provision, bind -> credentials, unbind, deprovision, usage.
Each is an adapter over the real service's own API, idempotent, and the same on both targets."""

from __future__ import annotations

from govcloud_platform.brokers.base import Broker


def brokers() -> dict[str, Broker]:
    """Brokers by service name, in the order they provision (and reverse order they deprovision)."""
    from govcloud_platform.brokers.backups import BackupsBroker
    from govcloud_platform.brokers.database import DatabaseBroker
    from govcloud_platform.brokers.identity import IdentityBroker
    from govcloud_platform.brokers.mail import MailBroker
    from govcloud_platform.brokers.storage import StorageBroker

    return {b.service: b for b in (DatabaseBroker(), StorageBroker(), IdentityBroker(), BackupsBroker(), MailBroker())}


__all__ = ["Broker", "brokers"]
