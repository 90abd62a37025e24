"""Cloud providers the runner can drive. A provider names its Pulumi plugin (pinned), its stack
configuration, and the programs of each stack. OpenStack is the only one built; an EC2-compatible
(Eucalyptus-style) provider would implement the same protocol with pulumi-aws and custom endpoints
(see docs/iaas.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from govcloud_platform.spec import Spec


@dataclass(frozen=True)
class Stack:
    name: str
    agency: str | None
    program: Callable[[], None]


class Provider(Protocol):
    name: str
    plugin: str
    plugin_version: str

    def stacks(self, spec: Spec, agency: str | None) -> list[Stack]: ...

    def config(self, spec: Spec) -> dict[str, str]: ...


class OpenStackProvider:
    name = "openstack"
    plugin = "openstack"
    plugin_version = "5.5.0"

    def stacks(self, spec: Spec, agency: str | None) -> list[Stack]:
        from govcloud_stacks.programs import stack_defs

        return [Stack(d.name, d.agency, d.program) for d in stack_defs(spec, agency)]

    def config(self, spec: Spec) -> dict[str, str]:
        # Credentials come from clouds.yaml through OS_CLOUD; only the cloud's name is configuration.
        os_ = spec.platform.openstack
        return {"openstack:cloud": os_.cloud, "openstack:region": os_.region}


PROVIDERS: dict[str, Provider] = {"openstack": OpenStackProvider()}


def provider_for(spec: Spec) -> Provider:
    return PROVIDERS["openstack"]
