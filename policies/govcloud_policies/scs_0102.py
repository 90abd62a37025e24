"""What scs-0102 (SCS Image Metadata) v1 demands of a public image: the one list both the images
(govcloud_stacks.scs) and the `scs-image-metadata` policy use.

Source: SovereignCloudStack/standards at commit 077174d94b57 (2026-08-21):
- Standards/scs-0102-v1-image-metadata.md, "version 1.1 of the SCS-0102 Image Metadata Standard", status
  Stable since 2022-10-31: "The following properties are considered mandatory" (technical requirements), "The
  three properties `uuid_validity`, `provided_until` and `replace_frequency` are mandatory" (image updating),
  and the items marked "Mandatory:" under Image Origin and Image build info;
- Tests/scs-compatible-iaas.yaml, module `scs-0102-v1`, target `main`: the test cases scs-0102-prop-<key> that
  list exactly these keys (and scs-0102-image-recency); Tests/iaas/scs_0102_image_metadata/image_metadata.py
  checks their values (the allowed values below are its).
`os_purpose` is only recommended in v1 (mandatory in the v2 draft); `hypervisor_type` and `hw_rng_model` are
recommended. The images carry them all the same."""

from __future__ import annotations

# Glance image properties the standard marks mandatory, in the standard's order.
MANDATORY_PROPERTIES: tuple[str, ...] = (
    "architecture",
    "os_version",
    "os_distro",
    "hw_disk_bus",
    "replace_frequency",
    "provided_until",
    "uuid_validity",
    "image_source",
    "image_description",
    "image_build_date",
    "image_original_user",
)
# Mandatory too, but Glance image attributes rather than properties: min_disk (GiB) and min_ram (MiB), in
# pulumi_openstack's images.Image inputs `minDiskGb` and `minRamMb`.
MANDATORY_ATTRIBUTES: dict[str, str] = {"min_disk": "minDiskGb", "min_ram": "minRamMb"}
RECOMMENDED_PROPERTIES: tuple[str, ...] = ("hypervisor_type", "os_purpose", "hw_rng_model")

# Values the standard's test script accepts.
ARCHITECTURES = frozenset({"x86_64", "aarch64", "risc-v"})
HW_DISK_BUSES = frozenset({"virtio", "scsi"})
REPLACE_FREQUENCIES = frozenset({"yearly", "quarterly", "monthly", "weekly", "daily", "critical_bug", "never"})
OS_PURPOSES = frozenset({"generic", "minimal", "k8snode", "gpu", "network", "custom"})
