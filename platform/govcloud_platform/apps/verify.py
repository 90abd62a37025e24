"""`govcloud verify`: testinfra checks of deployed apps against the real host (`local://` backend on one machine;
`ssh://` to the apps' host on the hosts target, with the control's recorded ssh_config): process running under
supervisord, the app's port bound to 127.0.0.1 only, the proxy port only where it must be (loopback on one
machine, the apps' front's address on an apps host), TLS certificate valid for the public name and health URL
200 through the proxy (the edge on the hosts target), files holding secrets 0600 and owned by their user."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from govcloud_platform.apps.layout import (
    AppTarget,
    app_target,
    app_tls,
    instance_dir,
    public_host,
    public_url,
    tls_files,
)
from govcloud_platform.apps.manifests import manifest
from govcloud_platform.apps.probe import fetch, peer_certificate_ok
from govcloud_platform.apps.store import DeploymentStore
from govcloud_platform.box.context import LOOPBACK, Box
from govcloud_platform.box.supervisor import Supervisor
from govcloud_platform.names import app_program, system_user

SECRET_FILES = {"portal": "portal.env", "opendata": "opendata.env", "messaging": "homeserver.yaml"}


@dataclass(frozen=True)
class CheckResult:
    agency: str
    app: str
    check: str
    ok: bool
    detail: str
    host: str | None = None  # the hosts target: the host checked (over SSH); None: this machine
    service: str | None = None  # the hosts target: the shared service the check is about, if one

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@contextmanager
def _host(box: Box, target: AppTarget) -> Iterator[Any]:
    """testinfra's host for the target: this machine, or the apps' host over SSH (one connection master inside a
    private run directory, closed at the end)."""
    import testinfra

    if target.host is None:
        yield testinfra.get_host("local://")
        return
    from govcloud_platform.apps.runner import ssh_run_dir
    from govcloud_platform.box import remote

    with ssh_run_dir() as pdd:
        # testinfra %-formats its ssh command line: ssh's own %C is written %%C
        yield testinfra.get_host(f"ssh://{target.host}", ssh_config=str(remote.ssh_config(box)),
                                 controlpath=str(pdd / "cp" / "%%C"), controlpersist=30, timeout=10)


def _listening(host: Any) -> list[str]:
    return list(host.socket.get_listening_sockets())


def _bound_only_to(sockets: list[str], port: int, address: str = LOOPBACK) -> tuple[bool, str]:
    mine = [s for s in sockets if s.startswith("tcp://") and s.rsplit(":", 1)[-1] == str(port)]
    if not mine:
        return False, f"nothing listens on port {port}"
    wrong = [s for s in mine if s != f"tcp://{address}:{port}"]
    return (not wrong), (f"{address} only" if not wrong else f"also bound as {', '.join(wrong)}")


def verify(box: Box, agency: str | None = None, app: str | None = None) -> list[CheckResult]:
    """Every check for every matching deployment (an empty list if none is deployed)."""
    deployments = [d for d in DeploymentStore(box).all(agency) if not app or d.app == app]
    if not deployments:
        return []
    target = app_target(box)
    with _host(box, target) as host:
        return _checks(box, target, host, deployments)


def _checks(box: Box, target: AppTarget, host: Any, deployments: list[Any]) -> list[CheckResult]:
    sup = Supervisor(box)
    sockets = _listening(host)
    results: list[CheckResult] = []
    proxy = box.ports.proxy_https
    for d in deployments:
        m = manifest(d.app)

        def add(check: str, ok: bool, detail: str, _a: str = d.agency, _p: str = d.app) -> None:
            results.append(CheckResult(_a, _p, check, ok, detail, host=target.host))

        program = host.supervisor(app_program(d.agency, d.app), supervisorctl_path=target.supervisorctl,
                                  supervisorctl_conf=str(target.rebase(box, sup.conf)))
        try:
            running = bool(program.is_running)
            add("process running", running, f"{program.status} pid {program.pid}" if running else program.status)
        except Exception as exc:  # noqa: BLE001 - testinfra raises its own errors when supervisord is down
            add("process running", False, f"{type(exc).__name__}: {exc}")
        ok, detail = _bound_only_to(sockets, d.port)
        add(f"app port {d.port} on 127.0.0.1 only", ok, detail)
        ok, detail = _bound_only_to(sockets, proxy, target.listen)
        add(f"proxy port {proxy} on {target.listen} only", ok, detail)
        name = public_host(box, d.agency, d.app)
        ok, detail = peer_certificate_ok(box, name, proxy, connect=target.connect)
        add(f"TLS certificate valid for {name}", ok, detail)
        url = public_url(box, d.agency, d.app) + m.health_path
        status, detail = fetch(box, url, connect=target.connect)
        add(f"health {url}", status == 200, detail)
        _cert, key = tls_files(target, app_tls(box, d.agency, d.app))[0]
        secret_files = [
            (target.rebase(box, instance_dir(box, d.agency, d.app)) / SECRET_FILES.get(d.app, f"{d.app}.env"),
             system_user(d.agency)),
            (key, "root"),
        ]
        for path, owner in secret_files:
            f = host.file(str(path))
            if not f.exists:
                add(f"secret file {path.name} 0600", False, f"{path} is missing")
                continue
            ok = f.mode == 0o600 and f.user == owner
            add(f"secret file {path.name} 0600", ok, f"mode {f.mode:04o}, owner {f.user}")
    return results
