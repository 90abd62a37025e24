"""The govcloud policy pack: `pulumi preview --policy-pack policies/` (the runner passes it on every preview
and up). The rules live in govcloud_policies; this is the only place a PolicyPack is built."""

from pulumi_policy import PolicyPack

from govcloud_policies import PolicyContext, build_policies

PolicyPack(name="govcloud", policies=build_policies(PolicyContext.from_env()))
