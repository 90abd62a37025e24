"""govcloud's CrossGuard rules. Importing this package builds no PolicyPack (that starts a gRPC server);
`policies/__main__.py` does, and the offline plan calls the same policies' `validate` directly."""

from govcloud_policies.context import PolicyContext
from govcloud_policies.pack import RULES, Rule, build_policies

__all__ = ["RULES", "PolicyContext", "Rule", "build_policies"]
