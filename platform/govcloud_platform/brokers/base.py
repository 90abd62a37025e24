"""The broker contract. Credentials are generated (and stored encrypted) before any server is touched,
so a crash half-way and a re-run converge on the same credentials."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from govcloud_platform.box.context import Box
from govcloud_platform.spec import Quota


def pg_name(slug: str) -> str:
    """PostgreSQL name of an agency: `ag_<slug>` with '-' as '_' (injective: slugs have no '_')."""
    return "ag_" + slug.replace("-", "_")


def s3_name(slug: str) -> str:
    """Bucket and S3 identity name of an agency."""
    return f"ag-{slug}"


class Broker(ABC):
    service: str

    @abstractmethod
    def new_credentials(self, box: Box, slug: str) -> dict[str, Any]:
        """Fresh credentials for an agency (stored by the caller before provision)."""

    @abstractmethod
    def provision(self, box: Box, slug: str, name: str, quota: Quota, creds: dict[str, Any]) -> None:
        """Create or converge the agency's resource with these credentials and quota (idempotent)."""

    @abstractmethod
    def bind(self, box: Box, slug: str, creds: dict[str, Any]) -> dict[str, Any]:
        """The credential document handed to the agency (interface of `agency credentials`)."""

    @abstractmethod
    def deprovision(self, box: Box, slug: str, purge: bool) -> None:
        """Revoke the agency's access; with purge, delete its data too (idempotent)."""

    @abstractmethod
    def usage(self, box: Box, slug: str) -> dict[str, Any]:
        """Measured usage of the agency's resource."""

    @abstractmethod
    def orphans(self, box: Box, known: set[str]) -> list[str]:
        """Objects of this service that look like an agency's but belong to no known agency."""
