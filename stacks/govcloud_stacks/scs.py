"""SCS conventions shared by the components and the policies: flavor extra specs (scs-0100/0103) and
image metadata (scs-0102)."""

from __future__ import annotations

from govcloud_platform.spec.openstack import FlavorSpec, ImageSpec
from govcloud_policies.scs_0102 import MANDATORY_PROPERTIES, RECOMMENDED_PROPERTIES

_DISK_LETTER = {"network": "n", "local-hdd": "h", "ssd": "s", "nvme": "p"}


def name_v1(name: str) -> str:
    """The scs-0100 v1 spelling (`SCS-2V:4:20s`) of a v2 name (`SCS-2V-4-20s`)."""
    head, _, rest = name.partition("-")
    cpu, _, tail = rest.partition("-")
    return f"{head}-{cpu}:{tail.replace('-', ':')}" if tail else name


def flavor_extra_specs(flavor: FlavorSpec) -> dict[str, str]:
    specs = {
        "scs:cpu-type": flavor.cpu_type,
        "scs:name-v1": name_v1(flavor.name),
        "scs:name-v2": flavor.name,
        "hw_rng:allowed": "true",
    }
    specs["scs:disk0-type"] = flavor.disk_type
    return specs


def image_description(image: ImageSpec) -> str:
    """scs-0102's image_description (a URL or text about the image) when the spec's `properties` give none."""
    return (f"{image.name}: the upstream {image.os_distro} {image.os_version} cloud image ({image.architecture}) "
            f"as published at {image.source_url}, refreshed {image.replace_frequency}")


def image_properties(image: ImageSpec) -> dict[str, str]:
    """Every property scs-0102 v1 marks mandatory (one list: govcloud_policies.scs_0102, which the
    `scs-image-metadata` policy checks), the recommended ones, then the image's own extra properties (which
    may override a derived value, e.g. an image_description URL)."""
    derived = {
        "architecture": image.architecture,
        "os_version": image.os_version,
        "os_distro": image.os_distro,
        "hw_disk_bus": image.hw_disk_bus,
        "replace_frequency": image.replace_frequency,
        "provided_until": image.provided_until,
        "uuid_validity": image.uuid_validity,
        "image_source": image.source_url,
        "image_description": image_description(image),
        "image_build_date": image.build_date,
        "image_original_user": image.original_user,
        "hypervisor_type": image.hypervisor_type,
        "os_purpose": "generic",
        "hw_rng_model": "virtio",
    }
    # A key the standard's list gains and nothing here derives is a KeyError in every unit test, not an image
    # that quietly lacks it.
    props = {key: derived[key] for key in (*MANDATORY_PROPERTIES, *RECOMMENDED_PROPERTIES)}
    props.update(image.properties)
    return props
