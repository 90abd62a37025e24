"""The `hosts` topology of the `openstack` target, derived from the platform stack's outputs: each PaaS VM
is a host named after its role, at its fixed address on the services network, serving the groups of its
role, reached through the bastion (ProxyJump) as the image's login user. So after `govcloud iaas up`, the
same code that deploys onto a `hosts` topology deploys onto the cloud. `topology_from_outputs` is pure: outputs
in, Topology out. `govcloud iaas up` records the platform stack's outputs in the home (`record_outputs`:
addresses and the login user, nothing secret); every other command of the `openstack` target reads them
(`hosts_spec`) and runs as on the `hosts` target: `govcloud iaas up` then `govcloud up` is the whole bring-up."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from govcloud_platform.errors import InputError, OperationFailed
from govcloud_platform.spec.topology import DEFAULT_ROOT, HOST_GROUPS, Topology, topology_problems

if TYPE_CHECKING:
    from govcloud_platform.spec import Spec

BASTION = "bastion"
OUTPUTS_FILE = "iaas-platform-outputs.json"  # in the home: what the last `iaas up` of the platform stack gave
KEPT_OUTPUTS = ("paas_hosts", "ssh_user")  # what the topology needs: addresses and a user, never a secret
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


def groups_of(role: str, settings: str = "openstack") -> tuple[str, ...]:
    if role in ROLE_GROUPS:
        return ROLE_GROUPS[role]
    if role in HOST_GROUPS:
        return (role,)
    known = ", ".join(sorted({*ROLE_GROUPS, *HOST_GROUPS}))
    raise InputError(f"platform.{settings}.paas_vms.{role}: no group serves role {role!r}",
                     hint=f"name PaaS VMs after a role or group ({known})")


def topology_from_outputs(
    outputs: Mapping[str, Any],
    *,
    key_file: str | None = None,
    known_hosts: str | None = None,
    bastion_address: str | None = None,
    root: str = DEFAULT_ROOT,
    settings: str = "openstack",
) -> Topology:
    """The topology of the platform stack's `outputs` (`paas_hosts`: role -> fixed address, `ssh_user`).

    `bastion_address` is where this machine reaches the bastion when that is not its fixed address (a
    floating IP, a VPN); `key_file` / `known_hosts` are the operator's key and the VMs' host keys; `{host}` in
    `root` is each VM's name."""
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
        hosts.append({"name": role, "address": address, "groups": list(groups_of(role, settings)),
                      "root": root.replace("{host}", role), "ssh": ssh})
    ssh_defaults = {k: v for k, v in (("user", outputs.get("ssh_user") or "root"), ("key_file", key_file),
                                      ("known_hosts", known_hosts)) if v}
    try:
        topology = Topology.model_validate({"ssh": ssh_defaults, "hosts": hosts})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise OperationFailed(f"the platform stack's outputs make no valid topology: {where}: {first['msg']}") from None
    problems = topology_problems(topology, prefix=("platform", settings, "paas_vms"))
    if problems:
        raise InputError(f"the platform's VMs make no complete topology: {problems[0][1]}",
                         hint=f"give platform.{settings}.paas_vms a VM for each required role")
    return topology


def record_outputs(home: Path, outputs: Mapping[str, Any]) -> Path:
    """After `iaas up` of the platform stack: keep the outputs the topology is made of (`outputs`: name -> value;
    a Pulumi secret output is left out, whatever its name). Returns the file."""
    from govcloud_platform.box.secrets import write_private

    kept = {k: outputs[k] for k in KEPT_OUTPUTS if k in outputs}
    path = home / OUTPUTS_FILE
    home.mkdir(parents=True, exist_ok=True)
    write_private(path, json.dumps(kept, indent=2, sort_keys=True) + "\n")
    return path


def hosts_spec(spec: Spec, home: Path) -> Spec:
    """The spec as the `hosts` target sees it: on the `openstack` target, its topology made from the outputs
    `iaas up` recorded in `home` and `platform.openstack.hosts`; any other spec (or a VM's own home) as it is."""
    from govcloud_platform.box.placement import read as read_placement

    target = spec.platform.target
    if target not in ("openstack", "ec2"):
        return spec
    placed = read_placement(home)
    if placed is not None and placed.here:  # a VM's own home: it runs its services and needs no topology
        return spec
    path = home / OUTPUTS_FILE
    try:
        outputs = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: no platform VMs recorded in this home (platform.target is {target!r})",
                         hint="run `govcloud iaas up` first: it makes the VMs and records their addresses") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: unreadable ({type(exc).__name__})",
                         hint="run `govcloud iaas up` again: it writes the file anew") from None
    if not isinstance(outputs, dict):
        raise InputError(f"{path}: not an object", hint="run `govcloud iaas up` again: it writes the file anew")
    ssh = spec.platform.ec2.hosts if target == "ec2" else spec.platform.openstack.hosts
    topology = topology_from_outputs(outputs, key_file=ssh.key_file, known_hosts=ssh.known_hosts,
                                     bastion_address=ssh.bastion_address, root=ssh.root, settings=target)
    platform = spec.platform.model_copy(update={"target": "hosts", "topology": topology})
    return spec.model_copy(update={"platform": platform})
