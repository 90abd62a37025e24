"""The PaaS VMs' network rules, whatever the cloud: which ports each role serves, from where, and which roles
get a fixed address. Pure (no provider SDK): the openstack and ec2 foundations both use it."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

# Ports each PaaS VM serves to agencies' networks (TCP), besides SSH from the bastion.
PAAS_PORTS: dict[str, tuple[int, ...]] = {
    "database": (5432,),
    "storage": (443,),
    "identity": (443,),
    "backup": (),
    "bastion": (22,),
}
ROLE_KEY = "govcloud:role"


@dataclass(frozen=True)
class Rule:
    name: str
    port: int
    cidr: str
    ethertype: str = "IPv4"


def paas_rules(role: str, admin_cidr: str, services_cidr: str, agency_cidr_pool: str) -> list[Rule]:
    """Ingress of each PaaS VM. Only the proxy faces the internet, and only on 80/443."""
    if role == "proxy":
        return [Rule(f"web-{p}-v{v}", p, cidr, f"IPv{v}") for p in (80, 443)
                for v, cidr in (("4", "0.0.0.0/0"), ("6", "::/0"))] + [Rule("ssh", 22, admin_cidr)]
    if role == "bastion":
        return [Rule("ssh", 22, services_cidr)]
    # Agencies reach the shared services over their routers: from the agency pool, never from the internet.
    return [Rule("ssh", 22, admin_cidr)] + [Rule(f"svc-{p}", p, agency_cidr_pool) for p in PAAS_PORTS.get(role, ())]


def pinned_address(role: str, proxy_cidr: str, admin_cidr: str, services_cidr: str) -> str | None:
    """The proxy's and the bastion's addresses are fixed by the spec (`proxy_cidr`, `admin_cidr`: the security
    groups trust them), so their ports must get exactly those; the other VMs take what DHCP gives."""
    cidr = {"proxy": proxy_cidr, "bastion": admin_cidr}.get(role)
    if cidr is None:
        return None
    net = ipaddress.ip_network(cidr)
    if role == "bastion" and (net.num_addresses != 1 or net.network_address not in ipaddress.ip_network(
            services_cidr)):
        return None  # admin_cidr names a range, or an address outside the services network
    return str(net.network_address)


def agency_subnet(pool: str, index: int) -> str:
    """The index-th /24 of the agencies' pool (on openstack the agency's subnet, on ec2 its VPC); appending
    agencies to the spec keeps the others'."""
    network = ipaddress.ip_network(pool)
    subnet = ipaddress.ip_network((int(network.network_address) + index * 256, 24))
    if not subnet.subnet_of(network):  # type: ignore[arg-type]
        raise ValueError(f"agency_cidr_pool {network} has no room for agency number {index + 1}")
    return str(subnet)
