"""SCS conventions shared by the components and the policies: flavor extra specs (scs-0100/0103) and
image metadata (scs-0102)."""

from __future__ import annotations

from govcloud_platform.spec.openstack import FlavorSpec, ImageSpec

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


def image_properties(image: ImageSpec) -> dict[str, str]:
    """scs-0102 mandatory properties, then the image's own extra properties."""
    props = {
        "architecture": image.architecture,
        "hw_disk_bus": image.hw_disk_bus,
        "hypervisor_type": image.hypervisor_type,
        "hw_rng_model": "virtio",
        "os_distro": image.os_distro,
        "os_version": image.os_version,
        "os_purpose": "generic",
        "image_source": image.source_url,
        "image_build_date": image.build_date,
        "image_original_user": image.original_user,
        "replace_frequency": image.replace_frequency,
        "provided_until": image.provided_until,
        "uuid_validity": image.uuid_validity,
    }
    props.update(image.properties)
    return props
