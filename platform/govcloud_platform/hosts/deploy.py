"""`govcloud up` on the `hosts` target: the shared services deployed onto the topology's hosts over SSH.

The same box code runs on every host. A host that runs a service gets a box home `<root>/box` holding a copy of
the spec, its `placement.json` (`hosts.placement.placement_for(topology, host)`), the secrets of its services
only (`box.platform_secrets.needed_by`), the CA's certificate and the certificates of its services, which the
control issues (`host_certificates`: the CA's key never leaves the control); there `govcloud up --address
<host> --allow-from ... --service NAME` configures and starts the service under the host's own supervisord
(roles `gc_storage`, `gc_database`, `gc_identity`, `gc_backups`, with a mail host `gc_mail`, with apps hosts
`gc_apps`, `gc_proxy`, each a
thin wrapper of `platform_service`).
The roles render nothing of PostgreSQL, SeaweedFS, LemonLDAP::NG or pgBackRest: ONE source of truth for how a
service is configured, the box's Python, on the laptop and on the hosts alike.

The operator's machine keeps the CONTROL home (the usual --home): registry, the CA's master copy, every
secret, and a placement.json that runs nothing here (`here: []`); the brokers run there and connect to the
hosts' addresses. Secrets and the CA are made on the control only, before any host is touched, so every host
gets the same ones (a host never generates its own).

Decisions (what runs where, who may connect, the plays, what a run's outcome means) are pure functions below;
`deploy` is the thin adapter: prepare the control home, then ONE ansible-runner run with a play per service
in start order (storage, database, identity, backups, apps, proxy), each on the hosts that run it."""

from __future__ import annotations

import ipaddress
import json
import posixpath
import socket
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govcloud_platform.box.placement import ALL, SPEC_FILE, Placement
from govcloud_platform.box.placement import FILE as PLACEMENT_FILE
from govcloud_platform.box.ports import host_group
from govcloud_platform.box.secrets import write_private
from govcloud_platform.hosts import preflight as pf
from govcloud_platform.hosts.placement import hosts_in_use, instances, placement_for
from govcloud_platform.hosts.preflight import HostNeed, HostReport
from govcloud_platform.hosts.runner import HostsRun, HostSsh, failure_text, hosts_error, run_on_hosts, run_plays
from govcloud_platform.progress import Progress, quiet
from govcloud_platform.spec.topology import Host, Topology

if TYPE_CHECKING:
    from govcloud_platform.box.context import Box

HOME_DIR = "box"  # a host's box home: <root>/box
ROLES = {service: f"gc_{service}" for service in ALL}
RUN_TIMEOUT_S = 900  # up to six services, each up to its own READY_TIMEOUT, plus SSH


@dataclass(frozen=True)
class HostPlan:
    """What one host of the deploy runs and how it is told to."""

    name: str
    address: str
    home: str
    services: tuple[str, ...]
    allow_from: tuple[str, ...]
    placement: dict[str, Any]
    secrets: tuple[str, ...] = ()  # the control's secret files the host gets: its services' (never the registry's)
    certs: tuple[str, ...] = ()  # its certificates' files (`<name>.pem`, `<name>.key`), issued by the control


@dataclass
class DeployResult:
    changed: bool
    seconds: float
    hosts: list[HostPlan]
    changed_hosts: list[str]
    reported: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # host -> its services' status entries


def govcloud_bin() -> str:
    """govcloud's executable on the hosts by default: the control's own (the lab's hosts share its file system;
    a real host has it installed at the same path, docs/topology.md)."""
    return str(Path(sys.executable).parent / "govcloud")


def host_home(host: Host) -> str:
    """Pure: the box home of a host (a POSIX path on the host, whatever the control runs)."""
    return posixpath.join(host.root, HOME_DIR)


def allow_from_for(host: Host, in_use: Sequence[Host], control_address: str) -> tuple[str, ...]:
    """Pure: who may connect to the host's database besides the host itself: the control (its brokers, as the
    host sees it) and every other host in use (the IdP and pgBackRest connect from theirs), each a /32; the
    host's own address is the box's already (`network.client_networks`)."""
    out: list[str] = []
    for address in [control_address, *(h.address for h in in_use)]:
        if address == host.address:
            continue
        net = f"{ipaddress.ip_address(address)}/32"
        if net not in out:
            out.append(net)
    return tuple(out)


def plan(topology: Topology, control_addresses: dict[str, str], console: bool = False) -> list[HostPlan]:
    """Pure: every host that runs a service, in topology order. `control_addresses`: host name -> the
    control's address as that host sees it (`control_address`). `console`: the spec enables the web console,
    whose front (its TLS server in nginx) is the placed identity host's (`cert_services`)."""
    from govcloud_platform.box.platform_secrets import host_certificates, needed_by

    every = instances(topology)
    in_use = hosts_in_use(topology)
    out = []
    for h in in_use:
        services = tuple(s for s in every if any(x.name == h.name for x in every[s]))
        placement = placement_for(topology, h.name)
        out.append(HostPlan(h.name, h.address, host_home(h), services,
                            allow_from_for(h, in_use, control_addresses[h.name]),
                            placement.to_json(), tuple(needed_by(services)),
                            tuple(f"{c.name}.{ext}" for c in host_certificates(
                                cert_services(services, placement, h.address, console), h.address,
                                placement.s3_edge_addresses, placement.idp_edge_addresses)
                                  for ext in ("pem", "key"))))
    return out


def cert_services(services: Sequence[str], placement: Placement, address: str, console: bool) -> tuple[str, ...]:
    """Pure: what a host's certificates are for: its services, and the console where its nginx fronts the console
    (`box.placement.console_front`: the placed identity host; the console's process is the control's). No secret
    goes with it: the console's are the control's."""
    from govcloud_platform.box.placement import console_front

    front = console and "identity" in services and console_front(placement) == address
    return (*services, "console") if front else tuple(services)


def plays(plans: Sequence[HostPlan]) -> list[dict[str, Any]]:
    """Pure: one play per service, in start order, on the host that runs it (each needs the ones before)."""
    where: dict[str, list[str]] = {}
    for p in plans:
        for s in p.services:
            where.setdefault(s, []).append(p.name)
    return [{"name": f"{service} on {', '.join(where[service])}", "hosts": ":".join(where[service]),
             "gather_facts": False, "roles": [ROLES[service]]} for service in ALL if service in where]


def host_vars(plans: Sequence[HostPlan]) -> dict[str, dict[str, Any]]:
    """Pure: what differs per host (inventory variables: nothing secret)."""
    return {p.name: {"platform_service_home": p.home, "platform_service_address": p.address,
                     "platform_service_allow_from": list(p.allow_from), "platform_service_placement": p.placement,
                     "platform_service_secrets": list(p.secrets), "platform_service_certs": list(p.certs)}
            for p in plans}


def shared_vars(*, port_base: int, spec_file: Path, control_home: Path, govcloud: str) -> dict[str, Any]:
    """Pure: what every host gets (the run's 0600 extra vars). Secrets go by NAME (`host_vars`): the role copies
    the files, never their values through a variable."""
    return {"platform_service_port_base": port_base, "platform_service_spec": str(spec_file),
            "platform_service_control_home": str(control_home), "platform_service_govcloud_bin": govcloud}


def missing_secrets(plans: Sequence[HostPlan], made: Iterable[str]) -> list[str]:
    """Pure: the secrets some host needs that the control did not make (a map naming a secret nothing makes)."""
    have = set(made)
    return sorted({n for p in plans for n in p.secrets} - have)


def outcome(run: HostsRun, ssh: dict[str, HostSsh], seconds: float, plans: list[HostPlan]) -> DeployResult:
    """Pure: the deploy's result, or the one error naming each failed host with the step and what to check."""
    failures = [(name, ssh[name].address, failure_text(o, ssh[name])) for name, o in run.outcomes.items()
                if not o.ok]
    if failures:
        raise hosts_error("deploying the shared services", failures)
    if run.status != "successful" or run.rc not in (0, None):
        from govcloud_platform.errors import HostError

        raise HostError(f"deploying the shared services: ansible-runner ended {run.status} (rc {run.rc})",
                        hint="re-run `govcloud up`: it converges")
    changed = [name for name, o in run.outcomes.items() if o.changed]
    reported = {name: [e for e in o.facts.get("_platform_service_reported") or [] if isinstance(e, dict)]
                for name, o in run.outcomes.items()}
    return DeployResult(bool(changed), seconds, plans, changed, reported)


def deployed_here(recorded: Placement | None, topology: Topology) -> bool:
    """Pure: whether this control home deployed the platform already as the topology places it today (its
    placement.json places every service where `place` does). Then `up` folds the preflight into its deploy
    run (one Ansible run instead of two): nothing new is created on a host before its preflight passed, since
    the preflight's play stops every host when one is not ready."""
    if recorded is None:
        return False
    return all(recorded.hosts_of(s) == tuple(h.name for h in hs) for s, hs in instances(topology).items())


def preflight_needs(needs: Sequence[HostNeed], recorded: Placement | None, topology: Topology) -> list[HostNeed]:
    """Pure: what the preflight checks before a deploy. On a platform this control home deployed already (its
    placement.json places every service as `place` does today), the ports of the services a host runs are
    its own box's: they are left to that host's `govcloud up`, which tells its own listeners (its supervisord's
    programs) from another's and refuses the latter, naming the port. Everything else is checked as ever."""
    every = instances(topology)
    if not deployed_here(recorded, topology):
        return list(needs)
    out = []
    for need in needs:
        mine = {s for s, hs in every.items() if any(h.name == need.name for h in hs)}
        ports = tuple(p for p in need.ports if host_group(p.label) not in mine)
        out.append(replace(need, ports=ports))
    return out


def preflight(topology: Topology, base_dir: Path, port_base: int, recorded: Placement | None, *,
              progress: Progress = quiet) -> list[HostReport]:
    """`hosts.preflight.check_hosts` with `preflight_needs`: a second `up` is not refused for its own ports."""
    needs = preflight_needs(pf.host_needs(topology, port_base), recorded, topology)
    run = run_on_hosts(topology, base_dir, pf.ROLE, [n.name for n in needs],
                       host_vars={n.name: pf.role_vars(n) for n in needs}, progress=progress,
                       timeout=pf.RUN_TIMEOUT_S)
    by_name = {h.name: h for h in topology.hosts}
    return [pf.report(n, HostSsh.of(topology, by_name[n.name], base_dir), run.outcomes[n.name]) for n in needs]


def control_address(address: str) -> str:
    """The control's own address toward `address`: the source the kernel picks for it (a UDP socket connected
    to it; no packet is sent), which is what the host sees the brokers' connections come from on a routed
    network. Behind NAT the topology's `control_address` says what the hosts see instead."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.connect((address, 9))
        return str(sock.getsockname()[0])


def control_addresses(topology: Topology, used: Sequence[Host],
                      probe: Callable[[str], str] = control_address) -> dict[str, str]:
    """host name -> the control's address as that host sees it: the topology's `control_address` (a control
    behind NAT), else `probe` of the host's address (the kernel's source address toward it)."""
    return {h.name: topology.control_address or probe(h.address) for h in used}


def prepare_control(box: Box, topology: Topology, base_dir: Path, used: Sequence[Host], govcloud: str) -> list[str]:
    """The control home, before any host is touched: the CA, every platform secret (made here once, so every
    host gets the same), the placement (runs nothing here), how to reach each host (`box.remote`: ssh_config,
    each host's home and govcloud), and box.json (the target's hosts, the port base). Returns the names of
    the secrets made."""
    from govcloud_platform.box import platform_secrets, remote
    from govcloud_platform.hosts.inventory import ssh_config_text

    box.ensure_home()
    write_private(box.home / PLACEMENT_FILE, json.dumps(placement_for(topology, None).to_json(), indent=2) + "\n")
    box.placement_written()  # before anything asks where a service is (the S3 client, the secrets' store)
    box.ca.ensure()
    names = platform_secrets.ensure_all(box)
    remote.record(box, ssh_config_text(topology, base_dir), [
        remote.RemoteHost(h.name, h.address, host_home(h), posixpath.join(host_home(h), SPEC_FILE), govcloud)
        for h in used])
    box.record(port_base=box.port_base, platform=box.spec.platform.name, target="hosts",
               hosts=[h.name for h in used])
    return names


def deploy(box: Box, topology: Topology, spec_file: Path, *, progress: Progress = quiet,
           govcloud: str | None = None, timeout: int = RUN_TIMEOUT_S,
           check: Sequence[HostNeed] = ()) -> DeployResult:
    """Deploy (or converge) the shared services on the hosts. The control home `box` is prepared first; the
    hosts are told in ONE run, a play per service in start order. The hosts passed the preflight already, or
    `check` says what the preflight checks, as the run's first play (`hosts.preflight.play`): a host not ready stops
    the run everywhere, and the error is the preflight's (`require_ready`)."""
    import time

    started = time.monotonic()
    used = hosts_in_use(topology)
    base_dir = spec_file.resolve().parent
    plans = plan(topology, control_addresses(topology, used), box.spec.platform.services.console.enabled)
    progress("control home: CA, secrets, placement")
    govcloud = govcloud or govcloud_bin()
    missing = missing_secrets(plans, prepare_control(box, topology, base_dir, used, govcloud))
    if missing:
        from govcloud_platform.errors import BoxDamaged

        raise BoxDamaged(f"the control home {box.home} lacks the secrets {', '.join(missing)} the hosts need",
                         hint="a bug of govcloud (platform_secrets.NEEDS names a secret ensure_all does not make)")
    from govcloud_platform.box.platform_secrets import issue_for_host

    control = placement_for(topology, None)
    for p in plans:  # the CA's key stays here: each host's certificates are issued on the control
        issue_for_host(box, p.name, p.address, cert_services(p.services, control, p.address, "console.pem" in p.certs),
                       control.s3_edge_addresses, control.idp_edge_addresses)
    variables = shared_vars(port_base=box.port_base, spec_file=spec_file.resolve(), control_home=box.home,
                            govcloud=govcloud)
    first = [pf.play(list(check))] if check else []
    per_host = host_vars(plans)
    for need in check:
        per_host.setdefault(need.name, {}).update(pf.role_vars(need, judge=True))
    names = list(dict.fromkeys([p.name for p in plans] + [n.name for n in check]))
    run = run_plays(topology, base_dir, first + plays(plans), names, per_host, variables, progress=progress,
                    timeout=timeout)
    by_name = {h.name: h for h in topology.hosts}
    ssh = {name: HostSsh.of(topology, by_name[name], base_dir) for name in names}
    if check:
        pf.require_ready([pf.judged(n, ssh[n.name], run.outcomes[n.name]) for n in check])
    run.outcomes = {p.name: run.outcomes[p.name] for p in plans}
    result = outcome(run, ssh, time.monotonic() - started, plans)
    if box.placement is not None and box.placement.ha_database:
        from govcloud_platform.brokers.database import resync_hba

        progress("database hosts: the agencies' pg_hba grants")
        resync_hba(box)  # a database host that was lost while agencies came or went catches up
    return result
