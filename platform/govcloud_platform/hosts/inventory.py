"""A topology as Ansible sees it: an ssh_config that says how to reach every host (host keys checked
strictly, jump hosts as ProxyJump), and an inventory with kolla-style groups: the spec's groups are the
role groups, and each service's group is a child of the role groups that run it, so one host list serves
every playbook. Pure: the caller writes the texts where it wants them."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from govcloud_platform.spec.topology import HOST_GROUPS, Host, SshSettings, Topology

# Service group -> the role groups whose hosts run it. `seaweedfs_master`/`_volume` use the finer groups
# when the topology names them (see `_children`).
SERVICE_GROUPS: dict[str, tuple[str, ...]] = {
    "postgresql": ("database",),
    "patroni": ("database",),
    "etcd": ("dcs",),
    "seaweedfs_master": ("storage_master",),
    "seaweedfs_volume": ("storage_volume",),
    "seaweedfs_filer": ("storage",),
    "seaweedfs_s3": ("storage",),
    "lemonldap": ("identity",),
    "nginx": ("proxy", "identity"),
    "pgbackrest": ("database", "backups"),
    "restic": ("backups",),
    "app_hosts": ("apps",),
    "supervisord": tuple(HOST_GROUPS),
}
SSH_OPTIONS = (
    ("IdentitiesOnly", "yes"),
    ("StrictHostKeyChecking", "yes"),  # host keys are always checked; a changed key refuses the connection
    ("BatchMode", "yes"),
    ("PasswordAuthentication", "no"),
    ("ConnectTimeout", "10"),
    ("ServerAliveInterval", "15"),
)


def resolve(path: str, base_dir: Path) -> str:
    """A path of the topology as ssh wants it: relative ones against the spec's directory, `~` left to ssh."""
    if path.startswith("~") or path.startswith("/"):
        return path
    return str((base_dir / path).resolve())


def _quote(value: str) -> str:
    return f'"{value}"' if any(c.isspace() for c in value) else value


def _block(topology: Topology, host: Host, base_dir: Path) -> list[str]:
    ssh = topology.ssh_for(host)
    lines = [f"Host {host.name} {host.address}", f"  HostName {host.address}",
             f"  User {ssh.user or 'root'}", f"  Port {ssh.port or 22}"]
    if ssh.key_file:
        lines.append(f"  IdentityFile {_quote(resolve(ssh.key_file, base_dir))}")
    if ssh.known_hosts:
        lines.append(f"  UserKnownHostsFile {_quote(resolve(ssh.known_hosts, base_dir))}")
        lines.append("  GlobalKnownHostsFile /dev/null")
    lines += [f"  {key} {value}" for key, value in SSH_OPTIONS]
    if ssh.jump is not None:
        jump = topology.host(ssh.jump)
        jump_ssh = topology.ssh_for(jump) if jump is not None else SshSettings()
        if jump_ssh.config_file is not None:  # reached through the user's own config: say so explicitly
            cfg = _quote(resolve(jump_ssh.config_file, base_dir))
            lines.append(f"  ProxyCommand ssh -F {cfg} -W [%h]:%p {ssh.jump}")
        else:
            lines.append(f"  ProxyJump {ssh.jump}")
    return lines


def ssh_config_text(topology: Topology, base_dir: Path) -> str:
    """An ssh_config (for `ssh -F`) with one block per host that has no `config_file` of its own. Each block
    matches the host's name and its address, and nothing else."""
    out = ["# Written by govcloud from the spec's topology: edit the spec, not this file.", ""]
    for host in topology.hosts:
        if topology.ssh_for(host).config_file is None:
            out += [*_block(topology, host, base_dir), ""]
    return "\n".join(out)


def _hostvars(topology: Topology, host: Host, base_dir: Path, ssh_config: Path) -> dict[str, Any]:
    ssh = topology.ssh_for(host)
    own = ssh.config_file
    config = resolve(own, base_dir) if own is not None else str(ssh_config)
    hv: dict[str, Any] = {
        # Through the user's config the host is known by its name; through ours by name or address.
        "ansible_host": host.name if own is not None else host.address,
        "ansible_ssh_common_args": f"-F {shlex.quote(config)}",
        "govcloud_address": host.address,
        "govcloud_root": host.root,
        "govcloud_groups": list(host.groups),
    }
    if own is None:
        hv["ansible_user"] = ssh.user or "root"
        hv["ansible_port"] = ssh.port or 22
    return hv


def _children(topology: Topology) -> dict[str, Any]:
    role = {g: {"hosts": {h.name: None for h in topology.members(g)}} for g in HOST_GROUPS if topology.members(g)}
    fine = {"storage_master": "storage", "storage_volume": "storage"}
    children: dict[str, Any] = dict(role)
    for service, groups in SERVICE_GROUPS.items():
        kids = [g if g in role else fine.get(g, "") for g in groups]
        kids = [k for k in dict.fromkeys(kids) if k in role]
        if kids:
            children[service] = {"children": {k: None for k in kids}}
    return children


def inventory(topology: Topology, base_dir: Path, ssh_config: Path) -> dict[str, Any]:
    """The Ansible inventory (YAML inventory structure, also valid JSON) for `ssh_config`'s hosts."""
    return {
        "all": {
            "vars": {"ansible_python_interpreter": "/usr/bin/python3"},
            "hosts": {h.name: _hostvars(topology, h, base_dir, ssh_config) for h in topology.hosts},
            "children": _children(topology),
        }
    }
