"""`govcloud iaas`: Pulumi stacks on OpenStack or an EC2-compatible cloud. `plan --offline` runs the programs under
Pulumi's mocks and the policy pack's rules; the other verbs need the pulumi CLI."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from govcloud_cli.output import Options, emit_json, info, progress, table

if TYPE_CHECKING:
    from govcloud_platform.iaas.plan import Plan

iaas_app = typer.Typer(help="IaaS on OpenStack or an EC2-compatible cloud through Pulumi (openstack, ec2 targets).",
                       no_args_is_help=True)

Agency = Annotated[str | None, typer.Option("--agency", help="only this agency's stacks (agency-<slug>, app-<slug>-*)")]


def _spec(opts: Options) -> Any:
    from govcloud_cli.output import read_spec

    return read_spec(opts.spec_path)


def _print_plan(plan: Plan) -> None:
    from rich.text import Text
    from rich.tree import Tree

    from govcloud_cli.output import console
    from govcloud_platform.text import printable

    con = console()
    by_stack: dict[str, Any] = {}
    nodes: dict[str, Any] = {}
    for res in plan.resources:
        root = by_stack.get(res.stack)
        if root is None:
            root = by_stack[res.stack] = Tree(Text(printable(res.stack), style="bold"))
        parent = nodes.get(res.parent, root)
        nodes[res.urn] = parent.add(Text.assemble(printable(res.type) + " ", (printable(res.name), "dim")))
    for tree in by_stack.values():
        con.print(tree)
    if plan.violations:
        table("policy violations", ["policy", "level", "resource", "message"],
              [(v.policy, v.level, v.resource.rsplit("::", 1)[-1], v.message) for v in plan.violations])
    mandatory = len(plan.mandatory)
    info(f"{len(plan.stacks)} stacks, {len(plan.resources)} resources, {len(plan.violations)} violation(s) "
         f"({mandatory} mandatory)")


@iaas_app.command()
def plan(
    ctx: typer.Context,
    offline: Annotated[
        bool, typer.Option("--offline", help="run the programs under Pulumi's mocks (no CLI, no cloud)")
    ] = False,
    agency: Agency = None,
    strict: Annotated[bool, typer.Option("--strict", help="advisory violations fail the plan too")] = False,
) -> None:
    """Show what the stacks would create and every policy verdict (exit 3 on a mandatory violation)."""
    from govcloud_platform.errors import InputError, PolicyViolation

    opts: Options = ctx.obj
    if not offline:
        preview(ctx, agency)
        return
    spec = _spec(opts)
    if agency is not None and spec.agency(agency) is None:
        raise InputError(f"unknown agency {agency!r}", hint="see `agencies:` in the spec")
    from govcloud_platform.iaas.offline import plan as offline_plan

    result = offline_plan(spec, agency)
    if opts.json:
        emit_json(result.as_json())
    else:
        _print_plan(result)
    failing = result.violations if strict else result.mandatory
    if failing:
        names = sorted({v.policy for v in failing})
        raise PolicyViolation(f"{len(failing)} {'' if strict else 'mandatory '}policy violation(s): {', '.join(names)}",
                              hint="fix the spec or the stacks; details above")


def _run(ctx: typer.Context, action: str, agency: str | None) -> None:
    from govcloud_platform.iaas.runner import require_cli, run

    opts: Options = ctx.obj
    require_cli()  # before reading the spec: the most likely problem on a fresh machine
    spec = _spec(opts)
    with progress(opts, f"iaas {action}") as say:
        results = run(spec, opts.home, action, agency, progress=say)  # type: ignore[arg-type]
    if opts.json:
        emit_json({"action": action, "stacks": [{"stack": r.stack, "summary": r.summary} for r in results]})
    else:
        table(f"iaas {action}", ["stack", "changes"],
              [(r.stack, ", ".join(f"{k}={v}" for k, v in r.summary.items()) or "none") for r in results])


@iaas_app.command()
def preview(ctx: typer.Context, agency: Agency = None) -> None:
    """Preview every stack with the policy pack (needs the pulumi CLI)."""
    _run(ctx, "preview", agency)


@iaas_app.command()
def up(ctx: typer.Context, agency: Agency = None) -> None:
    """Create or update the stacks with the policy pack (needs the pulumi CLI and cloud credentials)."""
    _run(ctx, "up", agency)


@iaas_app.command()
def refresh(ctx: typer.Context, agency: Agency = None) -> None:
    """Reconcile the state with what exists in the cloud."""
    _run(ctx, "refresh", agency)


@iaas_app.command()
def destroy(
    ctx: typer.Context,
    agency: Agency = None,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
) -> None:
    """Delete the stacks' resources (apps first, platform last)."""
    from govcloud_platform.errors import InputError

    if not yes:
        what = f"agency {agency!r}" if agency else "the whole platform and every agency"
        if not sys.stdin.isatty():
            raise InputError(f"destroying the IaaS of {what} needs confirmation", hint="pass --yes")
        if not typer.confirm(f"destroy the IaaS of {what}?", err=True):
            raise InputError("destroy not confirmed", hint="pass --yes to skip the question")
    _run(ctx, "destroy", agency)
