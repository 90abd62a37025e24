"""The web console on the hosts target (docs/console.md "On the hosts target").

The console's process acts as the operator does: it reads and writes the registry, reads every platform secret
(credentials, onboarding through the brokers) and reaches every host over SSH (app deploys, backups). On the hosts
target all of that is the control's alone (docs/topology.md: the registry's key never leaves it, the IdP's host
holds no superuser password). So the process runs on the control, under a supervisord of the control home, and the
placed identity host's nginx is its front door (its TLS server block, `console_conf.nginx_server`, written by that
host's identity service), reaching it through the control's SSH tunnel (`console_conf.tunnel_argv`). The same
`ConsoleService` and `console_conf` as on one machine: no second copy of its configuration.

`up` here is what `govcloud up --service console` does on a box (`runtime.up`), without what a host's box adds
(the CLI agent, the host fence): the control's supervisord runs the console alone."""

from __future__ import annotations

from typing import Any

from govcloud_platform.box.context import Box
from govcloud_platform.box.runtime import READY_TIMEOUT, _health
from govcloud_platform.box.services.console import ConsoleService
from govcloud_platform.box.supervisor import Supervisor
from govcloud_platform.progress import Progress, quiet
from govcloud_platform.state.lock import box_lock


def entry(box: Box, health: Any) -> dict[str, Any]:
    """Pure: the console's row of `status --json` on the hosts target, in the hosts' shape: its host is its front's
    (where its URL is), its process the control's (said in the detail)."""
    detail = health.detail + ("; " if health.detail else "") + "its process runs on the control"
    return {"name": "console", "healthy": health.healthy, "endpoint": health.endpoint, "pid": health.pid,
            "detail": detail, "host": box.host_of("identity") or "?", "role": "single" if health.healthy else "unknown"}


def up(box: Box, progress: Progress = quiet) -> bool:
    """The console on the control: started, or converged (its settings or programs changed), then its OIDC client
    at the IdP; stopped and forgotten when the spec turned it off. True if anything changed."""
    svc = ConsoleService()
    sup = Supervisor(box)
    with box_lock(box.home, "up: console", wait=120):
        if not box.runs("console"):
            return _stop(box, sup, progress)
        info = sup.info() if sup.running() else {}
        programs = svc.programs(box)
        running = all(info.get(p.name, {}).get("statename") == "RUNNING" for p in programs)
        if running and all(sup.is_current(p) for p in programs) and not svc.stale_programs(box) \
                and svc.check(box)[0]:
            return False
        stale = svc.stale_programs(box) if running else []  # before prepare rewrites what they read
        progress("console: preparing (on the control)")
        svc.prepare(box)
        sup.start()
        sup.sync_programs(programs)
        for name in stale:  # same section, new settings: restart to read them
            sup.stop(name)
        for prog in programs:
            progress(f"console: starting {prog.name}")
            sup.ensure_running(prog.name)
        progress("console: waiting until ready")
        svc.wait_ready(box, READY_TIMEOUT.get(svc.name, 60.0))
        svc.post_start(box)
        progress(f"console: ready at {svc.endpoint(box)}")
        return True


def _stop(box: Box, sup: Supervisor, progress: Progress) -> bool:
    if not sup.running():
        return False
    progress("console: turned off in the spec, stopping it on the control")
    sup.shutdown()
    return True


def down(box: Box, progress: Progress = quiet) -> list[str]:
    """Stop the control's supervisord and the console with it (first: it reads every other service)."""
    sup = Supervisor(box)
    if not sup.running():
        return []
    with box_lock(box.home, "down: console", wait=120):
        names = [n for n, p in sup.info().items() if p.get("statename") in ("RUNNING", "STARTING", "BACKOFF")]
        progress("console: stopping (on the control)")
        sup.shutdown()
    return names


def health(box: Box) -> dict[str, Any] | None:
    """The console's `status` row on the hosts target, None when the spec does not enable it."""
    if not box.runs("console"):
        return None
    sup = Supervisor(box)
    info = sup.info() if sup.running() else {}
    return entry(box, _health(box, ConsoleService(), info))


def platform_status(box: Box) -> list[dict[str, Any]]:
    """What `govcloud status` lists on the hosts target, for the console's overview (run by the console's process
    on the control): every host's own `status --json` over the control's SSH masters (`box.remote`), merged
    (`hosts.remote.merge_status`), and the console's row."""
    import shlex
    import subprocess
    from concurrent.futures import ThreadPoolExecutor

    from govcloud_platform.box import remote
    from govcloud_platform.box.services import all_services, edge_services
    from govcloud_platform.hosts.remote import STATUS_TIMEOUT_S, Reply, merge_status, parse_reply, remote_command

    placement = box.placement
    assert placement is not None
    names = list(dict.fromkeys(h for s in placement.placed() for h in placement.hosts_of(s)))

    def one(name: str) -> Reply:
        host = remote.remote_host(box, name)
        line = shlex.join(remote_command(host.govcloud, host.home, "status"))
        try:
            done = subprocess.run([*remote.ssh_base(box), name, "--", line], capture_output=True, text=True,
                                  timeout=STATUS_TIMEOUT_S, stdin=subprocess.DEVNULL, check=False)
        except subprocess.TimeoutExpired:
            return Reply(name, None, f"no answer within {STATUS_TIMEOUT_S} s", -1)
        return parse_reply(name, done.returncode, done.stdout, done.stderr)

    with ThreadPoolExecutor(max_workers=max(len(names), 1)) as pool:
        replies = {r.host: r for r in pool.map(one, names)}
    endpoints = {}
    for svc in [*all_services(), *edge_services()]:
        try:
            endpoints[svc.name] = svc.endpoint(box)
        except Exception:  # noqa: BLE001 - only a fallback for a host that did not answer
            endpoints[svc.name] = ""
    doc = merge_status(placement, replies, str(box.ca_file), endpoints)
    row = health(box)
    return [*doc["services"], *([row] if row is not None else [])]
