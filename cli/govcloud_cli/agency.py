"""`govcloud agency ...`, `govcloud apply` and `govcloud doctor`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from govcloud_cli.boxes import copy_registry, load_box
from govcloud_cli.output import Options, emit, emit_json, info, progress, table

if TYPE_CHECKING:
    from govcloud_platform.onboarding import Onboarding

agency_app = typer.Typer(help="Agencies (tenants): onboarding, credentials, usage.", no_args_is_help=True)


def _onboarding(opts: Options, step: Any = None) -> Onboarding:
    from govcloud_platform.onboarding import Onboarding

    return Onboarding(load_box(opts), actor=opts.actor, progress=step or (lambda _: None))


def mask(doc: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    from govcloud_platform.brokers import masked

    return masked(doc)


@agency_app.command("add")
def add(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(help="agency identifier, e.g. health")],
    name: Annotated[str, typer.Option("--name", help="display name")],
    quota: Annotated[str, typer.Option("--quota", help="quota class")] = "standard",
    email: Annotated[str | None, typer.Option("--email", help="contact email (default it@<slug>.<domain>)")] = None,
) -> None:
    """Onboard an agency: database, bucket, SSO identity and backup plan (idempotent)."""
    from govcloud_platform.errors import InputError
    from govcloud_platform.onboarding import AgencyRequest
    from govcloud_platform.text import text_problem

    opts: Options = ctx.obj
    problem = text_problem(name, max_length=120)
    if problem:
        from govcloud_platform.text import printable

        raise InputError(f"agency {slug!r}: --name '{printable(name, 60)}' {problem}",
                         hint="give the display name in plain text")
    with progress(opts, f"agency add {slug}") as step:
        ob = _onboarding(opts, step)
        if email is None:  # only an absent --email gets the default; an empty one is refused by validation
            email = f"it@{slug}.{ob.box.spec.platform.domain}"
        record, changed = ob.add(AgencyRequest(slug, name, email, quota))
    if changed:
        copy_registry(ob.box)
    if opts.json:
        emit_json({**record.as_dict(), "changed": changed})
    else:
        info(f"agency {slug} {'onboarded' if changed else 'already onboarded; nothing changed'}")


@agency_app.command("list")
def list_(ctx: typer.Context) -> None:
    """Every agency in the registry."""
    from govcloud_platform.state.registry import Registry

    opts: Options = ctx.obj
    records = Registry(load_box(opts).home).agencies()
    emit(opts, {"agencies": [r.as_dict() for r in records]}, "agencies",
         ["slug", "name", "quota", "state", "services"],
         [(r.slug, r.name, r.quota, r.state, ", ".join(r.services)) for r in records])


@agency_app.command("show")
def show(ctx: typer.Context, slug: str) -> None:
    """An agency's settings, state and recent audit entries."""
    opts: Options = ctx.obj
    ob = _onboarding(opts)
    record = ob.get(slug)
    audit = ob.registry.audit_log(limit=10, target=slug)
    if opts.json:
        emit_json({**record.as_dict(), "audit": audit})
        return
    table(f"agency {slug}", ["key", "value"], [(k, v) for k, v in record.as_dict().items()])
    table("recent changes", ["at", "actor", "command", "result"],
          [(a["at"], a["actor"], a["command"], a["result"]) for a in audit])


@agency_app.command("credentials")
def credentials(
    ctx: typer.Context, slug: str,
    show_secrets: Annotated[bool, typer.Option("--show-secrets", help="print passwords and keys")] = False,
) -> None:
    """Connection details of the agency's database, bucket, OIDC client and SMTP login (secrets masked by default)."""
    opts: Options = ctx.obj
    ob = _onboarding(opts)
    doc = ob.credentials(slug)
    if not show_secrets:
        doc = mask(doc)
    ob.registry.audit("agency credentials", slug, "shown" if show_secrets else "shown masked", opts.actor)
    if opts.json:
        emit_json(doc)
        return
    rows = [(svc, k, v) for svc, creds in doc.items() for k, v in creds.items()]
    table(f"credentials of {slug}", ["service", "key", "value"], rows)


@agency_app.command("usage")
def usage(
    ctx: typer.Context, slug: Annotated[str | None, typer.Argument(help="one agency (default: all)")] = None
) -> None:
    """Measured usage per agency: database size and connections, bucket bytes and objects, backups."""
    opts: Options = ctx.obj
    ob = _onboarding(opts)
    slugs = [slug] if slug else [r.slug for r in ob.registry.agencies() if r.state == "ready"]
    docs = ob.usages(slugs)
    if opts.json:
        emit_json({"usage": docs})
        return
    rows = []
    for d in docs:
        db, st, bk = d.get("database", {}), d.get("storage", {}), d.get("backups", {})
        enforced = [s.get("enforced") for s in (db, st) if "enforced" in s]
        rows.append((d["slug"], d["quota"], db.get("bytes"), f"{db.get('connections')}/{db.get('connection_limit')}",
                     st.get("bytes"), st.get("limit_bytes"), st.get("objects"), bk.get("bytes"),
                     "" if not enforced else "yes" if all(enforced) else "NO (see `govcloud doctor`)"))
    table("usage", ["agency", "quota", "db bytes", "connections", "bucket bytes", "bucket limit", "objects",
                    "backup bytes", "limits enforced"], rows)


@agency_app.command("remove")
def remove(
    ctx: typer.Context, slug: str,
    purge_data: Annotated[
        bool, typer.Option("--purge-data", help="also delete the database, bucket and backups")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask")] = False,
) -> None:
    """Revoke every access of an agency; its data is kept unless --purge-data."""
    from govcloud_platform.errors import InputError

    opts: Options = ctx.obj
    if purge_data and not yes:
        if not sys.stdin.isatty():
            raise InputError("refusing to purge an agency's data without confirmation", hint="pass --yes")
        typer.confirm(f"Delete every byte of {slug}'s data?", abort=True)
    with progress(opts, f"agency remove {slug}") as step:
        ob = _onboarding(opts, step)
        changed = ob.remove(slug, purge_data)
    if changed:
        copy_registry(ob.box)
    if opts.json:
        emit_json({"slug": slug, "removed": changed, "purged": purge_data})
    else:
        info(f"agency {slug} {'removed' if changed else 'was already removed'}"
             f"{' and its data purged' if purge_data else ' (data kept)'}")


@agency_app.command("desk")
def desk(
    ctx: typer.Context, slug: str,
    login: Annotated[str, typer.Argument(help="the agency user's login, <name>@<agency>")],
    desk_id: Annotated[str, typer.Argument(
        metavar="DESK", help="a lane of the agency's centre catalogue, or `catalogue`: its managers")],
    remove: Annotated[bool, typer.Option("--remove", help="take the user off the desk")] = False,
) -> None:
    """Put an agency's user at a desk of its Citizen's Centre (IdP group agency-<slug>--desk-<desk>)."""
    from govcloud_platform.centre_desks import put_at_desk
    from govcloud_platform.onboarding import Onboarding

    opts: Options = ctx.obj
    box = load_box(opts)
    Onboarding(box, actor=opts.actor).get(slug)  # an unknown agency: one clear line
    doc = put_at_desk(box, slug, login, desk_id, remove=remove)
    if opts.json:
        emit_json(doc)
    else:
        verb = ("taken off" if remove else "put at") if doc["changed"] else ("was not at" if remove else "already at")
        info(f"{login} {verb} desk {desk_id} ({doc['group']})")


def apply(
    ctx: typer.Context,
    prune: Annotated[bool, typer.Option("--prune", help="remove agencies not in the spec")] = False,
) -> None:
    """Converge the box to the spec: add agencies, apply quota changes, deploy declared apps, report drift."""
    from govcloud_platform.converge import apply_spec

    opts: Options = ctx.obj
    box = load_box(opts)
    with progress(opts, "apply") as step:
        report = apply_spec(box, prune, opts.actor, step)
    if any(report.get(k) for k in ("added", "updated", "removed")) or report.get("apps", {}).get("deployed"):
        copy_registry(box)
    if opts.json:
        emit_json(report)
        return
    rows = [(k, ", ".join(v)) for k, v in report.items() if k != "apps" and v]
    rows += [(f"apps {k}", ", ".join(v)) for k, v in report.get("apps", {}).items() if v]
    table("apply", ["result", "agencies / apps"], rows)
    if report["drift"]:
        info("agencies in the registry but not in the spec are kept; `govcloud apply --prune` removes them")


def doctor(ctx: typer.Context) -> None:
    """Look for orphaned roles, S3 identities, IdP clients, unfinished onboardings and removals, limits the
    servers hold that differ from the applied quota, buckets that cannot take a write, and on the hosts target a
    host fence that does not run or holds a host fenced (exit 1 if any)."""
    from govcloud_cli.box_cmds import _on_control
    from govcloud_cli.hosts_cmds import fence_problems

    opts: Options = ctx.obj
    if _on_control(opts):  # the hosts' fences are asked over SSH while the servers are read here (one round less)
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=1) as pool:
            fences = pool.submit(fence_problems, opts)
            report = _onboarding(opts).doctor()
            report["fences"] = fences.result()
    else:
        report = _onboarding(opts).doctor()
        report["fences"] = []
    report["healthy"] = report["healthy"] and not report["fences"]
    if opts.json:
        emit_json(report)
    else:
        for line in report["orphans"]:
            info(f"orphan: {line}")
        for slug in report["unfinished"]:
            if slug in report["removing"]:
                info(f"unfinished removal: {slug} (run `{report['removing'][slug]}`)")
            else:
                info(f"unfinished onboarding: {slug} (run `govcloud apply`)")
        for limit in report["limits"]:
            info(f"limit: {limit['detail']} (`govcloud apply` restores it)")
        for slug in report["pending"]:
            info(f"pending: {slug}'s quota values changed in the spec (run `govcloud apply`)")
        for line in report["unwritable"] + report["fences"]:
            info(line)
        if report["healthy"]:
            info("no orphans, nothing unfinished, every limit as applied, every bucket takes a write")
    if not report["healthy"]:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(apply)
    app.command()(doctor)
