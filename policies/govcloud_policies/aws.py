"""Reading pulumi-aws resources as CrossGuard passes them (camelCase): the ingress a security group or rule
admits from the internet, the encryption of EBS volumes and root disks, and the quotas of Eucalyptus' IAM
`Limit` statements. The rules in rules_*.py call these for `aws:` types and keep their OpenStack paths as they
were."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from typing import Any

AWS = "aws:"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
VOLUME = "aws:ebs/volume:Volume"
INSTANCE = "aws:ec2/instance:Instance"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
USER_POLICY = "aws:iam/userPolicy:UserPolicy"
POLICY = "aws:iam/policy:Policy"
# Types that carry no tags: their owner is their parent's.
UNLABELLED_TYPES = frozenset(
    {
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
        "aws:ec2/route:Route",
        "aws:ec2/volumeAttachment:VolumeAttachment",
        "aws:iam/group:Group",
        "aws:iam/groupPolicy:GroupPolicy",
        "aws:iam/userPolicy:UserPolicy",
        "aws:iam/policyAttachment:PolicyAttachment",
        "aws:iam/groupMembership:GroupMembership",
        "pulumi:providers:aws",
    }
)
# Eucalyptus quota keys -> capacity field (govcloud_stacks.ec2.QUOTA_KEYS writes them).
QUOTA_KEYS: dict[str, str] = {
    "ec2:quota-vminstancenumber": "instances",
    "ec2:quota-cputotalsize": "cores",
    "ec2:quota-memorytotalsize": "ram_mb",
    "ec2:quota-volumenumber": "volumes",
    "ec2:quota-volumetotalsize": "volume_gb",
    "ec2:quota-addressnumber": "floating_ips",
    "ec2:quota-vpcnumber": "networks",
}


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, str) and v]
    return []


def _is_world(cidr: str) -> bool:
    try:
        return ipaddress.ip_network(cidr, strict=False).prefixlen == 0
    except ValueError:
        return cidr in ("0.0.0.0/0", "::/0")


def _ports(protocol: Any, lo: Any, hi: Any) -> tuple[int, int]:
    """An AWS rule's port range: all ports for protocol -1/all, the given range for tcp/udp, none otherwise."""
    proto = str(protocol).lower() if protocol is not None else "-1"
    if proto in ("-1", "all"):
        return 1, 65535
    if proto in ("tcp", "udp", "6", "17"):
        if isinstance(lo, int | float) and isinstance(hi, int | float) and not (lo == 0 and hi == 0):
            return int(lo), int(hi)
        return 1, 65535
    return 0, -1


def _public(cidrs: list[str], others: list[Any]) -> str | None:
    """The internet-wide source among `cidrs`, or `any address` when the rule names no source at all."""
    world = next((c for c in cidrs if _is_world(c)), None)
    if world is not None:
        return world
    if not cidrs and not any(others):
        return "any address"
    return None


def public_ingress(resource_type: str, props: Mapping[str, Any]) -> list[tuple[str, int, int]]:
    """(source, first port, last port) of each ingress the resource opens to the whole internet."""
    out: list[tuple[str, int, int]] = []
    if resource_type == INGRESS_RULE:
        source = _public(_texts(props.get("cidrIpv4")) + _texts(props.get("cidrIpv6")),
                         [props.get("referencedSecurityGroupId"), props.get("prefixListId")])
        if source is not None:
            out.append((source, *_ports(props.get("ipProtocol"), props.get("fromPort"), props.get("toPort"))))
    elif resource_type == SG_RULE and props.get("type") == "ingress":
        source = _public(_texts(props.get("cidrBlocks")) + _texts(props.get("ipv6CidrBlocks")),
                         [props.get("sourceSecurityGroupId"), props.get("self"), props.get("prefixListIds")])
        if source is not None:
            out.append((source, *_ports(props.get("protocol"), props.get("fromPort"), props.get("toPort"))))
    elif resource_type in (SECURITY_GROUP, DEFAULT_SECURITY_GROUP):
        for block in props.get("ingress") or []:
            if not isinstance(block, Mapping):
                continue
            source = _public(_texts(block.get("cidrBlocks")) + _texts(block.get("ipv6CidrBlocks")),
                             [block.get("securityGroups"), block.get("self"), block.get("prefixListIds")])
            if source is not None:
                out.append((source, *_ports(block.get("protocol"), block.get("fromPort"), block.get("toPort"))))
    return out


def unencrypted(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """What is not encrypted: an EBS volume, an instance's root disk or extra EBS disks, a launch template's."""
    fix = "set encrypted=True (EBS encryption, the cloud's default key or kms_key_id)"
    if resource_type == VOLUME and props.get("encrypted") is not True:
        return [f"EBS volume is not encrypted: {fix}"]
    if resource_type == INSTANCE:
        out = []
        root = props.get("rootBlockDevice")
        if not isinstance(root, Mapping) or root.get("encrypted") is not True:
            out.append(f"root disk is not encrypted: in root_block_device {fix}")
        for bd in props.get("ebsBlockDevices") or []:
            if isinstance(bd, Mapping) and bd.get("encrypted") is not True:
                out.append(f"EBS disk {bd.get('deviceName', '?')} is not encrypted: in ebs_block_devices {fix}")
        return out
    if resource_type == LAUNCH_TEMPLATE:
        for bd in props.get("blockDeviceMappings") or []:
            ebs = bd.get("ebs") if isinstance(bd, Mapping) else None
            if isinstance(ebs, Mapping) and str(ebs.get("encrypted")).lower() != "true":
                return [f"launch template disk {bd.get('deviceName', '?')} is not encrypted: {fix}"]
    return []


def quotas(resource_type: str, props: Mapping[str, Any]) -> dict[str, int]:
    """The quota an IAM policy grants in Eucalyptus' dialect (`Limit` statements, NumericLessThanEquals)."""
    if resource_type not in (USER_POLICY, POLICY):
        return {}
    document = props.get("policy")
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return {}
    if not isinstance(document, Mapping):
        return {}
    statements = document.get("Statement")
    statements = statements if isinstance(statements, list) else [statements]
    out: dict[str, int] = {}
    for st in statements:
        if not isinstance(st, Mapping) or str(st.get("Effect", "")).lower() != "limit":
            continue
        condition = st.get("Condition")
        limits = condition.get("NumericLessThanEquals") if isinstance(condition, Mapping) else None
        for key, value in (limits or {}).items():
            cap_field = QUOTA_KEYS.get(str(key).lower())
            try:
                number = int(str(value))
            except ValueError:
                continue
            if cap_field is not None:
                out[cap_field] = out.get(cap_field, 0) + number
    return out
