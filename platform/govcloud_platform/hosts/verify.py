"""`govcloud verify` on the `hosts` target: testinfra over SSH checks every host in use as the box's code expects
it, from the operator's home.

On each host (testinfra's `ssh://` backend with the topology's ssh_config: host keys checked, never a prompt,
one connection master per host inside a private run directory, closed at the end):
- every program of the host's supervisord is RUNNING;
- each port of the services placed there is bound on the address it needs (the host's own, or its loopback for
  what never leaves the host: the box's port plan `box.ports`, `box.network.LOOPBACK_ONLY`) and on no other
  address that can be reached from outside it; and nothing else listens on the host's outside addresses but sshd;
- the host's box home follows the box's own permission scheme (`box.modes`: nothing readable by other users but
  what is public by design), and every secret file (`secrets/*`, `ca/ca.key`) is 0600 and root's.

What the expected state is, and what an observation means, are pure functions below (unit-tested); `verify_hosts`
only reads (testinfra: `ss`, `supervisorctl status`, `find -printf`), never changes a host, and sends nothing
secret over a command line."""

from __future__ import annotations

import ipaddress
import posixpath
import shlex
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govcloud_platform.apps.verify import CheckResult
from govcloud_platform.box.modes import violations
from govcloud_platform.box.placement import Placement, apps_listen_address, console_front, unbound_ports
from govcloud_platform.box.ports import OFFSETS, Ports
from govcloud_platform.hosts.inventory import ssh_config_text
from govcloud_platform.hosts.preflight import EDGE_LABELS, PortNeed, host_ports
from govcloud_platform.hosts.runner import HostSsh, ssh_run_dir
from govcloud_platform.progress import Progress, quiet
from govcloud_platform.spec.topology import Host, Topology

SECRET_MODE = 0o600
TIMEOUT_S = 10


@dataclass
class Observed:
    """What testinfra read on one host (or why it could not)."""

    sockets: list[str] = field(default_factory=list)  # testinfra's "tcp://ADDRESS:PORT" of every listener
    programs: dict[str, str] = field(default_factory=dict)  # supervisord program -> state
    paths: list[tuple[str, int, bool, str]] = field(default_factory=list)  # (rel, mode, is_dir, owner)
    error: str | None = None


def services_on(placement: Placement, host: str) -> list[str]:
    """Pure: the services placed on `host`, in start order."""
    return [s for s in placement.placed() if host in placement.hosts_of(s)]


def expected_ports(topology: Topology, placement: Placement, port_base: int, host: Host,
                   console: bool = False) -> list[PortNeed]:
    """Pure: every port the services placed on the host bind, and on which address. The apps' proxy port
    (EDGE_LABELS) is the edge's on its host's address; on an apps host the edge forwards to, the apps' front binds
    it on the host's address once an app is published (optional: no app yet, nothing listens). In front of a
    storage cluster the edge binds its S3 port (`s3_edge`) too. `console` (the spec enables it): the console's HTTPS
    port on the placed identity host, whose nginx fronts it (`placement.console_front`)."""
    services = services_on(placement, host.name)
    front = console and "identity" in services and console_front(placement) == host.address
    unbound = unbound_ports(placement, console_front=front)
    out = [p for p in host_ports(topology, host, port_base, services)
           if p.label not in EDGE_LABELS and p.label not in unbound]
    port = Ports(port_base).proxy_https
    if "proxy" in services and "apps" in placement.services:  # an edge without apps fronts only S3 (s3_edge)
        out.append(PortNeed("proxy_https", port, host.address))
    elif "apps" in services and apps_listen_address(placement) == host.address:
        out.append(PortNeed("proxy_https", port, host.address, optional=True))
    return out


def listener(text: str) -> tuple[str, int] | None:
    """Pure: (address, port) of a testinfra listening socket (`tcp://10.0.0.1:5432`, `tcp://:::22`), else None."""
    if not text.startswith("tcp://"):
        return None
    address, _, port = text.removeprefix("tcp://").rpartition(":")
    try:
        return address.strip("[]"), int(port)
    except ValueError:
        return None


def _outside(address: str) -> bool:
    """Pure: whether a listener on `address` can be reached from another machine (not loopback)."""
    try:
        return not ipaddress.ip_address(address).is_loopback
    except ValueError:
        return True


def _service_of(label: str) -> str:
    return "proxy" if label in EDGE_LABELS else OFFSETS[label.removesuffix("_grpc")][1]


def listener_checks(expected: Sequence[PortNeed], sockets: Sequence[str], ssh_port: int,
                    ) -> list[tuple[str, str, bool, str]]:
    """Pure: (service, check, ok, detail) for the host's listeners: each expected port on its address and on no
    other outside address; nothing else on an outside address but sshd."""
    bound: dict[int, set[str]] = {}
    for s in sockets:
        parsed = listener(s)
        if parsed is not None:
            bound.setdefault(parsed[1], set()).add(parsed[0])
    out = []
    for need in expected:
        where = bound.get(need.port, set())
        stray = sorted(a for a in where if a != need.address and _outside(a))
        ok = (need.address in where or need.optional) and not stray
        detail = ("not bound yet (nothing to serve)" if ok and need.address not in where else
                  f"on {need.address} only" if ok else
                  f"nothing listens on {need.address}" if need.address not in where else
                  f"also on {', '.join(stray)}")
        out.append((_service_of(need.label), f"port {need.port} ({need.label}) on {need.address}", ok, detail))
    known = {n.port for n in expected} | {ssh_port}
    others = sorted(f"{a}:{p}" for p, addresses in bound.items() if p not in known for a in addresses if _outside(a))
    out.append(("", "nothing else listens outside the host but sshd", not others,
                "none" if not others else ", ".join(others)))
    return out


def program_checks(programs: dict[str, str]) -> list[tuple[str, str, bool, str]]:
    """Pure: every program of the host's supervisord RUNNING (none at all is a failure: nothing runs there)."""
    if not programs:
        return [("", "supervisord programs running", False, "supervisord reported no program")]
    return [("", f"program {name} running", state == "RUNNING", state) for name, state in sorted(programs.items())]


def _is_secret(rel: str) -> bool:
    """Pure: a file holding a secret in a box home: `secrets/*` (one level) and the CA's key."""
    return rel == "ca/ca.key" or (rel.startswith("secrets/") and "/" not in rel.removeprefix("secrets/"))


def mode_checks(paths: Sequence[tuple[str, int, bool, str]], secrets_expected: bool = True,
                ) -> list[tuple[str, str, bool, str]]:
    """Pure: the home follows the box's permission scheme (`box.modes`); every secret file is 0600 and root's (and
    there are some, unless the host's services need none: the apps' front, the edge); the CA's key is not there
    (the control issues the host's certificates)."""
    wrong = violations([(rel, mode, is_dir) for rel, mode, is_dir, _owner in paths])
    out = [("", "permissions follow the box's scheme", not wrong,
            "all" if not wrong else "; ".join(f"{rel or '.'} {mode:04o} (want {want:04o})"
                                              for rel, mode, want in wrong[:5])
            + (f"; and {len(wrong) - 5} more" if len(wrong) > 5 else ""))]
    secrets = [(rel, mode, owner) for rel, mode, is_dir, owner in paths if not is_dir and _is_secret(rel)]
    bad = [f"{rel} {mode:04o} {owner}" for rel, mode, owner in secrets if mode != SECRET_MODE or owner != "root"]
    present = bool(secrets) or not secrets_expected
    out.append(("", f"secret files 0600 and root's ({len(secrets)})", present and not bad,
                "; ".join(bad) if bad else ("none on this host (its services need none)" if not secrets else "all")))
    ca_key = any(rel == "ca/ca.key" for rel, _mode, _is_dir, _owner in paths)
    out.append(("", "the CA's key stays on the control", not ca_key,
                "ca/ca.key is on this host: run `govcloud up` on the control (it removes it)" if ca_key
                else "not on this host"))
    return out


def host_checks(name: str, expected: Sequence[PortNeed], seen: Observed, ssh_port: int,
                secrets_expected: bool = True) -> list[CheckResult]:
    """Pure: every check of one host from what testinfra read there (`secrets_expected`: its services need some)."""
    if seen.error is not None:
        return [CheckResult("", "", "reachable over SSH and checked", False, seen.error, host=name)]
    rows = (program_checks(seen.programs) + listener_checks(expected, seen.sockets, ssh_port)
            + mode_checks(seen.paths, secrets_expected))
    return [CheckResult("", "", check, ok, detail, host=name, service=service or None)
            for service, check, ok, detail in rows]


def parse_find(text: str) -> list[tuple[str, int, bool, str]]:
    """Pure: `find HOME -printf '%P\\t%m\\t%y\\t%u\\n'` as (rel, mode, is_dir, owner); links and sockets are
    left out (their own mode means nothing: a link's is its target's, a socket's access is its directory's)."""
    out = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != 4 or parts[2] in ("l", "s"):
            continue
        try:
            out.append((parts[0], int(parts[1], 8), parts[2] == "d", parts[3]))
        except ValueError:
            continue
    return out


def observe_error(exc: BaseException) -> str:
    """Pure: why a host could not be checked. testinfra raises RuntimeError(CommandResult) when ssh itself
    failed (exit 255): its last line of stderr says why; anything else is named as it is."""
    result = exc.args[0] if exc.args else None
    if isinstance(exc, RuntimeError) and getattr(result, "exit_status", None) == 255:
        lines = str(getattr(result, "stderr", "") or "").strip().splitlines()
        return f"not reachable over SSH: {lines[-1] if lines else 'ssh failed'}"
    return f"could not be checked: {type(exc).__name__}: {exc}"


def _observe(target: Any, home: str, supervisorctl: str) -> Observed:
    conf = posixpath.join(home, "supervisor", "supervisord.conf")
    seen = Observed(sockets=list(target.socket.get_listening_sockets()))
    listed = target.run(f"{shlex.quote(supervisorctl)} -c {shlex.quote(conf)} status")
    for line in listed.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 2:
            seen.programs[fields[0]] = fields[1]
    found = target.run(f"find {shlex.quote(home)} -printf '%P\\t%m\\t%y\\t%u\\n'")
    seen.paths = parse_find(found.stdout)
    return seen


def verify_hosts(topology: Topology, base_dir: Path, placement: Placement, port_base: int,
                 homes: dict[str, tuple[str, str]], *, progress: Progress = quiet,
                 console: bool = False) -> list[CheckResult]:
    """Check every host in use over SSH (all at once); `homes`: host -> (its box home, its govcloud). Never
    raises for a host: one that cannot be reached is a failed check naming why."""
    import testinfra

    from govcloud_platform.box.platform_secrets import needed_by
    from govcloud_platform.box.remote import supervisorctl_of

    by_name = {h.name: h for h in topology.hosts}
    names = [n for n in homes if n in by_name]
    with ssh_run_dir() as pdd:
        config = pdd / "ssh_config"
        config.write_text(ssh_config_text(topology, base_dir))

        def one(name: str) -> list[CheckResult]:
            home, govcloud = homes[name]
            ssh = HostSsh.of(topology, by_name[name], base_dir)
            progress(f"{name}: verify")
            # testinfra %-formats its ssh command line: ssh's own %C (a hash of the connection) is written %%C
            target = testinfra.get_host(f"ssh://{name}", ssh_config=ssh.config_file or str(config),
                                        controlpath=str(pdd / "cp" / "%%C"), controlpersist=30, timeout=TIMEOUT_S)
            try:
                seen = _observe(target, home, supervisorctl_of(govcloud))
            except Exception as exc:  # noqa: BLE001 - one host's failure is its failed check, never the others'
                seen = Observed(error=observe_error(exc))
            expected = expected_ports(topology, placement, port_base, by_name[name], console)
            return host_checks(name, expected, seen, ssh.port,
                               secrets_expected=bool(needed_by(services_on(placement, name))))

        with ThreadPoolExecutor(max_workers=max(len(names), 1)) as pool:
            return [r for rows in pool.map(one, names) for r in rows]
