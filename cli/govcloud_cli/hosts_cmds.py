"""`govcloud hosts ...`: the hosts of the `hosts` target (the spec's `platform.topology`), over SSH."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from govcloud_cli.output import Options, emit_json, mark, progress, table

if TYPE_CHECKING:
    from govcloud_platform.hosts.preflight import HostReport
    from govcloud_platform.spec import Spec

hosts_app = typer.Typer(help="The hosts of the `hosts` target (platform.topology), over SSH.", no_args_is_help=True)


def hosts_spec(opts: Options, command: str) -> Spec:
    """The spec at --spec, which must be on the `hosts` target (exit 2 otherwise)."""
    from govcloud_cli.output import read_spec

    spec = read_spec(opts.spec_path)
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


def up_on_hosts(opts: Options, spec: Spec) -> None:
    """`govcloud up` on the `hosts` target: the preflight first (an unreachable host or a port in use fails fast,
    naming the host, and nothing is written), then a plain refusal: deploying the services is not built yet."""
    from govcloud_platform.errors import OperationFailed
    from govcloud_platform.hosts.preflight import require_ready

    reports = preflight(opts, spec)
    if not opts.json:
        render(opts, reports)
    require_ready(reports)
    raise OperationFailed(f"every host of {opts.spec_path} passed the preflight, but deploying the shared services "
                          "onto hosts is not built yet (issue 12); nothing was changed",
                          hint="`govcloud hosts check` runs the preflight alone")
