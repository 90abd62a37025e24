"""Stack-level rules: what only makes sense over many resources at once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from govcloud_policies import aws
from govcloud_policies.context import PolicyContext

# quota resource type -> {quota property: capacity field}
QUOTA_FIELDS: dict[str, dict[str, str]] = {
    "openstack:compute/quotaSetV2:QuotaSetV2": {"instances": "instances", "cores": "cores", "ram": "ram_mb"},
    "openstack:blockstorage/quoteSetV3:QuoteSetV3": {"volumes": "volumes", "gigabytes": "volume_gb"},
    "openstack:networking/quotaV2:QuotaV2": {"floatingip": "floating_ips", "network": "networks"},
}


def quota_fits_capacity(ctx: PolicyContext, resources: Iterable[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """Sum the quotas granted in these resources and compare with the declared capacity. The offline plan
    passes every stack at once (the whole platform); under CrossGuard each stack is checked on its own."""
    totals: dict[str, int] = {}
    for resource_type, props in resources:
        for prop, cap_field in QUOTA_FIELDS.get(resource_type, {}).items():
            value = props.get(prop)
            if isinstance(value, int | float) and value > 0:
                totals[cap_field] = totals.get(cap_field, 0) + int(value)
        for cap_field, number in aws.quotas(resource_type, props).items():
            if number > 0:
                totals[cap_field] = totals.get(cap_field, 0) + number
    out = []
    for cap_field, total in sorted(totals.items()):
        cap = ctx.capacity.get(cap_field)
        if cap is not None and total > cap:
            out.append(f"agencies' quotas grant {total} {cap_field} but the platform declares a capacity of {cap}: "
                       f"raise platform.{ctx.settings}.capacity.{cap_field} (after adding hardware) "
                       "or lower quota classes")
    return out
