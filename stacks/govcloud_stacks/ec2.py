"""The `ec2` target's components on pulumi-aws, of the same shape, type tokens and labels as the OpenStack ones:
the foundation (the platform's VPC and its PaaS VMs), one tenant per agency (its own VPC peered with the
platform's, IAM groups per role, a quota policy in Eucalyptus' IAM `Limit` dialect, a closed default security
group, a key pair) and one deployment per app (security group, encrypted EBS volume, instance with the same
cloud-init). Tags `govcloud:agency` and `govcloud:platform` on everything that carries tags.

Why a VPC per agency, not a subnet of the platform's VPC: a VPC's CIDR is at most a /16, so the /24s of a /10
agency pool (thousands of agencies) cannot all be subnets of one VPC, and clouds cap the subnets of a VPC (200 by
default, on AWS and Eucalyptus); a VPC is also the isolation boundary of EC2 networking (as the OpenStack
network and router of each agency are), so a mistake in one agency's security groups never opens another's."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from govcloud_platform.spec.models import Quota
from govcloud_platform.spec.openstack import PaasVm
from govcloud_policies.aws import QUOTA_KEYS as CAPACITY_QUOTA_KEYS
from govcloud_stacks.cloud_init import APP_PORTS
from govcloud_stacks.labels import Labels
from govcloud_stacks.paas import ROLE_KEY, paas_rules, pinned_address

ROLES = ("admin", "member", "reader")
SERVICES_ROLE = "services"  # govcloud:role of the platform's VPC and route table (the agencies look them up)
# Eucalyptus' quota keys (IAM policy statements with Effect `Limit`) -> the Quota field they carry: those the
# `quota-fits-capacity` policy sums (govcloud_policies.aws.QUOTA_KEYS), and the security groups.
QUOTA_KEYS: dict[str, str] = {**CAPACITY_QUOTA_KEYS, "ec2:quota-securitygroupnumber": "security_groups"}
# What each role may do in the agency's own resources (attribute-based: the resource's govcloud:agency tag).
ROLE_ACTIONS: dict[str, list[str]] = {
    "admin": ["ec2:*"],
    "member": ["ec2:Describe*", "ec2:RunInstances", "ec2:StartInstances", "ec2:StopInstances",
               "ec2:RebootInstances", "ec2:CreateVolume", "ec2:AttachVolume", "ec2:DetachVolume",
               "ec2:CreateSnapshot", "ec2:CreateTags"],
    "reader": ["ec2:Describe*"],
}


def tags(lb: Labels, name: str, **extra: str) -> dict[str, str]:
    return {"Name": name, **lb.metadata, **extra}


def quota_policy(quota: Quota) -> str:
    """The agency's quota as Eucalyptus reads it: one `Limit` statement per key, NumericLessThanEquals."""
    statements = [
        {"Sid": key.split("-", 1)[1], "Effect": "Limit", "Action": "ec2:*", "Resource": "*",
         "Condition": {"NumericLessThanEquals": {key: str(int(getattr(quota, fld)))}}}
        for key, fld in QUOTA_KEYS.items()
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def role_policy(role: str, agency: str) -> str:
    """A role's rights, confined to resources tagged with the agency (describe calls carry no tags)."""
    statements: list[dict[str, Any]] = [
        {"Sid": "Describe", "Effect": "Allow", "Action": ["ec2:Describe*"], "Resource": "*"},
    ]
    actions = [a for a in ROLE_ACTIONS[role] if a != "ec2:Describe*"]
    if actions:
        statements.append({"Sid": "OwnAgency", "Effect": "Allow", "Action": actions, "Resource": "*",
                           "Condition": {"StringEquals": {"aws:ResourceTag/govcloud:agency": agency}}})
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


@dataclass(frozen=True)
class Ec2FoundationArgs:
    labels: Labels
    region: str
    zone: str
    services_cidr: str
    proxy_cidr: str
    admin_cidr: str
    agency_cidr_pool: str
    key_name: str  # the operator key, imported by `iaas` before Pulumi runs (govcloud_platform.iaas.ec2_cloud)
    ami: str
    instance_types: dict[str, str]
    root_volume_gb: int
    kms_key_id: str | None = None
    paas_vms: tuple[tuple[str, PaasVm], ...] = field(default_factory=tuple)


class Ec2Foundation(pulumi.ComponentResource):
    """The platform's VPC (one subnet, routed to an internet gateway for the proxy) and the PaaS VMs, each with
    its security group, a network interface (fixed address for the proxy and the bastion), an encrypted data
    volume and an encrypted root disk. Created once, in stack `platform`."""

    def __init__(self, name: str, args: Ec2FoundationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("govcloud:foundation:PlatformFoundation", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        lb, region = args.labels, args.region
        base = f"{lb.platform}-services"
        role_tag = {ROLE_KEY: SERVICES_ROLE}
        self.vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=args.services_cidr, enable_dns_support=True,
                               enable_dns_hostnames=True, region=region, tags=tags(lb, base, **role_tag), opts=child)
        self.subnet = aws.ec2.Subnet(f"{name}-subnet", vpc_id=self.vpc.id, cidr_block=args.services_cidr,
                                     availability_zone=args.zone, map_public_ip_on_launch=False, region=region,
                                     tags=tags(lb, base), opts=child)
        self.gateway = aws.ec2.InternetGateway(f"{name}-gateway", vpc_id=self.vpc.id, region=region,
                                               tags=tags(lb, base), opts=child)
        self.route_table = aws.ec2.RouteTable(
            f"{name}-route-table", vpc_id=self.vpc.id, region=region, tags=tags(lb, base, **role_tag),
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=self.gateway.id)], opts=child,
        )
        aws.ec2.RouteTableAssociation(f"{name}-route-table-association", subnet_id=self.subnet.id,
                                      route_table_id=self.route_table.id, region=region, opts=child)
        self.vms: dict[str, aws.ec2.Instance] = {}
        self.interfaces: dict[str, aws.ec2.NetworkInterface] = {}  # their addresses make the hosts' topology
        for role, vm in args.paas_vms:
            self.vms[role] = self._paas_vm(name, role, vm, args)
        self.register_outputs({"vpc_id": self.vpc.id, "subnet_id": self.subnet.id,
                               "route_table_id": self.route_table.id})

    def _paas_vm(self, name: str, role: str, vm: PaasVm, args: Ec2FoundationArgs) -> aws.ec2.Instance:
        child = pulumi.ResourceOptions(parent=self)
        lb, region = args.labels, args.region
        vm_name = f"{lb.platform}-{role}"
        sg = aws.ec2.SecurityGroup(f"{name}-{role}-sg", name=vm_name, vpc_id=self.vpc.id, region=region,
                                   description=f"{role} VM: only its service ports", revoke_rules_on_delete=True,
                                   tags=tags(lb, vm_name, **{ROLE_KEY: role}), opts=child)
        for rule in paas_rules(role, args.admin_cidr, args.services_cidr, args.agency_cidr_pool):
            source = {"cidr_ipv6": rule.cidr} if rule.ethertype == "IPv6" else {"cidr_ipv4": rule.cidr}
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-{role}-sg-{rule.name}", security_group_id=sg.id, ip_protocol="tcp", from_port=rule.port,
                to_port=rule.port, region=region, description=f"{role}: tcp/{rule.port} from {rule.cidr}",
                tags=tags(lb, f"{vm_name}-{rule.name}", **{ROLE_KEY: role}), opts=child, **source,
            )
        aws.vpc.SecurityGroupEgressRule(f"{name}-{role}-sg-egress", security_group_id=sg.id, ip_protocol="-1",
                                        cidr_ipv4="0.0.0.0/0", region=region, description="any egress",
                                        tags=tags(lb, f"{vm_name}-egress"), opts=child)
        address = pinned_address(role, args.proxy_cidr, args.admin_cidr, args.services_cidr)
        nic = self.interfaces[role] = aws.ec2.NetworkInterface(
            f"{name}-{role}-nic", subnet_id=self.subnet.id, private_ips=[address] if address else None,
            security_groups=[sg.id], region=region, tags=tags(lb, vm_name), opts=child,
        )
        volume = aws.ebs.Volume(f"{name}-{role}-volume", size=vm.volume_gb, type="gp3", encrypted=True,
                                kms_key_id=args.kms_key_id, availability_zone=args.zone, region=region,
                                tags=tags(lb, f"{vm_name}-data"), opts=child)
        instance = aws.ec2.Instance(
            f"{name}-{role}-vm", ami=args.ami, instance_type=args.instance_types[vm.flavor], key_name=args.key_name,
            availability_zone=args.zone, region=region, tags=tags(lb, vm_name, **{ROLE_KEY: role}),
            primary_network_interface=aws.ec2.InstancePrimaryNetworkInterfaceArgs(network_interface_id=nic.id),
            root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(volume_size=args.root_volume_gb, encrypted=True,
                                                                  kms_key_id=args.kms_key_id),
            metadata_options=aws.ec2.InstanceMetadataOptionsArgs(http_tokens="required"), opts=child,
        )
        aws.ec2.VolumeAttachment(f"{name}-{role}-volume-attach", device_name="/dev/sdf", instance_id=instance.id,
                                 volume_id=volume.id, region=region, opts=child)
        return instance


@dataclass(frozen=True)
class Ec2TenantArgs:
    labels: Labels
    display_name: str
    region: str
    zone: str
    quota: Quota
    cidr: str
    services_cidr: str
    ssh_public_key: str
    peering: bool = True


class Ec2Tenant(pulumi.ComponentResource):
    """Created in stack `agency-<slug>`: the agency's VPC (its /24 of the pool) with one subnet, an internet
    gateway, a route table (to the platform's services over the peering), a default security group admitting
    ingress only from itself (scs-0115), a key pair, IAM groups per role and the agency user with its quota."""

    def __init__(self, name: str, args: Ec2TenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("govcloud:tenant:AgencyTenant", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        lb, region = args.labels, args.region
        base = f"{lb.platform}-{lb.agency}"
        self.vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=args.cidr, enable_dns_support=True,
                               enable_dns_hostnames=True, region=region, tags=tags(lb, base), opts=child)
        self.subnet = aws.ec2.Subnet(f"{name}-subnet", vpc_id=self.vpc.id, cidr_block=args.cidr,
                                     availability_zone=args.zone, map_public_ip_on_launch=False, region=region,
                                     tags=tags(lb, base), opts=child)
        gateway = aws.ec2.InternetGateway(f"{name}-gateway", vpc_id=self.vpc.id, region=region,
                                          tags=tags(lb, base), opts=child)
        routes = [aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=gateway.id)]
        if args.peering:
            services = {"govcloud:platform": lb.platform, ROLE_KEY: SERVICES_ROLE}
            platform_vpc = aws.ec2.get_vpc_output(tags=services, region=region)
            peering = aws.ec2.VpcPeeringConnection(f"{name}-peering", vpc_id=self.vpc.id, peer_vpc_id=platform_vpc.id,
                                                   auto_accept=True, region=region, tags=tags(lb, base), opts=child)
            routes.append(aws.ec2.RouteTableRouteArgs(cidr_block=args.services_cidr,
                                                      vpc_peering_connection_id=peering.id))
            platform_routes = aws.ec2.get_route_table_output(tags=services, region=region)
            aws.ec2.Route(f"{name}-platform-route", route_table_id=platform_routes.id, destination_cidr_block=args.cidr,
                          vpc_peering_connection_id=peering.id, region=region, opts=child)
        self.route_table = aws.ec2.RouteTable(f"{name}-route-table", vpc_id=self.vpc.id, routes=routes,
                                              region=region, tags=tags(lb, base), opts=child)
        aws.ec2.RouteTableAssociation(f"{name}-route-table-association", subnet_id=self.subnet.id,
                                      route_table_id=self.route_table.id, region=region, opts=child)
        # scs-0115: the default group admits ingress only from members of the same group.
        self.default_group = aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg", vpc_id=self.vpc.id, region=region, tags=tags(lb, f"{base}-default"),
            ingress=[aws.ec2.DefaultSecurityGroupIngressArgs(protocol="-1", from_port=0, to_port=0, self=True)],
            egress=[aws.ec2.DefaultSecurityGroupEgressArgs(protocol="-1", from_port=0, to_port=0,
                                                            cidr_blocks=["0.0.0.0/0"], ipv6_cidr_blocks=["::/0"])],
            opts=child,
        )
        self.keypair = aws.ec2.KeyPair(f"{name}-keypair", key_name=base, public_key=args.ssh_public_key,
                                       region=region, tags=tags(lb, base), opts=child)
        path = f"/govcloud/{lb.platform}/{lb.agency}/"
        for role in ROLES:
            group = aws.iam.Group(f"{name}-group-{role}", name=f"{base}-{role}s", path=path, opts=child)
            aws.iam.GroupPolicy(f"{name}-role-{role}", group=group.name, name=f"{base}-{role}",
                                policy=role_policy(role, lb.agency), opts=child)
        # Eucalyptus ignores quotas on groups: the quota is on the agency's user (and on its account, where the
        # cloud's administrator made one per agency).
        self.user = aws.iam.User(f"{name}-user", name=base, path=path, tags=tags(lb, base), opts=child)
        aws.iam.UserPolicy(f"{name}-quota", user=self.user.name, name=f"{base}-quota",
                           policy=quota_policy(args.quota), opts=child)
        self.register_outputs({"vpc_id": self.vpc.id, "subnet_id": self.subnet.id,
                               "default_security_group_id": self.default_group.id, "keypair": self.keypair.key_name})


@dataclass(frozen=True)
class Ec2AppArgs:
    labels: Labels
    app: str
    region: str
    zone: str
    vpc_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    keypair: pulumi.Input[str]
    instance_type: str
    ami: str
    volume_gb: int
    root_volume_gb: int
    proxy_cidr: str
    admin_cidr: str
    user_data: str
    kms_key_id: str | None = None
    vm_count: int = 1


class Ec2App(pulumi.ComponentResource):
    """Created in stack `app-<slug>-<app>`: a security group admitting the app's port from the proxy only (and
    SSH from the bastion), an encrypted EBS data volume, the instance (encrypted root disk, the same cloud-init
    as on OpenStack)."""

    def __init__(self, name: str, args: Ec2AppArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("govcloud:app:AppDeployment", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        lb, region = args.labels, args.region
        port_no = APP_PORTS[args.app]
        base = f"{lb.platform}-{lb.agency}-{args.app}"
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-sg", name=base, vpc_id=args.vpc_id, region=region, revoke_rules_on_delete=True,
            description=f"{args.app}: tcp/{port_no} from the proxy only", tags=tags(lb, base), opts=child,
        )
        for rule_name, port, cidr in (("app", port_no, args.proxy_cidr), ("ssh", 22, args.admin_cidr)):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-sg-{rule_name}", security_group_id=self.security_group.id, ip_protocol="tcp",
                from_port=port, to_port=port, cidr_ipv4=cidr, region=region, description=f"tcp/{port} from {cidr}",
                tags=tags(lb, f"{base}-{rule_name}"), opts=child,
            )
        aws.vpc.SecurityGroupEgressRule(f"{name}-sg-egress", security_group_id=self.security_group.id,
                                        ip_protocol="-1", cidr_ipv4="0.0.0.0/0", region=region,
                                        description="any egress", tags=tags(lb, f"{base}-egress"), opts=child)
        self.instances: list[aws.ec2.Instance] = []
        for i in range(args.vm_count):
            suffix = "" if args.vm_count == 1 else f"-{i + 1}"
            volume = aws.ebs.Volume(f"{name}-volume{suffix}", size=args.volume_gb, type="gp3", encrypted=True,
                                    kms_key_id=args.kms_key_id, availability_zone=args.zone, region=region,
                                    tags=tags(lb, f"{base}-data{suffix}"), opts=child)
            instance = aws.ec2.Instance(
                f"{name}-vm{suffix}", ami=args.ami, instance_type=args.instance_type, key_name=args.keypair,
                subnet_id=args.subnet_id, vpc_security_group_ids=[self.security_group.id],
                availability_zone=args.zone, user_data=args.user_data, region=region, tags=tags(lb, f"{base}{suffix}"),
                root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(volume_size=args.root_volume_gb,
                                                                      encrypted=True, kms_key_id=args.kms_key_id),
                metadata_options=aws.ec2.InstanceMetadataOptionsArgs(http_tokens="required"), opts=child,
            )
            aws.ec2.VolumeAttachment(f"{name}-volume-attach{suffix}", device_name="/dev/sdf",
                                     instance_id=instance.id, volume_id=volume.id, region=region, opts=child)
            self.instances.append(instance)
        self.register_outputs({"instance_ids": [i.id for i in self.instances]})
