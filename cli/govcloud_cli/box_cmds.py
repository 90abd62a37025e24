"""`govcloud up|down|status|logs` and `govcloud box destroy`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from govcloud_cli.boxes import create_box, load_box
from govcloud_cli.output import Options, emit_json, info, mark, platform_spec, progress, table

if TYPE_CHECKING:
    from govcloud_platform.box.context import Box
    from govcloud_platform.box.services import Health

box_app = typer.Typer(help="The box itself (local target).", no_args_is_help=True)


def _health_doc(box: Box, health: list[Health], **extra: object) -> dict[str, object]:
    return {
        **extra,
        "ca_file": str(box.ca_file),
        "services": [
            {"name": h.name, "healthy": h.healthy, "endpoint": h.endpoint, "pid": h.pid, "detail": h.detail,
             "role": h.role or "single"}
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


def _host_of_hosts_target(opts: Options) -> bool:
    """Whether --home is a host's home of the hosts target (its placement.json names services it runs):
    `up` there starts them (the deploy's roles call it), instead of deploying onto the hosts."""
    from govcloud_platform.box.placement import read

    placement = read(opts.home) if opts.home.is_dir() else None
    return placement is not None and bool(placement.here)


def up(
    ctx: typer.Context,
    port_base: Annotated[
        int | None, typer.Option("--port-base", min=1024, max=55000, help="first port of the box's range")
    ] = None,
    address: Annotated[
        str | None, typer.Option("--address", metavar="IPV4",
                                 help="the one address every service binds (default 127.0.0.1; recorded)"),
    ] = None,
    allow_from: Annotated[
        list[str] | None, typer.Option("--allow-from", metavar="CIDR",
                                       help="a network whose clients may connect to PostgreSQL besides the box's "
                                            "own address (repeatable; with --address; recorded)"),
    ] = None,
    service: Annotated[
        list[str] | None, typer.Option("--service", metavar="NAME",
                                       help="bring up only this service of the box (repeatable; the hosts "
                                            "target's roles start one service at a time)"),
    ] = None,
) -> None:
    """Bring the box up (idempotent: on a running, healthy box it changes nothing)."""
    from govcloud_platform.box import runtime

    opts: Options = ctx.obj
    spec = platform_spec(opts)
    if spec.platform.target == "hosts" and not _host_of_hosts_target(opts):
        from govcloud_cli.hosts_cmds import up_on_hosts

        # the control home: deploy onto the hosts (a host's home runs its services below)
        up_on_hosts(opts, spec, port_base=port_base, address=address, allow_from=allow_from, service=service)
        return
    box = create_box(opts, spec)
    on_host = box.placement is not None and bool(box.placement.here)
    if box.spec.platform.target != "local" and not on_host:
        from govcloud_platform.errors import InputError

        raise InputError(
            f"{opts.spec_path}: platform.target is {box.spec.platform.target!r}; `up` runs the local box",
            hint="use `govcloud iaas up` for the openstack target",
        )
    with progress(opts, "up") as step:
        from govcloud_platform.errors import ServiceError

        try:
            result = runtime.up(box, step, port_base=port_base, address=address, allow_from=allow_from, only=service,
                                lock_wait=runtime.HOST_LOCK_WAIT_S if on_host else 0.0)
        except ServiceError:
            if not on_host:  # a lost registry is the cause to name (the backup scheduler fails on it: unhealthy)
                from govcloud_platform.state.registry import check_registry

                check_registry(box.home)
            raise
        if on_host:  # the operator's home keeps the registries; a host runs services only
            _render_health(opts, box, result.services, f"govcloud services at {box.home}", changed=result.changed)
            return
        from govcloud_platform.state.lock import box_lock
        from govcloud_platform.upgrade import migrate_names, names_current

        renamed = []
        if not names_current(box):
            with box_lock(box.home, "up: names"):
                renamed = migrate_names(box, step)
        from govcloud_platform.backups.registry import ensure_registry

        ensure_registry(box, step)
    if not opts.json:
        if renamed:
            info(f"names of an earlier release upgraded: {len(renamed)} changes (see above)")
        info(f"box {'is up' if result.changed else 'was already up; nothing changed'} ({result.seconds:.1f}s)")
    _render_health(opts, box, result.services, f"govcloud box at {box.home}", changed=result.changed)


def _on_control(opts: Options) -> bool:
    """The spec is on the `hosts` target and --home is the operator's control home (not a host's): `status` and
    `down` act on every host over SSH."""
    spec = platform_spec(opts)
    if spec.platform.target != "hosts":
        return False
    return not _host_of_hosts_target(opts)


def down(ctx: typer.Context) -> None:
    """Stop every service in order (object storage last); leaves no process and no port."""
    from govcloud_platform.box import runtime

    opts: Options = ctx.obj
    if _on_control(opts):
        from govcloud_cli.hosts_cmds import down_on_hosts

        down_on_hosts(opts, platform_spec(opts))
        return
    box = load_box(opts, registry=False)
    with progress(opts, "down") as step:
        stopped = runtime.down(box, step)
    left = runtime.listening_ports(box)
    if opts.json:
        emit_json({"stopped": stopped, "listening_ports": left})
    else:
        info(f"stopped {', '.join(stopped) if stopped else 'nothing (the box was not running)'}")
    if left:
        from govcloud_platform.errors import ServiceError

        raise ServiceError(f"ports still listening after down: {'; '.join(runtime.port_holders(left))}")


def status(ctx: typer.Context) -> None:
    """Health of every service (exit 0 only when all are healthy)."""
    from govcloud_platform.box import runtime

    opts: Options = ctx.obj
    if _on_control(opts):
        from govcloud_cli.hosts_cmds import status_on_hosts

        status_on_hosts(opts, platform_spec(opts))
        return
    box = load_box(opts, registry=False)
    health = runtime.status(box)
    from govcloud_platform.box import fence
    from govcloud_platform.box.supervisor import Supervisor

    watch = fence.report(box, Supervisor(box))
    _render_health(opts, box, health, f"govcloud box at {box.home}", **({"fence": watch} if watch else {}))
    if watch is not None and not opts.json:
        fenced = f"; fenced now: {', '.join(watch['fenced'])}" if watch["fenced"] else ""
        info(f"host fence: {'watching' if watch['running'] else 'NOT RUNNING; it should watch'} "
             f"{', '.join(watch['peers'])}{fenced}")
    from govcloud_platform.errors import unhealthy

    error = unhealthy(len(health), [f"{h.name} ({h.endpoint}): {h.detail}" for h in health if not h.healthy],
                      fence.problems([{"host": "this host", **watch}] if watch else []))
    if error is not None:
        raise error


def logs(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(
        help="storage, database, identity, backups, mail, console, fence or supervisord")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="keep printing new lines")] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", min=1, max=100_000, help="how many of the last lines")] = 50,
) -> None:
    """Show a service's log (to stdout, like `tail`)."""
    from govcloud_platform.box import runtime
    from govcloud_platform.text import printable

    opts: Options = ctx.obj
    box = load_box(opts, registry=False)
    paths = runtime.log_file(box, service)
    if follow:
        try:
            for line in runtime.follow(paths, lines):
                sys.stdout.write(printable(line.replace("\t", "    ")) + "\n")  # a log may quote anyone
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
        sys.stdout.write("".join(printable(t.replace("\t", "    ")) + "\n" for t in out))


@box_app.command("destroy")
def destroy(ctx: typer.Context, yes: Annotated[bool, typer.Option("--yes", help="do not ask")] = False) -> None:
    """Stop the box and delete its directory: all data, backups and credentials in it are lost."""
    from govcloud_platform.box import runtime
    from govcloud_platform.errors import InputError

    opts: Options = ctx.obj
    box = load_box(opts, registry=False)
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


def _service_host(opts: Options, service: str) -> Box:
    """The box of this home, which must be a host of the hosts target running `service` (the hidden commands the
    operator's home calls over SSH run only there)."""
    from govcloud_platform.errors import InputError

    box = load_box(opts, registry=False)
    if not (box.placement is not None and box.runs(service)):
        raise InputError(f"{box.home} is no {service} host of the hosts target", hint="see docs/topology.md")
    return box


@box_app.command("hba", hidden=True)
def hba(ctx: typer.Context) -> None:
    """On the database's host of the hosts target: apply a change of pg_hba parts read as JSON on stdin
    ({"allow": [[key, database, [roles]]], "revoke": [key]}); the operator's brokers call it over SSH."""
    import json

    from govcloud_platform.brokers.database import apply_hba, check_hba_change
    from govcloud_platform.errors import InputError

    opts: Options = ctx.obj
    box = _service_host(opts, "database")
    try:
        data = json.loads(sys.stdin.read(1 << 20))
        allow, revoke = check_hba_change(data.get("allow"), data.get("revoke"))
    except (ValueError, AttributeError) as exc:
        raise InputError(f"box hba: bad change on stdin: {exc}") from None
    apply_hba(box, allow, revoke)
    if opts.json:
        emit_json({"allowed": [k for k, _, _ in allow], "revoked": revoke})


@box_app.command("idp-conf", hidden=True)
def idp_conf(ctx: typer.Context, action: Annotated[str, typer.Argument(help="clients, put or purge")]) -> None:
    """On the identity's host of the hosts target: the IdP configuration files the operator's brokers read and
    write over SSH (`clients`: the configured clients as JSON; `put`: OIDC client bodies on stdin, written as
    one new configuration; `purge`: drop the portal's cached configuration)."""
    import json

    from govcloud_platform.box import idp_api
    from govcloud_platform.errors import InputError

    opts: Options = ctx.obj
    box = _service_host(opts, "identity")
    if action == "clients":
        emit_json(idp_api.configured_clients(box))
    elif action == "put":
        try:
            bodies = json.loads(sys.stdin.read(16 << 20))
            if not isinstance(bodies, list) or not all(isinstance(b, dict) for b in bodies):
                raise ValueError("expected a list of client bodies")
            num = idp_api.write_oidc_clients(box, bodies)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"box idp-conf put: bad client bodies on stdin ({type(exc).__name__})") from None
        emit_json({"cfgNum": num})
    elif action == "purge":
        idp_api.purge_cache(box)
        emit_json({"purged": True})
    else:
        raise InputError(f"unknown action {action!r}", hint="clients, put or purge")


@box_app.command("smtp-logins", hidden=True)
def smtp_logins(ctx: typer.Context,
                action: Annotated[str, typer.Argument(help="list, set or delete")]) -> None:
    """On the mail's host of the hosts target: the agencies' SMTP logins in Postfix's SASL database, which the
    operator's mail broker reads and writes over SSH (`list`: the logins as JSON; `set`: {"slug", "password"} on
    stdin; `delete`: {"slug"} on stdin)."""
    import json

    from govcloud_platform.brokers import mail
    from govcloud_platform.errors import InputError

    opts: Options = ctx.obj
    box = _service_host(opts, "mail")
    if action == "list":
        emit_json(sorted(mail.logins(box)))
        return
    if action not in ("set", "delete"):
        raise InputError(f"unknown action {action!r}", hint="list, set or delete")
    try:
        slug, password = mail.check_login_change(json.loads(sys.stdin.read(4096)), password=action == "set")
    except ValueError as exc:  # never echoes the password: the messages name the slug or the rule only
        raise InputError(f"box smtp-logins {action}: bad input on stdin: {exc}") from None
    if action == "set":
        mail.set_login(box, slug, password)
        emit_json({"set": slug})
    else:
        emit_json({"deleted": slug if mail.delete_login(box, slug) else None})


@box_app.command("programs", hidden=True)
def programs(ctx: typer.Context) -> None:
    """On the apps' host of the hosts target: its supervisord's programs and their states as JSON (the operator's
    `app list`/`status` read the apps' processes through it over SSH)."""
    from govcloud_platform.box.supervisor import Supervisor

    opts: Options = ctx.obj
    box = _service_host(opts, "apps")
    emit_json({name: {"statename": str(p.get("statename", "")), "pid": p.get("pid") or None}
               for name, p in Supervisor(box).info().items()})


@box_app.command("user", hidden=True)
def user(ctx: typer.Context, name: Annotated[str, typer.Argument(help="a system user's name")]) -> None:
    """On the apps' host of the hosts target: whether system user NAME exists and its comment (the mark of the box
    that made it), as JSON; the operator's `app deploy` refuses a user another box made."""
    import pwd

    from govcloud_platform.errors import InputError
    from govcloud_platform.names import parse_system_user

    opts: Options = ctx.obj
    _service_host(opts, "apps")
    if parse_system_user(name) is None:
        raise InputError(f"{name!r} is not an agency's system user name")
    try:
        emit_json({"name": name, "exists": True, "comment": pwd.getpwnam(name).pw_gecos})
    except KeyError:
        emit_json({"name": name, "exists": False, "comment": None})


@box_app.command("restore-drill", hidden=True)
def restore_drill(
    ctx: typer.Context,
    to: Annotated[str | None, typer.Option("--to", help="point in time (ISO 8601)")] = None,
) -> None:
    """On the database's host of the hosts target: the platform restore drill (a scratch cluster restored,
    started, every table read, removed); its report as JSON. The operator's `backup restore --platform`
    calls it over SSH and keeps the audit."""
    from govcloud_platform.backups import cluster

    opts: Options = ctx.obj
    box = _service_host(opts, "database")
    if to:
        cluster.target_text(to)
    emit_json(cluster.drill(box, to))


def register(app: typer.Typer) -> None:
    app.command()(up)
    app.command()(down)
    app.command()(status)
    app.command()(logs)
