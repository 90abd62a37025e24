"""Cloud providers the runner can drive. A provider names its Pulumi plugin (pinned), its stack
configuration, and the programs of each stack: OpenStack (pulumi-openstack) and an EC2-compatible
(Eucalyptus-style) cloud (pulumi-aws with the cloud's endpoints); see docs/iaas.md."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

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


class Ec2Provider:
    name = "ec2"
    plugin = "aws"
    plugin_version = "7.51.1"  # pulumi-aws on PyPI (pyproject.toml): the plugin of the same version

    def stacks(self, spec: Spec, agency: str | None) -> list[Stack]:
        from govcloud_stacks.programs import stack_defs  # hands out the ec2 programs on this target

        return [Stack(d.name, d.agency, d.program) for d in stack_defs(spec, agency)]

    def config(self, spec: Spec) -> dict[str, str]:
        # The cloud's endpoints and the skip* flags: the provider never calls AWS itself.
        return spec.platform.ec2.provider_config()


PROVIDERS: dict[str, Provider] = {"openstack": OpenStackProvider(), "ec2": Ec2Provider()}


def provider_for(spec: Spec) -> Provider:
    return PROVIDERS["ec2" if spec.platform.target == "ec2" else "openstack"]


def iaas_settings(spec: Spec) -> Any:
    """The settings block of the spec's IaaS target: `platform.ec2` on ec2, else `platform.openstack`."""
    return spec.platform.ec2 if spec.platform.target == "ec2" else spec.platform.openstack
