"""The `hosts` target's topology: which hosts there are, how to reach them over SSH, and which groups of
services each serves. Structural rules live on the fields; rules that span hosts (duplicates, groups
without a host, jump-host chains) live in `topology_problems`, which returns key paths so the loader can
name the file, line and key of each problem, as it does for the rest of the spec.

Addresses may be IPv4 or IPv6 (both are plain `ip_address` values; the lab uses IPv4). Relative paths
(`key_file`, `known_hosts`, `config_file`, never `root`) are relative to the spec file's directory."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# What a host can serve. The first five are required (each needs at least one host); `apps` is optional.
# The finer groups refine one of them: `storage_master` / `storage_volume` choose which `storage` hosts run
# SeaweedFS masters / volume servers (default: every storage host runs both), `dcs` names the hosts of the
# consensus store (etcd) that Patroni needs once there is more than one database host. `mail` (optional, one
# host) runs the shared mail service (Postfix); agencies with the `mail` service need it.
HostGroup = Literal[
    "database", "storage", "identity", "proxy", "backups", "apps", "storage_master", "storage_volume", "dcs", "mail"
]
HOST_GROUPS: tuple[str, ...] = (
    "database", "storage", "identity", "proxy", "backups", "apps", "storage_master", "storage_volume", "dcs", "mail"
)
# Served by one host at most: the mail service (Postfix, its queue, SASL logins and Maildir) runs once.
SINGLE_GROUPS: tuple[str, ...] = ("mail",)
REQUIRED_GROUPS: tuple[str, ...] = ("database", "storage", "identity", "proxy", "backups")
# A finer group and the group its hosts must also be in.
PART_OF: dict[str, str] = {"storage_master": "storage", "storage_volume": "storage"}
DEFAULT_ROOT = "/var/lib/govcloud"
HOST_NAME_PATTERN = r"^[a-z][a-z0-9-]{0,61}[a-z0-9]$|^[a-z]$"
_HOST_NAME_RE = re.compile(HOST_NAME_PATTERN)
_USER_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _check_path(value: str | None) -> str | None:
    if value is not None and (not value.strip() or any(c in value for c in '\x00\n\r"')):
        raise ValueError('a path must be a non-empty single line without \'"\'')
    return value


class SshSettings(_Model):
    """How to reach a host. Unset fields fall back to `topology.ssh`, then to ssh's own defaults (user root,
    port 22). With `config_file`, that file alone says how to reach the host (`ssh -F <file> <name>`)."""

    user: str | None = Field(None, description="login user (default root)")
    port: int | None = Field(None, ge=1, le=65535, description="SSH port (default 22)")
    key_file: str | None = Field(None, description="private key (relative to the spec's directory)")
    known_hosts: str | None = Field(
        None, description="known_hosts file with the host keys (checked strictly; default ~/.ssh/known_hosts)"
    )
    config_file: str | None = Field(
        None, description="an ssh_config that defines `Host <name>`; excludes the other fields"
    )
    jump: str | None = Field(None, description="name of the topology host to jump through (ProxyJump)")

    _paths = field_validator("key_file", "known_hosts", "config_file")(_check_path)

    @field_validator("user")
    @classmethod
    def _user(cls, value: str | None) -> str | None:
        if value is not None and not _USER_RE.fullmatch(value):
            raise ValueError(f"invalid user name {value!r}: lowercase letters, digits, '_' and '-'")
        return value

    @model_validator(mode="after")
    def _config_alone(self) -> SshSettings:
        if self.config_file is not None:
            others = [k for k in ("user", "port", "key_file", "known_hosts", "jump") if getattr(self, k) is not None]
            if others:
                raise ValueError(f"config_file excludes {', '.join(others)}: put them in the ssh config file")
        return self

    def over(self, default: SshSettings) -> SshSettings:
        """These settings with unset fields taken from `default` (a config_file on either side wins whole)."""
        if self.config_file is not None:
            return self
        mine = self.model_dump(exclude_none=True)
        if default.config_file is not None and not mine:
            return default
        base = default.model_dump(exclude_none=True, exclude={"config_file"})
        return SshSettings.model_validate({**base, **mine})


class Host(_Model):
    """One machine of the `hosts` target."""

    name: Annotated[str, Field(description=f"host name; pattern {HOST_NAME_PATTERN}")]
    address: str = Field(..., description="IPv4 or IPv6 address the platform reaches it at")
    ssh: SshSettings = SshSettings()
    groups: list[HostGroup] = Field(default_factory=list, description="what it serves; empty only for a jump host")
    root: str = Field(DEFAULT_ROOT, description="absolute directory for all its data, sockets and pid files")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.isascii() or not _HOST_NAME_RE.fullmatch(value) or "--" in value:
            raise ValueError(
                f"invalid host name {value!r}: 1-63 lowercase ASCII letters, digits and '-' (no '--'), "
                "starting with a letter and not ending with '-'"
            )
        return value

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            addr = ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(f"invalid address {value!r}: give an IPv4 or IPv6 address") from None
        if addr.is_unspecified or addr.is_multicast or (addr.version == 6 and addr.is_link_local):
            raise ValueError(f"address {value!r} cannot reach a host (unspecified, multicast or link-local)")
        return str(addr)  # canonical form, so duplicates are found whatever the spelling

    @field_validator("groups")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each group may appear only once")
        return value

    @field_validator("root")
    @classmethod
    def _root(cls, value: str) -> str:
        if not value.startswith("/") or "\x00" in value or "\n" in value or "/../" in f"{value}/":
            raise ValueError(f"invalid root {value!r}: an absolute path without '..'")
        return value.rstrip("/") or "/"


class Topology(_Model):
    """The hosts of the `hosts` target (`platform.topology`)."""

    ssh: SshSettings = Field(SshSettings(), description="defaults for every host's `ssh`")
    hosts: list[Host] = Field(..., min_length=1)
    control_address: str | None = Field(
        None, description="the address the hosts see this machine's connections come from (its brokers reach "
                          "the database from it), when it is behind NAT; default: its own source address toward "
                          "each host")

    @field_validator("control_address")
    @classmethod
    def _control_address(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise ValueError(f"invalid address {value!r}: an IPv4 or IPv6 address") from None
        return value

    def host(self, name: str) -> Host | None:
        return next((h for h in self.hosts if h.name == name), None)

    def ssh_for(self, host: Host) -> SshSettings:
        """The host's effective SSH settings."""
        return host.ssh.over(self.ssh)

    def members(self, group: str) -> list[Host]:
        return [h for h in self.hosts if group in h.groups]

    def masters(self) -> list[Host]:
        """The hosts running SeaweedFS masters: `storage_master` if named, else every storage host."""
        return self.members("storage_master") or self.members("storage")

    def volumes(self) -> list[Host]:
        """The hosts running SeaweedFS volume servers: `storage_volume` if named, else every storage host."""
        return self.members("storage_volume") or self.members("storage")


def _jump_chain(topology: Topology, start: Host) -> tuple[list[str], bool]:
    """The names visited following `jump` from `start`, and whether it loops."""
    seen = [start.name]
    cur = topology.ssh_for(start).jump
    while cur is not None:
        if cur in seen:
            return [*seen, cur], True
        seen.append(cur)
        nxt = topology.host(cur)
        if nxt is None:
            return seen, False
        cur = topology.ssh_for(nxt).jump
    return seen, False


def _names(hosts: Iterable[Host]) -> str:
    return ", ".join(h.name for h in hosts)


def topology_problems(topology: Topology, prefix: Loc = ("platform", "topology")) -> list[Problem]:
    """Problems that span hosts, each with the key path it belongs to (`prefix` + path in the topology)."""
    problems: list[Problem] = []
    hosts_loc = (*prefix, "hosts")
    names: dict[str, int] = {}
    addresses: dict[str, int] = {}
    jumps = {topology.ssh_for(h).jump for h in topology.hosts} - {None}
    for i, host in enumerate(topology.hosts):
        if host.name in names:
            first = names[host.name]
            problems.append(((*hosts_loc, i, "name"), f"duplicate host name {host.name!r} (also hosts[{first}])"))
        names.setdefault(host.name, i)
        if host.address in addresses:
            first = addresses[host.address]
            problems.append(((*hosts_loc, i, "address"), f"duplicate address {host.address} (also hosts[{first}])"))
        addresses.setdefault(host.address, i)
        for group in host.groups:
            whole = PART_OF.get(group)
            if whole is not None and whole not in host.groups:
                problems.append(((*hosts_loc, i, "groups"),
                                 f"group {group!r} is part of {whole!r}: add {whole!r} to this host's groups"))
        if not host.groups and host.name not in jumps:
            problems.append(((*hosts_loc, i, "groups"),
                             "host serves no group: give it groups, or remove it (only a jump host may have none)"))
        ssh = topology.ssh_for(host)
        if ssh.jump is not None:
            where = (*hosts_loc, i, "ssh", "jump") if host.ssh.jump is not None else (*prefix, "ssh", "jump")
            if topology.host(ssh.jump) is None:
                problems.append((where, f"unknown jump host {ssh.jump!r} (known: {_names(topology.hosts)})"))
            else:
                chain, loops = _jump_chain(topology, host)
                if loops:
                    problems.append((where, f"jump hosts form a cycle: {' -> '.join(chain)}"))
    problems.extend(_group_problems(topology, prefix))
    return problems


def _group_problems(topology: Topology, prefix: Loc) -> list[Problem]:
    problems: list[Problem] = []
    hosts_loc = (*prefix, "hosts")
    if topology.members("apps") and not topology.members("proxy"):
        problems.append((hosts_loc, "group 'apps' has hosts but no host serves 'proxy': apps are published "
                                    "through the proxy; add 'proxy' to a host's groups"))
    for group in REQUIRED_GROUPS:
        if not topology.members(group) and not (group == "proxy" and topology.members("apps")):
            problems.append((hosts_loc, f"no host serves group {group!r}: add it to a host's groups"))
    for group in SINGLE_GROUPS:
        served = topology.members(group)
        if len(served) > 1:
            problems.append((hosts_loc, f"{len(served)} hosts in group {group!r} ({_names(served)}): the {group} "
                                        "service runs on one host; keep it in one host's groups"))
    for group, what in (("dcs", "etcd members"), ("storage_master", "SeaweedFS masters")):
        count = len(topology.members(group))
        if count % 2 == 0 and count:
            problems.append((hosts_loc, f"{count} hosts in group {group!r}: {what} keep a quorum only with an "
                                        "odd number (1, 3, 5)"))
    masters = topology.masters()
    if not topology.members("storage_master") and len(masters) > 1 and len(masters) % 2 == 0:
        problems.append((hosts_loc, f"{len(masters)} storage hosts would each run a SeaweedFS master, and an even "
                                    "number keeps no quorum: name 1 or 3 of them in 'storage_master'"))
    if len(topology.members("database")) > 1 and not topology.members("dcs"):
        problems.append((hosts_loc, f"{len(topology.members('database'))} database hosts need a consensus store for "
                                    "failover: add 'dcs' to an odd number of them (1, 3, 5)"))
    return problems


def spec_problems(target: str, topology: Topology | None, apps_wanted: bool,
                  mail_wanted: bool = False) -> list[Problem]:
    """What `Spec.cross_check` adds for the topology: it is needed by (and only meaningful on) the `hosts`
    target, its own cross-host problems, a host for the apps the agencies ask for, and one for their mail."""
    if topology is None:
        if target == "hosts":
            return [(("platform", "target"), "target 'hosts' needs `platform.topology`: the hosts and their groups "
                                             "(see docs/topology.md, or `govcloud lab up` for a lab)")]
        return []
    problems = topology_problems(topology)
    if apps_wanted and not topology.members("apps"):
        problems.append((("platform", "topology", "hosts"), "agencies have apps but no host serves group 'apps': "
                                                            "add 'apps' to a host's groups"))
    if mail_wanted and not topology.members("mail"):
        problems.append((("platform", "topology", "hosts"), "agencies have the mail service but no host serves "
                                                            "group 'mail': add 'mail' to one host's groups"))
    return problems
