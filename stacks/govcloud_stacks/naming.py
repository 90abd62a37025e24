"""The names of the Pulumi project and stacks, shared by both targets' programs (programs.py for OpenStack,
ec2_programs.py for ec2): one place, so an app stack of either target finds its agency's stack by the same name."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from govcloud_platform.spec import Spec

PLATFORM_STACK = "platform"
ORGANIZATION = "organization"  # the file:// and s3:// backends' fixed organization


def project_name(spec: Spec) -> str:
    return spec.platform.name


def agency_stack(slug: str) -> str:
    return f"agency-{slug}"


def app_stack(slug: str, app: str) -> str:
    return f"app-{slug}-{app}"
