"""`govcloud up|down|status|logs` and `govcloud box destroy`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

from govcloud_cli.output import Options, emit_json, info, mark, progress, table

if TYPE_CHECKING:
    from govcloud_platform.box.context import Box
    from govcloud_platform.box.services import Health

box_app = typer.Typer(help="The box itself (local target).", no_args_is_help=True)


def load_box(opts: Options) -> Box:
    """The Box for --home and --spec (spec errors exit 2)."""
    from govcloud_platform.box.context import Box
    from govcloud_platform.spec import load_spec

    return Box(home=opts.home, spec=load_spec(opts.spec_path))


def _health_doc(box: Box, health: list[Health], **extra: object) -> dict[str, object]:
    return {
        **extra,
        "ca_file": str(box.ca_file),
        "services": [
            {"name": h.name, "healthy": h.healthy, "endpoint": h.endpoint, "pid": h.pid, "detail": h.detail}
            for h in health
        ],
    }


def _render_health(opts: Options, box: Box, health: list[Health], title: str, **extra: object) -> None:
    if opts.json:
        emit_json(_health_doc(box, health, **extra))
        return
    table(title, ["service", "healthy", "endpoint", "pid", "detail"],
          [(h.name, mark(h.healthy), h.endpoint, h.pid, h.detail) for h in health])
    info(f"CA certificate for clients: {box.ca_file}")


def up(
    ctx: typer.Context,
    port_base: int = typer.Option(None, "--port-base", min=1024, max=55000, help="first port of the box's range"),
) -> None:
    """Bring the box up (idempotent: on a running, healthy box it changes nothing)."""
    from govcloud_platform.box import runtime

    opts: Options = ctx.obj
    box = load_box(opts)
    if box.spec.platform.target != "local":
        from govcloud_platform.errors import InputError

        raise InputError(
            f"{opts.spec_path}: platform.target is {box.spec.platform.target!r}; `up` runs the local box",
            hint="use `govcloud iaas up` for the openstack target",
        )
    with progress(opts, "up") as step:
        result = runtime.up(box, step, port_base=port_base)
        from govcloud_platform.state.lock import box_lock
        from govcloud_platform.upgrade import migrate_names, names_current

        renamed = []
        if not names_current(box):
            with box_lock(box.home, "up: names"):
                renamed = migrate_names(box, step)
    if not opts.json:
        if renamed:
            info(f"names of an earlier release upgraded: {len(renamed)} changes (see above)")
        info(f"box {'is up' if result.changed else 'was already up; nothing changed'} ({result.seconds:.1f}s)")
    _render_health(opts, box, result.services, f"govcloud box at {box.home}", changed=result.changed)


def down(ctx: typer.Context) -> None:
    """Stop every service in order (object storage last); leaves no process and no port."""
    from govcloud_platform.box import runtime

    opts: Options = ctx.obj
    box = load_box(opts)
    with progress(opts, "down") as step:
        stopped = runtime.down(box, step)
    left = runtime.listening_ports(box)
    if opts.json:
        emit_json({"stopped": stopped, "listening_ports": left})
    else:
        info(f"stopped {', '.join(stopped) if stopped else 'nothing (the box was not running)'}")
    if left:
        from govcloud_platform.errors import ServiceError

        raise ServiceError(f"ports still listening after down: {left}")


def status(ctx: typer.Context) -> None:
    """Health of every service (exit 0 only when all are healthy)."""
    from govcloud_platform.box import runtime

    opts: Options = ctx.obj
    box = load_box(opts)
    health = runtime.status(box)
    _render_health(opts, box, health, f"govcloud box at {box.home}")
    if not all(h.healthy for h in health):
        if not opts.json:  # the table wraps long details: each problem once more on one line
            for h in health:
                if not h.healthy:
                    info(f"{h.name}: {h.detail}")
        raise typer.Exit(1)


def logs(
    ctx: typer.Context,
    service: str = typer.Argument(..., help="storage, database, identity, backups or supervisord"),
    follow: bool = typer.Option(False, "--follow", "-f", help="keep printing new lines"),
    lines: int = typer.Option(50, "--lines", "-n", min=1),
) -> None:
    """Show a service's log (to stdout, like `tail`)."""
    from govcloud_platform.box import runtime

    opts: Options = ctx.obj
    box = load_box(opts)
    paths = runtime.log_file(box, service)
    if follow:
        try:
            for line in runtime.follow(paths, lines):
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
        except KeyboardInterrupt:
            return
        return
    out: list[str] = []
    for path in paths:
        if path.exists():
            out += [f"{path.stem}: {t}" for t in path.read_text(errors="replace").splitlines()[-lines:]]
    if opts.json:
        emit_json({"service": service, "lines": out})
    else:
        sys.stdout.write("\n".join(out) + ("\n" if out else ""))


@box_app.command("destroy")
def destroy(ctx: typer.Context, yes: bool = typer.Option(False, "--yes", help="do not ask")) -> None:
    """Stop the box and delete its directory: all data, backups and credentials in it are lost."""
    from govcloud_platform.box import runtime
    from govcloud_platform.errors import InputError

    opts: Options = ctx.obj
    box = load_box(opts)
    if not yes:
        if not sys.stdin.isatty():
            raise InputError("refusing to destroy the box without confirmation", hint="pass --yes")
        typer.confirm(f"Destroy the box at {box.home} and every byte of data in it?", abort=True)
    with progress(opts, "destroy") as step:
        runtime.destroy(box, step)
    if opts.json:
        emit_json({"destroyed": str(box.home)})
    else:
        info(f"destroyed {box.home}")


def register(app: typer.Typer) -> None:
    app.command()(up)
    app.command()(down)
    app.command()(status)
    app.command()(logs)
