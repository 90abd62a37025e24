"""One e-government app of one agency: its VM(s) in the agency's project, a port on the agency network, an
encrypted data volume, and a security group that admits the app's port from the platform proxy only."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_openstack as openstack

from govcloud_stacks.cloud_init import APP_PORTS, cloud_init
from govcloud_stacks.labels import Labels

__all__ = ["APP_PORTS", "AppDeployment", "AppDeploymentArgs", "cloud_init"]

@dataclass(frozen=True)
class AppDeploymentArgs:
    labels: Labels
    app: str
    region: str
    zone: str
    project_id: pulumi.Input[str]
    network_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    keypair: pulumi.Input[str]
    flavor: str
    image: str
    volume_type: str
    volume_gb: int
    proxy_cidr: str
    admin_cidr: str
    user_data: str
    vm_count: int = 1


class AppDeployment(pulumi.ComponentResource):
    """Created in stack `app-<slug>-<app>`."""

    def __init__(self, name: str, args: AppDeploymentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("govcloud:app:AppDeployment", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        lb = args.labels
        port_no = APP_PORTS[args.app]
        base = f"{lb.platform}-{lb.agency}-{args.app}"
        self.security_group = openstack.networking.SecGroup(
            f"{name}-sg", name=base, delete_default_rules=True, tenant_id=args.project_id, region=args.region,
            tags=lb.tags, description=lb.describe(f"{args.app}: tcp/{port_no} from the proxy only"), opts=child,
        )
        rules = (("app", port_no, args.proxy_cidr), ("ssh", 22, args.admin_cidr))
        for rule_name, port, cidr in rules:
            openstack.networking.SecGroupRule(
                f"{name}-sg-{rule_name}", security_group_id=self.security_group.id, direction="ingress",
                ethertype="IPv4", protocol="tcp", port_range_min=port, port_range_max=port, remote_ip_prefix=cidr,
                tenant_id=args.project_id, region=args.region,
                description=lb.describe(f"tcp/{port} from {cidr}"), opts=child,
            )
        openstack.networking.SecGroupRule(
            f"{name}-sg-egress", security_group_id=self.security_group.id, direction="egress", ethertype="IPv4",
            tenant_id=args.project_id, region=args.region, description=lb.describe("any egress"), opts=child,
        )
        self.instances: list[openstack.compute.Instance] = []
        for i in range(args.vm_count):
            suffix = "" if args.vm_count == 1 else f"-{i + 1}"
            nic = openstack.networking.Port(
                f"{name}-port{suffix}", name=f"{base}{suffix}", network_id=args.network_id,
                fixed_ips=[openstack.networking.PortFixedIpArgs(subnet_id=args.subnet_id)],
                security_group_ids=[self.security_group.id], tenant_id=args.project_id, region=args.region,
                tags=lb.tags, opts=child,
            )
            volume = openstack.blockstorage.Volume(
                f"{name}-volume{suffix}", name=f"{base}-data{suffix}", size=args.volume_gb,
                volume_type=args.volume_type, availability_zone=args.zone, region=args.region,
                metadata=lb.metadata, description=lb.describe(f"{args.app} data"), opts=child,
            )
            instance = openstack.compute.Instance(
                f"{name}-vm{suffix}", name=f"{base}{suffix}", flavor_name=args.flavor, image_name=args.image,
                key_pair=args.keypair, availability_zone=args.zone, user_data=args.user_data,
                networks=[openstack.compute.InstanceNetworkArgs(port=nic.id)], metadata=lb.metadata,
                tags=lb.tags, region=args.region, opts=child,
            )
            openstack.compute.VolumeAttach(
                f"{name}-volume-attach{suffix}", instance_id=instance.id, volume_id=volume.id, region=args.region,
                opts=child,
            )
            self.instances.append(instance)
        self.register_outputs({"instance_ids": [i.id for i in self.instances]})
