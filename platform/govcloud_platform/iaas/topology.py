"""The `hosts` topology of the `openstack` target, derived from the platform stack's outputs: each PaaS VM
is a host named after its role, at its fixed address on the services network, serving the groups of its
role, reached through the bastion (ProxyJump) as the image's login user. So after `govcloud iaas up`, the
same code that deploys onto a `hosts` topology deploys onto the cloud. Pure: outputs in, Topology out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from govcloud_platform.errors import InputError, OperationFailed
from govcloud_platform.spec.topology import DEFAULT_ROOT, HOST_GROUPS, Topology, topology_problems

BASTION = "bastion"
# Role of a PaaS VM (`platform.openstack.paas_vms`) -> the groups its host serves. A role named after a
# group serves that group; the bastion serves none: it is only the jump host.
ROLE_GROUPS: dict[str, tuple[str, ...]] = {
    "database": ("database",),
    "storage": ("storage",),
    "identity": ("identity",),
    "backup": ("backups",),
    "proxy": ("proxy",),
    BASTION: (),
}


def groups_of(role: str) -> tuple[str, ...]:
    if role in ROLE_GROUPS:
        return ROLE_GROUPS[role]
    if role in HOST_GROUPS:
        return (role,)
    known = ", ".join(sorted({*ROLE_GROUPS, *HOST_GROUPS}))
    raise InputError(f"platform.openstack.paas_vms.{role}: no group serves role {role!r}",
                     hint=f"name PaaS VMs after a role or group ({known})")


def topology_from_outputs(
    outputs: Mapping[str, Any],
    *,
    key_file: str | None = None,
    known_hosts: str | None = None,
    bastion_address: str | None = None,
    root: str = DEFAULT_ROOT,
) -> Topology:
    """The topology of the platform stack's `outputs` (`paas_hosts`: role -> fixed address, `ssh_user`).

    `bastion_address` is where this machine reaches the bastion when that is not its fixed address (a
    floating IP, a VPN); `key_file` / `known_hosts` are the operator's key and the VMs' host keys."""
    paas = outputs.get("paas_hosts")
    if not isinstance(paas, Mapping) or not paas:
        raise OperationFailed("the platform stack has no `paas_hosts` output",
                              hint="run `govcloud iaas up` (a stack made before this govcloud needs it again)")
    missing = sorted(role for role, address in paas.items() if not address)
    if missing:
        raise OperationFailed(f"the platform stack has no address for {', '.join(missing)}",
                              hint="run `govcloud iaas refresh`, then `govcloud iaas up`")
    has_bastion = BASTION in paas
    hosts = []
    for role in sorted(paas, key=lambda r: (r != BASTION, r)):
        address = bastion_address if role == BASTION and bastion_address else paas[role]
        ssh = {"jump": BASTION} if has_bastion and role != BASTION else {}
        hosts.append({"name": role, "address": address, "groups": list(groups_of(role)), "root": root, "ssh": ssh})
    ssh_defaults = {k: v for k, v in (("user", outputs.get("ssh_user") or "root"), ("key_file", key_file),
                                      ("known_hosts", known_hosts)) if v}
    try:
        topology = Topology.model_validate({"ssh": ssh_defaults, "hosts": hosts})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise OperationFailed(f"the platform stack's outputs make no valid topology: {where}: {first['msg']}") from None
    problems = topology_problems(topology, prefix=("platform", "openstack", "paas_vms"))
    if problems:
        raise InputError(f"the platform's VMs make no complete topology: {problems[0][1]}",
                         hint="give platform.openstack.paas_vms a VM for each required role")
    return topology
