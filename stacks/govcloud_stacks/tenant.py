"""One agency's slice of the IaaS: its project (in its own domain or the platform's), groups and roles,
quotas from its quota class, a routed network, a default security group with no outside ingress
(scs-0115) and a keypair."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_openstack as openstack

from govcloud_platform.spec.models import Quota
from govcloud_stacks.labels import Labels

ROLES = ("admin", "member", "reader")


@dataclass(frozen=True)
class AgencyTenantArgs:
    labels: Labels
    display_name: str
    region: str
    quota: Quota
    cidr: str
    external_network: str
    dns_nameservers: tuple[str, ...]
    ssh_public_key: str
    # Per-agency domain when None; otherwise the name of the shared platform domain.
    shared_domain: str | None = None


class AgencyTenant(pulumi.ComponentResource):
    """Created in stack `agency-<slug>`; apps of the agency live in its project."""

    def __init__(self, name: str, args: AgencyTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("govcloud:tenant:AgencyTenant", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        lb = args.labels
        slug = lb.agency
        region = args.region
        if args.shared_domain is None:
            domain = openstack.identity.Project(
                f"{name}-domain", name=f"{lb.platform}-{slug}", is_domain=True, region=region,
                description=lb.describe(f"domain of {args.display_name}"), tags=lb.tags, opts=child,
            )
            domain_id: pulumi.Input[str] = domain.id
        else:
            domain_id = openstack.identity.get_project_output(name=args.shared_domain, is_domain=True).id
        self.project = openstack.identity.Project(
            f"{name}-project", name=f"{lb.platform}-{slug}", domain_id=domain_id, region=region,
            description=lb.describe(args.display_name), tags=lb.tags, opts=child,
        )
        for role in ROLES:
            group = openstack.identity.GroupV3(
                f"{name}-group-{role}", name=f"{lb.platform}-{slug}-{role}s", domain_id=domain_id, region=region,
                description=lb.describe(f"{role}s of {args.display_name}"), opts=child,
            )
            keystone_role = openstack.identity.get_role_output(name=role, region=region)
            openstack.identity.RoleAssignment(
                f"{name}-role-{role}", group_id=group.id, project_id=self.project.id, role_id=keystone_role.id,
                region=region, opts=child,
            )
        q = args.quota
        openstack.compute.QuotaSetV2(
            f"{name}-quota-compute", project_id=self.project.id, instances=q.instances, cores=q.cores,
            ram=q.ram_mb, key_pairs=10, server_groups=10, region=region, opts=child,
        )
        openstack.networking.QuotaV2(
            f"{name}-quota-network", project_id=self.project.id, network=q.networks, subnet=q.networks,
            router=1, floatingip=q.floating_ips, security_group=q.security_groups,
            security_group_rule=q.security_groups * 10, port=max(10, q.instances * 4), region=region,
            opts=child,
        )
        openstack.blockstorage.QuoteSetV3(
            f"{name}-quota-volume", project_id=self.project.id, volumes=q.volumes, gigabytes=q.volume_gb,
            snapshots=q.volumes, backups=q.volumes, backup_gigabytes=q.volume_gb, region=region, opts=child,
        )
        ext = openstack.networking.get_network_output(name=args.external_network, region=region)
        self.network = openstack.networking.Network(
            f"{name}-network", name=f"{lb.platform}-{slug}", tenant_id=self.project.id, region=region,
            tags=lb.tags, opts=child,
        )
        self.subnet = openstack.networking.Subnet(
            f"{name}-subnet", name=f"{lb.platform}-{slug}", network_id=self.network.id, cidr=args.cidr,
            ip_version=4, dns_nameservers=list(args.dns_nameservers), tenant_id=self.project.id, region=region,
            tags=lb.tags, opts=child,
        )
        self.router = openstack.networking.Router(
            f"{name}-router", name=f"{lb.platform}-{slug}", external_network_id=ext.id,
            tenant_id=self.project.id, region=region, tags=lb.tags, opts=child,
        )
        openstack.networking.RouterInterface(
            f"{name}-router-interface", router_id=self.router.id, subnet_id=self.subnet.id, region=region,
            opts=child,
        )
        # scs-0115: the default group admits ingress only from members of the same group.
        self.default_group = openstack.networking.SecGroup(
            f"{name}-default-sg", name=f"{lb.platform}-{slug}-default", delete_default_rules=True,
            tenant_id=self.project.id, region=region, tags=lb.tags,
            description=lb.describe("default: ingress only from this group, any egress"), opts=child,
        )
        for ethertype in ("IPv4", "IPv6"):
            v = ethertype[-1]
            openstack.networking.SecGroupRule(
                f"{name}-default-sg-ingress-v{v}", security_group_id=self.default_group.id, direction="ingress",
                ethertype=ethertype, remote_group_id=self.default_group.id, tenant_id=self.project.id,
                region=region, description=lb.describe("ingress from the same group"), opts=child,
            )
            openstack.networking.SecGroupRule(
                f"{name}-default-sg-egress-v{v}", security_group_id=self.default_group.id, direction="egress",
                ethertype=ethertype, tenant_id=self.project.id, region=region,
                description=lb.describe("any egress"), opts=child,
            )
        self.keypair = openstack.compute.Keypair(
            f"{name}-keypair", name=f"{lb.platform}-{slug}", public_key=args.ssh_public_key, region=region,
            opts=child,
        )
        self.register_outputs(
            {
                "project_id": self.project.id,
                "network_id": self.network.id,
                "subnet_id": self.subnet.id,
                "default_security_group_id": self.default_group.id,
                "keypair": self.keypair.name,
            }
        )
