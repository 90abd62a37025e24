"""`govcloud verify`: testinfra checks of the deployed apps (exit 1 on any failure)."""

from __future__ import annotations

from typing import Annotated

import typer

from govcloud_cli.boxes import load_box
from govcloud_cli.output import Options, emit_json, info, mark, table


def verify(
    ctx: typer.Context,
    agency: Annotated[str | None, typer.Option("--agency", help="only this agency's apps")] = None,
    app: Annotated[str | None, typer.Option("--app", help="only this app")] = None,
) -> None:
    """Check deployed apps on the host: process running, ports on 127.0.0.1 only, TLS certificate valid for
    the name, health URL 200, secret files 0600. On the hosts target: every host over SSH (programs running,
    ports bound where they must be and nothing else outside, permissions, secret files), then the apps on the
    apps' host (with --agency/--app: only those apps). Exit 1 on any failure."""
    from govcloud_platform.apps.verify import verify as run_checks

    opts: Options = ctx.obj
    box = load_box(opts)
    if box.placement is not None and agency is None and app is None:
        from govcloud_cli.hosts_cmds import verify_on_hosts
        from govcloud_cli.output import platform_spec

        verify_on_hosts(opts, platform_spec(opts), box)
        return
    if app is not None:
        from govcloud_platform.apps import manifest

        manifest(app)  # unknown app: exit 2
    if agency is not None:
        from govcloud_platform.errors import InputError
        from govcloud_platform.state.registry import Registry

        if Registry(box.home).agency(agency) is None:
            raise InputError(f"unknown agency {agency!r}", hint="`govcloud agency list` shows the agencies")
    results = run_checks(box, agency, app)
    ok = all(r.ok for r in results)
    if opts.json:
        emit_json({"ok": ok, "checks": [r.as_dict() for r in results]})
    else:
        table("verify", ["agency", "app", "check", "ok", "detail"],
              [(r.agency, r.app, r.check, mark(r.ok), r.detail) for r in results])
        info(f"{sum(r.ok for r in results)}/{len(results)} checks passed" if results else "no apps deployed")
    if not ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("verify")(verify)
