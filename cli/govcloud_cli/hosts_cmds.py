"""`govcloud hosts ...`: the hosts of the `hosts` target (the spec's `platform.topology`), over SSH."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import typer

from govcloud_cli.output import Options, emit_json, info, mark, platform_spec, progress, table

if TYPE_CHECKING:
    from govcloud_platform.box.context import Box
    from govcloud_platform.box.placement import Placement
    from govcloud_platform.hosts.preflight import HostReport
    from govcloud_platform.spec import Spec
    from govcloud_platform.spec.topology import Topology

hosts_app = typer.Typer(help="The hosts of the `hosts` target (platform.topology), over SSH.", no_args_is_help=True)


def hosts_spec(opts: Options, command: str) -> Spec:
    """The spec at --spec, which must be on the `hosts` target (exit 2 otherwise)."""
    spec = platform_spec(opts)
    if spec.platform.target != "hosts" or spec.platform.topology is None:
        from govcloud_platform.errors import InputError

        raise InputError(f"{opts.spec_path}: platform.target is {spec.platform.target!r}; `{command}` needs "
                         "target 'hosts' with a platform.topology",
                         hint="see docs/topology.md, or `govcloud lab up` for a lab")
    return spec


def preflight(opts: Options, spec: Spec) -> list[HostReport]:
    """Run the host preflight on every host of the spec's topology (progress on stderr)."""
    from govcloud_platform.hosts.preflight import check_hosts

    assert spec.platform.topology is not None
    with progress(opts, "hosts check") as step:
        return check_hosts(spec.platform.topology, opts.spec_path.resolve().parent, spec.platform.port_base,
                           progress=step)


def render(opts: Options, reports: list[HostReport]) -> None:
    if opts.json:
        emit_json({"hosts": [r.as_dict() for r in reports], "ok": all(r.ok for r in reports)})
        return
    rows: list[tuple[Any, ...]] = [(r.name, r.address, ", ".join(r.groups), mark(r.reachable), mark(r.ok),
                                    "\n".join(r.problems) or "-") for r in reports]
    table(f"hosts of {opts.spec_path}", ["host", "address", "groups", "reachable", "ok", "problems"], rows)


@hosts_app.command("check")
def check(ctx: typer.Context) -> None:
    """Preflight every host in parallel (read-only): python3, its root, free disk, the ports its groups bind
    (exit 0 all ok, 1 some host not ready, 2 not a hosts spec)."""
    from govcloud_platform.hosts.preflight import require_ready

    opts: Options = ctx.obj
    spec = hosts_spec(opts, "hosts check")
    reports = preflight(opts, spec)
    render(opts, reports)
    require_ready(reports)


def _control(opts: Options, spec: Spec) -> tuple[Box, Placement]:
    """The control home (it must exist: `up` made it) and its placement record."""
    from govcloud_cli.boxes import load_box
    from govcloud_platform.box.placement import read
    from govcloud_platform.errors import BoxDamaged

    box = load_box(opts, registry=False)
    placement = read(box.home)
    if placement is None:
        raise BoxDamaged(f"{box.home} is on the hosts target but has no placement.json",
                         hint="run `govcloud up`: the hosts deploy writes it")
    return box, placement


def _hosts(opts: Options, spec: Spec, placement: Placement) -> Any:
    from govcloud_platform.hosts.deploy import govcloud_bin
    from govcloud_platform.hosts.remote import Hosts

    assert spec.platform.topology is not None
    return Hosts(spec.platform.topology, opts.spec_path.resolve().parent, placement, govcloud_bin())


def _endpoints(box: Box) -> dict[str, str]:
    """Each service's endpoint as the control knows it (for a host that did not answer)."""
    from govcloud_platform.box.services import all_services

    out = {}
    for svc in all_services():
        try:
            out[svc.name] = svc.endpoint(box)
        except Exception:  # noqa: BLE001 - only a fallback for the report
            out[svc.name] = ""
    return out


def render_status(opts: Options, doc: dict[str, Any], title: str, **extra: object) -> None:
    if opts.json:
        emit_json({**extra, **doc})
        return
    table(title, ["service", "host", "healthy", "endpoint", "pid", "detail"],
          [(s["name"], s["host"], mark(s["healthy"]), s["endpoint"], s["pid"], s["detail"]) for s in doc["services"]])
    if doc.get("fences"):
        table("host fences", ["host", "running", "watching", "fenced now"],
              [(f["host"], mark(f["running"]), ", ".join(f["peers"]), ", ".join(f["fenced"]) or "-")
               for f in doc["fences"]])
    info(f"CA certificate for clients: {doc['ca_file']}")


def require_healthy(doc: dict[str, Any]) -> None:
    from govcloud_platform.box.fence import problems
    from govcloud_platform.errors import unhealthy

    bad = [f"{s['name']} on {s['host']} ({s['endpoint']}): {s['detail']}" for s in doc["services"] if not s["healthy"]]
    error = unhealthy(len(doc["services"]), bad, problems(doc.get("fences", [])))
    if error is not None:
        raise error


def up_on_hosts(opts: Options, spec: Spec, *, port_base: int | None = None, address: str | None = None,
                allow_from: list[str] | None = None, service: list[str] | None = None) -> None:
    """`govcloud up` on the `hosts` target, from the control home: the preflight first (an unreachable host or a
    port in use fails fast, naming the host, and nothing is written; on a platform this home deployed, it is the
    deploy run's first play), then the deploy (hosts.deploy: the control home prepared, one Ansible run, a play
    per service), the registry, and every host's status."""
    from govcloud_cli.boxes import create_box
    from govcloud_platform.backups.registry import ensure_registry
    from govcloud_platform.box.placement import read
    from govcloud_platform.errors import InputError
    from govcloud_platform.hosts.deploy import deploy, deployed_here, preflight, preflight_needs
    from govcloud_platform.hosts.preflight import host_needs, require_ready

    if address is not None or allow_from or service:
        raise InputError("--address, --allow-from and --service are for a box on one machine; on the hosts target "
                         "each host's address is its topology's, who may connect is decided from it, and `up` "
                         "brings every service up",
                         hint="drop them (docs/topology.md)")
    topology = spec.platform.topology
    assert topology is not None
    box = create_box(opts, spec)  # reads what a control home recorded; writes nothing yet
    if port_base is not None:
        box.port_base = port_base
    base = box.port_base
    recorded = read(box.home) if box.home.is_dir() else None
    check = []
    if deployed_here(recorded, topology):  # the preflight is the deploy run's first play: one run, not two
        check = preflight_needs(host_needs(topology, base), recorded, topology)
    else:  # the first deploy: nothing is written (not even the control home) before every host is ready
        with progress(opts, "hosts check") as step:
            reports = preflight(topology, opts.spec_path.resolve().parent, base, recorded, progress=step)
        if not opts.json:
            render(opts, reports)
        require_ready(reports)
    with progress(opts, "up") as step:
        result = deploy(box, topology, opts.spec_path, progress=step, check=check)
        from govcloud_platform.state.lock import box_lock
        from govcloud_platform.upgrade import migrate_names, names_current

        if not names_current(box):  # as on one machine: the names of an earlier release, renamed once
            with box_lock(box.home, "up: names"):
                migrate_names(box, step)
        ensure_registry(box, step)
        _heal_storage_limits(box, step, opts.actor)
        from govcloud_platform.hosts import console

        console_changed = console.up(box, step)  # its process on the control, behind the identity host's nginx
    from govcloud_platform.hosts.remote import Reply, merge_status

    # Each host's `up` reported its services' health as `status` would: asking the hosts again costs seconds.
    placement = box.placement  # the deploy just wrote it
    assert placement is not None
    replies = {host: Reply(host, {"services": entries}) for host, entries in result.reported.items()}
    doc = _with_console(box, merge_status(placement, replies, str(box.ca_file), _endpoints(box)))
    changed = result.changed or console_changed
    if not opts.json:
        hosts = ", ".join(f"{p.name} ({', '.join(p.services)})" for p in result.hosts)
        info(f"platform {'is up' if changed else 'was already up; nothing changed'} on {hosts} "
             f"({result.seconds:.1f}s)")
    render_status(opts, doc, f"govcloud platform of {box.home}", changed=changed)
    _say_resilience(topology)
    require_healthy(doc)


def _with_console(box: Box, doc: dict[str, Any]) -> dict[str, Any]:
    """`status`'s document with the console's row last (its process runs on the control: `hosts.console`)."""
    from govcloud_platform.hosts import console

    row = console.health(box)
    if row is not None:
        doc["services"].append(row)
    return doc


def _heal_storage_limits(box: Box, step: Any, actor: str | None) -> None:
    """A storage cluster's filers each keep their own store and catch up with each other asynchronously: a filer
    back from a crash can hold an older bucket quota than the others (measured on the lab). `up` reads every
    filer's and sets again the ones that differ (through the first filer: the change reaches every other)."""
    placement = box.placement
    if placement is None or not placement.storage_cluster:
        return
    from govcloud_platform.enforcement import Enforcement, settle
    from govcloud_platform.state.registry import Registry

    enforcement = Enforcement(box, Registry(box.home), actor, step)
    done = settle(lambda: enforcement.heal("storage"))
    for lim in done.restored:
        step(f"storage: restored {lim.describe()}")
    if not done.steady:
        sys.stderr.write(f"warning: storage: a filer still went back to an older limit after {done.rounds} heals; "
                         "run `govcloud doctor` in a minute and `govcloud up` again if it lists one\n")


def _say_resilience(topology: Topology) -> None:
    """One line on stderr, for humans and pipelines alike (stdout keeps its one JSON document)."""
    from govcloud_platform.hosts.placement import resilience_note

    note = resilience_note(topology)
    sys.stderr.write(f"note: {note or 'any one host may be lost: every service runs on several hosts'}\n")


def status_on_hosts(opts: Options, spec: Spec) -> None:
    """`govcloud status` from the control home: every host's own `status`, over SSH, merged."""
    box, placement = _control(opts, spec)
    doc = _with_console(box, _hosts(opts, spec, placement).status(str(box.ca_file), _endpoints(box)))
    render_status(opts, doc, f"govcloud platform of {box.home}")
    assert spec.platform.topology is not None
    _say_resilience(spec.platform.topology)
    require_healthy(doc)


def fence_problems(opts: Options) -> list[str]:
    """For `doctor` from the control home of the hosts target: every host's fence asked over SSH (`status`), and
    what is wrong with them (`box.fence.problems`: one not running, a peer held fenced)."""
    from govcloud_platform.box.fence import problems

    spec = platform_spec(opts)
    box, placement = _control(opts, spec)
    doc = _hosts(opts, spec, placement).status(str(box.ca_file), _endpoints(box))
    return problems(doc.get("fences", []), fenced_too=True)


def down_on_hosts(opts: Options, spec: Spec) -> None:
    """`govcloud down` from the control home: every host's box stopped, in reverse start order."""
    from govcloud_platform.errors import ServiceError

    box, placement = _control(opts, spec)
    from govcloud_platform.box import remote
    from govcloud_platform.hosts import console

    with progress(opts, "down") as step:
        on_control = console.down(box, step)  # first: the console reads every other service
        result = _hosts(opts, spec, placement).down(step)
    result.stopped[:0] = [f"control: {name}" for name in on_control]
    remote.close_all(box)  # the SSH masters the brokers kept (the IdP manager API's tunnel)
    if opts.json:
        emit_json({"stopped": result.stopped, "listening_ports": result.listening_ports, "hosts": result.hosts})
    else:
        for host in result.hosts:
            what = ", ".join(host["stopped"]) or "nothing (not running)"
            info(f"{host['host']}: {'failed: ' + host['error'] if host['error'] else 'stopped ' + what}")
    if result.errors or result.listening_ports:
        raise ServiceError("down on the hosts: " + "; ".join(
            result.errors + ([f"ports still listening: {', '.join(result.listening_ports)}"]
                             if result.listening_ports else [])),
                           hint="run `govcloud down` again; `govcloud status` shows what runs")


def verify_on_hosts(opts: Options, spec: Spec, box: Box) -> None:
    """`govcloud verify` from the control home: every host in use checked over SSH with testinfra
    (hosts.verify): its programs running, its ports bound where they must be and nothing else listening
    outside it, its home's permissions and secret files; then every deployed app on the apps' host (apps.verify).
    Exit 1 on any failed check."""
    from govcloud_platform.apps.verify import verify as verify_apps
    from govcloud_platform.box.remote import remote_host
    from govcloud_platform.hosts.verify import verify_hosts

    placement = box.placement  # the caller's: a control home of the hosts target has one
    topology = spec.platform.topology
    assert placement is not None and topology is not None
    names = list(dict.fromkeys(h for s in placement.placed() for h in placement.hosts_of(s)))
    homes = {n: (r.home, r.govcloud) for n in names for r in [remote_host(box, n)]}
    with progress(opts, "verify") as step:
        results = verify_hosts(topology, opts.spec_path.resolve().parent, placement, box.port_base, homes,
                               progress=step, console=spec.platform.services.console.enabled)
        step("apps")
        results += verify_apps(box)  # every deployed app on the apps' host (none: nothing added)
    ok = all(r.ok for r in results)
    if opts.json:
        emit_json({"ok": ok, "checks": [r.as_dict() for r in results]})
    else:
        table("verify", ["host", "service or app", "check", "ok", "detail"],
              [(r.host or "", r.service or (f"{r.agency}/{r.app}" if r.app else ""), r.check, mark(r.ok), r.detail)
               for r in results])
        info(f"{sum(r.ok for r in results)}/{len(results)} checks passed on {', '.join(names)}")
    if not ok:
        raise typer.Exit(1)
