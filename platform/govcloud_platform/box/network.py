"""Where a box's services listen and who may connect to them: pure decisions, no I/O.

A box binds ONE address (`govcloud up --address A`, recorded in box.json; 127.0.0.1 by default). Every
service binds that address and nothing else, except the IdP's manager API and the apps' proxy, which stay on
the host's loopback (the manager API has no authentication of its own beyond a password, and is never
reachable from outside its host; the apps' proxy moves with the apps in a later slice).

Names: a box on 127.0.0.1 is `localhost` (LemonLDAP::NG needs a cookie domain, and the issuer has always been
`https://localhost:<port>`); a box on another address is named by that address (clients reach it without DNS;
its certificates carry the address as IP SAN, and as a DNS SAN too, because pgBackRest matches the host it
connects to against DNS SANs only). A topology that gives hosts DNS names can later replace the name.

SeaweedFS also opens a twin of its master, filer and S3 listeners on its host's `localhost` whatever `-ip.bind`
says (weed/util/net_timeout.go, NewIpAndLocalListeners): reachable from the host itself only, which reaches the
address anyway, behind the same mutual TLS and S3 signatures. No flag turns it off.

Who may connect to PostgreSQL (`client_networks`): the box's own address (its own services and apps connect
from it) and the networks given with `--allow-from` (the operator's machine, where the brokers run; other
hosts). Nothing else: `--allow-from` needs a non-loopback address and refuses `/0`.

IPv6 is refused for now (URLs, SeaweedFS's `-ip` and pgBackRest's endpoint need it bracketed or
special-cased; the lab is IPv4)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from govcloud_platform.errors import InputError

LOOPBACK = "127.0.0.1"
LOCAL_NAME = "localhost"
# Ports of the plan (box.ports.OFFSETS) that stay on the host's loopback whatever the box's address.
LOOPBACK_ONLY = frozenset({"idp_manager", "proxy_https", "console_app"})


def address_problem(text: str) -> str | None:
    """Why `text` cannot be a box's address (None when it can). IPv4 only; an address a host can hold."""
    try:
        addr = ipaddress.ip_address(text.strip())
    except ValueError:
        return "is not an IPv4 address"
    if isinstance(addr, ipaddress.IPv6Address):
        return "is IPv6, which the box does not support yet"
    if str(addr) != text:
        return f"is not in canonical form (write {addr})"
    if addr.is_unspecified:
        return "is unspecified: the box binds one address, not all of them"
    if addr.is_multicast or addr == ipaddress.IPv4Address("255.255.255.255"):
        return "is not a unicast address"
    return None


def check_address(text: str) -> str:
    problem = address_problem(text)
    if problem:
        raise InputError(f"--address {text!r} {problem}",
                         hint="give one IPv4 address of this host (`ip -br addr` lists them)")
    return text


def check_allow_from(address: str, networks: Sequence[str]) -> tuple[str, ...]:
    """The canonical `--allow-from` networks, in order and without duplicates; refuses what would open the
    database to the world or makes no sense (networks for a box on loopback, which nobody else can reach)."""
    out: list[str] = []
    for text in networks:
        try:
            net = ipaddress.ip_network(text.strip(), strict=True)
        except ValueError as exc:
            raise InputError(f"--allow-from {text!r} is not a network ({exc})",
                             hint="give an IPv4 network in CIDR form, e.g. 10.20.0.0/24 or 10.20.0.1/32") from None
        if isinstance(net, ipaddress.IPv6Network):
            raise InputError(f"--allow-from {text!r} is IPv6, which the box does not support yet",
                             hint="give an IPv4 network in CIDR form")
        if net.prefixlen == 0:
            raise InputError(f"--allow-from {text!r} would admit every address",
                             hint="name the networks the brokers and apps connect from")
        if str(net) not in out:
            out.append(str(net))
    if out and ipaddress.ip_address(address).is_loopback:
        raise InputError(f"--allow-from needs a box on a non-loopback address (this one is on {address})",
                         hint="pass --address A with it: a box on loopback is reachable from its own host only")
    return tuple(out)


def network_settings(address: str | None, allow_from: Sequence[str] | None,
                     recorded_address: str | None, recorded_allow_from: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """What `up` runs the box with: the address and networks given (together: `--allow-from` goes with
    `--address`, and an `--address` alone admits no other network), else those recorded, else 127.0.0.1."""
    if allow_from and address is None:
        raise InputError("--allow-from goes with --address",
                         hint="give both: `govcloud up --address A --allow-from NET`")
    if address is None:
        return recorded_address or LOOPBACK, tuple(recorded_allow_from)
    address = check_address(address)
    return address, check_allow_from(address, allow_from or ())


def host_name(address: str) -> str:
    """The name clients use for the box (issuer, certificates): `localhost` on 127.0.0.1, else the address."""
    return LOCAL_NAME if address == LOOPBACK else address


def bind_address(label: str, address: str) -> str:
    """Where the port `label` of the plan listens (its gRPC twin too: `s3_http_grpc` goes with `s3_http`)."""
    return LOOPBACK if label.removesuffix("_grpc") in LOOPBACK_ONLY else address


def prefix(address: str) -> str:
    """The one-address network of `address` (pg_hba.conf's form)."""
    return f"{address}/32"


def client_networks(address: str, allow_from: Iterable[str] = ()) -> list[str]:
    """SeaweedFS also opens a twin of its master, filer and S3 listeners on its host's `localhost` whatever `-ip.bind`
says (weed/util/net_timeout.go, NewIpAndLocalListeners): reachable from the host itself only, which reaches the
address anyway, behind the same mutual TLS and S3 signatures. No flag turns it off.

Who may connect to PostgreSQL: the box's own address first, then the networks allowed."""
    out = [prefix(address)]
    out += [net for net in allow_from if net not in out]
    return out


def certificate_names(address: str, *names: str) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) of a service certificate: `names` first (a CN that a peer checks), then the
    box's name; the box's address as IP SAN (and, through its name, as a DNS SAN when it is not loopback)."""
    dns = [*names]
    if host_name(address) not in dns:
        dns.append(host_name(address))
    return dns, [address]


def edge_certificate_names(address: str, edges: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """Pure: (DNS names, IP addresses) of the certificate of a server the edges front (an S3 gateway, an IdP
    portal): its host's, and every edge's in front of it (the edge passes TLS through: a client checks the name of
    the edge it connected to)."""
    dns, ips = certificate_names(address)
    for edge in edges:
        if host_name(edge) not in dns:
            dns.append(host_name(edge))
        if edge not in ips:
            ips.append(edge)
    return dns, ips
