"""The rule table, and its translation into pulumi_policy objects. Building policies starts nothing;
only PolicyPack(...) (in policies/__main__.py) does."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from govcloud_policies.context import PolicyContext
from govcloud_policies.rules_compliance import (
    data_residency,
    encrypted_volumes_only,
    resources_tagged,
    scs_flavor_names,
    scs_image_metadata,
)
from govcloud_policies.rules_network import no_public_admin_ports, no_public_ingress
from govcloud_policies.rules_stack import quota_fits_capacity

ResourceCheck = Callable[[PolicyContext, str, Mapping[str, Any]], list[str]]
StackCheck = Callable[..., list[str]]
Level = Literal["mandatory", "advisory"]


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    level: Level
    check: ResourceCheck | None = None
    stack_check: StackCheck | None = None


RULES: tuple[Rule, ...] = (
    Rule("no-public-ingress", "Forbids security-group ingress from 0.0.0.0/0 or ::/0, except tcp/80 and tcp/443 "
         "on the platform's proxy.", "mandatory", check=no_public_ingress),
    Rule("no-public-admin-ports", "Forbids SSH and database ports reachable from the internet.", "mandatory",
         check=no_public_admin_ports),
    Rule("encrypted-volumes-only", "Forbids volumes of any type but the platform's encrypted volume type.",
         "mandatory", check=encrypted_volumes_only),
    Rule("data-residency", "Forbids regions and availability zones outside the spec's allowlist.", "mandatory",
         check=data_residency),
    Rule("quota-fits-capacity", "Forbids agency quotas whose sum exceeds the platform's declared capacity.",
         "mandatory", stack_check=quota_fits_capacity),
    Rule("resources-tagged", "Forbids resources without govcloud:agency and govcloud:platform labels.",
         "advisory", check=resources_tagged),
    Rule("scs-flavor-names", "Forbids flavor names, sizes and extra specs that do not follow scs-0100.",
         "advisory", check=scs_flavor_names),
    Rule("scs-image-metadata", "Forbids public images without the mandatory metadata of scs-0102.", "advisory",
         check=scs_image_metadata),
)


def build_policies(ctx: PolicyContext) -> list[Any]:
    """pulumi_policy policies for every rule, bound to `ctx`."""
    from pulumi_policy import (
        EnforcementLevel,
        ReportViolation,
        ResourceValidationArgs,
        ResourceValidationPolicy,
        StackValidationArgs,
        StackValidationPolicy,
    )

    levels = {"mandatory": EnforcementLevel.MANDATORY, "advisory": EnforcementLevel.ADVISORY}
    out: list[Any] = []
    for rule in RULES:
        if rule.check is not None:
            check = rule.check

            def validate(args: ResourceValidationArgs, report: ReportViolation, _check: ResourceCheck = check) -> None:
                for message in _check(ctx, args.resource_type, args.props):
                    report(message, None)

            out.append(ResourceValidationPolicy(rule.name, rule.description, validate, levels[rule.level]))
        elif rule.stack_check is not None:
            stack_check = rule.stack_check

            def validate_stack(args: StackValidationArgs, report: ReportViolation,
                               _check: StackCheck = stack_check) -> None:
                for message in _check(ctx, [(r.resource_type, r.props) for r in args.resources]):
                    report(message, None)

            out.append(StackValidationPolicy(rule.name, rule.description, validate_stack, levels[rule.level]))
    return out
