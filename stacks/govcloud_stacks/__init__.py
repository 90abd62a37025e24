"""Pulumi components of govcloud: the platform foundation, one tenant per agency, one deployment per app.

The OpenStack components import pulumi and pulumi_openstack, the `ec2` ones (govcloud_stacks.ec2) pulumi_aws:
the names below are loaded on first use, so that importing a submodule (the programs, the pure helpers) pulls
in neither SDK."""

from __future__ import annotations

from importlib import import_module
from typing import Any

_HOMES = {
    "AgencyTenant": "tenant",
    "AgencyTenantArgs": "tenant",
    "AppDeployment": "app",
    "AppDeploymentArgs": "app",
    "Labels": "labels",
    "PlatformFoundation": "foundation",
    "PlatformFoundationArgs": "foundation",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'govcloud_stacks' has no attribute {name!r}")
    return getattr(import_module(f"govcloud_stacks.{home}"), name)
