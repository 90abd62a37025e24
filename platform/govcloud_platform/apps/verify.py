"""`govcloud verify`: testinfra checks of deployed apps against the real host (`local://` backend):
process running under supervisord, ports bound to 127.0.0.1 only, TLS certificate valid for the public name,
health URL 200 through the proxy, files holding secrets 0600 and owned by the instance user."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from govcloud_platform.apps.layout import instance_dir, public_host, public_url
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


def _host() -> Any:
    import testinfra

    return testinfra.get_host("local://")


def _listening(host: Any) -> list[str]:
    return list(host.socket.get_listening_sockets())


def _bound_only_to_loopback(sockets: list[str], port: int) -> tuple[bool, str]:
    mine = [s for s in sockets if s.startswith("tcp://") and s.rsplit(":", 1)[-1] == str(port)]
    if not mine:
        return False, f"nothing listens on port {port}"
    wrong = [s for s in mine if s != f"tcp://{LOOPBACK}:{port}"]
    return (not wrong), ("127.0.0.1 only" if not wrong else f"also bound as {', '.join(wrong)}")


def verify(box: Box, agency: str | None = None, app: str | None = None) -> list[CheckResult]:
    """Every check for every matching deployment (an empty list if none is deployed)."""
    host = _host()
    sup = Supervisor(box)
    sockets = _listening(host)
    results: list[CheckResult] = []
    beside = Path(sys.executable).parent / "supervisorctl"
    supervisorctl = str(beside) if beside.exists() else "supervisorctl"
    for d in DeploymentStore(box).all(agency):
        if app and d.app != app:
            continue
        m = manifest(d.app)

        def add(check: str, ok: bool, detail: str, _a: str = d.agency, _p: str = d.app) -> None:
            results.append(CheckResult(_a, _p, check, ok, detail))

        program = host.supervisor(app_program(d.agency, d.app), supervisorctl_path=supervisorctl,
                                  supervisorctl_conf=str(sup.conf))
        try:
            running = bool(program.is_running)
            add("process running", running, f"{program.status} pid {program.pid}" if running else program.status)
        except Exception as exc:  # noqa: BLE001 - testinfra raises its own errors when supervisord is down
            add("process running", False, f"{type(exc).__name__}: {exc}")
        ok, detail = _bound_only_to_loopback(sockets, d.port)
        add(f"app port {d.port} on 127.0.0.1 only", ok, detail)
        ok, detail = _bound_only_to_loopback(sockets, box.ports.proxy_https)
        add(f"proxy port {box.ports.proxy_https} on 127.0.0.1 only", ok, detail)
        name = public_host(box, d.agency, d.app)
        ok, detail = peer_certificate_ok(box, name, box.ports.proxy_https)
        add(f"TLS certificate valid for {name}", ok, detail)
        url = public_url(box, d.agency, d.app) + m.health_path
        status, detail = fetch(box, url)
        add(f"health {url}", status == 200, detail)
        secret_files = [
            (instance_dir(box, d.agency, d.app) / SECRET_FILES.get(d.app, f"{d.app}.env"), system_user(d.agency)),
            (box.ca.directory / "certs" / f"{app_program(d.agency, d.app)}.key", "root"),
        ]
        for path, owner in secret_files:
            f = host.file(str(path))
            if not f.exists:
                add(f"secret file {path.name} 0600", False, f"{path} is missing")
                continue
            ok = f.mode == 0o600 and f.user == owner
            add(f"secret file {path.name} 0600", ok, f"mode {f.mode:04o}, owner {f.user}")
    return results
