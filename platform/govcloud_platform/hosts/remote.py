"""`govcloud status` and `down` on the `hosts` target: the same commands run on each host's box home over plain
SSH (`ssh -F <ssh_config>`: the topology's settings, host keys checked, never a prompt), all hosts at once for
`status`, one host after the other in reverse start order for `down`; their answers merged into the box's own
shapes. Plain ssh rather than Ansible: one short command per host, no module to ship, ~0.2 s instead of ~3 s.

Nothing secret crosses a command line: the remote command names a home and a subcommand only. The decisions
(the command lines, what a reply means, the merge, the order) are pure functions; `status` and `down` do the
I/O."""

from __future__ import annotations

import json
import posixpath
import shlex
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govcloud_platform.box.placement import Placement
from govcloud_platform.hosts.deploy import SPEC_FILE
from govcloud_platform.hosts.inventory import ssh_config_text
from govcloud_platform.hosts.runner import HostSsh
from govcloud_platform.progress import Progress, quiet
from govcloud_platform.spec.topology import Topology
from govcloud_platform.text import one_line

STATUS_TIMEOUT_S = 120
DOWN_TIMEOUT_S = 300
SSH_FAILED = 255  # ssh's own exit status when it could not run the command


@dataclass(frozen=True)
class Reply:
    """What one host answered: its JSON document, or why there is none."""

    host: str
    doc: dict[str, Any] | None
    error: str | None = None
    rc: int = 0


@dataclass
class DownResult:
    hosts: list[dict[str, Any]] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    listening_ports: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def remote_command(govcloud: str, home: str, *args: str) -> list[str]:
    """Pure: the argv run on a host: govcloud on the host's home, JSON out, never through a CLI agent."""
    return ["env", "GOVCLOUD_NO_AGENT=1", govcloud, "--spec", posixpath.join(home, SPEC_FILE), "--home", home,
            "--json", *args]


NOTHING_STOPPED = '{"stopped": [], "listening_ports": []}'


def if_deployed(home: str, remote: Sequence[str]) -> str:
    """Pure: a shell line that runs `remote` only on a host whose box home exists (`down` on a host the deploy
    never reached, or an `up` that failed before it, has nothing to stop: it says so in `down`'s shape)."""
    marker = shlex.quote(posixpath.join(home, SPEC_FILE))
    return f"if test -f {marker}; then exec {shlex.join(remote)}; else echo {shlex.quote(NOTHING_STOPPED)}; fi"


def ssh_argv(ssh: HostSsh, ssh_config: Path, remote: Sequence[str] | str) -> list[str]:
    """Pure: `ssh` to the host with the topology's settings (a host with its own ssh config file through that
    file); the remote command as one quoted string (ssh hands it to the host's shell)."""
    config = ssh.config_file or str(ssh_config)
    line = remote if isinstance(remote, str) else shlex.join(remote)
    return ["ssh", "-F", config, "-T", "-o", "BatchMode=yes", ssh.name, line]


def parse_reply(host: str, rc: int, stdout: str, stderr: str) -> Reply:
    """Pure: a host's answer. govcloud prints its JSON even when it exits 1 (an unhealthy service); ssh's own
    failure (255) or a govcloud that printed no JSON is the host's error, its last `error:` line (or ssh's)."""
    if rc != SSH_FAILED:
        try:
            doc = json.loads(stdout)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            return Reply(host, doc, None, rc)
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    errors = [ln.removeprefix("error: ") for ln in lines if ln.startswith("error: ")]
    why = errors[-1] if errors else (lines[-1] if lines else f"exit {rc}, no output")
    if rc == SSH_FAILED:
        why = f"not reachable over SSH: {why}"
    return Reply(host, None, one_line(why, 300), rc)


def merge_status(placement: Placement, replies: dict[str, Reply], ca_file: str,
                 endpoints: dict[str, str]) -> dict[str, Any]:
    """Pure: `status --json` of the whole platform in the box's shape (`ca_file`, `services` in start order),
    each service's entry as its host reported it, plus `host` and `role` (the instance's part in its cluster:
    `leader`, `sync_replica`, `replica` under Patroni, etcd's `leader`/`follower`; `active` for one of several
    equal instances such as the edges, `single` for a service that runs once, `unknown` if it did not answer).
    A host that did not answer, or did not report the service, makes it unhealthy with why (its endpoint as the
    control knows it). `fences`: each answering host's host fence (`box.fence.describe`), where it has one."""
    services: list[dict[str, Any]] = []
    for name in placement.placed():
        for host in placement.hosts_of(name) or ("?",):  # one entry per instance (the edges: per proxy host)
            reply = replies.get(host)
            entry = None
            if reply is not None and reply.doc is not None:
                entry = next((s for s in reply.doc.get("services", [])
                              if isinstance(s, dict) and s.get("name") == name), None)
            if entry is None:
                why = reply.error if reply is not None and reply.error else "the host did not report it"
                entry = {"name": name, "healthy": False, "endpoint": endpoints.get(name, ""), "pid": None,
                         "detail": f"{host}: {why}", "role": "unknown"}
            role = entry.get("role") or "single"
            if role == "single" and len(placement.hosts_of(name)) > 1:
                role = "active" if entry.get("healthy") else "unknown"
            services.append({**entry, "host": host, "role": role})
    fences = [{"host": host, **reply.doc["fence"]} for host, reply in replies.items()
              if reply.doc is not None and isinstance(reply.doc.get("fence"), dict)]
    return {"ca_file": ca_file, "services": services, **({"fences": fences} if fences else {})}


def down_order(placement: Placement) -> list[str]:
    """Pure: the hosts in use, in the order their boxes stop: a host goes after every host whose first service
    comes later in the start order (what needs the database stops before it; object storage stops last).
    A storage cluster runs on every storage host, and PostgreSQL archives its last WAL into it as it stops (through
    the first storage host's gateway, onto two volume servers): the database's hosts stop first, the first storage
    host last of them, while the volume servers of the hosts still up take that WAL."""
    cluster = placement.storage_cluster
    first: dict[str, int] = {}
    for index, name in enumerate(placement.placed()):
        for host in placement.hosts_of(name):
            if not (cluster and name == "storage"):
                first.setdefault(host, index)
    for host in placement.hosts_of("storage"):
        first.setdefault(host, 0)
    if not cluster:
        return sorted(first, key=lambda h: (-first[h], h))
    database, endpoint = set(placement.hosts_of("database")), placement.host_of("storage")
    return sorted(first, key=lambda h: (h not in database, h == endpoint, -first[h], h))


def merge_down(replies: Sequence[Reply]) -> DownResult:
    """Pure: what `down` stopped on each host, in the order it ran, and what failed."""
    out = DownResult()
    for reply in replies:
        doc = reply.doc or {}
        stopped = [str(s) for s in doc.get("stopped", [])]
        left = [f"{reply.host}:{p}" for p in doc.get("listening_ports", [])]
        out.hosts.append({"host": reply.host, "stopped": stopped, "listening_ports": left, "error": reply.error})
        out.stopped += [f"{reply.host}: {s}" for s in stopped]
        out.listening_ports += left
        if reply.error is not None:
            out.errors.append(f"{reply.host}: {reply.error}")
    return out


class Hosts:
    """The hosts in use, reachable over ssh with the topology's settings (a private ssh_config per command)."""

    def __init__(self, topology: Topology, base_dir: Path, placement: Placement, govcloud: str) -> None:
        self.topology, self.base_dir, self.placement, self.govcloud = topology, base_dir, placement, govcloud

    def _run(self, hosts: Sequence[str], args: Sequence[str], timeout: int, parallel: bool,
             progress: Progress, only_deployed: bool = False) -> list[Reply]:
        from govcloud_platform.hosts.deploy import host_home

        by_name = {h.name: h for h in self.topology.hosts}
        with tempfile.TemporaryDirectory(prefix="govcloud-remote-") as tmp:
            config = Path(tmp) / "ssh_config"
            config.write_text(ssh_config_text(self.topology, self.base_dir))

            def one(name: str) -> Reply:
                host = by_name[name]
                remote = remote_command(self.govcloud, host_home(host), *args)
                line = if_deployed(host_home(host), remote) if only_deployed else shlex.join(remote)
                argv = ssh_argv(HostSsh.of(self.topology, host, self.base_dir), config, line)
                progress(f"{name}: {' '.join(args)}")
                try:
                    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                          stdin=subprocess.DEVNULL, check=False)
                except subprocess.TimeoutExpired:
                    return Reply(name, None, f"no answer within {timeout} s", -1)
                return parse_reply(name, proc.returncode, proc.stdout, proc.stderr)

            if not parallel:
                return [one(name) for name in hosts]
            with ThreadPoolExecutor(max_workers=max(len(hosts), 1)) as pool:
                return list(pool.map(one, hosts))

    def status(self, ca_file: str, endpoints: dict[str, str], progress: Progress = quiet) -> dict[str, Any]:
        hosts = list(dict.fromkeys(h for s in self.placement.placed() for h in self.placement.hosts_of(s)))
        replies = self._run(hosts, ["status"], STATUS_TIMEOUT_S, True, progress)
        return merge_status(self.placement, {r.host: r for r in replies}, ca_file, endpoints)

    def down(self, progress: Progress = quiet, on_host: Callable[[Reply], None] | None = None) -> DownResult:
        replies = []
        for name in down_order(self.placement):
            reply = self._run([name], ["down"], DOWN_TIMEOUT_S, False, progress, only_deployed=True)[0]
            if on_host is not None:
                on_host(reply)
            replies.append(reply)
        return merge_down(replies)
