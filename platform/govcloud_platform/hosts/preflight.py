"""The hosts' preflight: before anything is deployed, look at every host (role `host_preflight`, read-only)
and decide whether it can take what its groups will run there. What each host needs is derived from the code
that already decides it (the box's port plan `box.ports`, which ports stay on loopback `box.network`, which
storage hosts run masters and volume servers `spec.topology`); what the role observed is judged by pure
functions here; `check_hosts` is the thin adapter that runs the role."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govcloud_platform.box.network import LOOPBACK, LOOPBACK_ONLY
from govcloud_platform.box.ports import NOT_ON_HOSTS, Ports, host_group
from govcloud_platform.hosts.runner import HostOutcome, HostSsh, failure_text, hosts_error, run_on_hosts
from govcloud_platform.progress import Progress, quiet
from govcloud_platform.spec.topology import Host, Topology

ROLE = "host_preflight"
# Free disk under a host's root below which the preflight refuses (PostgreSQL, SeaweedFS's volumes, logs).
MIN_FREE_MB = 1024
# ansible-core 2.19 runs its modules on Python 3.8 and later.
MIN_PYTHON = (3, 8)
# The apps' proxy stays on the box's loopback until it moves with the apps; on the hosts target it is the
# edge itself and publishes on its host's address.
EDGE_LABELS = frozenset({"proxy_https"})
RUN_TIMEOUT_S = 180


@dataclass(frozen=True)
class PortNeed:
    label: str
    port: int
    address: str
    optional: bool = False  # `verify`: bound only once there is something to serve (the apps' front, no app yet)


@dataclass(frozen=True)
class HostNeed:
    """What one host must offer for its groups."""

    name: str
    address: str
    groups: tuple[str, ...]
    root: str
    ports: tuple[PortNeed, ...]
    min_free_mb: int = MIN_FREE_MB


@dataclass
class HostReport:
    name: str
    address: str
    groups: list[str]
    reachable: bool
    problems: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.reachable and not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "address": self.address, "groups": self.groups, "ok": self.ok,
                "reachable": self.reachable, "problems": self.problems}


def host_ports(topology: Topology, host: Host, port_base: int,
               services: Collection[str] | None = None) -> list[PortNeed]:
    """Pure: the TCP ports the host's groups will bind, and on which address (its own, or its loopback for what
    never leaves the host). SeaweedFS masters and volume servers only where the topology runs them. With
    `services`: the ports of those services (the ones a deploy placed on the host) instead of its groups'."""
    masters = {h.name for h in topology.masters()}
    volumes = {h.name for h in topology.volumes()}
    out: list[PortNeed] = []
    for service, label, port in Ports(port_base).all():
        base = label.removesuffix("_grpc")
        if base in NOT_ON_HOSTS:  # the console's app port (the control's SSH tunnel ends there: sshd binds it), and
            continue  # the signing service's (not placed on hosts yet)
        if (service not in services) if services is not None else (host_group(label) not in host.groups):
            continue
        if (base == "weed_master" and host.name not in masters) or (base == "weed_volume" and host.name not in volumes):
            continue
        loopback = base in LOOPBACK_ONLY and base not in EDGE_LABELS
        out.append(PortNeed(label, port, LOOPBACK if loopback else host.address))
    return out


def host_needs(topology: Topology, port_base: int, min_free_mb: int = MIN_FREE_MB) -> list[HostNeed]:
    """Pure: the needs of every host that serves a group (a jump host only has to be reachable)."""
    return [HostNeed(h.name, h.address, tuple(h.groups), h.root, tuple(host_ports(topology, h, port_base)),
                     min_free_mb) for h in topology.hosts if h.groups]


def role_vars(need: HostNeed, *, judge: bool = False) -> dict[str, Any]:
    """The role's variables for one host (they go into the inventory: they differ per host). With `judge`
    the role fails a host that is not ready itself, with `problems` (a filter plugin over it)."""
    return {"host_preflight_root": need.root, "host_preflight_min_free_mb": need.min_free_mb,
            "host_preflight_judge": judge,
            "host_preflight_ports": [{"label": p.label, "port": p.port, "address": p.address} for p in need.ports]}


def play(needs: list[HostNeed]) -> dict[str, Any]:
    """The preflight as the first play of another run (`role_vars(judge=True)` per host): any host that is
    unreachable or not ready stops every host, so that nothing of the later plays runs anywhere."""
    return {"name": "host preflight", "hosts": ":".join(n.name for n in needs), "gather_facts": False,
            "any_errors_fatal": True, "roles": [ROLE]}


_VERSION_LINE = re.compile(r"^\s*((\d+)\.(\d+)\.\d+)\s*$", re.MULTILINE)


def _version(text: str) -> tuple[str, tuple[int, int]] | None:
    """Pure: the version and its (major, minor) from the last line that is a version alone (what ssh merged
    before it, e.g. a pyenv shim's complaint, is not the version); None if there is none."""
    found = _VERSION_LINE.findall(text)
    return (found[-1][0], (int(found[-1][1]), int(found[-1][2]))) if found else None


# The longest Unix socket path below a host's root (`<root>/box/supervisor/supervisor.sock`, 31 bytes) must fit
# the kernel's 107.
SOCKET_TAIL = len("/box/supervisor/supervisor.sock")
SOCKET_PATH_MAX = 107


def _root_problems(need: HostNeed, root: dict[str, Any]) -> list[str]:
    path, probe = need.root, root.get("probe", need.root)
    if len(path.encode()) + SOCKET_TAIL > SOCKET_PATH_MAX:
        return [f"root {path} is too deep: the services' Unix sockets below it would pass the 107 bytes of a "
                f"socket path; choose a `root` of at most {SOCKET_PATH_MAX - SOCKET_TAIL} bytes"]
    if root.get("closed"):
        return [f"root {path}: {root['closed']} is closed to other users (no o+x): the services' users "
                f"(postgres, www-data) must pass through it; `chmod o+x {root['closed']}` or set another `root`"]
    if root.get("exists") and not root.get("is_dir"):
        return [f"root {path} exists and is not a directory: remove it or set another `root` in the topology"]
    if not root.get("probe_is_dir", True):
        return [f"root {path} cannot be created: {probe} is not a directory"]
    if root.get("read_only"):
        return [f"root {path} is on a read-only file system ({probe})"]
    if not root.get("writable"):
        verb = "is not writable" if root.get("exists") else f"cannot be created: {probe} is not writable"
        return [f"root {path} {verb} by the SSH user: give it to that user or set another `root`"]
    free = root.get("free_mb")
    if isinstance(free, int) and free < need.min_free_mb:
        return [f"only {free} MiB free under {probe} (root {path}; need {need.min_free_mb} MiB): free some disk"]
    if root.get("error"):
        return [f"root {path}: {root['error']}"]
    return []


def _port_problems(busy: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    missing: dict[str, list[str]] = {}
    for item in busy:
        port, label, address, state = item.get("port"), item.get("label"), item.get("address"), item.get("state")
        if state == "in_use":
            out.append(f"port {port} ({label}) on {address} is in use: stop what holds it "
                       f"(`ss -ltnp 'sport = :{port}'` on the host) or change platform.port_base")
        elif state == "not_held":
            missing.setdefault(str(address), []).append(str(port))
        else:
            out.append(f"port {port} ({label}) on {address} cannot be bound: {state}")
    for address, ports in missing.items():
        out.append(f"address {address} is not held by the host (ports {', '.join(ports)} cannot be bound there): "
                   "check its `address` in the topology")
    return out


def problems(need: HostNeed, facts: dict[str, Any] | None) -> list[str]:
    """Pure: what keeps the host from taking its groups, from the role's fact `host_preflight`."""
    if not facts:
        return ["the preflight returned nothing: re-run with --debug"]
    python = facts.get("python")
    if not python:
        return ["python3 not found on the host (Ansible needs it): install python3 (Debian: `apt-get install "
                "python3`) or set ansible_python_interpreter"]
    out: list[str] = []
    version = _version(str(python))
    if version is None:
        out.append(f"python3 on the host answered no version ({str(python)[-120:]!r}): check `python3 --version` "
                   "there")
    elif version[1] < MIN_PYTHON:
        out.append(f"python {version[0]} is too old: Ansible needs {'.'.join(map(str, MIN_PYTHON))} or later")
    out += _root_problems(need, facts.get("root") or {})
    out += _port_problems(list(facts.get("ports_busy") or []))
    return out


def report(need: HostNeed, ssh: HostSsh, outcome: HostOutcome) -> HostReport:
    """Pure: the host's line of `hosts check`: reachable or not (and what to check), and its problems."""
    base = HostReport(need.name, need.address, list(need.groups), reachable=outcome.reachable)
    if not outcome.ok:
        base.problems = [failure_text(outcome, ssh)]
        return base
    facts = outcome.facts.get("host_preflight")
    base.facts = facts if isinstance(facts, dict) else {}
    base.problems = problems(need, base.facts)
    return base


def judged(need: HostNeed, ssh: HostSsh, outcome: HostOutcome) -> HostReport:
    """Pure: the host's report from a run that began with `play`: not ready when the role's facts show problems,
    or when it failed before they were known (unreachable, ...). A host the run stopped before its facts
    because another host failed is not blamed; a failure after the preflight passed is the later plays' (the
    caller's to report)."""
    facts = outcome.facts.get("host_preflight")
    if not isinstance(facts, dict):  # failed before its facts; or stopped, unjudged, by another host's failure
        return report(need, ssh, outcome) if not outcome.ok else HostReport(
            need.name, need.address, list(need.groups), reachable=True)
    base = HostReport(need.name, need.address, list(need.groups), reachable=True, facts=facts)
    base.problems = problems(need, facts)
    return base


SAID_PROBLEMS = 2  # a host's problems the one error line names; `hosts check` lists them all


def require_ready(reports: list[HostReport]) -> None:
    """Raise the one error naming every host that is not ready, with its first problems (a host whose every port
    is taken has a dozen: the line would be cut before it named the next host)."""
    def said(problems: list[str]) -> str:
        more = len(problems) - SAID_PROBLEMS
        return "; ".join(problems[:SAID_PROBLEMS]) + (
            f"; and {more} more (`govcloud hosts check` lists them)" if more > 0 else "")

    failures = [(r.name, r.address, said(r.problems)) for r in reports if not r.ok]
    if failures:
        raise hosts_error("host preflight", failures)


def check_hosts(topology: Topology, base_dir: Path, port_base: int, *, progress: Progress = quiet,
                min_free_mb: int = MIN_FREE_MB) -> list[HostReport]:
    """Run the preflight on every host that serves a group, all at once; one report per host, in topology
    order. Changes nothing on the hosts and writes nothing here but the run's private directory."""
    needs = host_needs(topology, port_base, min_free_mb)
    run = run_on_hosts(topology, base_dir, ROLE, [n.name for n in needs],
                       host_vars={n.name: role_vars(n) for n in needs}, progress=progress, timeout=RUN_TIMEOUT_S)
    by_name = {h.name: h for h in topology.hosts}
    return [report(n, HostSsh.of(topology, by_name[n.name], base_dir), run.outcomes[n.name]) for n in needs]

