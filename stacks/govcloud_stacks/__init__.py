"""Pulumi components of govcloud: the platform foundation, one tenant per agency, one deployment per app.

The components import pulumi and pulumi_openstack; import them lazily from the CLI."""

from govcloud_stacks.app import AppDeployment, AppDeploymentArgs
from govcloud_stacks.foundation import PlatformFoundation, PlatformFoundationArgs
from govcloud_stacks.labels import Labels
from govcloud_stacks.tenant import AgencyTenant, AgencyTenantArgs

__all__ = [
    "AgencyTenant",
    "AgencyTenantArgs",
    "AppDeployment",
    "AppDeploymentArgs",
    "Labels",
    "PlatformFoundation",
    "PlatformFoundationArgs",
]
