"""Applies a LabPlan to this machine with `ip`, `ssh-keygen` and `sshd`, and takes it away again.

Every step looks before it acts, so an interrupted `up` converges when run again, and `down` removes what
the plan names and nothing else. The lab's state file is written before anything is made, so that `down`
knows the lab even after an `up` that was killed half-way."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govcloud_platform.errors import ConflictError, InputError, MissingDependency, OperationFailed
from govcloud_platform.hosts.inventory import ssh_config_text
from govcloud_platform.lab import procs
from govcloud_platform.lab.plan import (
    LAB_DIR,
    NETNS_ETC,
    SSHD,
    LabHost,
    LabPlan,
    bridge_argvs,
    host_link_argvs,
    hosts_file_text,
    kept_under_tmp,
    known_hosts_text,
    plan_lab,
    sshd_argv,
    sshd_config_text,
)
from govcloud_platform.lab.spec import topology_for

Say = Callable[[str], None]
FAULT_ENV = "GOVCLOUD_LAB_FAULT"  # tests: SIGKILL ourselves at the named step (`host:h2`, `sshd:h2`, ...)
TOOLS = {"ip": "iproute2", "ssh-keygen": "openssh-client", "unshare": "util-linux", SSHD: "openssh-server"}


def _traversable(path: Path) -> None:
    """A lab directory the hosts' daemons pass through (postgres, www-data: a host's `root` is below): 0711
    whatever the umask (govcloud runs with 077, which `mkdir(mode=)` would apply)."""
    missing = [path, *(p for p in path.parents if not p.exists())] if not path.exists() else [path]
    for level in reversed(missing):  # every level this makes, the path itself in any case
        level.mkdir(exist_ok=True)
        level.chmod(0o711)


@dataclass(frozen=True)
class HostStatus:
    name: str
    address: str
    netns: str
    groups: tuple[str, ...]
    netns_exists: bool
    sshd_pid: int | None
    link_up: bool
    processes: int

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "address": self.address, "netns": self.netns, "groups": list(self.groups),
                "netns_exists": self.netns_exists, "sshd_alive": self.sshd_pid is not None,
                "sshd_pid": self.sshd_pid, "link_up": self.link_up, "processes": self.processes}


def _fault(step: str) -> None:
    if os.environ.get(FAULT_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def _run(argv: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise OperationFailed(f"`{' '.join(argv[:6])}` failed: {detail[-1] if detail else proc.returncode}")
    return proc


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    """Atomically, with its mode from the start (keys and configs are never readable by others half-way)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def _link_up(name: str) -> bool:
    try:
        return bool(int(Path("/sys/class/net", name, "flags").read_text(), 16) & 0x1)  # IFF_UP
    except (OSError, ValueError):
        return False


def subnet_users(plan: LabPlan, addrs: Iterable[dict[str, Any]], routes: Iterable[dict[str, Any]]) -> list[str]:
    """Interfaces and routes of the root namespace (`ip -j addr`, `ip -j route`) that overlap the lab's
    subnet and are not the lab's own bridge. Pure."""
    users: list[str] = []
    for link in addrs:
        for info in link.get("addr_info", []):
            if info.get("family") != "inet" or link.get("ifname") == plan.bridge:
                continue
            net = ipaddress.ip_network(f"{info['local']}/{info.get('prefixlen', 32)}", strict=False)
            if net.overlaps(plan.subnet):
                users.append(f"address {info['local']}/{info.get('prefixlen')} on {link.get('ifname')}")
    for route in routes:
        dst = route.get("dst", "")
        if dst in ("", "default") or route.get("dev") == plan.bridge:
            continue
        net = ipaddress.ip_network(dst if "/" in dst else f"{dst}/32", strict=False)
        if isinstance(net, ipaddress.IPv4Network) and net.overlaps(plan.subnet):
            users.append(f"route {dst} via {route.get('dev')}")
    return users


def _netns_list() -> set[str]:
    return {p.name for p in procs.NETNS_RUN.iterdir()} if procs.NETNS_RUN.is_dir() else set()


class Lab:
    """One lab: its plan and the state file that records what `up` made."""

    def __init__(self, plan: LabPlan, say: Say | None = None) -> None:
        self.plan = plan
        self.say = say or (lambda _m: None)

    # --- state -----------------------------------------------------------------------------------------
    @classmethod
    def load(cls, spec_path: Path, name: str, say: Say | None = None) -> Lab | None:
        """The lab recorded next to the spec, or None when there is none."""
        from govcloud_platform.lab.plan import lab_dir

        state_file = lab_dir(spec_path, name) / "state.json"
        try:
            state = json.loads(state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise OperationFailed(f"cannot read {state_file}: {exc}") from None
        return cls(plan_lab(state["name"], int(state["hosts"]), Path(state["spec"])), say)

    def state(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.plan.state_file.read_text(encoding="utf-8"))
            return data
        except (OSError, ValueError):
            return {}

    def _save(self, status: str, spec_sha256: str | None = None, made_etc_netns: bool = False) -> None:
        p = self.plan
        old = self.state()
        state = {
            "version": 1, "name": p.name, "hosts": len(p.hosts), "spec": str(p.spec_path), "status": status,
            "subnet": str(p.subnet), "spec_sha256": spec_sha256 or old.get("spec_sha256"),
            "made": {
                "bridge": p.bridge, "netns": [h.netns for h in p.hosts], "veths": [h.veth for h in p.hosts],
                "dirs": [str(p.dir), *(str(h.etc_dir) for h in p.hosts)], "spec": str(p.spec_path),
                "sshd_pid_files": [str(h.pid_file) for h in p.hosts],
                # /etc/netns itself, when this lab made it (removed once empty)
                "etc_netns": made_etc_netns or bool(old.get("made", {}).get("etc_netns")),
            },
        }
        _write(p.state_file, json.dumps(state, indent=2) + "\n", 0o600)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One operation on the labs of a directory at a time (a flock on `.govcloud-lab`)."""
        root = self.plan.dir.parent
        _traversable(root)
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ConflictError(f"another `govcloud lab` command is working in {root}",
                                    hint="wait for it to finish") from None
            yield
        finally:
            os.close(fd)

    # --- checks ----------------------------------------------------------------------------------------
    @staticmethod
    def preflight() -> None:
        if os.geteuid() != 0:
            raise InputError("a lab needs root (network namespaces, bridges, sshd)", hint="run as root")
        for tool, package in TOOLS.items():
            if shutil.which(tool) is None:
                raise MissingDependency(f"{tool} is not installed: install Debian package {package} "
                                        "(`bash scripts/install-system.sh`)")

    def check_free(self) -> None:
        """Exit 2 when the lab's subnet, bridge or namespaces are someone else's (no state of ours)."""
        p = self.plan
        if p.dir == Path("/tmp") or Path("/tmp") in p.dir.parents:  # noqa: S108 - refusing it
            raise InputError(f"lab {p.name}: its directory {p.dir} is under /tmp, which each lab host replaces "
                             "with its own", hint="keep the lab's spec outside /tmp (e.g. in /var/tmp or a project)")
        ours = self.plan.state_file.exists()
        if not ours:
            taken = [h.netns for h in p.hosts if h.netns in _netns_list()]
            taken += [name for name in (p.bridge, *(h.veth for h in p.hosts)) if _link_exists(name)]
            if taken:
                raise InputError(f"lab {p.name}: {', '.join(taken)} already exist(s) and are not this lab's",
                                 hint="choose another --name, or remove them")
        addrs = json.loads(_run(["ip", "-j", "-4", "addr"]).stdout or "[]")
        routes = json.loads(_run(["ip", "-j", "-4", "route", "show", "table", "all"]).stdout or "[]")
        users = subnet_users(p, addrs, routes)
        if users:
            raise InputError(f"lab subnet {p.subnet} is in use ({'; '.join(users[:3])})",
                             hint="choose another --name (the subnet is derived from it)")

    # --- up --------------------------------------------------------------------------------------------
    def up(self, spec_text: str) -> None:
        p = self.plan
        self.check_free()
        _traversable(p.dir)
        self._save("creating", made_etc_netns=not NETNS_ETC.exists())
        _fault("state")
        self._keys()
        _write(p.sshd_config, sshd_config_text(p))
        self._bridge()
        for host in p.hosts:
            self._host(host)
            _fault(f"host:{host.name}")
        if not Path("/run/sshd").is_dir():  # sshd's privilege separation directory (shared, never removed)
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        for host in p.hosts:
            self._sshd(host)
            _fault(f"sshd:{host.name}")
        self._wait_ready(p.hosts)
        keys = {h.name: Path(f"{h.host_key}.pub").read_text(encoding="utf-8") for h in p.hosts}
        _write(p.known_hosts, known_hosts_text(p, keys))
        _write(p.ssh_config, ssh_config_text(topology_for(p), p.dir))
        _write(p.spec_path, spec_text)
        self._save("up", hashlib.sha256(spec_text.encode()).hexdigest())
        self.say(f"lab {p.name}: {len(p.hosts)} host(s) on {p.subnet} (bridge {p.bridge})")

    @staticmethod
    def _keygen(path: Path, comment: str) -> None:
        pub = Path(f"{path}.pub")
        if path.exists() and pub.exists():
            return
        path.unlink(missing_ok=True)
        pub.unlink(missing_ok=True)
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])
        os.chmod(path, 0o600)

    def _keys(self) -> None:
        p = self.plan
        self._keygen(p.key, f"govcloud-lab-{p.name}")
        _write(p.authorized_keys, Path(f"{p.key}.pub").read_text(encoding="utf-8"), 0o600)
        for h in p.hosts:
            _traversable(h.dir)
            _traversable(h.root)
            h.tmp.mkdir(exist_ok=True)
            os.chmod(h.tmp, 0o1777)  # noqa: S103 - the host's /tmp, sticky as every /tmp
            self._keygen(h.host_key, f"{h.name}@lab-{p.name}")

    def _bridge(self) -> None:
        p = self.plan
        add, *rest = bridge_argvs(p)
        if not _link_exists(p.bridge):
            _run(add)
        for argv in rest:
            _run(argv)

    def _host(self, host: LabHost) -> None:
        if host.netns not in _netns_list():
            _run(["ip", "netns", "add", host.netns])
        have = _link_exists(host.veth)
        if have and not _run(["ip", "-n", host.netns, "link", "show", "eth0"], check=False).returncode == 0:
            _run(["ip", "link", "del", host.veth])  # a veth whose peer is not in the namespace: make it anew
            have = False
        for argv in host_link_argvs(self.plan, host, have_veth=have):
            _run(argv)
        host.etc_dir.mkdir(parents=True, exist_ok=True)
        _write(host.etc_dir / "hosts", hosts_file_text(self.plan))

    def sshd_pid(self, host: LabHost) -> int | None:
        """The pid of host's sshd if it runs, in the host's namespace."""
        pid = procs.read_pid(host.pid_file)
        return pid if pid is not None and procs.pid_in_netns(pid, host.netns) else None

    def _sshd(self, host: LabHost) -> None:
        if self.sshd_pid(host) is not None:
            return
        host.pid_file.unlink(missing_ok=True)
        _run(sshd_argv(self.plan, host, _installation_under_tmp()))
        self.say(f"{host.name}: sshd on {host.address}:22")

    def _wait_ready(self, hosts: Sequence[LabHost], timeout_s: float = 15.0) -> None:
        """Each sshd has written its pid file and accepts TCP on its address (seen from the bridge)."""
        pending = list(hosts)
        deadline = time.monotonic() + timeout_s
        while pending:
            host = pending[0]
            if self.sshd_pid(host) is not None:
                with contextlib.suppress(OSError), socket.create_connection((host.address, 22), timeout=1):
                    pending.pop(0)
                    continue
            if time.monotonic() > deadline:
                log = host.log_file.read_text(errors="replace").strip().splitlines() if host.log_file.exists() else []
                raise OperationFailed(f"{host.name}: sshd is not ready on {host.address}:22"
                                      f"{': ' + log[-1] if log else ''}")
            time.sleep(0.02)

    # --- down ------------------------------------------------------------------------------------------
    def down(self) -> list[str]:
        """Remove every namespace, link, process and file of the plan; returns what was removed."""
        p = self.plan
        removed: list[str] = []
        for host in p.hosts:
            left = procs.stop_netns(host.netns)
            if left:
                raise OperationFailed(f"{host.name}: processes {left} survived SIGKILL", hint="run `lab down` again")
            if _link_exists(host.veth):  # first: deleting the namespace would free the pair only later, async
                _run(["ip", "link", "del", host.veth])
            if host.netns in _netns_list():
                _run(["ip", "netns", "del", host.netns])
                removed.append(f"netns {host.netns}")
            if host.etc_dir.exists():
                shutil.rmtree(host.etc_dir)
        if _link_exists(p.bridge):
            _run(["ip", "link", "del", p.bridge])
            removed.append(f"bridge {p.bridge}")
        state = self.state()
        if state.get("made", {}).get("etc_netns"):
            with contextlib.suppress(OSError):  # still holding another lab's hosts: left to that lab
                NETNS_ETC.rmdir()
        if p.spec_path.exists() and state.get("spec_sha256"):
            if hashlib.sha256(p.spec_path.read_bytes()).hexdigest() == state["spec_sha256"]:
                p.spec_path.unlink()
                removed.append(f"spec {p.spec_path}")
            else:
                self.say(f"kept {p.spec_path}: it was edited after `lab up`")
        if p.dir.exists():
            shutil.rmtree(p.dir)
            removed.append(f"dir {p.dir}")
        with contextlib.suppress(OSError):
            (p.dir.parent).rmdir()  # .govcloud-lab, once no lab is left in it
        return removed

    # --- faults (issue 13) -----------------------------------------------------------------------------
    def _host_or_fail(self, name: str) -> LabHost:
        host = self.plan.host(name)
        if host is None:
            known = ", ".join(h.name for h in self.plan.hosts)
            raise InputError(f"lab {self.plan.name} has no host {name!r} (hosts: {known})")
        return host

    def fail(self, name: str) -> None:
        """A host crash: every process of the host SIGKILLed at once, and its link cut."""
        host = self._host_or_fail(name)
        _run(["ip", "link", "set", host.veth, "down"])
        procs.kill_netns(host.netns)

    def partition(self, name: str) -> None:
        """The host keeps running but nothing reaches it, and it reaches nothing."""
        _run(["ip", "link", "set", self._host_or_fail(name).veth, "down"])

    def heal(self, name: str, hooks: Sequence[Callable[[Lab, LabHost], None]] = ()) -> None:
        """Link up, sshd restarted if it died; then `hooks` (the supervisord restart will be one)."""
        host = self._host_or_fail(name)
        _run(["ip", "link", "set", host.veth, "up"])
        self._sshd(host)
        self._wait_ready([host])
        for hook in hooks:
            hook(self, host)

    def restart_services(self, host: LabHost, timeout_s: float = 300) -> bool:
        """The host's own `govcloud up` over SSH, as after a reboot: its supervisord and every service of its box
        start again (a database host's Patroni rejoins as a replica). False when the host runs no box yet."""
        home = host.root / "box"
        if not (home / "placement.json").exists():
            return False
        govcloud = str(Path(sys.executable).parent / "govcloud")
        command = ["env", "GOVCLOUD_NO_AGENT=1", govcloud, "--spec", str(home / "spec.yaml"), "--home", str(home),
                   "--json", "up"]
        import shlex

        done = subprocess.run(["ssh", "-F", str(self.plan.ssh_config), host.name, "--", shlex.join(command)],
                              capture_output=True, text=True, timeout=timeout_s, check=False)
        if done.returncode != 0:
            lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
            raise OperationFailed(f"lab {self.plan.name}: {host.name}'s services did not start again: "
                                  f"{lines[-1] if lines else f'exit {done.returncode}'}",
                                  hint=f"see `govcloud --home {home} logs` on {host.name}")
        return True

    def status(self) -> list[HostStatus]:
        names = _netns_list()
        return [
            HostStatus(h.name, h.address, h.netns, h.groups, h.netns in names, self.sshd_pid(h), _link_up(h.veth),
                       len(procs.netns_pids(h.netns)))
            for h in self.plan.hosts
        ]


__all__ = ["LAB_DIR", "HostStatus", "Lab", "subnet_users"]


def _installation_under_tmp() -> list[str]:
    """The entries of /tmp that hold this govcloud (its virtualenv, its code, its Python)."""
    import govcloud_platform

    return kept_under_tmp([Path(sys.prefix), Path(sys.executable),
                           Path(govcloud_platform.__file__).resolve().parent.parent.parent])
