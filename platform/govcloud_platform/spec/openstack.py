"""Settings of the `openstack` target: where the IaaS lives, what the platform offers (SCS flavors and
images), what it can hold (capacity), and where Pulumi keeps its state. Every field has a default so
that a spec written before the IaaS layer existed stays valid and plans with zero violations."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


def check_cidr(value: str) -> str:
    """A settings CIDR (both IaaS targets): a network address with its prefix, else a clear error."""
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"invalid CIDR {value!r}: {exc}") from None
    return value


def check_backend_url(value: str) -> str:
    """The Pulumi state backend of both IaaS targets: empty (the home's file backend), file:// or s3://."""
    if value and not value.startswith(("file://", "s3://")):
        raise ValueError("backend_url must be empty, file://<path> or s3://<bucket>[/<prefix>]")
    return value

class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FlavorSpec(_Model):
    """A compute flavor. `name` follows scs-0100 (`SCS-<n><V|L|T|C>-<ram GiB>[-<disk GB>[s|n|h|p]]`)."""

    name: str
    vcpus: int = Field(..., ge=1, le=512)
    ram_mb: int = Field(..., ge=512)
    disk_gb: int = Field(0, ge=0, description="root disk; 0 means boot from volume")
    cpu_type: Literal["crowded-core", "shared-core", "dedicated-thread", "dedicated-core"] = "shared-core"
    disk_type: Literal["network", "local-hdd", "ssd", "nvme"] = "network"


def _flavor(name: str, vcpus: int, ram_gib: float, disk: int = 0, disk_type: str = "network") -> FlavorSpec:
    cpu = "crowded-core" if "L-" in name else "shared-core"
    return FlavorSpec.model_validate(
        {"name": name, "vcpus": vcpus, "ram_mb": int(ram_gib * 1024), "disk_gb": disk, "cpu_type": cpu,
         "disk_type": disk_type}
    )


def scs_mandatory_flavors() -> list[FlavorSpec]:
    """The mandatory flavors of scs-0103-v1."""
    return [
        _flavor("SCS-1L-1", 1, 1),
        _flavor("SCS-1V-2", 1, 2),
        _flavor("SCS-1V-4", 1, 4),
        _flavor("SCS-1V-8", 1, 8),
        _flavor("SCS-2V-4", 2, 4),
        _flavor("SCS-2V-4-20s", 2, 4, 20, "ssd"),
        _flavor("SCS-2V-8", 2, 8),
        _flavor("SCS-2V-16", 2, 16),
        _flavor("SCS-4V-8", 4, 8),
        _flavor("SCS-4V-16", 4, 16),
        _flavor("SCS-4V-16-100s", 4, 16, 100, "ssd"),
        _flavor("SCS-4V-32", 4, 32),
        _flavor("SCS-8V-16", 8, 16),
        _flavor("SCS-8V-32", 8, 32),
        _flavor("SCS-16V-32", 16, 32),
    ]


class ImageSpec(_Model):
    """A public image. `properties` carries scs-0102 metadata beyond the fields modelled here."""

    name: str
    source_url: str = Field(..., description="where the image is downloaded from (scs-0102 image_source)")
    os_distro: str
    os_version: str
    architecture: str = "x86_64"
    hw_disk_bus: str = "scsi"
    hypervisor_type: str = "qemu"
    original_user: str
    build_date: str = Field(..., pattern=r"^\d{4}-\d{2}-\d{2}$")
    replace_frequency: Literal["yearly", "quarterly", "monthly", "weekly", "daily", "critical_bug", "never"] = (
        "monthly"
    )
    provided_until: str = Field("none", description="YYYY-MM-DD, `none` or `notice`")
    uuid_validity: str = Field("last-3", description="`none`, `last-<N>`, `YYYY-MM-DD`, `notice` or `forever`")
    min_disk_gb: int = Field(8, ge=1)
    min_ram_mb: int = Field(512, ge=128)
    properties: dict[str, str] = Field(default_factory=dict)


def default_images() -> list[ImageSpec]:
    return [
        ImageSpec(
            name="Debian 12",
            source_url="https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2",
            os_distro="debian",
            os_version="12",
            original_user="debian",
            build_date="2026-11-01",
        ),
        ImageSpec(
            name="Ubuntu 24.04",
            source_url="https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img",
            os_distro="ubuntu",
            os_version="24.04",
            original_user="ubuntu",
            build_date="2026-11-01",
        ),
    ]


class Capacity(_Model):
    """What the cloud can give to agencies in total; the `quota-fits-capacity` policy checks the sum."""

    instances: int = Field(10_000, ge=0)
    cores: int = Field(40_000, ge=0)
    ram_mb: int = Field(160 * 1024 * 1024, ge=0)
    volumes: int = Field(20_000, ge=0)
    volume_gb: int = Field(500_000, ge=0)
    floating_ips: int = Field(2_000, ge=0)
    networks: int = Field(5_000, ge=0)


class PaasVm(_Model):
    """A VM of the platform: database, object-storage gateway, identity, backup, bastion, reverse proxy."""

    flavor: str
    volume_gb: int = Field(20, ge=1, le=65536)


def default_paas_vms() -> dict[str, PaasVm]:
    return {
        "database": PaasVm(flavor="SCS-4V-16", volume_gb=200),
        "storage": PaasVm(flavor="SCS-2V-8", volume_gb=500),
        "identity": PaasVm(flavor="SCS-2V-4", volume_gb=20),
        "backup": PaasVm(flavor="SCS-2V-8", volume_gb=1000),
        "bastion": PaasVm(flavor="SCS-1V-2", volume_gb=10),
        "proxy": PaasVm(flavor="SCS-2V-4", volume_gb=10),
    }


class PlatformHostsSsh(_Model):
    """How this machine reaches the platform's VMs once `govcloud iaas up` made them (`govcloud up` then deploys
    onto them as onto a `hosts` topology: docs/topology.md). Paths are relative to the spec's directory."""

    key_file: str | None = Field(None, description="the operator's private key (its public half: ssh_public_key)")
    known_hosts: str | None = Field(None, description="the VMs' host keys (checked strictly; default "
                                                      "~/.ssh/known_hosts)")
    bastion_address: str | None = Field(
        None, description="where this machine reaches the bastion, when not at its fixed address (a floating IP)"
    )
    root: str = Field("/var/lib/govcloud", description="the govcloud directory on each VM; `{host}` in it is "
                      "replaced by the VM's name (its role), for VMs that share a file system")

    @field_validator("bastion_address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None:
            ipaddress.ip_address(value)  # ValueError names it
        return value

    @field_validator("key_file", "known_hosts", "root")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or any(c in value for c in '\x00\n\r"')):
            raise ValueError('a path must be a non-empty single line without \'"\'')
        return value


class OpenStackSettings(_Model):
    cloud: str = Field("govcloud", description="name of the cloud in clouds.yaml (OS_CLOUD)")
    region: str = "RegionOne"
    allowed_regions: list[str] = Field(default_factory=lambda: ["RegionOne"])
    allowed_availability_zones: list[str] = Field(default_factory=lambda: ["nova"])
    availability_zone: str | None = Field(None, description="AZ for VMs and volumes; first allowed AZ if unset")
    external_network: str = "public"
    domain_mode: Literal["per-agency", "shared"] = Field(
        "per-agency", description="one Keystone domain per agency, or all agency projects in the platform domain"
    )
    platform_domain: str = Field("govcloud", description="Keystone domain of the platform (and of agencies if shared)")
    encrypted_volume_type: str = Field("encrypted", description="the only volume type the policies allow")
    services_cidr: str = Field("10.10.0.0/24", description="shared services network of the platform")
    agency_cidr_pool: str = Field("10.64.0.0/10", description="agency subnets are /24s carved from this pool")
    proxy_cidr: str = Field("10.10.0.10/32", description="the platform's reverse proxy (only source of app traffic)")
    admin_cidr: str = Field("10.10.0.5/32", description="the bastion; SSH to VMs is only allowed from here")
    dns_nameservers: list[str] = Field(default_factory=lambda: ["9.9.9.9", "149.112.112.112"])
    ssh_public_key: str = Field(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGovCloudPlaceholderKeyReplaceMe0000000000 govcloud",
        description="operator key installed on every VM (replace in production)",
    )
    app_flavor: str = "SCS-2V-4"
    app_image: str = "Debian 12"
    app_volume_gb: int = Field(20, ge=1, le=16384)
    flavors: list[FlavorSpec] = Field(default_factory=scs_mandatory_flavors)
    images: list[ImageSpec] = Field(default_factory=default_images)
    paas_vms: dict[str, PaasVm] = Field(default_factory=default_paas_vms)
    capacity: Capacity = Capacity()
    backend_url: str = Field(
        "", description="Pulumi state backend: empty for file://<home>/pulumi/state, or s3://bucket[/prefix]"
    )
    s3_endpoint: str | None = Field(None, description="object storage endpoint for an s3:// backend")
    hosts: PlatformHostsSsh = Field(default_factory=PlatformHostsSsh,
                                    description="how `govcloud up` reaches the platform's VMs after `iaas up`")

    @field_validator("services_cidr", "agency_cidr_pool", "proxy_cidr", "admin_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        return check_cidr(value)

    @field_validator("backend_url")
    @classmethod
    def _backend(cls, value: str) -> str:
        return check_backend_url(value)

    @model_validator(mode="after")
    def _references(self) -> OpenStackSettings:
        names = {f.name for f in self.flavors}
        for role, vm in self.paas_vms.items():
            if vm.flavor not in names:
                raise ValueError(f"paas_vms.{role}.flavor {vm.flavor!r} is not among `flavors`")
        if self.app_flavor not in names:
            raise ValueError(f"app_flavor {self.app_flavor!r} is not among `flavors`")
        if self.app_image not in {i.name for i in self.images}:
            raise ValueError(f"app_image {self.app_image!r} is not among `images`")
        return self

    @property
    def zone(self) -> str:
        """The availability zone used for VMs and volumes."""
        if self.availability_zone:
            return self.availability_zone
        return self.allowed_availability_zones[0] if self.allowed_availability_zones else "nova"
