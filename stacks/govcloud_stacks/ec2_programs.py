"""Inline Pulumi programs of the `ec2` target: the same stacks as on OpenStack (`platform`, `agency-<slug>`,
`app-<slug>-<app>`), built from `platform.ec2`. `govcloud_stacks.programs.stack_defs` hands them out when
`platform.target` is `ec2`; the runner and the offline plan run exactly these functions."""

from __future__ import annotations

from collections.abc import Callable

from govcloud_platform.spec import Agency, Spec
from govcloud_stacks.naming import ORGANIZATION, agency_stack, project_name
from govcloud_stacks.paas import agency_subnet

OPERATOR_KEY = "{platform}-operator"  # the key pair govcloud imports with boto3 before Pulumi runs


def operator_key_name(spec: Spec) -> str:
    return OPERATOR_KEY.format(platform=spec.platform.name)


def agency_cidr(spec: Spec, index: int) -> str:
    """The index-th /24 of the pool (the agency's VPC); appending agencies keeps the others'."""
    return agency_subnet(spec.platform.ec2.agency_cidr_pool, index)


def platform_program(spec: Spec) -> Callable[[], None]:
    def program() -> None:
        import pulumi

        from govcloud_stacks.ec2 import Ec2Foundation, Ec2FoundationArgs
        from govcloud_stacks.labels import Labels

        ec2 = spec.platform.ec2
        foundation = Ec2Foundation(
            "foundation",
            Ec2FoundationArgs(
                labels=Labels(spec.platform.name), region=ec2.region, zone=ec2.zone,
                services_cidr=ec2.services_cidr, proxy_cidr=ec2.proxy_cidr, admin_cidr=ec2.admin_cidr,
                agency_cidr_pool=ec2.agency_cidr_pool, key_name=operator_key_name(spec), ami=ec2.amis[ec2.app_image],
                instance_types=dict(ec2.instance_types), root_volume_gb=ec2.root_volume_gb,
                kms_key_id=ec2.kms_key_id, paas_vms=tuple(ec2.paas_vms.items()),
            ),
        )
        pulumi.export("vpc_id", foundation.vpc.id)
        pulumi.export("subnet_id", foundation.subnet.id)
        pulumi.export("route_table_id", foundation.route_table.id)
        # What `govcloud_platform.iaas.topology` makes the `hosts` topology of, as on OpenStack.
        pulumi.export("paas_hosts", {role: nic.private_ip for role, nic in foundation.interfaces.items()})
        pulumi.export("ssh_user", ec2.image_users.get(ec2.app_image, "root"))

    return program


def agency_program(spec: Spec, agency: Agency, index: int) -> Callable[[], None]:
    def program() -> None:
        import pulumi

        from govcloud_stacks.ec2 import Ec2Tenant, Ec2TenantArgs
        from govcloud_stacks.labels import Labels

        ec2 = spec.platform.ec2
        tenant = Ec2Tenant(
            agency.slug,
            Ec2TenantArgs(
                labels=Labels(spec.platform.name, agency.slug), display_name=agency.name, region=ec2.region,
                zone=ec2.zone, quota=spec.resolve_quota(agency.quota), cidr=agency_cidr(spec, index),
                services_cidr=ec2.services_cidr, ssh_public_key=ec2.ssh_public_key, peering=ec2.vpc_peering,
            ),
        )
        pulumi.export("vpc_id", tenant.vpc.id)
        pulumi.export("subnet_id", tenant.subnet.id)
        pulumi.export("keypair", tenant.keypair.key_name)

    return program


def app_program(spec: Spec, agency: Agency, app: str) -> Callable[[], None]:
    def program() -> None:
        import pulumi

        from govcloud_stacks.cloud_init import cloud_init
        from govcloud_stacks.ec2 import Ec2App, Ec2AppArgs
        from govcloud_stacks.labels import Labels

        ec2 = spec.platform.ec2
        ref = pulumi.StackReference(f"{ORGANIZATION}/{project_name(spec)}/{agency_stack(agency.slug)}")
        Ec2App(
            f"{agency.slug}-{app}",
            Ec2AppArgs(
                labels=Labels(spec.platform.name, agency.slug), app=app, region=ec2.region, zone=ec2.zone,
                vpc_id=ref.require_output("vpc_id"), subnet_id=ref.require_output("subnet_id"),
                keypair=ref.require_output("keypair"), instance_type=ec2.instance_type(ec2.app_flavor),
                ami=ec2.amis[ec2.app_image], volume_gb=ec2.app_volume_gb, root_volume_gb=ec2.root_volume_gb,
                proxy_cidr=ec2.proxy_cidr, admin_cidr=ec2.admin_cidr, kms_key_id=ec2.kms_key_id,
                user_data=cloud_init(app, agency.slug, spec.platform.name, spec.platform.domain),
            ),
        )

    return program
