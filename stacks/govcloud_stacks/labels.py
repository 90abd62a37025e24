"""Ownership labels. OpenStack resources carry them as tags where they can, and in their description or
metadata otherwise; the `resources-tagged` policy reads them back from any of those places."""

from __future__ import annotations

from dataclasses import dataclass

AGENCY_KEY = "govcloud:agency"
PLATFORM_KEY = "govcloud:platform"
# The owner recorded on the platform's own resources ("platform" is a reserved slug: no agency has it).
PLATFORM_OWNER = "platform"


@dataclass(frozen=True)
class Labels:
    platform: str
    agency: str = PLATFORM_OWNER

    @property
    def tags(self) -> list[str]:
        return [f"{AGENCY_KEY}={self.agency}", f"{PLATFORM_KEY}={self.platform}"]

    @property
    def metadata(self) -> dict[str, str]:
        return {AGENCY_KEY: self.agency, PLATFORM_KEY: self.platform}

    def describe(self, text: str) -> str:
        """A description that carries the labels, for resources without tags."""
        return f"{text} [{' '.join(self.tags)}]"
