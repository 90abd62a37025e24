"""Security-group rules: what may be reached from the internet."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from govcloud_policies import aws
from govcloud_policies.context import PolicyContext
from govcloud_policies.props import is_public_source, labels, port_range, text

SEC_GROUP_RULE = "openstack:networking/secGroupRule:SecGroupRule"
PROXY_ROLE = "proxy"
WEB_PORTS = frozenset({80, 443})
# SSH and the database ports of the engines an agency might run.
ADMIN_PORTS = {22: "SSH", 5432: "PostgreSQL", 3306: "MySQL/MariaDB", 1433: "SQL Server", 1521: "Oracle",
               27017: "MongoDB", 6379: "Redis", 9042: "Cassandra", 5984: "CouchDB"}


def _public_ingress(resource_type: str, props: Mapping[str, Any]) -> bool:
    return resource_type == SEC_GROUP_RULE and text(props, "direction") == "ingress" and is_public_source(props)


def _aws_public_ingress(ctx: PolicyContext, props: Mapping[str, Any],
                        opened: list[tuple[str, int, int]]) -> list[str]:
    owner = labels(props)
    on_proxy = owner.get("govcloud:role") == PROXY_ROLE and owner.get("govcloud:agency") == "platform"
    out = []
    for source, lo, hi in opened:
        if on_proxy and lo == hi and lo in WEB_PORTS:
            continue
        where = f"ports {lo}-{hi}" if lo != hi else f"port {lo}"
        out.append(f"ingress from {source} on {where}: set cidr_ipv4 (cidr_blocks) to the platform proxy "
                   f"({ctx.proxy_cidr}) or reference a security group; only the platform proxy may admit tcp/80 "
                   "and tcp/443 from the internet")
    return out


def no_public_ingress(ctx: PolicyContext, resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type.startswith(aws.AWS):
        return _aws_public_ingress(ctx, props, aws.public_ingress(resource_type, props))
    if not _public_ingress(resource_type, props):
        return []
    lo, hi = port_range(props)
    owner = labels(props)
    on_proxy = owner.get("govcloud:role") == PROXY_ROLE and owner.get("govcloud:agency") == "platform"
    if on_proxy and lo == hi and lo in WEB_PORTS:
        return []
    where = f"ports {lo}-{hi}" if lo != hi else f"port {lo}"
    return [
        f"ingress from {props.get('remoteIpPrefix') or 'any address'} on {where}: set remote_ip_prefix to "
        f"the platform proxy ({ctx.proxy_cidr}) or use remote_group_id; only the platform proxy may admit "
        "tcp/80 and tcp/443 from the internet"
    ]


def no_public_admin_ports(ctx: PolicyContext, resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type.startswith(aws.AWS):
        out = []
        for source, lo, hi in aws.public_ingress(resource_type, props):
            exposed = [f"{name} ({port})" for port, name in ADMIN_PORTS.items() if lo <= port <= hi]
            if exposed:
                out.append(f"{', '.join(exposed)} open to the internet ({source}): restrict cidr_ipv4 (cidr_blocks) "
                           "to the bastion or a private network, and reach these ports through the bastion")
        return out
    if not _public_ingress(resource_type, props):
        return []
    lo, hi = port_range(props)
    exposed = [f"{name} ({port})" for port, name in ADMIN_PORTS.items() if lo <= port <= hi]
    if not exposed:
        return []
    return [
        f"{', '.join(exposed)} open to the internet: restrict remote_ip_prefix to the bastion or a private "
        "network, and reach these ports through the bastion"
    ]
