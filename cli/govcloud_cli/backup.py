"""`govcloud backup ...`: run, list, restore, status, verify, tick."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from govcloud_cli.boxes import load_box
from govcloud_cli.output import Options, emit, emit_json, info, mark, progress, table

backup_app = typer.Typer(help="Backups and restore drills.", no_args_is_help=True)


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(n)


def _age(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


@backup_app.command("run")
def run(
    ctx: typer.Context,
    kind: Annotated[str, typer.Option("--type", help="platform backup type: full, diff or incr")] = "full",
    agency: Annotated[
        str | None, typer.Option("--agency", help="back up this agency (logical dump + bucket, restic)")
    ] = None,
) -> None:
    """Take a backup now: the whole cluster (pgBackRest), or one agency with --agency."""
    from govcloud_platform.backups import agency as agency_backups
    from govcloud_platform.backups import cluster

    opts: Options = ctx.obj
    box = load_box(opts)
    with progress(opts, "backup") as step:
        if agency:
            record = agency_backups.run_backup(box, agency, actor=opts.actor, progress=step)
        else:
            record = cluster.run_backup(box, kind, actor=opts.actor, progress=step)
    if opts.json:
        emit_json(record.as_dict())
    else:
        info(f"backup {record.id} ({record.scope}, {record.type}) done: {_size(record.bytes)}")


@backup_app.command("list")
def list_(
    ctx: typer.Context,
    agency: Annotated[
        str | None, typer.Option("--agency", help="only this agency's backups (default: platform and agencies)")
    ] = None,
) -> None:
    """Backups, oldest first: the platform's and every agency's (or one agency's). JSON:
    {"backups": [{id, scope, type, started, finished, bytes}]}; scope is `platform` or `agency:<slug>`."""
    from govcloud_platform.backups import agency as agency_backups
    from govcloud_platform.backups import listing

    opts: Options = ctx.obj
    box = load_box(opts)
    records = agency_backups.list_backups(box, agency) if agency else listing.list_all(box)
    emit(opts, {"backups": [r.as_dict() for r in records]}, f"backups of {agency or 'the platform and agencies'}",
         ["id", "scope", "type", "started", "finished", "size"],
         [(r.id, r.scope, r.type, r.started, r.finished, _size(r.bytes)) for r in records])


def _confirm(opts: Options, question: str, yes: bool) -> None:
    from govcloud_platform.errors import InputError

    if yes:
        return
    if opts.json or not sys.stdin.isatty():
        raise InputError(f"{question} needs confirmation", hint="pass --yes")
    if not typer.confirm(question, default=False, err=True):
        raise InputError("not confirmed; nothing was changed")


@backup_app.command("restore")
def restore(
    ctx: typer.Context,
    platform: Annotated[bool, typer.Option("--platform", help="restore the whole cluster (pgBackRest)")] = False,
    registry: Annotated[
        bool, typer.Option("--registry", help="put back a lost registry.db and/or registry.key")
    ] = False,
    to: Annotated[
        str | None, typer.Option("--to", help="point in time to restore to (ISO 8601; platform only)")
    ] = None,
    in_place: Annotated[
        bool, typer.Option("--in-place", help="replace the live cluster (platform; needs --yes)")
    ] = False,
    agency: Annotated[
        str | None, typer.Option("--agency", help="restore this agency's latest (or --snapshot) backup")
    ] = None,
    snapshot: Annotated[str | None, typer.Option("--snapshot", help="backup id or restic snapshot id (agency)")] = None,
    into: Annotated[
        str | None, typer.Option("--into", help="restore into a new agency with this slug (agency)")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
) -> None:
    """Restore the platform (into a scratch cluster unless --in-place), an agency (in place or --into), or the
    registry and its key (--registry: only what is missing or not this box's)."""
    from govcloud_platform.backups import agency_restore, cluster
    from govcloud_platform.errors import InputError

    opts: Options = ctx.obj
    if platform + registry + (agency is not None) != 1:
        raise InputError("say what to restore", hint="pass one of --platform, --agency SLUG or --registry")
    if registry:
        if to or in_place or into:
            raise InputError("--to, --in-place and --into are not for --registry", hint="use --snapshot ID")
        _restore_registry(opts, snapshot)
        return
    if platform and (snapshot or into):
        raise InputError("--snapshot and --into are for --agency", hint="use --to TIME for the platform")
    if agency and (to or in_place):
        raise InputError("--to and --in-place are for --platform", hint="use --snapshot ID for an agency")
    box = load_box(opts)
    report: dict[str, Any]
    with progress(opts, "restore") as step:
        if platform and in_place:
            if not yes:
                raise InputError("an in-place restore replaces the live cluster", hint="pass --in-place --yes")
            report = cluster.restore_in_place(box, to, actor=opts.actor, progress=step)
        elif platform:
            report = cluster.restore_scratch(box, to, actor=opts.actor, progress=step)
        else:
            assert agency is not None  # exactly one of --platform, --agency, --registry (checked above)
            if into is None:
                _confirm(opts, f"replace the databases and bucket of agency {agency} by its backup?", yes)
            report = agency_restore.restore(box, agency, snapshot, into, actor=opts.actor, progress=step)
    if into is not None:  # a new agency, with new credentials
        from govcloud_cli.boxes import copy_registry

        copy_registry(box)
    if opts.json:
        emit_json(report)
    elif platform:
        where = "in place" if in_place else f"into a scratch cluster (port {report.get('port')}, now removed)"
        info(f"platform restored {where} in {report['rto_seconds']}s; target {to or 'latest'}")
        for name, tables in report.get("databases", {}).items():
            info(f"  {name}: {len(tables)} tables, {sum(tables.values())} rows read")
    else:
        info(f"agency {agency} backup {report['backup']} restored into {report['into']} in {report['seconds']}s: "
             f"{len(report['databases'])} database(s), {report['objects']} object(s)")


def _restore_registry(opts: Options, snapshot: str | None) -> None:
    from govcloud_platform.backups import registry as registry_backups

    box = load_box(opts, registry=False)
    with progress(opts, "restore") as step:
        report = registry_backups.restore(box, snapshot, actor=opts.actor, progress=step)
    if opts.json:
        emit_json(report)
        return
    info(report["detail"])
    from govcloud_platform.state.registry import FILE as REGISTRY_FILE

    if REGISTRY_FILE in report["restored"]:
        info(f"{report['agencies']} agencies in the restored registry; a change made after {report['taken']} is "
             "not in it: `govcloud doctor` lists what the servers hold beyond it")


@backup_app.command("status")
def status(ctx: typer.Context) -> None:
    """Last successful backup, its age and size, per agency and for the platform; exit 1 if any is late."""
    from govcloud_platform.backups import cluster, schedule

    opts: Options = ctx.obj
    box = load_box(opts)
    platform_last: dict[str, Any] | None = None
    platform_error = ""
    try:
        newest = cluster.list_backups(box)
        platform_last = newest[-1].as_dict() if newest else None
    except Exception as exc:  # noqa: BLE001 - status reports, it does not stop at one failure
        platform_error = str(exc)
    rows = schedule.status(box, platform_last=platform_last)
    if platform_error:
        first = rows[0]
        rows[0] = schedule.StatusRow(first.scope, first.schedule, None, None, None, first.allowed_seconds, False,
                                     f"cannot read the repository: {platform_error[:200]}")
    ok = all(r.ok for r in rows)
    emit(opts, {"ok": ok, "backups": [r.as_dict() for r in rows]}, "backup status",
         ["scope", "schedule", "last success", "age", "size", "allowed", "ok", "detail"],
         [(r.scope, r.schedule, r.last_success or "-", _age(r.age_seconds), _size(r.bytes), _age(r.allowed_seconds),
           mark(r.ok), r.detail) for r in rows])
    if not ok:
        raise typer.Exit(1)


@backup_app.command("tick")
def tick(
    ctx: typer.Context,
    now: Annotated[str | None, typer.Option("--now", metavar="ISO",
                                            help="the time to decide at (ISO 8601, naive = UTC); default now")] = None,
) -> None:
    """Run the agencies' backups that are due, once, from the operator's home of the hosts target (the backups
    host's scheduler takes the platform's; the agencies' need the registry, which is here). Put it in the
    operator's crontab, every minute. Exit 1 if a backup failed, 4 while another tick runs."""
    import datetime as dt
    import os

    from govcloud_platform.backups.common import parse_time, utcnow
    from govcloud_platform.backups.scheduler import State
    from govcloud_platform.backups.scheduler import tick as run_due
    from govcloud_platform.errors import ConflictError, InputError
    from govcloud_platform.state.lock import file_lock

    opts: Options = ctx.obj
    box = load_box(opts)
    if box.placement is None or box.placement.here:
        raise InputError(f"{box.home} runs its own backup scheduler: `backup tick` is for the operator's home of "
                         "the hosts target", hint="`govcloud backup status` shows what the scheduler did")
    try:
        when = parse_time(now) if now is not None else utcnow()
    except ValueError:
        raise InputError(f"--now {now!r} is not an ISO 8601 time", hint="e.g. --now 2026-12-01T02:00:00Z") from None
    if abs((when - dt.datetime.now(dt.UTC)).days) > 3660:
        raise InputError(f"--now {now!r} is out of range", hint="a time within ten years of today")

    def busy(holder: str) -> ConflictError:
        return ConflictError(f"another `backup tick` is running ({holder})", hint="it takes the due jobs; wait")

    with file_lock(box.home / "backups" / ".tick.lock", f"pid {os.getpid()}", busy):
        ran = run_due(box, State(box.home), when, log=info)
    ok = all(done for _, done, _ in ran)
    emit(opts, {"ok": ok, "ran": [{"job": j, "ok": done, "detail": d} for j, done, d in ran]}, "backup tick",
         ["job", "ok", "detail"], [(j, mark(done), d) for j, done, d in ran])
    if not ok:
        raise typer.Exit(1)


@backup_app.command("verify")
def verify(
    ctx: typer.Context,
    agency: Annotated[
        str | None, typer.Option("--agency", help="only this agency (default: platform and every agency)")
    ] = None,
    snapshot: Annotated[str | None, typer.Option("--snapshot", help="backup id to drill (default: the latest)")] = None,
) -> None:
    """Restore drill into a scratch database and bucket; compare with the manifest; check repositories."""
    from govcloud_platform.backups import drill

    opts: Options = ctx.obj
    box = load_box(opts)
    with progress(opts, "verify") as step:
        report = drill.verify(box, agency, snapshot, actor=opts.actor, progress=step)
    if opts.json:
        emit_json(report)
    else:
        rows = []
        for r in report["reports"]:
            if r["scope"] == "platform":
                repo, d = r["pgbackrest_verify"], r["restore_drill"]
                detail = f"pgbackrest verify: {repo['detail']}; drill: " + (
                    f"{len(d.get('databases', {}))} databases restored in {d.get('seconds')}s" if d["ok"]
                    else d.get("detail", "failed"))
            else:
                detail = (f"{r['tables_checked']} tables, {r['objects_checked']} objects; "
                          f"restic check: {r['restic_check']['detail']}")
                detail += "".join(f"\n  {m}" for m in r["mismatches"][:20])
            rows.append((r["scope"], r.get("backup", "latest"), mark(r["ok"]), detail))
        table("restore drill", ["scope", "backup", "ok", "detail"], rows)
    if not report["ok"]:
        raise typer.Exit(1)
