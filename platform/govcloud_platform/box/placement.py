"""Where each shared service of a box runs when the box is spread over hosts (`hosts` target).

A box home may hold `placement.json`, written by the hosts deploy (`hosts.deploy`), never by hand:

    {"here": ["database", "backups"],
     "services": {"storage": {"host": "h1", "address": "10.231.8.11"}, "database": {...}, ...}}

`here`: the services this home runs itself (`govcloud up` there starts only these, `status` reports only
these); the operator's home (the control) runs none. `services`: where every service is, so that a client
in any home (a broker on the operator's machine, the IdP on its host reaching the database) connects to the
right address. Without the file a box is one machine: every service here, on the box's address.

The hosts target has two services more when the topology has `apps` hosts (`EDGE`, placed only then): `apps`,
the apps' front on the apps host (the nginx that serves the apps' virtual hosts and the supervisord that runs
them), and `proxy`, the edge proxy that publishes them (TLS passed through to the apps' front, by SNI). On one
machine the box's own nginx is both."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govcloud_platform.box.network import LOOPBACK
from govcloud_platform.errors import BoxDamaged

SERVICES: tuple[str, ...] = ("storage", "database", "identity", "backups")  # start order, as `all_services`
EDGE: tuple[str, ...] = ("apps", "proxy")  # the hosts target's, when it has apps hosts (after SERVICES)
ALL: tuple[str, ...] = SERVICES + EDGE
FILE = "placement.json"
SPEC_FILE = "spec.yaml"  # a host's home holds a copy of the spec (the hosts deploy puts it there)


@dataclass(frozen=True)
class Where:
    host: str
    address: str


@dataclass(frozen=True)
class Placement:
    here: tuple[str, ...]
    services: dict[str, Where] = field(default_factory=dict)

    def runs(self, service: str) -> bool:
        return service in self.here

    def address_of(self, service: str) -> str | None:
        where = self.services.get(service)
        return where.address if where else None

    def host_of(self, service: str) -> str | None:
        where = self.services.get(service)
        return where.host if where else None

    def placed(self) -> tuple[str, ...]:
        """Every service placed somewhere, in start order (the EDGE ones only on a topology with apps hosts)."""
        return tuple(s for s in ALL if s in self.services)

    def to_json(self) -> dict[str, Any]:
        return {"here": list(self.here),
                "services": {s: {"host": w.host, "address": w.address} for s, w in self.services.items()}}

    @classmethod
    def from_json(cls, data: Any) -> Placement:
        """The record, checked: a placement another hand made wrong is refused, not connected to."""
        if not isinstance(data, dict) or set(data) - {"here", "services"}:
            raise ValueError("expected an object with 'here' and 'services'")
        here, services = data.get("here", []), data.get("services", {})
        if not isinstance(here, list) or any(s not in ALL for s in here) or len(set(here)) != len(here):
            raise ValueError(f"'here' must list services among {', '.join(ALL)}, each once")
        if not isinstance(services, dict) or not set(SERVICES) <= set(services) <= set(ALL) \
                or (set(services) & set(EDGE) and set(EDGE) - set(services)):
            raise ValueError(f"'services' must place each of {', '.join(SERVICES)} (and {' and '.join(EDGE)} "
                             "together, or neither)")
        if any(s in EDGE and s not in services for s in here):
            raise ValueError("'here' lists a service that 'services' does not place")
        placed: dict[str, Where] = {}
        for name, where in services.items():
            if not isinstance(where, dict) or not isinstance(where.get("host"), str) \
                    or not isinstance(where.get("address"), str):
                raise ValueError(f"services.{name} must be {{'host': NAME, 'address': IP}}")
            ipaddress.ip_address(where["address"])  # ValueError names the bad address
            placed[name] = Where(where["host"], where["address"])
        return cls(tuple(s for s in ALL if s in here), placed)


def apps_listen_address(placement: Placement | None) -> str:
    """Pure: where the apps' virtual hosts listen. Loopback on one machine (the box's nginx is the proxy) and where
    the edge runs on the apps' host itself; else the apps host's own address, which the edge forwards to."""
    apps = placement.services.get("apps") if placement is not None else None
    proxy = placement.services.get("proxy") if placement is not None else None
    if apps is None or proxy is None or apps.host == proxy.host:
        return LOOPBACK
    return apps.address


def read(home: Path) -> Placement | None:
    """The home's placement, or None for a box on one machine."""
    path = home / FILE
    try:
        text = path.read_text()
    except (FileNotFoundError, NotADirectoryError):  # no home yet (or a file in its place: ensure_home says so)
        return None
    except OSError as exc:
        raise BoxDamaged(f"{path}: {exc.strerror}") from None
    try:
        return Placement.from_json(json.loads(text))
    except ValueError as exc:
        raise BoxDamaged(f"{path}: {exc}", hint="run `govcloud up` again: the hosts deploy writes it") from None
