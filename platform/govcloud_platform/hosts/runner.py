"""Run a playbook on the topology's hosts over SSH, through the one ansible-runner adapter
(`govcloud_platform.apps.runner.run_playbook`), and read what happened on each host.

How the hosts are reached is what `hosts.inventory` writes: an ssh_config with host keys always checked
(`StrictHostKeyChecking yes`, the topology's known_hosts file), `BatchMode yes` (never a prompt), the
topology's key only (`IdentitiesOnly`). Both files live in a private 0700 run directory with the extra vars,
deleted after the run; so do the SSH connection masters of the run (ControlPath inside it), which are closed
explicitly at the end: nothing of a run outlives it, and a later run never rides an earlier run's connection
(which would hide a key that no longer works).

The decisions (which host failed at which step, why, and what to check) are pure functions over the run's
trimmed events; `run_on_hosts` only does the I/O."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govcloud_platform.apps.runner import (  # the one ansible-runner adapter; its SSH run helpers too
    base_env,
    failure_message,
    require_role,
    run_playbook,
    ssh_env,
    ssh_run_dir,
)
from govcloud_platform.errors import HostError
from govcloud_platform.hosts.inventory import inventory, resolve, ssh_config_text
from govcloud_platform.progress import Progress, quiet
from govcloud_platform.spec.topology import Host, Topology

RUN_TIMEOUT_S = 600
MAX_FORKS = 32
# What an ssh failure says -> its kind. Checked in this order: a host key problem or a refused key says
# "Permission denied"/"verification failed" whatever the network did before.
_HOST_KEY_SIGNS = ("host key verification failed", "remote host identification has changed",
                   "host key is known for", "man-in-the-middle")
_AUTH_SIGNS = ("permission denied", "too many authentication failures", "no such identity",
               "load key", "bad permissions", "unprotected private key")

@dataclass(frozen=True)
class HostSsh:
    """How a host is reached, as the hints name it (paths resolved against the spec's directory)."""

    name: str
    address: str
    user: str
    port: int
    key_file: str | None
    known_hosts: str | None
    config_file: str | None = None

    @classmethod
    def of(cls, topology: Topology, host: Host, base_dir: Path) -> HostSsh:
        ssh = topology.ssh_for(host)
        path = (lambda p: resolve(p, base_dir) if p else None)  # noqa: E731 - a one-line helper
        return cls(name=host.name, address=host.address, user=ssh.user or "root", port=ssh.port or 22,
                   key_file=path(ssh.key_file), known_hosts=path(ssh.known_hosts), config_file=path(ssh.config_file))


@dataclass(frozen=True)
class HostOutcome:
    """What a run did on one host. `kind`: None (ok), `unreachable` (network, sshd), `auth` (the key),
    `host_key` (known_hosts), `failed` (a task failed), `no_result` (the run ended before reaching it)."""

    name: str
    kind: str | None = None
    step: str | None = None
    message: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    changed: int = 0  # tasks that reported a change (a read-only role: always 0)

    @property
    def ok(self) -> bool:
        return self.kind is None

    @property
    def reachable(self) -> bool:
        return self.kind not in ("unreachable", "auth", "host_key", "no_result")


@dataclass
class HostsRun:
    status: str
    rc: int | None
    seconds: float
    outcomes: dict[str, HostOutcome]


def classify_unreachable(message: str) -> str:
    """Pure: `host_key`, `auth` or `unreachable`, from what ssh said when Ansible could not get in."""
    text = message.lower()
    if any(sign in text for sign in _HOST_KEY_SIGNS):
        return "host_key"
    if any(sign in text for sign in _AUTH_SIGNS):
        return "auth"
    return "unreachable"


_NOISE = re.compile(r"^(task failed: |failed to connect to the host via ssh: |ssh: |[\w.-]+@[\w.:-]+: "
                    r"|connect to host \S+ port \d+: )", re.IGNORECASE)


REASON_MAX = 200


def ssh_reason(message: str) -> str:
    """Pure: what ssh said, without Ansible's wrapping or the host's own name and address (which the report
    gives once), so that hosts failing for the same reason read the same: `Connection timed out`. ssh's long
    host key warnings become one sentence."""
    text = " ".join(message.split())
    lower = text.lower()
    if "remote host identification has changed" in lower or "man-in-the-middle" in lower:
        return "its host key differs from the one in known_hosts (REMOTE HOST IDENTIFICATION HAS CHANGED)"
    if "host key is known for" in lower:
        return "no host key is known for it (host keys are checked strictly)"
    while (match := _NOISE.match(text)) is not None:
        text = text[match.end():]
    text = text.rstrip(".") or message.strip()
    return text if len(text) <= REASON_MAX else text[: REASON_MAX - 1] + "…"


def host_outcomes(names: Sequence[str], events: Iterable[dict[str, Any]], status: str = "successful"
                  ) -> dict[str, HostOutcome]:
    """Pure: per host of `names`, its first failure (task and message) or its facts. A host the run never
    reported on failed with `no_result` (the run ended early: `status` says how)."""
    facts: dict[str, dict[str, Any]] = {n: {} for n in names}
    changed: dict[str, int] = dict.fromkeys(names, 0)
    failed: dict[str, HostOutcome] = {}
    seen: set[str] = set()
    for ev in events:
        host = ev.get("host", "")
        if host not in facts:
            continue
        seen.add(host)
        res = ev.get("res", {}) or {}
        if ev["event"] == "runner_on_ok":
            changed[host] += 1 if res.get("changed") else 0
            if isinstance(res.get("ansible_facts"), dict):
                facts[host].update(res["ansible_facts"])
        elif host not in failed and not ev.get("ignore_errors"):
            if ev["event"] == "runner_on_unreachable":
                msg = failure_message(res, limit=None)  # ssh's warnings start with what matters
                failed[host] = HostOutcome(host, classify_unreachable(msg), ev["task"], ssh_reason(msg))
            elif ev["event"] == "runner_on_failed":
                failed[host] = HostOutcome(host, "failed", ev["task"], failure_message(res))
    out: dict[str, HostOutcome] = {}
    for name in names:
        if name in failed:
            f = failed[name]
            out[name] = HostOutcome(name, f.kind, f.step, f.message, facts[name], changed[name])
        elif name not in seen:
            out[name] = HostOutcome(name, "no_result", None, f"no result from Ansible (run {status})")
        else:
            out[name] = HostOutcome(name, facts=facts[name], changed=changed[name])
    return out


def what_to_check(kind: str | None, ssh: HostSsh, lab_hint: bool = True) -> str:
    """Pure: what the operator should look at for a failure of `kind` on the host reached as `ssh`."""
    if ssh.config_file:
        return f"check the ssh config file {ssh.config_file} (`ssh -F {ssh.config_file} {ssh.name} true`)"
    if kind == "host_key":
        known = ssh.known_hosts or "~/.ssh/known_hosts"
        return (f"the host's key is missing from, or differs from, the known_hosts file {known}: check that file "
                "against the host's key (a changed key may be an attack)")
    if kind == "auth":
        key = ssh.key_file or "ssh's default key"
        return (f"the key file {key} is not accepted for {ssh.user}: check the key file and the host's "
                "authorized_keys")
    if kind in ("unreachable", "no_result"):
        lab = "; in a lab: `govcloud lab status`" if lab_hint else ""
        return f"check the host's address, that sshd listens on port {ssh.port} and the network{lab}"
    return f"fix it on {ssh.name} and re-run"


def failure_text(outcome: HostOutcome, ssh: HostSsh) -> str:
    """Pure: what went wrong on a failed host: `unreachable at 'step': message (what to check)`."""
    what = {"unreachable": "unreachable", "auth": "SSH login refused", "host_key": "host key not trusted",
            "failed": "failed", "no_result": "no result"}.get(outcome.kind or "", "failed")
    step = f" at {outcome.step!r}" if outcome.step else ""
    msg = f": {outcome.message}" if outcome.message else ""
    return f"{what}{step}{msg} ({what_to_check(outcome.kind, ssh)})"


def describe(outcome: HostOutcome, ssh: HostSsh) -> str:
    """Pure: one line for a failed host: `h2 (10.0.0.12): unreachable at 'step': message (what to check)`."""
    return f"{outcome.name} ({ssh.address}): {failure_text(outcome, ssh)}"


def hosts_error(what: str, failures: Sequence[tuple[str, str, str]]) -> HostError:
    """Pure: the one error of a run that failed on some hosts. `failures` are (host, address, what went wrong);
    hosts that failed the same way are named together, so the line stays short on many hosts."""
    groups: dict[str, list[str]] = {}
    for name, address, text in failures:
        groups.setdefault(text, []).append(f"{name} ({address})")
    names = tuple(name for name, _, _ in failures)
    return HostError(f"{what} failed on {len(names)} host{'s' if len(names) != 1 else ''}: "
                     + "; ".join(f"{', '.join(hosts)}: {text}" for text, hosts in groups.items()), hosts=names)


def run_on_hosts(topology: Topology, base_dir: Path, role: str, hosts: Sequence[str],
                 host_vars: dict[str, dict[str, Any]] | None = None, variables: dict[str, Any] | None = None,
                 *, progress: Progress = quiet, timeout: int = RUN_TIMEOUT_S) -> HostsRun:
    """Run `role` on `hosts` (names of the topology) in parallel, one fork per host; per-host variables go
    into the inventory, shared ones into the 0600 extra vars. Returns every host's outcome; raising is the
    caller's decision."""
    play = {"name": role, "hosts": ":".join(hosts), "gather_facts": False, "roles": [role]}
    return run_plays(topology, base_dir, [play], hosts, host_vars, variables, progress=progress, timeout=timeout)


def run_plays(topology: Topology, base_dir: Path, plays: Sequence[dict[str, Any]], hosts: Sequence[str],
              host_vars: dict[str, dict[str, Any]] | None = None, variables: dict[str, Any] | None = None,
              *, progress: Progress = quiet, timeout: int = RUN_TIMEOUT_S) -> HostsRun:
    """Run `plays` (in order, in ONE ansible-playbook run: one SSH connection per host for all of them) on the
    topology; `hosts` are the names whose outcomes are reported. A host that failed in one play is left out of
    the later ones by Ansible itself."""
    for play in plays:
        for role in play.get("roles", []):
            require_role(role if isinstance(role, str) else str(role["role"]))
    with ssh_run_dir() as pdd:
        config = pdd / "ssh_config"
        config.write_text(ssh_config_text(topology, base_dir))
        inv = inventory(topology, base_dir, config)
        for name, hv in (host_vars or {}).items():
            inv["all"]["hosts"][name].update(hv)
        run = run_playbook(pdd, list(plays), inv, variables or {}, base_env(ssh_env(pdd)), progress=progress,
                           timeout=timeout, forks=min(max(len(hosts), 1), MAX_FORKS))
    return HostsRun(run.status, run.rc, run.seconds, host_outcomes(hosts, run.events, run.status))

