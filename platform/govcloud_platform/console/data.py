"""What the console shows, read through the platform's own functions (never a copy of their logic or data): the
agencies from the registry (`state.registry.Registry`), the services' health from `box.runtime.status` (what
`govcloud status` prints), the CA certificate from the box."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from govcloud_platform.box.context import Box
from govcloud_platform.state.registry import AgencyRecord, Registry

STATUS_TTL_S = 10.0  # probing every service takes up to a second: a page shows an answer at most this old


def agency_summary(record: AgencyRecord) -> dict[str, Any]:
    """An agency as the API's list gives it (`GET /api/agencies`)."""
    return {"slug": record.slug, "name": record.name, "state": record.state, "quota_class": record.quota,
            "services": list(record.services)}


def agency_detail(record: AgencyRecord) -> dict[str, Any]:
    """One agency (`GET /api/agencies/<slug>`): the summary, its contact and its dates."""
    return {**agency_summary(record), "email": record.email, "created_at": record.created_at,
            "updated_at": record.updated_at}


@dataclass
class Platform:
    box: Box
    _status: tuple[float, list[dict[str, Any]]] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def agencies(self) -> list[AgencyRecord]:
        registry = Registry(self.box.home)
        try:
            return registry.agencies()
        finally:
            registry.close()

    def agency(self, slug: str) -> AgencyRecord | None:
        registry = Registry(self.box.home)
        try:
            return registry.agency(slug)
        finally:
            registry.close()

    def services(self) -> list[dict[str, Any]]:
        """Every service's health as `status` gives it (cached for STATUS_TTL_S)."""
        from govcloud_platform.box import runtime

        with self._lock:
            if self._status is not None and time.monotonic() - self._status[0] < STATUS_TTL_S:
                return self._status[1]
            try:
                found = [{"name": h.name, "healthy": h.healthy, "endpoint": h.endpoint, "detail": h.detail}
                         for h in runtime.status(self.box)]
            except Exception as exc:  # noqa: BLE001 - the page says the probe failed, it does not fail itself
                found = [{"name": "supervisord", "healthy": False, "endpoint": "", "detail": type(exc).__name__}]
            self._status = (time.monotonic(), found)
            return found

    def ca_pem(self) -> bytes:
        return self.box.ca_file.read_bytes()
