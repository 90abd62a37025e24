"""Data residency, encryption, ownership labels and the SCS standards (scs-0100, scs-0102)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from govcloud_policies import aws
from govcloud_policies.context import PolicyContext
from govcloud_policies.props import OPENSTACK, labels, text
from govcloud_policies.scs_0102 import (
    ARCHITECTURES,
    HW_DISK_BUSES,
    MANDATORY_ATTRIBUTES,
    MANDATORY_PROPERTIES,
    OS_PURPOSES,
    REPLACE_FREQUENCIES,
)

VOLUME = "openstack:blockstorage/volume:Volume"
INSTANCE = "openstack:compute/instance:Instance"
FLAVOR = "openstack:compute/flavor:Flavor"
IMAGE = "openstack:images/image:Image"
# Types with no tags, description or metadata: their owner is their parent's.
UNLABELLED_TYPES = frozenset(
    {
        "openstack:identity/roleAssignment:RoleAssignment",
        "openstack:compute/quotaSetV2:QuotaSetV2",
        "openstack:networking/quotaV2:QuotaV2",
        "openstack:blockstorage/quoteSetV3:QuoteSetV3",
        "openstack:networking/routerInterface:RouterInterface",
        "openstack:compute/keypair:Keypair",
        "openstack:compute/volumeAttach:VolumeAttach",
        "pulumi:providers:openstack",
    }
)
# scs-0100-v3 name grammar: SCS-<N><L|V|T|C>[i]-<RAM GiB>[u][o][-[<M>x]<disk GB>[n|h|s|p]][_<extensions>]
SCS_NAME = re.compile(
    r"^SCS-(?P<cpus>[1-9]\d*)(?P<cpu>[LVTC])i?-(?P<ram>[1-9]\d*(\.\d+)?|0\.\d+)u?o?"
    r"(-((?P<ndisks>[1-9]\d*)x)?(?P<disk>[1-9]\d*)(?P<dtype>[nhsp])?)?(_[A-Za-z0-9_.-]+)?$"
)



def data_residency(ctx: PolicyContext, resource_type: str, props: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    region = text(props, "region")
    if region is not None and region not in ctx.allowed_regions:
        out.append(f"region {region!r} is outside the allowlist {list(ctx.allowed_regions)}: use one of them "
                   f"or add the region to platform.{ctx.settings}.allowed_regions after a data-residency review")
    zones = [text(props, "availabilityZone")]
    for bd in props.get("blockDevices") or []:
        if isinstance(bd, Mapping):
            zones.append(text(bd, "availabilityZone"))
    for zone in zones:
        if zone is not None and zone not in ctx.allowed_zones:
            out.append(f"availability zone {zone!r} is outside the allowlist {list(ctx.allowed_zones)}: use one "
                       f"of them or extend platform.{ctx.settings}.allowed_availability_zones")
    return out


def encrypted_volumes_only(ctx: PolicyContext, resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type.startswith(aws.AWS):
        return aws.unencrypted(resource_type, props)
    fix = f"set volume_type={ctx.encrypted_volume_type!r} (the platform's encrypted type)"
    if resource_type == VOLUME:
        vt = props.get("volumeType")
        if vt is None or (isinstance(vt, str) and vt != ctx.encrypted_volume_type):
            return [f"volume type {vt!r} is not encrypted: {fix}"]
    if resource_type == INSTANCE:
        for bd in props.get("blockDevices") or []:
            if isinstance(bd, Mapping) and bd.get("destinationType") == "volume":
                vt = bd.get("volumeType")
                if vt != ctx.encrypted_volume_type:
                    return [f"boot volume of type {vt!r} is not encrypted: in block_devices {fix}"]
    return []


def resources_tagged(ctx: PolicyContext, resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type.startswith(aws.AWS):
        if resource_type in aws.UNLABELLED_TYPES:
            return []
    elif not resource_type.startswith(OPENSTACK) or resource_type in UNLABELLED_TYPES:
        return []
    found = labels(props)
    missing = [k for k in ("govcloud:agency", "govcloud:platform") if not found.get(k)]
    if found.get("govcloud:platform") not in (None, ctx.platform) and "govcloud:platform" not in missing:
        return [f"labelled for platform {found['govcloud:platform']!r}, not {ctx.platform!r}: fix its tags"]
    if not missing:
        return []
    return [f"missing label(s) {', '.join(missing)}: add tags (or metadata, or description) "
            f"'govcloud:agency=<slug>' and 'govcloud:platform={ctx.platform}' (use govcloud_stacks.Labels)"]


def scs_flavor_names(ctx: PolicyContext, resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type != FLAVOR:
        return []
    name = text(props, "name")
    if name is None:
        return []
    m = SCS_NAME.match(name)
    if m is None:
        return [f"flavor name {name!r} does not follow scs-0100 (SCS-<vCPUs><L|V|T|C>-<RAM GiB>[-<disk GB>"
                "<n|h|s|p>]), e.g. SCS-2V-4 or SCS-4V-16-100s: rename it"]
    out: list[str] = []
    vcpus, ram = props.get("vcpus"), props.get("ram")
    if isinstance(vcpus, int | float) and int(vcpus) != int(m["cpus"]):
        out.append(f"{name} promises {m['cpus']} vCPUs but has {int(vcpus)}: fix vcpus or the name")
    if isinstance(ram, int | float) and abs(ram - float(m["ram"]) * 1024) > 1:
        out.append(f"{name} promises {m['ram']} GiB RAM but has {int(ram)} MiB: fix ram or the name")
    specs = props.get("extraSpecs")
    if not isinstance(specs, Mapping) or specs.get("scs:name-v2") != name or "scs:cpu-type" not in specs:
        out.append(f"{name} lacks the scs-0100 extra specs: set scs:name-v2={name} and scs:cpu-type")
    return out


DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?Z?)?$")


def scs_image_metadata(ctx: PolicyContext, resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Every property scs-0102 v1 marks mandatory (govcloud_policies.scs_0102), with the values its own test
    script accepts."""
    if resource_type != IMAGE:
        return []
    properties = props.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    out: list[str] = []
    missing = [k for k in MANDATORY_PROPERTIES if not str(properties.get(k) or "").strip()]
    if missing:
        out.append(f"image lacks scs-0102 properties {missing}: set them in `properties` "
                   "(see platform.openstack.images in the spec)")
    absent = [std for std, field in MANDATORY_ATTRIBUTES.items() if not props.get(field)]
    if absent:
        out.append(f"image lacks {' and '.join(absent)} (scs-0102): set min_disk_gb and min_ram_mb")
    out += [f"{key} {value!r} is not one of {sorted(allowed)}: fix it" for key, allowed in (
        ("architecture", ARCHITECTURES), ("hw_disk_bus", HW_DISK_BUSES), ("replace_frequency", REPLACE_FREQUENCIES),
        ("os_purpose", OS_PURPOSES)) if (value := properties.get(key)) and value not in allowed]
    date = properties.get("image_build_date")
    if date and not DATE.match(str(date)):
        out.append(f"image_build_date {date!r} is not YYYY-MM-DD or YYYY-MM-DD hh:mm[:ss]: fix it")
    source = str(properties.get("image_source") or "")
    if source and source != "private" and not re.match(r"^(https?|ftps?)://", source):
        out.append(f"image_source {source!r} is neither a URL nor 'private': fix it")
    until = str(properties.get("provided_until") or "")
    if until and until not in ("none", "notice") and not DATE.match(until):
        out.append(f"provided_until {until!r} is not YYYY-MM-DD, 'none' or 'notice': fix it")
    validity = str(properties.get("uuid_validity") or "")
    if validity and not (validity in ("none", "notice", "forever") or re.fullmatch(r"last-\d+", validity)
                         or DATE.match(validity)):
        out.append(f"uuid_validity {validity!r} is not none, last-<N>, YYYY-MM-DD, notice or forever: fix it")
    return out
