"""Where each shared service of a box runs when the box is spread over hosts (`hosts` target).

A box home may hold `placement.json`, written by the hosts deploy (`hosts.deploy`), never by hand:

    {"here": ["database", "backups"],
     "services": {"storage": {"host": "h1", "address": "10.231.8.11"}, "database": {...}, ...}}

`here`: the services this home runs itself (`govcloud up` there starts only these, `status` reports only
these); the operator's home (the control) runs none. `services`: where every service is, so that a client
in any home (a broker on the operator's machine, the IdP on its host reaching the database) connects to the
right address. Without the file a box is one machine: every service here, on the box's address.

The hosts target has two services more when the topology has `apps` hosts (`EDGE`): `apps`, the apps' front on
the apps host (the nginx that serves the apps' virtual hosts and the supervisord that runs them), and `proxy`, the
edge proxy that publishes them (TLS passed through to the apps' front, by SNI). On one machine the box's own nginx
is both. The edge is also placed, without `apps`, in front of a storage cluster (`s3_edge`): every client of the
object storage then connects to an edge, which passes TLS through to whichever S3 gateway answers.

With several database hosts the database is highly available (`HA`): `database` runs on each of them (PostgreSQL
under Patroni, one leader and its replicas) and `dcs`, the consensus store Patroni elects the leader in (etcd),
on each `dcs` host. `instances` lists every instance of such a service; clients connect to all of the
database's at once (libpq multi-host, `Box.pg_hosts`) and land on the leader.

With three SeaweedFS masters or more the object storage is a cluster (`storage_cluster`): `storage` runs on every
`storage` host (each its part: master, volume server, filer and S3 gateway, `storage_cluster.py`).

With a `mail` host the mail service (`MAIL`: Postfix, docs/mail.md) runs there, once; the agencies' apps on other
hosts reach it at that host's address (`Box.name_of("mail")`). Without one, no host binds the SMTP port."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govcloud_platform.box.network import LOOPBACK
from govcloud_platform.box.ports import MAIL_PORTS, NOT_ON_HOSTS, unbound_labels
from govcloud_platform.errors import BoxDamaged

SERVICES: tuple[str, ...] = ("storage", "database", "identity", "backups")  # placed on every topology (not mail)
EDGE: tuple[str, ...] = ("apps", "proxy")  # the hosts target's, with apps hosts (proxy also before a storage cluster)
HA: tuple[str, ...] = ("dcs",)  # the hosts target's, with several database hosts (before the database)
# start order: the edge right after the storage, whose S3 gateways it may front for every later service (the
# database archives its WAL through it); it needs nothing of the apps to start (it passes connections on)
# the mail service (Postfix) needs none of the others: placed only on a topology with a `mail` host
ALL: tuple[str, ...] = ("storage", "proxy", "dcs", "database", "identity", "backups", "mail", "apps")
MAIL: tuple[str, ...] = ("mail",)  # the hosts target's, with a `mail` host (one)
OPTIONAL: tuple[str, ...] = HA + EDGE + MAIL
# run on several hosts: the edge (every proxy host but the apps' own), etcd and, with it, the database; the object
# storage as a cluster; the IdP's portals beside a database under Patroni
MULTI: tuple[str, ...] = ("storage", "proxy", "dcs", "database", "identity")
FILE = "placement.json"
SPEC_FILE = "spec.yaml"  # a host's home holds a copy of the spec (the hosts deploy puts it there)


@dataclass(frozen=True)
class Where:
    host: str
    address: str


@dataclass(frozen=True)
class Placement:
    here: tuple[str, ...]
    services: dict[str, Where] = field(default_factory=dict)  # where clients reach each service (its first instance)
    instances: dict[str, tuple[Where, ...]] = field(default_factory=dict)  # services that run on several hosts

    def instances_of(self, service: str) -> tuple[Where, ...]:
        """Every instance of `service` (the edges: one per proxy host), the one in `services` first."""
        if service in self.instances:
            return self.instances[service]
        where = self.services.get(service)
        return (where,) if where else ()

    def hosts_of(self, service: str) -> tuple[str, ...]:
        return tuple(w.host for w in self.instances_of(service))

    def runs(self, service: str) -> bool:
        return service in self.here

    def address_of(self, service: str) -> str | None:
        where = self.services.get(service)
        return where.address if where else None

    def host_of(self, service: str) -> str | None:
        where = self.services.get(service)
        return where.host if where else None

    @property
    def ha_database(self) -> bool:
        """Whether the database runs on several hosts under Patroni (with etcd placed)."""
        return len(self.instances_of("database")) > 1

    @property
    def storage_cluster(self) -> bool:
        """Whether the object storage is a SeaweedFS cluster over several hosts (`storage_cluster.py`)."""
        return len(self.instances_of("storage")) > 1

    @property
    def s3_edge(self) -> bool:
        """Whether the edges front the storage cluster's S3 gateways (clients reach S3 through an edge)."""
        return self.storage_cluster and "proxy" in self.services

    @property
    def s3_edge_addresses(self) -> tuple[str, ...]:
        """The edges' addresses when they front the storage cluster (the S3 gateways' certificate names them all:
        a client verifies the edge it connected to), else none."""
        return tuple(w.address for w in self.instances_of("proxy")) if self.s3_edge else ()

    @property
    def s3_gateway_addresses(self) -> tuple[str, ...]:
        """The S3 gateways the edges front (every storage host's, the first storage host's first), or none (no
        storage cluster: the clients connect to the one gateway)."""
        return tuple(w.address for w in self.instances_of("storage")) if self.s3_edge else ()

    @property
    def idp_edge(self) -> bool:
        """Whether the IdP's portal runs on several hosts (`hosts.placement`: with a database under Patroni, which
        holds their shared configuration and sessions), fronted by the edges: the issuer is the first edge's
        address on the `idp_edge` port, whichever portal answers behind it."""
        return len(self.instances_of("identity")) > 1 and "proxy" in self.services

    @property
    def idp_edge_addresses(self) -> tuple[str, ...]:
        """The edges' addresses when they front the portals (the portals' certificate names them all), else none."""
        return tuple(w.address for w in self.instances_of("proxy")) if self.idp_edge else ()

    @property
    def idp_addresses(self) -> tuple[str, ...]:
        """The portals the edges front (the placed one first), or none."""
        return tuple(w.address for w in self.instances_of("identity")) if self.idp_edge else ()

    def placed(self) -> tuple[str, ...]:
        """Every service placed somewhere, in start order (the EDGE ones only on a topology with apps hosts, `dcs`
        only with several database hosts)."""
        return tuple(s for s in ALL if s in self.services)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"here": list(self.here), "services": {s: {"host": w.host, "address": w.address}
                                                                     for s, w in self.services.items()}}
        if self.instances:
            out["instances"] = {s: [{"host": w.host, "address": w.address} for w in ws]
                                for s, ws in self.instances.items()}
        return out

    @classmethod
    def from_json(cls, data: Any) -> Placement:
        """The record, checked: a placement another hand made wrong is refused, not connected to."""
        if not isinstance(data, dict) or set(data) - {"here", "services", "instances"}:
            raise ValueError("expected an object with 'here', 'services' and optionally 'instances'")
        here, services = data.get("here", []), data.get("services", {})
        if not isinstance(here, list) or any(s not in ALL for s in here) or len(set(here)) != len(here):
            raise ValueError(f"'here' must list services among {', '.join(ALL)}, each once")
        if not isinstance(services, dict) or not set(SERVICES) <= set(services) <= set(ALL) \
                or ("apps" in services and "proxy" not in services):
            raise ValueError(f"'services' must place each of {', '.join(SERVICES)} (and 'apps' only with 'proxy')")
        if any(s in OPTIONAL and s not in services for s in here):
            raise ValueError("'here' lists a service that 'services' does not place")
        placed = {name: _where(f"services.{name}", where) for name, where in services.items()}
        several: dict[str, tuple[Where, ...]] = {}
        instances = data.get("instances", {})
        if not isinstance(instances, dict) or set(instances) - set(MULTI):
            raise ValueError(f"'instances' may only list {', '.join(MULTI)}")
        for name, wheres in instances.items():
            if name not in placed or not isinstance(wheres, list) or len(wheres) < 2:
                raise ValueError(f"instances.{name} must list the hosts (two or more) of a placed service")
            several[name] = tuple(_where(f"instances.{name}", w) for w in wheres)
            if several[name][0] != placed[name] or len(set(several[name])) != len(several[name]):
                raise ValueError(f"instances.{name} must start with services.{name}, each host once")
        if ("dcs" in placed) != (len(several.get("database", ())) > 1):
            raise ValueError("several database instances need 'dcs' placed, and 'dcs' only them")
        return cls(tuple(s for s in ALL if s in here), placed, several)


def _where(key: str, where: Any) -> Where:
    if not isinstance(where, dict) or not isinstance(where.get("host"), str) \
            or not isinstance(where.get("address"), str):
        raise ValueError(f"{key} must be {{'host': NAME, 'address': IP}}")
    ipaddress.ip_address(where["address"])  # ValueError names the bad address
    return Where(where["host"], where["address"])


def unbound_ports(placement: Placement | None, console_front: bool = False) -> tuple[str, ...]:
    """The labels of `Ports.all()` no host of this placement binds (`ports.unbound_labels`); a box on one machine
    (no placement) runs no database cluster and no edge. `console_front`: this host's nginx serves the console's
    HTTPS port (`Box.fronts_console`); its app port is never a host's (the control's tunnel ends there)."""
    if placement is None:
        return unbound_labels(False)
    no_mail = () if "mail" in placement.services else MAIL_PORTS
    no_console = () if console_front else ("console_https",)
    return (unbound_labels(placement.ha_database, placement.s3_edge, placement.idp_edge) + no_mail + no_console
            + NOT_ON_HOSTS)


def console_front(placement: Placement) -> str | None:
    """Pure: the address whose nginx fronts the web console on the hosts target, when the spec enables it: the
    placed identity host's (with several portals, the first: the console's process is one, on the control, and its
    URL one, its OIDC client's redirect URI; the IdP edge passes the issuer's port only). None: no identity placed."""
    return placement.address_of("identity")


def apps_listen_address(placement: Placement | None) -> str:
    """Pure: where the apps' virtual hosts listen. Loopback on one machine (the box's nginx is the proxy) and where
    the edge runs on the apps' host itself; else the apps host's own address, which the edge forwards to."""
    apps = placement.services.get("apps") if placement is not None else None
    edges = placement.hosts_of("proxy") if placement is not None else ()
    if apps is None or not edges or edges == (apps.host,):
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
