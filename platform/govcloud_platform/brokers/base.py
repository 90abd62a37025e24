"""The broker contract. Credentials are generated (and stored encrypted) before any server is touched,
so a crash half-way and a re-run converge on the same credentials."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from govcloud_platform.box.context import Box
from govcloud_platform.brokers.limits import Limit
from govcloud_platform.spec import Quota

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Provisioning:
    """One agency's share of a batched `provision_many`."""

    slug: str
    name: str
    quota: Quota
    creds: dict[str, Any]


def in_parallel(fn: Callable[[list[T]], Iterable[R]], items: list[T], workers: int) -> list[R]:
    """Split `items` into up to `workers` contiguous chunks and run `fn` on each in its own thread (each
    chunk reuses its own connections); results in the order of `items`. The first error is raised."""
    if len(items) <= 1 or workers <= 1:
        return list(fn(items))
    size = -(-len(items) // workers)
    chunks = [items[i:i + size] for i in range(0, len(items), size)]
    with ThreadPoolExecutor(max_workers=len(chunks)) as pool:
        return [r for part in pool.map(lambda c: list(fn(c)), chunks) for r in part]


def is_client_error(exc: BaseException) -> bool:
    """An error raised by a server's client library (driver, SDK, HTTP): its message may quote statements or
    URLs, so callers report only its type."""
    return type(exc).__module__.startswith(("psycopg", "botocore", "requests", "urllib3"))


@contextmanager
def naming(slug: str, service: str) -> Iterator[None]:
    """Inside a batch: an error of the servers' clients becomes one ServiceError naming the agency (its type
    only: driver messages may quote statements)."""
    from govcloud_platform.errors import GovCloudError, ServiceError

    try:
        yield
    except GovCloudError as exc:
        if slug in exc.message:
            raise
        raise type(exc)(f"agency {slug}: {exc.message}", hint=exc.hint) from None
    except (OSError, ValueError, RuntimeError) as exc:
        raise ServiceError(f"agency {slug}: {service} provisioning failed ({type(exc).__name__})") from None
    except Exception as exc:
        if is_client_error(exc):
            raise ServiceError(f"agency {slug}: {service} provisioning failed ({type(exc).__name__})") from None
        raise


class Broker(ABC):
    service: str

    @abstractmethod
    def new_credentials(self, box: Box, slug: str) -> dict[str, Any]:
        """Fresh credentials for an agency (stored by the caller before provision)."""

    @abstractmethod
    def provision(self, box: Box, slug: str, name: str, quota: Quota, creds: dict[str, Any], new: bool = False) -> None:
        """Create or converge the agency's resource with these credentials and quota (idempotent). `new`: the
        credentials were generated just now, so nothing live can hold them yet; a broker may then replace what
        it finds without looking it up first."""

    def provision_many(self, box: Box, jobs: list[Provisioning]) -> None:
        """Provision many agencies at once (`apply`). Brokers override it to share sessions, connections
        and reloads across agencies; an error names the agency it happened to."""
        for job in jobs:
            self.provision(box, job.slug, job.name, job.quota, job.creds)

    @abstractmethod
    def bind(self, box: Box, slug: str, creds: dict[str, Any]) -> dict[str, Any]:
        """The credential document handed to the agency (interface of `agency credentials`)."""

    @abstractmethod
    def deprovision(self, box: Box, slug: str, purge: bool) -> None:
        """Revoke the agency's access; with purge, delete its data too (idempotent)."""

    @abstractmethod
    def usage(self, box: Box, slug: str) -> dict[str, Any]:
        """Measured usage of the agency's resource."""

    def limits(self, box: Box, quotas: dict[str, Quota]) -> list[Limit]:
        """Every limit this service's server enforces for these agencies (slug -> applied quota): the value the
        quota asks for and the one read from the server, for all agencies in one session."""
        return []

    def restore_limits(self, box: Box, jobs: list[Provisioning]) -> None:
        """Put the server's limits of these agencies back to their quota (a quota change, or drift)."""
        self.provision_many(box, jobs)

    @abstractmethod
    def orphans(self, box: Box, known: set[str]) -> list[str]:
        """Objects of this service that look like an agency's but belong to no known agency."""

    def release(self) -> None:
        """Close whatever `taken` kept open for the provisioning that was to follow (nothing by default)."""
        return None

    @abstractmethod
    def taken(self, box: Box, slugs: list[str]) -> dict[str, list[str]]:
        """For agencies the registry does not know yet: which of the server-side objects their names
        (govcloud_platform.names) would take exist already, by slug ("PostgreSQL role ag_x", ...). Onboarding
        refuses such an agency before changing anything: a broker never adopts or alters what the registry does
        not record as the agency's."""
