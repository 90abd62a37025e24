"""Pass and fail cases for every policy, through the pulumi_policy objects' own validate(args, report)."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)

from govcloud_policies import RULES, PolicyContext, build_policies
from govcloud_policies.scs_0102 import MANDATORY_ATTRIBUTES, MANDATORY_PROPERTIES

CTX = PolicyContext(platform="gc", capacity={"cores": 16, "instances": 10})
POLICIES = {p.name: p for p in build_policies(CTX)}
OPTS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
TAGS = ["govcloud:agency=health", "govcloud:platform=gc"]
RULE = "openstack:networking/secGroupRule:SecGroupRule"
VOLUME = "openstack:blockstorage/volume:Volume"
FLAVOR = "openstack:compute/flavor:Flavor"
IMAGE = "openstack:images/image:Image"
NETWORK = "openstack:networking/network:Network"
COMPUTE_QUOTA = "openstack:compute/quotaSetV2:QuotaSetV2"
GOOD_IMAGE = {
    "architecture": "x86_64", "hw_disk_bus": "scsi", "hypervisor_type": "qemu", "os_distro": "debian",
    "os_version": "12", "image_source": "https://example/img", "image_build_date": "2026-11-01",
    "image_original_user": "debian", "replace_frequency": "monthly", "provided_until": "none",
    "uuid_validity": "last-3", "image_description": "https://www.debian.org/releases/bookworm/",
}
GOOD_IMAGE_PROPS = {"properties": GOOD_IMAGE, "minDiskGb": 8.0, "minRamMb": 512.0}
PROXY = "govcloud:role=proxy [govcloud:agency=platform govcloud:platform=gc]"


def rule(port: int, prefix: str | None, **extra: Any) -> dict[str, Any]:
    props: dict[str, Any] = {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
                             "portRangeMin": float(port), "portRangeMax": float(port), **extra}
    if prefix is not None:
        props["remoteIpPrefix"] = prefix
    return props


def flavor(name: str, vcpus: int, ram: int) -> dict[str, Any]:
    return {"name": name, "vcpus": float(vcpus), "ram": float(ram),
            "extraSpecs": {"scs:name-v2": name, "scs:cpu-type": "shared-core"}}


CASES: list[tuple[str, str, dict[str, Any], bool]] = [
    # (policy, resource type, props, violates)
    ("no-public-ingress", RULE, rule(8000, "10.10.0.10/32"), False),
    ("no-public-ingress", RULE, rule(443, "0.0.0.0/0", description=PROXY), False),
    ("no-public-ingress", RULE, rule(443, "0.0.0.0/0"), True),
    ("no-public-ingress", RULE, rule(8080, "::/0", description=PROXY), True),
    ("no-public-ingress", RULE, {"direction": "ingress", "ethertype": "IPv4"}, True),
    ("no-public-ingress", RULE, {"direction": "ingress", "ethertype": "IPv4", "remoteGroupId": "sg"}, False),
    ("no-public-admin-ports", RULE, rule(22, "10.10.0.5/32"), False),
    ("no-public-admin-ports", RULE, rule(22, "0.0.0.0/0"), True),
    ("no-public-admin-ports", RULE, rule(5432, "::/0"), True),
    ("no-public-admin-ports", RULE, {"direction": "ingress", "protocol": "tcp", "remoteIpPrefix": "0.0.0.0/0"}, True),
    ("encrypted-volumes-only", VOLUME, {"size": 10.0, "volumeType": "encrypted"}, False),
    ("encrypted-volumes-only", VOLUME, {"size": 10.0, "volumeType": "__DEFAULT__"}, True),
    ("encrypted-volumes-only", VOLUME, {"size": 10.0}, True),
    ("data-residency", VOLUME, {"region": "RegionOne", "availabilityZone": "nova"}, False),
    ("data-residency", VOLUME, {"region": "us-east-1"}, True),
    ("data-residency", VOLUME, {"region": "RegionOne", "availabilityZone": "az-abroad"}, True),
    ("resources-tagged", NETWORK, {"name": "n", "tags": TAGS}, False),
    ("resources-tagged", FLAVOR, {"description": f"x [{' '.join(TAGS)}]"}, False),
    ("resources-tagged", VOLUME, {"metadata": {"govcloud:agency": "health", "govcloud:platform": "gc"}}, False),
    ("resources-tagged", NETWORK, {"name": "n", "tags": ["govcloud:agency=health"]}, True),
    ("resources-tagged", NETWORK, {"name": "n"}, True),
    ("scs-flavor-names", FLAVOR, flavor("SCS-2V-4", 2, 4096), False),
    ("scs-flavor-names", FLAVOR, flavor("SCS-4V-16-100s", 4, 16384), False),
    ("scs-flavor-names", FLAVOR, flavor("m1.small", 1, 2048), True),
    ("scs-flavor-names", FLAVOR, flavor("SCS-2V-4", 4, 4096), True),
    ("scs-flavor-names", FLAVOR, {"name": "SCS-2V-4", "vcpus": 2.0, "ram": 4096.0}, True),
    ("scs-image-metadata", IMAGE, GOOD_IMAGE_PROPS, False),
    ("scs-image-metadata", IMAGE, {**GOOD_IMAGE_PROPS, "properties": {**GOOD_IMAGE, "image_source": "private",
                                   "provided_until": "2028-06-30", "uuid_validity": "2028-12-31",
                                   "image_build_date": "2026-11-01 04:30"}}, False),
    *[("scs-image-metadata", IMAGE, {**GOOD_IMAGE_PROPS, "properties": {**GOOD_IMAGE, key: value}}, True)
      for key, value in (("replace_frequency", "sometimes"), ("architecture", "amd64"), ("hw_disk_bus", "ide"),
                         ("image_source", "cloud.debian.org"), ("uuid_validity", "a while"),
                         ("provided_until", "soon"), ("image_build_date", "1 Nov 2026"), ("os_purpose", "misc"),
                         ("image_description", "  "))],
]


# The ec2 target's resource types (pulumi-aws): a pass and a fail for each rule.
AWS_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
AWS_SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
AWS_SG = "aws:ec2/securityGroup:SecurityGroup"
AWS_DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
AWS_VOLUME = "aws:ebs/volume:Volume"
AWS_INSTANCE = "aws:ec2/instance:Instance"
AWS_VPC = "aws:ec2/vpc:Vpc"
AWS_TAGS = {"govcloud:agency": "health", "govcloud:platform": "gc"}
AWS_PROXY = {"govcloud:agency": "platform", "govcloud:platform": "gc", "govcloud:role": "proxy"}


def aws_rule(port: int, cidr: str | None, protocol: str = "tcp", **extra: Any) -> dict[str, Any]:
    props: dict[str, Any] = {"ipProtocol": protocol, "fromPort": float(port), "toPort": float(port), **extra}
    if cidr is not None:
        props["cidrIpv6" if ":" in cidr else "cidrIpv4"] = cidr
    return props


def aws_block(port: int, cidrs: list[str], **extra: Any) -> dict[str, Any]:
    return {"protocol": "tcp", "fromPort": float(port), "toPort": float(port), "cidrBlocks": cidrs, **extra}


AWS_CASES: list[tuple[str, str, dict[str, Any], bool]] = [
    ("no-public-ingress", AWS_INGRESS, aws_rule(8000, "10.10.0.10/32"), False),
    ("no-public-ingress", AWS_INGRESS, aws_rule(443, "0.0.0.0/0", tags=AWS_PROXY), False),
    ("no-public-ingress", AWS_INGRESS, aws_rule(443, "::/0", tags=AWS_PROXY), False),
    ("no-public-ingress", AWS_INGRESS, aws_rule(443, "0.0.0.0/0", tags=AWS_TAGS), True),
    ("no-public-ingress", AWS_INGRESS, aws_rule(8080, "::/0", tags=AWS_PROXY), True),
    ("no-public-ingress", AWS_INGRESS, {"ipProtocol": "-1"}, True),  # no source at all
    ("no-public-ingress", AWS_INGRESS, aws_rule(0, None, "-1", referencedSecurityGroupId="sg-1"), False),
    ("no-public-ingress", AWS_SG, {"ingress": [aws_block(8000, ["10.10.0.10/32"])]}, False),
    ("no-public-ingress", AWS_SG, {"ingress": [aws_block(8000, ["10.10.0.10/32"]),
                                               aws_block(8000, [], ipv6CidrBlocks=["::/0"])]}, True),
    ("no-public-ingress", AWS_DEFAULT_SG, {"ingress": [{"protocol": "-1", "fromPort": 0.0, "toPort": 0.0,
                                                        "self": True}]}, False),
    ("no-public-ingress", AWS_DEFAULT_SG, {"ingress": [{"protocol": "-1", "fromPort": 0.0, "toPort": 0.0,
                                                        "cidrBlocks": ["0.0.0.0/0"]}]}, True),
    ("no-public-ingress", AWS_SG_RULE, {"type": "egress", "protocol": "-1", "cidrBlocks": ["0.0.0.0/0"]}, False),
    ("no-public-ingress", AWS_SG_RULE, {"type": "ingress", "protocol": "tcp", "fromPort": 8000.0,
                                        "toPort": 8000.0, "cidrBlocks": ["0.0.0.0/0"]}, True),
    ("no-public-admin-ports", AWS_INGRESS, aws_rule(22, "10.10.0.5/32"), False),
    ("no-public-admin-ports", AWS_INGRESS, aws_rule(443, "0.0.0.0/0", tags=AWS_PROXY), False),
    ("no-public-admin-ports", AWS_INGRESS, aws_rule(22, "0.0.0.0/0", tags=AWS_PROXY), True),
    ("no-public-admin-ports", AWS_INGRESS, aws_rule(0, "::/0", "-1"), True),  # every port, 22 included
    ("no-public-admin-ports", AWS_SG, {"ingress": [aws_block(5432, ["0.0.0.0/0"])]}, True),
    ("no-public-admin-ports", AWS_SG_RULE, {"type": "ingress", "protocol": "tcp", "fromPort": 3000.0,
                                            "toPort": 6000.0, "cidrBlocks": ["0.0.0.0/0"]}, True),
    ("encrypted-volumes-only", AWS_VOLUME, {"size": 10.0, "encrypted": True}, False),
    ("encrypted-volumes-only", AWS_VOLUME, {"size": 10.0, "encrypted": False}, True),
    ("encrypted-volumes-only", AWS_VOLUME, {"size": 10.0}, True),
    ("encrypted-volumes-only", AWS_INSTANCE, {"rootBlockDevice": {"encrypted": True}}, False),
    ("encrypted-volumes-only", AWS_INSTANCE, {"ami": "emi-1"}, True),  # root disk without encryption
    ("encrypted-volumes-only", AWS_INSTANCE, {"rootBlockDevice": {"encrypted": True},
                                              "ebsBlockDevices": [{"deviceName": "/dev/sdg"}]}, True),
    ("data-residency", AWS_VOLUME, {"region": "RegionOne", "availabilityZone": "nova"}, False),
    ("data-residency", AWS_VOLUME, {"region": "us-east-1"}, True),
    ("data-residency", AWS_INSTANCE, {"region": "RegionOne", "availabilityZone": "eu-central-1a"}, True),
    ("resources-tagged", AWS_VPC, {"cidrBlock": "10.64.0.0/24", "tags": AWS_TAGS}, False),
    ("resources-tagged", "aws:ec2/routeTableAssociation:RouteTableAssociation", {"subnetId": "s"}, False),
    ("resources-tagged", AWS_VPC, {"cidrBlock": "10.64.0.0/24", "tags": {"govcloud:agency": "health"}}, True),
    ("resources-tagged", AWS_INSTANCE, {"ami": "emi-1"}, True),
    ("resources-tagged", AWS_VPC, {"tags": {"govcloud:agency": "health", "govcloud:platform": "other"}}, True),
]
CASES += AWS_CASES


def _ids(case: tuple[str, str, dict[str, Any], bool]) -> str:
    return f"{case[0]}-{'fail' if case[3] else 'pass'}"


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_resource_policy(case: tuple[str, str, dict[str, Any], bool]) -> None:
    name, typ, props, violates = case
    urn = f"urn:pulumi:s::p::{typ}::r"
    reported: list[str] = []
    POLICIES[name].validate(ResourceValidationArgs(typ, props, urn, "r", OPTS, None),
                            lambda message, urn=None: reported.append(message))
    assert bool(reported) == violates, f"{name} on {urn} with {props}: {reported}"


@pytest.mark.parametrize("key", [*MANDATORY_PROPERTIES, *MANDATORY_ATTRIBUTES])
def test_scs_image_metadata_names_each_missing_mandatory_property(key: str) -> None:
    """scs-0102 v1's list, one property at a time: the image without it is reported, naming it."""
    props: dict[str, Any] = {**GOOD_IMAGE_PROPS, "properties": {k: v for k, v in GOOD_IMAGE.items() if k != key}}
    props = {k: v for k, v in props.items() if k != MANDATORY_ATTRIBUTES.get(key)}
    reported: list[str] = []
    POLICIES["scs-image-metadata"].validate(ResourceValidationArgs(IMAGE, props, "urn:i", "i", OPTS, None),
                                            lambda message, urn=None: reported.append(message))
    assert len(reported) == 1 and key in reported[0], reported


def test_scs_0102_list_is_the_standards() -> None:
    """The v1 mandatory keys (Standards/scs-0102-v1-image-metadata.md; Tests/scs-compatible-iaas.yaml, module
    scs-0102-v1): a change to the list must be a deliberate change to this test too."""
    v1_main = {"architecture", "min_disk", "min_ram", "os_version", "os_distro", "hw_disk_bus", "image_build_date",
               "image_original_user", "image_source", "image_description", "replace_frequency", "provided_until",
               "uuid_validity"}
    assert set(MANDATORY_PROPERTIES) | set(MANDATORY_ATTRIBUTES) == v1_main
    assert len(MANDATORY_PROPERTIES) == len(set(MANDATORY_PROPERTIES))
    assert set(MANDATORY_ATTRIBUTES) == {"min_disk", "min_ram"}


def _quota(cores: float) -> PolicyResource:
    return PolicyResource(COMPUTE_QUOTA, {"cores": cores, "instances": 1.0}, f"urn:q{cores}", "q", OPTS, None,
                          None, [], {})


def _limit(cores: int) -> PolicyResource:
    """An agency's quota on the ec2 target: Eucalyptus' IAM `Limit` statements in a user policy."""
    import json

    document = {"Statement": [{"Effect": "Limit", "Action": "ec2:*", "Resource": "*", "Condition": {
        "NumericLessThanEquals": {"ec2:quota-cputotalsize": str(cores), "ec2:quota-vminstancenumber": "1"}}},
        {"Effect": "Allow", "Action": "ec2:*", "Resource": "*",
         "Condition": {"NumericLessThanEquals": {"ec2:quota-cputotalsize": "1000"}}}]}  # not a quota: ignored
    return PolicyResource("aws:iam/userPolicy:UserPolicy", {"policy": json.dumps(document)}, f"urn:u{cores}", "u",
                          OPTS, None, None, [], {})


@pytest.mark.parametrize(("cores", "violates"), [((8, 8), False), ((8, 9), True)])
def test_quota_fits_capacity_on_ec2(cores: tuple[int, ...], violates: bool) -> None:
    reported: list[str] = []
    ec2 = PolicyContext(platform="gc", capacity={"cores": 16, "instances": 10}, settings="ec2")
    policy = next(p for p in build_policies(ec2) if p.name == "quota-fits-capacity")
    policy.validate(StackValidationArgs([_limit(c) for c in cores]), lambda message, urn=None: reported.append(message))
    assert bool(reported) == violates, reported
    if violates:
        assert "platform.ec2.capacity.cores" in reported[0]


@pytest.mark.parametrize(("cores", "violates"), [((8.0, 8.0), False), ((8.0, 9.0), True)])
def test_quota_fits_capacity(cores: tuple[float, ...], violates: bool) -> None:
    reported: list[str] = []
    POLICIES["quota-fits-capacity"].validate(StackValidationArgs([_quota(c) for c in cores]),
                                             lambda message, urn=None: reported.append(message))
    assert bool(reported) == violates, reported
    if violates:
        assert "capacity.cores" in reported[0]


def test_every_rule_is_tested_and_named_in_kebab_case() -> None:
    tested = {c[0] for c in CASES if c[3]} | {"quota-fits-capacity"}
    assert tested == {r.name for r in RULES}
    for r in RULES:
        assert r.name == r.name.lower() and " " not in r.name and r.description.startswith("Forbids")


def test_context_round_trips_as_json() -> None:
    assert PolicyContext.from_json(CTX.to_json()) == CTX


def test_every_rule_has_an_aws_pass_and_fail() -> None:
    """The ec2 target's rules: public ingress, admin ports, unencrypted volumes, data residency, tags (and the
    quota, above), each with a passing and a failing aws resource."""
    expected = {"no-public-ingress", "no-public-admin-ports", "encrypted-volumes-only", "data-residency",
                "resources-tagged"}
    for verdict in (True, False):
        assert {c[0] for c in AWS_CASES if c[3] is verdict} == expected, verdict
