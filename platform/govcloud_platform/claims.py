"""What an agency new to the registry may take on the servers: nothing that exists already. Each broker looks
for the objects its names (govcloud_platform.names) would take (`Broker.taken`, all at once); any object found
refuses the whole command before anything changes (exit 4). A broker never adopts or alters what the registry
does not record as the agency's."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from govcloud_platform.box.context import Box
from govcloud_platform.brokers.base import Broker
from govcloud_platform.errors import ConflictError


class AgencyRequest(Protocol):
    """What a request for a new agency says that matters here (onboarding.AgencyRequest has it)."""

    @property
    def slug(self) -> str: ...

    @property
    def services(self) -> Sequence[str]: ...


def foreign_objects(requests: Sequence[AgencyRequest], found: dict[str, dict[str, list[str]]]) -> list[tuple[str, str]]:
    """(slug, object) for every server-side object that agencies new to the registry would take although it
    exists already (`found`: service -> slug -> objects, from the brokers' `taken`), in the requests' order,
    for the services each agency asks for."""
    return [(req.slug, obj) for req in requests for service in req.services
            for obj in found.get(service, {}).get(req.slug, [])]


def refuse_taken(box: Box, requests: Sequence[AgencyRequest], all_brokers: dict[str, Broker]) -> None:
    """Raise ConflictError (nothing changed) if any object of these new agencies' names exists on a server.
    What the brokers learned (storage's open session) stays with them for the provisioning that follows;
    on a refusal they release it."""
    services = [s for s in all_brokers if any(s in r.services for r in requests)]
    slugs = [r.slug for r in requests]
    if not slugs or not services:
        return
    with ThreadPoolExecutor(max_workers=len(services)) as pool:
        futures = {s: pool.submit(all_brokers[s].taken, box, slugs) for s in services}
    try:
        found = {s: f.result() for s, f in futures.items()}
    except BaseException:
        release(all_brokers)
        raise
    refused = foreign_objects(requests, found)
    if refused:
        release(all_brokers)
        slug, obj = refused[0]
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        raise ConflictError(
            f"agency {slug}: {obj} exists already and the registry records no agency {slug!r}{more}; "
            "nothing was changed",
            hint="it is not this agency's: choose another slug, or find its owner (`govcloud doctor`)",
        )


def release(all_brokers: dict[str, Broker]) -> None:
    """Close what the brokers' `taken` kept open."""
    for broker in all_brokers.values():
        broker.release()
