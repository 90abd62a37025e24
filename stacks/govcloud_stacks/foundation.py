"""The directorate's foundation: its domain and service project, the SCS flavors and public images every
agency uses, the encrypted volume type, the shared services network and the PaaS VMs."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_openstack as openstack

from govcloud_platform.spec.openstack import FlavorSpec, ImageSpec, PaasVm
from govcloud_stacks.labels import Labels
from govcloud_stacks.paas import ROLE_KEY, paas_rules, pinned_address
from govcloud_stacks.paas import Rule as _Rule
from govcloud_stacks.scs import flavor_extra_specs, image_properties


@dataclass(frozen=True)
class PlatformFoundationArgs:
    labels: Labels
    region: str
    zone: str
    domain_name: str
    external_network: str
    services_cidr: str
    proxy_cidr: str
    admin_cidr: str
    agency_cidr_pool: str
    dns_nameservers: tuple[str, ...]
    encrypted_volume_type: str
    ssh_public_key: str
    image_for_vms: str
    flavors: tuple[FlavorSpec, ...] = ()
    images: tuple[ImageSpec, ...] = ()
    paas_vms: tuple[tuple[str, PaasVm], ...] = field(default_factory=tuple)


class PlatformFoundation(pulumi.ComponentResource):
    """Everything the agencies share; created once, in stack `platform`."""

    def __init__(self, name: str, args: PlatformFoundationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("govcloud:foundation:PlatformFoundation", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        lb = args.labels
        self.domain = openstack.identity.Project(
            f"{name}-domain", name=args.domain_name, is_domain=True, region=args.region,
            description=lb.describe("govcloud platform domain"), tags=lb.tags, opts=child,
        )
        self.project = openstack.identity.Project(
            f"{name}-project", name=f"{lb.platform}-services", domain_id=self.domain.id, region=args.region,
            description=lb.describe("directorate service project"), tags=lb.tags, opts=child,
        )
        self.flavors = [
            openstack.compute.Flavor(
                f"{name}-flavor-{f.name.lower()}", name=f.name, vcpus=f.vcpus, ram=f.ram_mb, disk=f.disk_gb,
                is_public=True, extra_specs=flavor_extra_specs(f), region=args.region,
                description=lb.describe(f"SCS standard flavor {f.name}"), opts=child,
            )
            for f in args.flavors
        ]
        self.images = {
            img.name: openstack.images.Image(
                f"{name}-image-{_slug(img.name)}", name=img.name, container_format="bare", disk_format="qcow2",
                image_source_url=img.source_url, web_download=True, visibility="public",
                min_disk_gb=img.min_disk_gb, min_ram_mb=img.min_ram_mb, properties=image_properties(img),
                region=args.region, tags=lb.tags, opts=child,
            )
            for img in args.images
        }
        # Cinder's encryption spec (LUKS, front-end) is attached by `openstack volume type set --encryption-*`:
        # pulumi-openstack 5.5 has no resource for it (see docs/iaas.md).
        self.volume_type = openstack.blockstorage.VolumeTypeV3(
            f"{name}-volume-type", name=args.encrypted_volume_type, is_public=True, region=args.region,
            extra_specs={"govcloud:encryption": "luks"},
            description=lb.describe("encrypted volumes (LUKS, front-end)"), opts=child,
        )
        ext = openstack.networking.get_network_output(name=args.external_network, region=args.region)
        self.network = openstack.networking.Network(
            f"{name}-network", name=f"{lb.platform}-services", tenant_id=self.project.id, shared=False,
            region=args.region, tags=lb.tags, opts=child,
        )
        self.subnet = openstack.networking.Subnet(
            f"{name}-subnet", network_id=self.network.id, cidr=args.services_cidr, ip_version=4,
            dns_nameservers=list(args.dns_nameservers), tenant_id=self.project.id, region=args.region,
            tags=lb.tags, opts=child,
        )
        self.router = openstack.networking.Router(
            f"{name}-router", name=f"{lb.platform}-services", external_network_id=ext.id,
            tenant_id=self.project.id, region=args.region, tags=lb.tags, opts=child,
        )
        openstack.networking.RouterInterface(
            f"{name}-router-interface", router_id=self.router.id, subnet_id=self.subnet.id, region=args.region,
            opts=child,
        )
        self.keypair = openstack.compute.Keypair(
            f"{name}-keypair", name=f"{lb.platform}-operator", public_key=args.ssh_public_key, region=args.region,
            opts=child,
        )
        self.vms: dict[str, openstack.compute.Instance] = {}
        self.ports: dict[str, openstack.networking.Port] = {}  # their fixed addresses make the hosts' topology
        for role, vm in args.paas_vms:
            self.vms[role] = self._paas_vm(name, role, vm, args)
        self.register_outputs(
            {
                "project_id": self.project.id,
                "domain_id": self.domain.id,
                "network_id": self.network.id,
                "volume_type": self.volume_type.name,
            }
        )

    def _paas_vm(self, name: str, role: str, vm: PaasVm, args: PlatformFoundationArgs) -> openstack.compute.Instance:
        child = pulumi.ResourceOptions(parent=self)
        lb = args.labels
        sg = openstack.networking.SecGroup(
            f"{name}-{role}-sg", name=f"{lb.platform}-{role}", delete_default_rules=True,
            tenant_id=self.project.id, region=args.region, tags=lb.tags,
            description=lb.describe(f"{role} VM: only its service ports"), opts=child,
        )
        for rule in _paas_rules(role, args):
            openstack.networking.SecGroupRule(
                f"{name}-{role}-sg-{rule.name}", security_group_id=sg.id, direction="ingress",
                ethertype=rule.ethertype, protocol="tcp", port_range_min=rule.port, port_range_max=rule.port,
                remote_ip_prefix=rule.cidr, tenant_id=self.project.id, region=args.region,
                description=lb.describe(f"{role}: tcp/{rule.port} from {rule.cidr} {ROLE_KEY}={role}"), opts=child,
            )
        port = self.ports[role] = openstack.networking.Port(
            f"{name}-{role}-port", name=f"{lb.platform}-{role}", network_id=self.network.id,
            fixed_ips=[openstack.networking.PortFixedIpArgs(subnet_id=self.subnet.id,
                                                            ip_address=_pinned_address(role, args))],
            security_group_ids=[sg.id], tenant_id=self.project.id, region=args.region, tags=lb.tags, opts=child,
        )
        volume = openstack.blockstorage.Volume(
            f"{name}-{role}-volume", name=f"{lb.platform}-{role}-data", size=vm.volume_gb,
            volume_type=self.volume_type.name, availability_zone=args.zone, region=args.region,
            metadata=lb.metadata, description=lb.describe(f"{role} data"), opts=child,
        )
        instance = openstack.compute.Instance(
            f"{name}-{role}-vm", name=f"{lb.platform}-{role}", flavor_name=vm.flavor,
            image_name=args.image_for_vms, key_pair=self.keypair.name, availability_zone=args.zone,
            networks=[openstack.compute.InstanceNetworkArgs(port=port.id)],
            metadata=lb.metadata, tags=lb.tags, region=args.region, opts=child,
        )
        openstack.compute.VolumeAttach(
            f"{name}-{role}-volume-attach", instance_id=instance.id, volume_id=volume.id, region=args.region,
            opts=child,
        )
        return instance


def _pinned_address(role: str, args: PlatformFoundationArgs) -> str | None:
    return pinned_address(role, args.proxy_cidr, args.admin_cidr, args.services_cidr)


def _paas_rules(role: str, args: PlatformFoundationArgs) -> list[_Rule]:
    return paas_rules(role, args.admin_cidr, args.services_cidr, args.agency_cidr_pool)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")
