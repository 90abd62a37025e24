"""Port plan of the box: fixed offsets from `port_base`, on the box's address (`network.bind_address`)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# offset from port_base -> (name, owning service)
OFFSETS: dict[str, tuple[int, str]] = {
    "postgres": (0, "database"),
    "idp_https": (1, "identity"),
    "idp_manager": (2, "identity"),
    "s3_https": (3, "storage"),
    "s3_http": (4, "storage"),
    "weed_master": (5, "storage"),
    "weed_volume": (6, "storage"),
    "weed_filer": (7, "storage"),
    "proxy_https": (8, "identity"),
    # the hosts target's highly available database (several database hosts): etcd and Patroni's REST API
    "etcd_client": (9, "dcs"),
    "etcd_peer": (10, "dcs"),
    "patroni_api": (11, "database"),
    "pgbackrest_tls": (12, "database"),  # pgBackRest's TLS server on each database host (the backups' host's client)
    # the hosts target's edge in front of a SeaweedFS cluster's S3 gateways (a port of its own: an edge host may run
    # a gateway on s3_https)
    "s3_edge": (13, "proxy"),
    # and in front of the IdP's portals on several identity hosts (the OIDC issuer's one address)
    "idp_edge": (14, "proxy"),
    # Postfix's SMTP submission (STARTTLS required, AUTH for every sender): the box's shared mail service
    "smtp": (15, "mail"),
    # the web console (opt-in: platform.services.console.enabled): nginx's TLS server on the box's address (bound by
    # the identity service's nginx, like the apps' proxy), and the console's own gunicorn behind it on loopback
    "console_https": (16, "identity"),
    "console_app": (17, "console"),
    # the signing and timestamp service (docs/signing.md): its own gunicorn serving HTTPS on the box's address
    "signing_https": (18, "signing"),
    # the demo payment provider (opt-in: platform.services.paydemo.enabled): its own HTTPS server on the box's address
    "paydemo_https": (19, "paydemo"),
}
# Never bound by a host's own services on the hosts target: the console's app port. The console's process runs on
# the control (where the registry is); on the placed identity host, whose nginx serves `console_https`, the port is
# the end of the control's SSH tunnel (sshd binds it). The mail service's port is bound by the `mail` host.
CONSOLE_PORTS: tuple[str, ...] = ("console_https", "console_app")  # bound only where the console is enabled
SIGNING_PORTS: tuple[str, ...] = ("signing_https",)  # the signing service: on a box on one machine only, for now
PAYDEMO_PORTS: tuple[str, ...] = ("paydemo_https",)  # the demo payment provider: where enabled, on one machine only
NOT_ON_HOSTS: tuple[str, ...] = ("console_app",) + SIGNING_PORTS + PAYDEMO_PORTS
MAIL_PORTS: tuple[str, ...] = ("smtp",)  # bound on the hosts target only by a `mail` host (`placement.unbound_ports`)
# Bound only by a database on several hosts (Patroni's REST API, pgBackRest's TLS server) and its etcd: a box on
# one machine, or one database host, leaves them free.
HA_ONLY: tuple[str, ...] = ("etcd_client", "etcd_peer", "patroni_api", "pgbackrest_tls")
# SeaweedFS opens a gRPC port at each of its ports + 10000.
GRPC_SHIFT = 10000
GRPC_PORTS = ("s3_http", "weed_master", "weed_volume", "weed_filer")
APP_PORT_FIRST = 20  # apps get port_base+20 .. port_base+99
APP_PORT_LAST = 99
# On the `hosts` target each port is bound by the hosts of one group: its service's group, but for the apps'
# proxy, which the box's identity nginx serves and the `proxy` group runs there. (Apps' ports are not fixed:
# the app store takes the first free one of the range.)
HOST_GROUP_OF: dict[str, str] = {"proxy_https": "proxy"}


def host_group(label: str) -> str:
    """The host group (spec.topology) whose hosts bind the port `label` of `Ports.all()`."""
    base = label.removesuffix("_grpc")
    return HOST_GROUP_OF.get(base, OFFSETS[base][1])


@dataclass(frozen=True)
class Ports:
    base: int

    def __getattr__(self, name: str) -> int:
        try:
            return self.base + OFFSETS[name][0]
        except KeyError:
            raise AttributeError(name) from None

    def all(self) -> list[tuple[str, str, int]]:
        """(service, label, port) for every port the box binds, gRPC included."""
        out = [(svc, label, self.base + off) for label, (off, svc) in OFFSETS.items()]
        out += [
            (OFFSETS[label][1], f"{label}_grpc", self.base + OFFSETS[label][0] + GRPC_SHIFT) for label in GRPC_PORTS
        ]
        return out

    def for_service(self, service: str) -> list[tuple[str, int]]:
        return [(label, port) for svc, label, port in self.all() if svc == service]


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def listening_inode(tables: list[str], port: int) -> int | None:
    """The socket inode listening on `port` in /proc/net/tcp{,6} text (None if nothing listens). It changes
    when the listener is restarted (storage: a shell connected to the previous master would wait for it
    forever; `down`: who holds a port left behind)."""
    return next((inode for _, listen_port, inode in _listeners(tables) if listen_port == port), None)


def _listeners(tables: list[str]) -> Iterator[tuple[str, int, int]]:
    """Pure: (local address in the kernel's hex, port, socket inode) of every LISTEN socket in /proc/net/tcp{,6}
    text."""
    for text in tables:
        for line in text.splitlines()[1:]:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A":
                hex_ip, hex_port = fields[1].rsplit(":", 1)
                yield hex_ip, int(hex_port, 16), int(fields[9])


def listens(tables: list[str], port: int, address: str) -> bool:
    """Pure: whether a socket LISTENs on address:port (or on the wildcard address) in /proc/net/tcp{,6} text. Not a
    bind test: an outgoing connection whose ephemeral source port happens to be `port` makes a bind fail, but
    listens on nothing (what `down` must tell apart from a server left running)."""
    import ipaddress

    want = ipaddress.ip_address(address)
    for hex_ip, listen_port, _ in _listeners(tables):
        if listen_port != port:
            continue
        raw = bytes.fromhex(hex_ip)  # the kernel's words, each in host (little-endian) order
        ip = ipaddress.ip_address(b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4)))
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip == want or ip.is_unspecified:
            return True
    return False


def listening_tables() -> list[str]:
    """This network namespace's /proc/net/tcp and tcp6 (those that can be read), for `listening_inode`."""
    tables = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            tables.append(Path(name).read_text())
        except OSError:
            continue
    return tables


def unbound_labels(ha_database: bool, s3_edge: bool = False, idp_edge: bool = False) -> tuple[str, ...]:
    """Pure: the labels of `Ports.all()` that no host binds: Patroni's, pgBackRest's and etcd's ports when the
    database runs alone (a box on one machine, or one database host); the edge's S3 port unless edges front a
    storage cluster; its IdP port unless they front several portals."""
    return (() if ha_database else HA_ONLY) + (() if s3_edge else ("s3_edge",)) + (() if idp_edge else ("idp_edge",))


STRIPE: tuple[int, int] = (0, 1)  # (index, count): see free_port_base


EPHEMERAL_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range of ephemeral ports (the source ports of outgoing connections), Linux's default if it
    cannot be read."""
    try:
        low, high = (int(n) for n in EPHEMERAL_FILE.read_text().split())
    except (OSError, ValueError):
        return 32768, 60999
    return low, high


def clear_of_ephemeral(base: int, span: int, ephemeral: tuple[int, int]) -> bool:
    """Pure: whether the plan's ports from `base` (a span, and its gRPC twin) all lie outside the ephemeral range.
    Inside it, any outgoing connection may take one of them as its source port for a while, and a server that
    restarts then cannot bind it (or `down` finds it taken)."""
    low, high = ephemeral
    return all(last < low or first > high
               for first, last in ((base, base + span - 1), (base + GRPC_SHIFT, base + GRPC_SHIFT + span - 1)))


def free_port_base(span: int = 100, start: int = 10000, stop: int = 50000) -> int:
    """A port_base whose whole span (and gRPC shifts) is free now. For tests and benchmarks. Of `STRIPE`'s
    (index, count), only bases whose span number is `index` modulo `count`: runs side by side (the test suite's
    workers) take disjoint stripes, so two boxes chosen at once never share a port (the gRPC shift is a number
    of spans that the count divides). Bases clear of the ephemeral range (`clear_of_ephemeral`) when there are any:
    10000-22600 with Linux's default range."""
    import random

    index, count = STRIPE
    assert (GRPC_SHIFT // span) % count == 0, STRIPE
    candidates = [b for b in range(start, stop, span) if (b // span) % count == index]
    ephemeral = ephemeral_range()
    clear = [b for b in candidates if clear_of_ephemeral(b, span, ephemeral)]
    candidates = clear or candidates
    random.shuffle(candidates)
    for base in candidates:
        ports = Ports(base)
        if not any(port_in_use(p) for _, _, p in ports.all()) and not any(
            port_in_use(base + o) for o in range(APP_PORT_FIRST, APP_PORT_LAST + 1)
        ):
            return base
    raise RuntimeError("no free port range found")
