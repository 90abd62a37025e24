"""Box lifecycle: `up` (ordered, idempotent, fast when already up), `down`, `status`, `destroy`, logs."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from govcloud_platform.box import agent, fence
from govcloud_platform.box.context import Box
from govcloud_platform.box.network import network_settings
from govcloud_platform.box.ports import listening_inode, listening_tables, listens, port_in_use
from govcloud_platform.box.services import Health, Service, all_services, hosts_services
from govcloud_platform.box.supervisor import Supervisor
from govcloud_platform.errors import InputError, ServiceError
from govcloud_platform.progress import Progress, quiet
from govcloud_platform.state.lock import box_lock

READY_TIMEOUT = {"storage": 90.0, "dcs": 60.0, "database": 90.0, "identity": 60.0, "backups": 10.0, "apps": 10.0,
                 "proxy": 10.0, "console": 30.0}



@dataclass
class UpResult:
    services: list[Health]
    changed: bool
    seconds: float


# A service whose check needs another one: its probe would hang on a dead dependency.
DEPENDS_ON = {"backups": ("storage", "database"), "identity": ("database",), "console": ("identity",)}


def _health(box: Box, svc: Service, info: dict[str, dict[str, object]]) -> Health:
    programs = svc.programs(box)
    pid: int | None = None
    for prog in programs:
        state = info.get(prog.name)
        if state is None or state.get("statename") != "RUNNING":
            status = "not started" if state is None else str(state.get("statename", "?")).lower()
            return Health(svc.name, False, svc.endpoint(box), f"{prog.name} is {status}", None)
        if pid is None:
            pid = int(state["pid"])  # type: ignore[call-overload]
    ok, detail, role = svc.probe_role(box)
    return Health(svc.name, ok, svc.endpoint(box), detail, pid, role if ok else None)


# supervisord states in which the process (and the ports it binds) is ours
OURS = ("STARTING", "RUNNING", "BACKOFF", "STOPPING")


def _check_ports(box: Box, svc: Service, info: dict[str, dict[str, object]]) -> None:
    """Before starting a service, every port it will bind must be free (unless its process is ours already,
    e.g. still STARTING after an `up` that was interrupted)."""
    if any(info.get(p.name, {}).get("statename") in OURS for p in svc.programs(box)):
        return
    unbound = box.unbound_ports()
    for label, port in box.ports.for_service(svc.name):
        if label in unbound:
            continue
        where = box.bind_address(label)
        if port_in_use(port, where):
            raise InputError(
                f"port {port} ({svc.name}: {label}) on {where} is already in use",
                hint="stop what uses it or choose another range with `govcloud up --port-base N`",
            )


def address_is_local(address: str) -> bool:
    """Whether this host (its network namespace) holds `address`: binding to it succeeds."""
    import errno
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((address, 0))
        except OSError as exc:
            return exc.errno != errno.EADDRNOTAVAIL
    return True


def _require_local(address: str) -> None:
    if not address_is_local(address):
        raise InputError(f"address {address} is not an address of this host",
                         hint="give one that `ip -br addr` lists (in the network namespace `up` runs in)")


def _settle_network(box: Box, sup: Supervisor, address: str | None, allow_from: list[str] | None) -> None:
    """The address and networks this `up` runs the box with (`network.network_settings`), refused before
    anything changes when the address is not this host's or the box runs on another one; recorded at once
    (a changed `allow_from` is applied to a running box by the database's `reconfigure`)."""
    recorded_address, recorded_allow = box.recorded_network()
    new_address, new_allow = network_settings(address, allow_from, recorded_address, recorded_allow)
    _require_local(new_address)
    if recorded_address is not None and new_address != recorded_address and sup.running():
        raise InputError(f"the box is running on address {recorded_address}",
                         hint=f"run `govcloud down` first to move it to {new_address}")
    box.address, box.allow_from = new_address, new_allow
    changed = (recorded_address, tuple(recorded_allow)) != (new_address, new_allow)
    if changed and box.state_file.exists():  # a new box records them with its port base
        box.record(address=new_address, allow_from=list(new_allow))


def box_services(box: Box, only: list[str] | None = None) -> list[Service]:
    """The services this home runs (all of them on one machine; `placement.here` on a host of the hosts
    target), in start order; `only` (`up --service`): just those of them."""
    known_services = hosts_services() if box.placement is not None else all_services()
    services = [svc for svc in known_services if box.runs(svc.name)]
    if only:
        known = {svc.name for svc in known_services}
        unknown = [name for name in only if name not in known]
        if unknown:
            raise InputError(f"unknown service {unknown[0]!r}", hint=f"choose among: {', '.join(sorted(known))}")
        missing = [name for name in only if not box.runs(name)]
        if missing:
            raise InputError(f"this box does not run {missing[0]} (placement.json of {box.home})",
                             hint=f"it runs: {', '.join(s.name for s in services) or 'nothing'}")
        services = [svc for svc in services if svc.name in only]
    return services


HOST_LOCK_WAIT_S = 120.0
"""A host's box is driven by the control's deploy alone (the control home's lock keeps deploys one at a time):
a hold on it is an earlier deploy's `up` still finishing there, the control's run having been killed (its
SSH session gone, the host's command carries on). It is waited for, within the role's 300 s."""
SETTLE_S = 20.0  # how long `up` waits for a service that was ready and is not at its last look


def up(box: Box, progress: Progress = quiet, port_base: int | None = None, address: str | None = None,
       allow_from: list[str] | None = None, only: list[str] | None = None, lock_wait: float = 0.0) -> UpResult:
    """Bring every service up, idempotently. `address`/`allow_from`: `govcloud up --address/--allow-from`
    (None: as recorded; `network.network_settings`). `only`: just these services (`box_services`).
    `lock_wait`: seconds to wait for another command's hold on the box (a host's box: `HOST_LOCK_WAIT_S`)."""
    start = time.monotonic()
    services = box_services(box, only)
    if address is not None or allow_from:  # bad input is refused before the box directory is made
        _require_local(network_settings(address, allow_from, None, ())[0])
    box.ensure_home()
    with box_lock(box.home, "up", wait=lock_wait):
        fence.settle(box)  # a host back from a partition: its peers reachable before anything talks to them
        sup = Supervisor(box)
        recorded = box.recorded_port_base()
        if port_base is not None and recorded is not None and port_base != recorded and sup.running():
            raise InputError(
                f"the box is running on port base {recorded}",
                hint=f"run `govcloud down` first to move it to {port_base}",
            )
        _settle_network(box, sup, address, allow_from)
        if port_base is not None:
            box.port_base = port_base
        info = sup.info()
        if info and _retire_opted_out(box, sup, info, progress):
            info = sup.info()
        # What running programs re-read by themselves (the backup plan) is applied first, restarting nothing.
        reconfigured = [svc.name for svc in services if info and svc.reconfigure(box)]
        for name in reconfigured:
            progress(f"{name}: configuration applied (no restart)")
        # Fast path: every program running and every service healthy -> change nothing more.
        if info and all(
            _program_names_running(svc, box, info) and _sections_current(sup, svc, box) and not svc.stale_programs(box)
            for svc in services
        ):
            health = _health_all(box, services, info)
            if all(h.healthy for h in health):
                fence.ensure(box, sup)
                agent.ensure(box, sup)
                return UpResult(health, bool(reconfigured), time.monotonic() - start)
        for svc in services:  # binaries and every port of every stopped service, before anything starts
            svc.check_binaries(box)
            _check_ports(box, svc, info)
        box.record(port_base=box.port_base, platform=box.spec.platform.name, address=box.address,
                   allow_from=list(box.allow_from or ()))
        progress("certificate authority")
        box.ca.ensure()
        sup.start()
        fence.ensure(box, sup)  # first: a service that starts beside a silent peer is spared its timeouts
        info = sup.info()
        for svc in services:
            running = bool(info) and _program_names_running(svc, box, info)
            stale = svc.stale_programs(box) if running else []
            if running and not stale and _sections_current(sup, svc, box) and svc.check(box)[0]:
                progress(f"{svc.name}: already up")
                continue
            progress(f"{svc.name}: preparing")
            svc.prepare(box)
            programs = svc.programs(box)
            sup.sync_programs(programs)
            for name in stale:  # same section, new file: restart to read it
                progress(f"{svc.name}: restarting {name} (configuration changed)")
                sup.stop(name)
            for prog in programs:
                progress(f"{svc.name}: starting {prog.name}")
                sup.ensure_running(prog.name)
            progress(f"{svc.name}: waiting until ready")
            svc.wait_ready(box, READY_TIMEOUT.get(svc.name, 60.0))
            svc.post_start(box)
            progress(f"{svc.name}: ready at {svc.endpoint(box)}")
        health = _health_all(box, services, sup.info())
        if not all(h.healthy for h in health):
            # a service that was ready a moment ago and is not now is given a short while before `up` fails: a
            # replica whose streaming reconnects as its peers let it back (`fence`) reports "running" for a second
            for svc in services:
                if not next((h.healthy for h in health if h.name == svc.name), True):
                    svc.wait_ready(box, SETTLE_S)
            health = _health_all(box, services, sup.info())
        bad = [h for h in health if not h.healthy]
        if bad:
            raise ServiceError(f"{bad[0].name} is unhealthy after up: {bad[0].detail}")
        agent.ensure(box, sup)
        return UpResult(health, True, time.monotonic() - start)


def _retire_opted_out(box: Box, sup: Supervisor, info: dict[str, dict[str, object]], progress: Progress) -> bool:
    """Stop and forget the programs of an opt-in service the spec no longer turns on (the console after
    `enabled: false`); True if there were any. (Its nginx server goes with the identity service's next prepare.)"""
    retired = False
    for svc in all_services():
        if not svc.opt_in or box.runs(svc.name):
            continue
        for prog in svc.programs(box):
            if prog.name in info:
                progress(f"{svc.name}: turned off in the spec, stopping {prog.name}")
                sup.remove(prog.name)
                retired = True
    return retired


def _sections_current(sup: Supervisor, svc: Service, box: Box) -> bool:
    """The running programs were started as this govcloud would start them (else `up` prepares and restarts the
    service: how an existing box picks up new flags; `stale_programs` covers the files they read)."""
    return all(sup.is_current(p) for p in svc.programs(box))


def _program_names_running(svc: Service, box: Box, info: dict[str, dict[str, object]]) -> bool:
    return all(info.get(p.name, {}).get("statename") == "RUNNING" for p in svc.programs(box))


def _health_all(box: Box, services: list[Service], info: dict[str, dict[str, object]]) -> list[Health]:
    """Every service's real probe, run in parallel (the slowest, `pgbackrest check`, takes ~1 s). A service
    whose dependency is down is reported as waiting for it; a dependency whose program is not even running
    keeps its dependents' probes from running (they would hang on it)."""
    from concurrent.futures import ThreadPoolExecutor

    if not services:  # the operator's home on the hosts target runs none
        return []
    not_running = {svc.name for svc in services if not _program_names_running(svc, box, info)}
    if any(svc.name == "storage" for svc in services):  # the probe that uses the S3 admin client (its keys are
        box.s3_client()  # on storage's host only): built once, before threads race to
    with ThreadPoolExecutor(max_workers=len(services)) as pool:
        futures = {
            svc.name: pool.submit(_health, box, svc, info)
            for svc in services
            if not any(d in not_running for d in DEPENDS_ON.get(svc.name, ()))
        }
        results = {name: f.result() for name, f in futures.items()}
    down = {name for name, h in results.items() if not h.healthy} | not_running
    out = []
    for svc in services:
        blocked = [d for d in DEPENDS_ON.get(svc.name, ()) if d in down]
        if blocked:
            out.append(Health(svc.name, False, svc.endpoint(box), f"waiting for {', '.join(blocked)}", None))
        else:
            out.append(results[svc.name])
    return out


def status(box: Box) -> list[Health]:
    return _health_all(box, box_services(box), Supervisor(box).info())


def down(box: Box, progress: Progress = quiet, discarding: bool = False) -> list[str]:
    """Stop every program in reverse start order (a band of priorities at a time), then supervisord, then
    clean up what the programs leave outside the box directory. Returns what was stopped. `discarding`
    (`box destroy`): programs of services `killed_when_discarding` get SIGKILL instead of a clean stop."""
    stopped: list[str] = []
    kill = frozenset(
        p.name for svc in all_services() if discarding and svc.killed_when_discarding for p in svc.programs(box)
    )
    with box_lock(box.home, "down", wait=120):
        sup = Supervisor(box)
        if sup.running():
            info = sup.info()
            running = {
                str(p["name"]): _priority(sup, str(p["name"]))
                for p in info.values()
                if p.get("statename") in ("RUNNING", "STARTING", "BACKOFF")
            }
            for wave in stop_waves(running):
                progress(f"stopping {', '.join(wave)}")
                sup.stop_together(wave, kill=kill)
                stopped += wave
            progress("stopping supervisord")
            sup.shutdown()
        for svc in box_services(box):
            svc.after_stop(box)
    return stopped


def stop_waves(priorities: dict[str, int]) -> list[list[str]]:
    """Programs grouped by band of ten priorities (30-39: the identity service's two), highest band first.
    A band only needs the lower ones, never its own members, so it stops together; the next band waits until
    it has (object storage, band 1, stops after PostgreSQL, band 2, whose WAL it archives)."""
    bands: dict[int, list[str]] = {}
    for name, priority in priorities.items():
        bands.setdefault(priority // 10, []).append(name)
    return [sorted(bands[band], key=lambda n: (-priorities[n], n)) for band in sorted(bands, reverse=True)]


def _priority(sup: Supervisor, name: str) -> int:
    conf = sup.programs_dir / f"{name}.conf"
    try:
        for line in conf.read_text().splitlines():
            if line.startswith("priority="):
                return int(line.split("=", 1)[1])
    except FileNotFoundError:
        pass
    return 999


def listening_ports(box: Box) -> list[int]:
    """The box's ports that something still listens on (after `down`: a server no supervisord of ours stopped)."""
    tables = listening_tables()
    return [port for _, label, port in box.ports.all() if listens(tables, port, box.bind_address(label))]


def port_holders(ports: list[int]) -> list[str]:
    """`port: pid (command)` for each port listened on in this network namespace: what `down` names when a port
    is still taken after it (a process no supervisord of this box knows)."""
    tables = listening_tables()
    inodes = {port: listening_inode(tables, port) for port in ports}
    owners: dict[int, str] = {}
    wanted = {f"socket:[{i}]": port for port, i in inodes.items() if i}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or not wanted:
            continue
        try:
            fds = list((proc / "fd").iterdir())
        except OSError:
            continue
        links = set()
        for fd in fds:
            try:
                links.add(os.readlink(fd))
            except OSError:  # closed meanwhile (the listing's own descriptor among them)
                continue
        for link in links & set(wanted):
            try:
                cmd = (proc / "cmdline").read_text(errors="replace").replace("\0", " ").strip()
            except OSError:  # exited meanwhile
                cmd = "?"
            owners[wanted.pop(link)] = f"pid {proc.name} ({cmd[:80]})"
    return [f"{port}: {owners.get(port, 'held by no process found')}" for port in ports]


def destroy(box: Box, progress: Progress = quiet) -> None:
    down(box, progress, discarding=True)
    for user in _app_system_users(box):  # the host's, made for this box's apps: they go with it
        progress(f"removing system user {user}")
        subprocess.run(["userdel", user], capture_output=True, check=False)
        subprocess.run(["groupdel", user], capture_output=True, check=False)
    if box.home.exists():
        shutil.rmtree(box.home)


def _app_system_users(box: Box) -> list[str]:
    """The system users this box's app deployments run as (names.system_user of each agency with an app)."""
    import pwd
    import sqlite3
    from contextlib import closing

    from govcloud_platform.names import system_user, system_user_mark
    from govcloud_platform.state.registry import registry_path

    path = registry_path(box.home)
    if not path.exists():
        return []
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            slugs = {r[0] for r in conn.execute("SELECT DISTINCT agency FROM app_deployments")}
    except sqlite3.Error:
        return []
    users = []
    for slug in sorted(slugs):
        try:
            users.append(pwd.getpwnam(system_user(slug)).pw_name)
        except (KeyError, ValueError):
            continue
    mark = system_user_mark(str(box.home))  # and those a deploy made before the registry recorded it
    users += [u.pw_name for u in pwd.getpwall() if u.pw_gecos == mark and u.pw_name not in users]
    return users


def leftover_system_users(under: Path) -> list[str]:
    """System users made by a box under `under` that is gone or not running (a box deleted without `box
    destroy`, a killed test run): names.marked_home names the box in each user's comment."""
    import pwd

    from govcloud_platform.box.supervisor import alive
    from govcloud_platform.names import marked_home

    def running(home: Path) -> bool:
        try:
            return alive(int((home / "supervisor" / "supervisord.pid").read_text().strip()))
        except (OSError, ValueError):
            return False

    found = []
    for user in pwd.getpwall():
        home = marked_home(user.pw_gecos)
        if home and Path(home).is_relative_to(under) and not running(Path(home)):
            found.append(user.pw_name)
    return found


def log_file(box: Box, service: str) -> list[Path]:
    names = {svc.name: [p.name for p in svc.programs(box)] for svc in all_services()}
    names["backups"] = ["pgbackrest"]
    names["fence"] = [fence.NAME]  # a host's of the hosts target (`box.fence`)
    if service not in names and service != "supervisord":
        raise InputError(f"unknown service {service!r}", hint=f"choose one of: {', '.join([*names, 'supervisord'])}")
    if service == "supervisord":
        return [box.log_dir / "supervisord.log"]
    if service == "backups":  # the scheduler's own log, then pgBackRest's
        return [box.log_dir / "backup-scheduler.log", *sorted((box.home / "pgbackrest" / "log").glob("*.log"))]
    return [box.log_dir / f"{n}.log" for n in names[service]]


def follow(paths: list[Path], lines: int = 50) -> Iterator[str]:
    """Yield the last lines, then new lines as they arrive (until interrupted)."""
    handles = []
    for path in paths:
        if path.exists():
            text = path.read_text(errors="replace").splitlines()[-lines:]
            yield from (f"{path.stem}: {t}" for t in text)
            fh = path.open(errors="replace")
            fh.seek(0, 2)
            handles.append((path, fh))
    while True:
        got = False
        for path, fh in handles:
            line = fh.readline()
            if line:
                got = True
                yield f"{path.stem}: {line.rstrip()}"
        if not got:
            time.sleep(0.25)
