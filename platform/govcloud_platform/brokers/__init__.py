"""PaaS service brokers (Open Service Broker idea): provision, bind -> credentials, unbind, deprovision, usage.
Each is an adapter over the real service's own API, idempotent, and the same on both targets."""

from __future__ import annotations

from typing import Any

from govcloud_platform.brokers.base import Broker

# the keys of a credential document (`Broker.bind`) that are secrets: `agency credentials` masks them unless asked,
# the console shows them only on an audited reveal
SECRET_KEYS = ("password", "readonly_password", "secret_key", "client_secret", "admin_password", "secret")
MASK = "********"


def masked(doc: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The credential documents (service -> keys) with every secret replaced by MASK."""
    return {svc: {k: (MASK if k in SECRET_KEYS else v) for k, v in creds.items()} for svc, creds in doc.items()}


def brokers() -> dict[str, Broker]:
    """Brokers by service name, in the order they provision (and reverse order they deprovision)."""
    from govcloud_platform.brokers.backups import BackupsBroker
    from govcloud_platform.brokers.database import DatabaseBroker
    from govcloud_platform.brokers.identity import IdentityBroker
    from govcloud_platform.brokers.mail import MailBroker
    from govcloud_platform.brokers.paydemo import PaydemoBroker
    from govcloud_platform.brokers.signing import SigningBroker
    from govcloud_platform.brokers.storage import StorageBroker

    return {b.service: b for b in (DatabaseBroker(), StorageBroker(), IdentityBroker(), BackupsBroker(), MailBroker(),
                                         SigningBroker(), PaydemoBroker())}


__all__ = ["Broker", "brokers"]
