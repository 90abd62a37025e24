"""Paydemo broker: an agency's merchant account at the box's demo payment provider (box/services/paydemo_service.py):
a webhook secret, shared by the provider (which signs the notifications and checks the checkouts with it) and the
agency's centre, and the centre's notification URL, where the provider posts.

Every agency has it on a box that runs the provider (`Box.runs("paydemo")`: the spec enables it, one machine),
whatever its `services` list says, as signing. The secret is random, kept encrypted in the registry like every broker
credential; the provider holds it in its merchants file (0600, the platform's user), because it signs with it.
Removal deletes the agency's entry at once: its checkouts are refused, no notification goes out any more."""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from govcloud_platform.box.context import Box
from govcloud_platform.box.secrets import new_password, write_private
from govcloud_platform.box.services import paydemo_service
from govcloud_platform.brokers.base import Broker
from govcloud_platform.names import app_host
from govcloud_platform.spec import Quota

SERVICE = paydemo_service.SERVICE
KIND = "paydemo"  # the centre's adapter (centre_web.payment_provider)
NOTIFY_PATH = "/api/payments/notify"


def notify_url(box: Box, slug: str) -> str:
    """The agency's centre's notification endpoint under its public name, through the box's proxy."""
    return f"https://{app_host(slug, 'centre', box.spec.platform.domain)}:{box.ports.proxy_https}{NOTIFY_PATH}"


@contextmanager
def _merchants(box: Box) -> Iterator[dict[str, Any]]:
    """The merchants file for a read-modify-write, under a lock (agencies are provisioned in parallel)."""
    path = paydemo_service.merchants_file(box)
    box.dir("paydemo")
    with open(path.with_name(".merchants.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            doc: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        except ValueError:
            doc = {}
        before = json.dumps(doc, sort_keys=True)
        yield doc
        if json.dumps(doc, sort_keys=True) != before or not path.exists():
            write_private(path, json.dumps(doc, indent=2, sort_keys=True) + "\n")


class PaydemoBroker(Broker):
    service = SERVICE

    def new_credentials(self, box: Box, slug: str) -> dict[str, Any]:
        return {"secret": new_password(32)}

    def provision(self, box: Box, slug: str, name: str, quota: Quota, creds: dict[str, Any], new: bool = False) -> None:
        with _merchants(box) as doc:
            doc[slug] = {"secret": creds["secret"], "notify_url": notify_url(box, slug)}

    def bind(self, box: Box, slug: str, creds: dict[str, Any]) -> dict[str, Any]:
        """The centre's `centre_payments` (url, secret, kind, ca_file) and where the provider notifies it."""
        return {"url": f"{paydemo_service.public_url(box)}/m/{slug}", "secret": creds["secret"], "kind": KIND,
                "ca_file": str(box.ca_file), "notify_url": notify_url(box, slug)}

    def deprovision(self, box: Box, slug: str, purge: bool) -> None:
        if not paydemo_service.merchants_file(box).exists():
            return
        with _merchants(box) as doc:
            doc.pop(slug, None)

    def usage(self, box: Box, slug: str) -> dict[str, Any]:
        path = paydemo_service.merchants_file(box)
        try:
            known = slug in json.loads(path.read_text())
        except (OSError, ValueError):
            known = False
        return {"merchant": known}

    def taken(self, box: Box, slugs: list[str]) -> dict[str, list[str]]:
        return {}  # an entry left by a crash is overwritten with the registry's secret

    def orphans(self, box: Box, known: set[str]) -> list[str]:
        try:
            doc = json.loads(paydemo_service.merchants_file(box).read_text())
        except (OSError, ValueError):
            return []
        return [f"paydemo merchant {s}" for s in sorted(doc) if s not in known]
