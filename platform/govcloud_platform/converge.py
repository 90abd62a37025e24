"""`govcloud apply`: the box converges to the spec, agencies before apps (an app needs its agency ready).
Which targets deploy apps is decided here, not by the CLI."""

from __future__ import annotations

from typing import Any

from govcloud_platform.box.context import Box
from govcloud_platform.progress import Progress, quiet

#: targets on which `apply` deploys the apps the spec declares (on `openstack` they go to the agencies' VMs,
#: which `iaas up` makes)
APP_TARGETS = frozenset({"local"})


def apply_spec(box: Box, prune: bool = False, actor: str | None = None, progress: Progress = quiet) -> dict[str, Any]:
    """Agencies (add, update, restore limits, drift; remove only with `prune`), then on a target that deploys
    them the declared apps (undeclared ones are reported as drift, never removed). The report of `apply --json`."""
    from govcloud_platform.onboarding import Onboarding

    report: dict[str, Any] = dict(Onboarding(box, actor, progress).apply(prune))
    if box.spec.platform.target in APP_TARGETS:
        from govcloud_platform.apps import converge_apps

        report["apps"] = converge_apps(box, box.spec, progress, actor)
    return report
