"""Inline Pulumi programs built from the spec: stack `platform`, `agency-<slug>` and `app-<slug>-<app>`.
The Automation API runner and the offline plan run exactly these functions."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from govcloud_platform.spec import Agency, Spec
from govcloud_stacks.naming import ORGANIZATION, PLATFORM_STACK, agency_stack, app_stack, project_name
from govcloud_stacks.paas import agency_subnet


@dataclass(frozen=True)
class StackDef:
    name: str
    kind: str  # platform | agency | app
    agency: str | None
    program: Callable[[], None]


def agency_cidr(spec: Spec, index: int) -> str:
    """The index-th /24 of the pool; appending agencies to the spec keeps the others' subnets."""
    return agency_subnet(spec.platform.openstack.agency_cidr_pool, index)


def platform_program(spec: Spec) -> Callable[[], None]:
    def program() -> None:
        import pulumi

        from govcloud_stacks.foundation import PlatformFoundation, PlatformFoundationArgs
        from govcloud_stacks.labels import Labels

        os_ = spec.platform.openstack
        foundation = PlatformFoundation(
            "foundation",
            PlatformFoundationArgs(
                labels=Labels(spec.platform.name), region=os_.region, zone=os_.zone,
                domain_name=os_.platform_domain, external_network=os_.external_network,
                services_cidr=os_.services_cidr, proxy_cidr=os_.proxy_cidr, admin_cidr=os_.admin_cidr,
                agency_cidr_pool=os_.agency_cidr_pool, dns_nameservers=tuple(os_.dns_nameservers),
                encrypted_volume_type=os_.encrypted_volume_type, ssh_public_key=os_.ssh_public_key,
                image_for_vms=os_.app_image, flavors=tuple(os_.flavors), images=tuple(os_.images),
                paas_vms=tuple(os_.paas_vms.items()),
            ),
        )
        pulumi.export("project_id", foundation.project.id)
        pulumi.export("network_id", foundation.network.id)
        # What `govcloud_platform.iaas.topology` makes the `hosts` topology of: each PaaS VM's fixed address
        # by role (the bastion is the jump host), and the login user of the VMs' image.
        pulumi.export("paas_hosts", {role: port.all_fixed_ips.apply(_first_ipv4)
                                     for role, port in foundation.ports.items()})
        image = next((i for i in os_.images if i.name == os_.app_image), None)
        pulumi.export("ssh_user", image.original_user if image is not None else "root")

    return program


def _first_ipv4(addresses: Sequence[str] | None) -> str | None:
    return next((a for a in addresses or [] if ipaddress.ip_address(a).version == 4), None)


def agency_program(spec: Spec, agency: Agency, index: int) -> Callable[[], None]:
    def program() -> None:
        import pulumi

        from govcloud_stacks.labels import Labels
        from govcloud_stacks.tenant import AgencyTenant, AgencyTenantArgs

        os_ = spec.platform.openstack
        tenant = AgencyTenant(
            agency.slug,
            AgencyTenantArgs(
                labels=Labels(spec.platform.name, agency.slug), display_name=agency.name, region=os_.region,
                quota=spec.resolve_quota(agency.quota), cidr=agency_cidr(spec, index),
                external_network=os_.external_network, dns_nameservers=tuple(os_.dns_nameservers),
                ssh_public_key=os_.ssh_public_key,
                shared_domain=os_.platform_domain if os_.domain_mode == "shared" else None,
            ),
        )
        pulumi.export("project_id", tenant.project.id)
        pulumi.export("network_id", tenant.network.id)
        pulumi.export("subnet_id", tenant.subnet.id)
        pulumi.export("keypair", tenant.keypair.name)

    return program


def app_program(spec: Spec, agency: Agency, app: str) -> Callable[[], None]:
    def program() -> None:
        import pulumi

        from govcloud_stacks.app import AppDeployment, AppDeploymentArgs
        from govcloud_stacks.cloud_init import cloud_init
        from govcloud_stacks.labels import Labels

        os_ = spec.platform.openstack
        ref = pulumi.StackReference(
            f"{ORGANIZATION}/{project_name(spec)}/{agency_stack(agency.slug)}"
        )
        AppDeployment(
            f"{agency.slug}-{app}",
            AppDeploymentArgs(
                labels=Labels(spec.platform.name, agency.slug), app=app, region=os_.region, zone=os_.zone,
                project_id=ref.require_output("project_id"), network_id=ref.require_output("network_id"),
                subnet_id=ref.require_output("subnet_id"), keypair=ref.require_output("keypair"),
                flavor=os_.app_flavor, image=os_.app_image, volume_type=os_.encrypted_volume_type,
                volume_gb=os_.app_volume_gb, proxy_cidr=os_.proxy_cidr, admin_cidr=os_.admin_cidr,
                user_data=cloud_init(app, agency.slug, spec.platform.name, spec.platform.domain),
            ),
        )

    return program


def stack_defs(spec: Spec, agency: str | None = None) -> list[StackDef]:
    """Stacks in dependency order; with `agency`, only that agency's stacks (no platform). The programs are the
    `ec2` target's (govcloud_stacks.ec2_programs) when `platform.target` is `ec2`, else OpenStack's."""
    platform_of, agency_of, app_of = platform_program, agency_program, app_program
    if spec.platform.target == "ec2":
        from govcloud_stacks import ec2_programs

        platform_of, agency_of, app_of = (ec2_programs.platform_program, ec2_programs.agency_program,
                                          ec2_programs.app_program)
    out: list[StackDef] = []
    if agency is None:
        out.append(StackDef(PLATFORM_STACK, "platform", None, platform_of(spec)))
    for index, a in enumerate(spec.agencies):
        if agency is not None and a.slug != agency:
            continue
        out.append(StackDef(agency_stack(a.slug), "agency", a.slug, agency_of(spec, a, index)))
        for app in a.apps:
            out.append(StackDef(app_stack(a.slug, app), "app", a.slug, app_of(spec, a, app)))
    return out
