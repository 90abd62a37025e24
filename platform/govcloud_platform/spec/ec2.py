"""Settings of the `ec2` target: an EC2-compatible (Eucalyptus-style) private cloud driven by pulumi-aws with the
cloud's own endpoints. Every field has a default, as in `platform.openstack`, so a spec that names the target and
nothing else validates and plans with zero violations. The provider is configured so that it never calls AWS
itself: custom endpoints for EC2, S3, IAM and STS, and the skip* flags (no credential validation, no account id
lookup, no instance-metadata probe, no region-name check), path-style S3 URLs."""

from __future__ import annotations

import ipaddress
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from govcloud_platform.spec.openstack import (
    Capacity,
    PaasVm,
    PlatformHostsSsh,
    check_backend_url,
    check_cidr,
    default_paas_vms,
)

_AMI = re.compile(r"^[ae]mi-[0-9a-f]{8,17}$")  # ami- on AWS and its clones, emi- on Eucalyptus
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Ec2Endpoints(_Model):
    """The cloud's service URLs (Eucalyptus names them compute., objectstorage., euare. and tokens.)."""

    ec2: str = "https://compute.cloud.gov.example:8773/"
    s3: str = "https://objectstorage.cloud.gov.example:8773/"
    iam: str = "https://euare.cloud.gov.example:8773/"
    sts: str = "https://tokens.cloud.gov.example:8773/"

    @field_validator("ec2", "s3", "iam", "sts")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+(/\S*)?$", value):
            raise ValueError(f"invalid endpoint {value!r}: use http(s)://host[:port]/[path]")
        return value


def default_amis() -> dict[str, str]:
    """Image name (as in `platform.openstack.images`) -> machine image id. Placeholders: replace them with the
    cloud's ids (`govcloud iaas preview` checks they exist before Pulumi runs)."""
    return {"Debian 12": "emi-0000d012", "Ubuntu 24.04": "emi-00002404"}


def default_instance_types() -> dict[str, str]:
    """SCS flavor name -> instance type of the same vCPUs and RAM (those the PaaS VMs and apps use)."""
    return {
        "SCS-1V-2": "t2.small",     # 1 vCPU, 2 GiB
        "SCS-2V-4": "t2.medium",    # 2 vCPU, 4 GiB
        "SCS-2V-8": "m5.large",     # 2 vCPU, 8 GiB
        "SCS-4V-16": "m5.xlarge",   # 4 vCPU, 16 GiB
        "SCS-8V-32": "m5.2xlarge",  # 8 vCPU, 32 GiB
    }


class Ec2Settings(_Model):
    region: str = Field("eucalyptus", description="the cloud's region name (Eucalyptus' default is `eucalyptus`)")
    allowed_regions: list[str] = Field(default_factory=lambda: ["eucalyptus"])
    allowed_availability_zones: list[str] = Field(default_factory=lambda: ["one"])
    availability_zone: str | None = Field(None, description="AZ for subnets, VMs and volumes; first allowed if unset")
    endpoints: Ec2Endpoints = Field(default_factory=Ec2Endpoints)
    profile: str | None = Field(None, description="AWS shared-credentials profile; default: AWS_* variables")
    skip_credentials_validation: bool = Field(True, description="aws:skipCredentialsValidation (no STS call)")
    skip_requesting_account_id: bool = Field(True, description="aws:skipRequestingAccountId")
    skip_metadata_api_check: bool = Field(True, description="aws:skipMetadataApiCheck (no 169.254.169.254)")
    skip_region_validation: bool = Field(True, description="aws:skipRegionValidation (region names of the cloud)")
    s3_use_path_style: bool = Field(True, description="aws:s3UsePathStyle (http://host/bucket, not bucket.host)")
    services_cidr: str = Field("10.10.0.0/24", description="the platform's VPC (and its one subnet)")
    agency_cidr_pool: str = Field("10.64.0.0/10", description="each agency's VPC is the n-th /24 of this pool")
    proxy_cidr: str = Field("10.10.0.10/32", description="the platform's reverse proxy (only source of app traffic)")
    admin_cidr: str = Field("10.10.0.5/32", description="the bastion; SSH to VMs is only allowed from here")
    vpc_peering: bool = Field(True, description="peer each agency VPC with the platform's (the shared services)")
    ssh_public_key: str = Field(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGovCloudPlaceholderKeyReplaceMe0000000000 govcloud",
        description="operator key: imported once as <platform>-operator, and per agency (replace in production)",
    )
    app_flavor: str = "SCS-2V-4"
    app_image: str = "Debian 12"
    app_volume_gb: int = Field(20, ge=1, le=16384)
    root_volume_gb: int = Field(10, ge=1, le=16384)
    amis: dict[str, str] = Field(default_factory=default_amis)
    image_users: dict[str, str] = Field(default_factory=lambda: {"Debian 12": "debian", "Ubuntu 24.04": "ubuntu"},
                                        description="login user of each image (the hosts path's SSH user)")
    instance_types: dict[str, str] = Field(default_factory=default_instance_types)
    kms_key_id: str | None = Field(None, description="KMS key of the EBS volumes; the cloud's default key if unset")
    paas_vms: dict[str, PaasVm] = Field(default_factory=default_paas_vms)
    capacity: Capacity = Capacity()
    backend_url: str = Field(
        "", description="Pulumi state backend: empty for file://<home>/pulumi/state, or s3://bucket[/prefix] on "
        "the cloud's object storage (endpoints.s3)"
    )
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

    @field_validator("amis")
    @classmethod
    def _amis(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [f"{k}: {v!r}" for k, v in value.items() if not _AMI.fullmatch(v)]
        if bad:
            raise ValueError(f"invalid machine image id(s) {', '.join(bad)}: use ami-<hex> or emi-<hex>")
        return value

    @field_validator("instance_types")
    @classmethod
    def _types(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [f"{k}: {v!r}" for k, v in value.items() if not _INSTANCE_TYPE.fullmatch(v)]
        if bad:
            raise ValueError(f"invalid instance type(s) {', '.join(bad)}: use family.size, like m5.large")
        return value

    @model_validator(mode="after")
    def _references(self) -> Ec2Settings:
        for role, vm in self.paas_vms.items():
            if vm.flavor not in self.instance_types:
                raise ValueError(f"paas_vms.{role}.flavor {vm.flavor!r} is not among `instance_types`")
        if self.app_flavor not in self.instance_types:
            raise ValueError(f"app_flavor {self.app_flavor!r} is not among `instance_types`")
        if self.app_image not in self.amis:
            raise ValueError(f"app_image {self.app_image!r} is not among `amis`")
        pool = ipaddress.ip_network(self.agency_cidr_pool)
        if pool.prefixlen > 24:
            raise ValueError(f"agency_cidr_pool {pool} is smaller than one /24")
        if pool.overlaps(ipaddress.ip_network(self.services_cidr)):
            raise ValueError(f"agency_cidr_pool {pool} overlaps services_cidr {self.services_cidr}: peered VPCs "
                             "must not overlap")
        return self

    @property
    def zone(self) -> str:
        if self.availability_zone:
            return self.availability_zone
        return self.allowed_availability_zones[0] if self.allowed_availability_zones else "one"

    def instance_type(self, flavor: str) -> str:
        return self.instance_types[flavor]

    def provider_config(self) -> dict[str, str]:
        """The stack configuration of the aws provider: the cloud's endpoints, and never a call to AWS."""
        import json

        flag = {True: "true", False: "false"}
        config = {
            "aws:region": self.region,
            "aws:skipCredentialsValidation": flag[self.skip_credentials_validation],
            "aws:skipRequestingAccountId": flag[self.skip_requesting_account_id],
            "aws:skipMetadataApiCheck": flag[self.skip_metadata_api_check],
            "aws:skipRegionValidation": flag[self.skip_region_validation],
            "aws:s3UsePathStyle": flag[self.s3_use_path_style],
            "aws:endpoints": json.dumps([self.endpoints.model_dump()]),
        }
        if self.profile:
            config["aws:profile"] = self.profile
        return config
