"""`govcloud lab ...`: hosts in network namespaces on this machine, and the spec that describes them."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from govcloud_cli.output import Options, emit, emit_json, info, mark, progress

lab_app = typer.Typer(
    help="A lab of hosts on this machine (network namespaces, one sshd each) for the `hosts` target.",
    no_args_is_help=True,
)
Name = Annotated[str | None, typer.Option("--name", help="lab name (default: the spec file's stem)")]
HostArg = Annotated[str, typer.Argument(help="host of the lab, e.g. h2")]


def _open(opts: Options, name: str | None) -> Any:
    from govcloud_platform.lab import open_lab

    return open_lab(opts.spec_path, name)


def _status_doc(lab: Any) -> dict[str, Any]:
    p = lab.plan
    return {"lab": p.name, "subnet": str(p.subnet), "bridge": p.bridge, "dir": str(p.dir),
            "spec": str(p.spec_path), "ssh_config": str(p.ssh_config),
            "hosts": [s.as_dict() for s in lab.status()]}


@lab_app.command("up")
def up(
    ctx: typer.Context,
    hosts: Annotated[int, typer.Option("--hosts", help="how many hosts (1-32)")] = 3,
    name: Name = None,
    force: Annotated[bool, typer.Option("--force", help="overwrite an existing spec")] = False,
) -> None:
    """Make N hosts (idempotent) and write a spec with their topology to --spec."""
    from govcloud_platform.lab import lab_up

    opts: Options = ctx.obj
    with progress(opts, "lab up") as step:
        lab = lab_up(opts.spec_path, hosts, name=name, force=force, say=step)
    if opts.json:
        emit_json(_status_doc(lab))
    else:
        info(f"wrote {lab.plan.spec_path}; try: ssh -F {lab.plan.ssh_config} h1 hostname")


@lab_app.command("down")
def down(ctx: typer.Context, name: Name = None) -> None:
    """Remove every namespace, bridge, process and file of the lab."""
    from govcloud_platform.lab import lab_down

    opts: Options = ctx.obj
    with progress(opts, "lab down") as step:
        removed = lab_down(opts.spec_path, name, say=step)
    if opts.json:
        emit_json({"removed": removed})
    else:
        info("; ".join(removed) if removed else "no lab here: nothing to remove")


@lab_app.command("status")
def status(ctx: typer.Context, name: Name = None) -> None:
    """Hosts, addresses, sshd alive, link up (exit 1 unless every host is up)."""
    opts: Options = ctx.obj
    lab = _open(opts, name)
    doc = _status_doc(lab)
    rows = [(h["name"], h["address"], mark(h["sshd_alive"]), mark(h["link_up"]), h["processes"],
             ", ".join(h["groups"])) for h in doc["hosts"]]
    emit(opts, doc, f"lab {doc['lab']} ({doc['subnet']})", ["host", "address", "sshd", "link", "procs", "groups"],
         rows)
    if not all(h["sshd_alive"] and h["link_up"] for h in doc["hosts"]):
        raise typer.Exit(1)


def _fault(ctx: typer.Context, host: str, name: str | None, verb: str) -> None:
    opts: Options = ctx.obj
    lab = _open(opts, name)
    if verb == "heal":  # then the host's supervisord and services start again, as after a reboot
        with progress(opts, f"lab heal {host}"):
            lab.heal(host, hooks=[lambda lab_, h: lab_.restart_services(h)])
    else:
        getattr(lab, verb)(host)
    state = next(s for s in lab.status() if s.name == host)
    if opts.json:
        emit_json(state.as_dict())
    else:
        info(f"{host}: {verb}: sshd {'alive' if state.sshd_pid else 'dead'}, link {'up' if state.link_up else 'down'}")


@lab_app.command("fail")
def fail(ctx: typer.Context, host: HostArg, name: Name = None) -> None:
    """Crash a host: SIGKILL every process in its namespace at once, and cut its link."""
    _fault(ctx, host, name, "fail")


@lab_app.command("partition")
def partition(ctx: typer.Context, host: HostArg, name: Name = None) -> None:
    """Cut only the host's link (its processes keep running)."""
    _fault(ctx, host, name, "partition")


@lab_app.command("heal")
def heal(ctx: typer.Context, host: HostArg, name: Name = None) -> None:
    """Bring the host's link back, restart its sshd if it died, then its supervisord and services (its own `up`)."""
    _fault(ctx, host, name, "heal")
