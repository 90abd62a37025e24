"""`govcloud app ...`: the SaaS catalogue, deployed per agency by Ansible roles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from govcloud_cli.boxes import copy_registry, load_box
from govcloud_cli.output import Options, emit, emit_json, info, mark, progress, table

if TYPE_CHECKING:
    from govcloud_platform.apps import AppService

app_app = typer.Typer(help="E-government applications deployed per agency.", no_args_is_help=True)


def _service(opts: Options, step: Any = None) -> AppService:
    from govcloud_platform.apps import AppService

    return AppService(load_box(opts), actor=opts.actor, progress=step or (lambda _: None))


def known_agency(service: AppService, slug: str) -> None:
    """An agency the registry does not know is bad input (exit 2), never "nothing deployed"."""
    from govcloud_platform.errors import InputError

    if service.registry.agency(slug) is None:
        raise InputError(f"unknown agency {slug!r}", hint="`govcloud agency list` shows the agencies")


def manifest(app: str) -> Any:
    from govcloud_platform.apps import manifest as find

    return find(app)


@app_app.command("catalogue")
def catalogue(ctx: typer.Context) -> None:
    """The apps an agency can get, what they give and what they need."""
    from govcloud_platform.apps import CATALOGUE

    opts: Options = ctx.obj
    apps = list(CATALOGUE.values())
    emit(opts, {"apps": [m.as_dict() for m in apps]}, "catalogue",
         ["app", "product", "citizens get", "needs", "memory MB", "deployable"],
         [(m.name, m.product, m.citizens_get, ", ".join(m.services), m.memory_mb, mark(m.implemented))
          for m in apps])


@app_app.command("deploy")
def deploy(ctx: typer.Context, agency: str, app: str) -> None:
    """Deploy (or converge) APP for AGENCY: database, OIDC client, certificate, role; idempotent."""
    opts: Options = ctx.obj
    with progress(opts, f"app deploy {agency} {app}") as step:
        service = _service(opts, step)
        result = service.deploy(agency, app)
    if result.changed:
        copy_registry(service.box)
    if opts.json:
        emit_json(result.as_dict())
    else:
        what = f"{result.changed} change(s)" if result.changed else "nothing changed"
        info(f"{app} for {agency} is at {result.url} ({what}, {result.seconds:.1f}s)")


@app_app.command("list")
def list_(ctx: typer.Context,
          agency: Annotated[str | None, typer.Option("--agency", help="only this agency")] = None) -> None:
    """Deployed apps with their URL and health. JSON: {"apps": [{"agency", "app", "url", "healthy"}]}."""
    opts: Options = ctx.obj
    service = _service(opts)
    if agency is not None:
        known_agency(service, agency)
    rows = service.list(agency)
    if opts.json:
        emit_json({"apps": rows})
        return
    table("apps", ["agency", "app", "url", "healthy", "process", "detail"],
          [(r["agency"], r["app"], r["url"], mark(r["healthy"]), r["process"], r["detail"]) for r in rows])


@app_app.command("status")
def status(ctx: typer.Context, agency: str, app: str) -> None:
    """One deployment: state, process, port, health (exit 1 if unhealthy)."""
    opts: Options = ctx.obj
    doc = _service(opts).status(agency, app)
    if opts.json:
        emit_json(doc)
    else:
        table(f"{app} for {agency}", ["key", "value"], [(k, v) for k, v in doc.items()])
    if not doc["healthy"]:
        raise typer.Exit(1)


@app_app.command("remove")
def remove(
    ctx: typer.Context, agency: str, app: str,
    purge_data: Annotated[bool, typer.Option("--purge-data", help="also delete the app's database and files")] = False,
) -> None:
    """Stop and unpublish APP for AGENCY and revoke its credentials; data kept unless --purge-data."""
    opts: Options = ctx.obj
    service = _service(opts)
    known_agency(service, agency)
    manifest(app)  # an unknown app: exit 2, not "was not deployed"
    with progress(opts, f"app remove {agency} {app}") as step:
        service.progress = step
        removed = service.remove(agency, app, purge_data)
    if removed:
        copy_registry(service.box)
    if opts.json:
        emit_json({"agency": agency, "app": app, "removed": removed, "purged": purge_data})
    else:
        info(f"{app} for {agency} " + ("removed" + (" and its data purged" if purge_data else " (data kept)")
                                       if removed else "was not deployed; nothing changed"))


@app_app.command("demo")
def demo(ctx: typer.Context, agency: str, app: str) -> None:
    """Run one application of APP (`centre`) for AGENCY through every step to its issued, signed certificate, through
    the centre's API as a client would (a temporary staff member at every desk, signed in through the box's IdP,
    removed at the end). JSON: {"reference", "access_code", "certificate_url", "verify_url"}; the access code is
    unused, `certificate_url` carries it as ?code=. Exit 0 done; 1 the centre, the IdP or the signing service
    failed; 2 unknown agency or app, an app without a demo, or the centre not deployed (nothing changed); 4 the
    centre is not ready."""
    from govcloud_platform.errors import InputError

    opts: Options = ctx.obj
    manifest(app)  # an unknown app: exit 2
    if app != "centre":
        raise InputError(f"app {app!r} has no demo", hint="`govcloud app demo AGENCY centre`")
    from govcloud_platform.centre_demo import run_on_box

    box = load_box(opts)
    with progress(opts, f"app demo {agency} {app}") as step:
        result = run_on_box(box, agency, step)
    if opts.json:
        emit_json(result.as_dict())
    else:
        info(f"application {result.reference} of {agency}'s centre: issued and signed")
        info(f"certificate (PDF, with its access code): {result.certificate_url}")
        info(f"verification page: {result.verify_url}")
