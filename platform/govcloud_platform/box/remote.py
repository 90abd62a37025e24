"""The operator's home reaching the hosts of the hosts target over SSH: a govcloud command on the host that
runs a service (the database's pg_hba parts live there), and the tunnel to the IdP's manager API, which
listens on its host's loopback only.

The hosts deploy records in the operator's home `hosts/hosts.json` and `hosts/ssh_config` (the topology's:
host keys always checked, `BatchMode yes`, the topology's key only; `hosts.inventory`):

    {"hosts": {"h1": {"address": "10.231.8.11", "home": "/srv/govcloud/box", "spec": "/srv/govcloud/box/govcloud.yaml",
                      "govcloud": "/opt/govcloud/bin/govcloud"}}}

Every connection goes through one SSH master per host (`ControlPath` in `control_dir`): a command costs one
round trip, not a handshake. The tunnel's master lives until `govcloud down` (`close_all`). Nothing secret
goes on a command line: what a remote command needs to read is its home's, or comes on stdin."""

from __future__ import annotations

import json
import posixpath
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from govcloud_platform.errors import BoxDamaged, ServiceError

if TYPE_CHECKING:
    from govcloud_platform.box.context import Box

DIR = "hosts"
CONNECT_TIMEOUT_S = 10
_FORWARDED: set[tuple[str, str, int]] = set()  # (control path, host, port) checked by this process


@dataclass(frozen=True)
class RemoteHost:
    name: str
    address: str
    home: str
    spec: str
    govcloud: str


def supervisorctl_of(govcloud: str) -> str:
    """Pure: the supervisorctl of a host, installed beside its govcloud (the same virtualenv)."""
    return posixpath.join(posixpath.dirname(govcloud), "supervisorctl")


def hosts_dir(box: Box) -> Path:
    return box.home / DIR


def ssh_config(box: Box) -> Path:
    return hosts_dir(box) / "ssh_config"


def record(box: Box, config_text: str, hosts: list[RemoteHost]) -> None:
    """What the deploy writes: the ssh_config and where govcloud and its home are on each host."""
    from govcloud_platform.box.secrets import write_private

    directory = box.dir(DIR)
    write_private(directory / "ssh_config", config_text)
    data = {"hosts": {h.name: {"address": h.address, "home": h.home, "spec": h.spec, "govcloud": h.govcloud}
                      for h in hosts}}
    write_private(directory / "hosts.json", json.dumps(data, indent=2) + "\n")


def remote_host(box: Box, name: str) -> RemoteHost:
    path = hosts_dir(box) / "hosts.json"
    try:
        entry = json.loads(path.read_text())["hosts"][name]
        return RemoteHost(name, str(entry["address"]), str(entry["home"]), str(entry["spec"]), str(entry["govcloud"]))
    except (OSError, ValueError, KeyError, TypeError):
        raise BoxDamaged(f"{path}: no record of host {name}",
                         hint="run `govcloud up` again: the hosts deploy writes it") from None


def host_for(box: Box, service: str) -> RemoteHost:
    name = box.host_of(service)
    if name is None:
        raise BoxDamaged(f"{box.home}: no placement for {service}", hint="run `govcloud up` again")
    return remote_host(box, name)


def control_dir(box: Box, create: bool = True) -> Path:
    """Where this home's SSH masters keep their sockets: a short path of its own under /run (a Unix socket's
    path has at most 107 bytes, and ssh adds 17 while it makes one: a box's home is often too deep), 0700."""
    import hashlib
    import os
    import tempfile

    tag = hashlib.sha256(str(box.home).encode()).hexdigest()[:16]
    base = Path("/run/govcloud") if os.access("/run", os.W_OK) else Path(tempfile.gettempdir())
    path = base / f"ssh-{tag}"
    if create:
        base.mkdir(mode=0o755, exist_ok=True)
        path.mkdir(mode=0o700, exist_ok=True)
        if path.stat().st_uid != os.geteuid():
            raise ServiceError(f"{path} belongs to another user", hint="remove it, then re-run")
        path.chmod(0o700)
    return path


def ssh_base(box: Box) -> list[str]:
    control = control_dir(box)
    return ["ssh", "-F", str(ssh_config(box)), "-o", f"ConnectTimeout={CONNECT_TIMEOUT_S}",
            "-o", "ControlMaster=auto", "-o", f"ControlPath={control}/%C", "-o", "ControlPersist=60"]


def govcloud(box: Box, service: str, args: list[str], stdin: str | None = None,
             timeout: float = 120, on: str | None = None) -> subprocess.CompletedProcess[str]:
    """`govcloud --spec <its spec> --home <host home> <args>` on the host running `service` (`on`: that one of
    its hosts); its own failure becomes ours with its last `error:` line, naming the host."""
    host = remote_host(box, on) if on is not None else host_for(box, service)
    # never through a CLI agent: a one-off command must not leave a resident process on the host
    command = shlex.join(["env", "GOVCLOUD_NO_AGENT=1", host.govcloud, "--spec", host.spec, "--home", host.home,
                          *args])
    try:
        done = subprocess.run([*ssh_base(box), host.name, "--", command], input=stdin, capture_output=True,
                              text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ServiceError(f"{service} on host {host.name}: `{' '.join(args)}` did not answer in {timeout:.0f}s",
                           hint=f"check host {host.name} ({host.address}): `govcloud status`") from None
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
        said = next((ln for ln in reversed(lines) if ln.startswith("error:")), lines[-1] if lines else "")
        raise ServiceError(f"{service} on host {host.name}: `{' '.join(args)}` failed (exit {done.returncode})"
                           + (f": {said.removeprefix('error: ')}" if said else ""),
                           hint=f"check host {host.name} ({host.address}) over ssh; then `govcloud up`")
    return done


def forward(box: Box, service: str, port: int) -> None:
    """Make 127.0.0.1:`port` here reach 127.0.0.1:`port` on the host running `service` (the IdP's manager
    API): a dedicated SSH master holding the forward, started once and kept until `govcloud down`."""
    host = host_for(box, service)
    control = str(control_dir(box) / f"t-{host.name}-{port}")
    if (control, host.name, port) in _FORWARDED:
        return
    base = ["ssh", "-F", str(ssh_config(box)), "-o", f"ControlPath={control}"]
    alive = subprocess.run([*base, "-O", "check", host.name], capture_output=True, timeout=10, check=False)
    if alive.returncode != 0:
        Path(control).unlink(missing_ok=True)  # a master that died leaves its socket
        opened = subprocess.run(
            [*base, "-o", f"ConnectTimeout={CONNECT_TIMEOUT_S}", "-o", "ControlMaster=yes",
             "-o", "ControlPersist=yes", "-o", "ExitOnForwardFailure=yes", "-f", "-N",
             "-L", f"127.0.0.1:{port}:127.0.0.1:{port}", host.name],
            capture_output=True, text=True, timeout=CONNECT_TIMEOUT_S + 20, stdin=subprocess.DEVNULL, check=False)
        if opened.returncode != 0:
            said = (opened.stderr.strip().splitlines() or ["ssh failed"])[-1]
            raise ServiceError(f"{service}: no tunnel to host {host.name} for port {port}: {said}",
                               hint=f"check host {host.name} ({host.address}) and that port {port} is free here")
    _FORWARDED.add((control, host.name, port))


def close_all(box: Box) -> None:
    """Tell every SSH master of this home to exit (tunnels included): `govcloud down` on the hosts target."""
    control = control_dir(box, create=False)
    if not control.is_dir():
        return
    for sock in control.iterdir():
        subprocess.run(["ssh", "-F", "/dev/null", "-o", f"ControlPath={sock}", "-O", "exit", "govcloud-host"],
                       capture_output=True, stdin=subprocess.DEVNULL, timeout=10, check=False)
    _FORWARDED.clear()
