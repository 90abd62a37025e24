"""The `govcloud` command. Heavy modules are imported inside commands so that `--help` stays fast."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from govcloud_cli import agency, app_cmds, backup, box_cmds, iaas, lab, verify_cmd
from govcloud_cli.output import Options, emit_json, info

HELP = """GovCloud in a box: stand up a government cloud and onboard agencies as tenants.

Exit codes: 0 ok, 1 operation failed, 2 bad input, 3 policy violation, 4 conflict (a lock is held)."""

app = typer.Typer(
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
_DEBUG = {"on": False}


@app.callback()
def root(
    ctx: typer.Context,
    spec: Path = typer.Option(Path("govcloud.yaml"), "--spec", envvar="GOVCLOUD_SPEC", help="spec file"),
    home: Path = typer.Option(Path(".govcloud"), "--home", envvar="GOVCLOUD_HOME", help="box directory"),
    json_out: bool = typer.Option(False, "--json", help="print one JSON document on stdout"),
    debug: bool = typer.Option(False, "--debug", help="show tracebacks"),
    actor: str = typer.Option(None, "--actor", envvar="GOVCLOUD_ACTOR", help="who acts (audit log)"),
) -> None:
    _DEBUG["on"] = debug
    from govcloud_platform.box.modes import private_umask

    private_umask()  # every file this command and what it starts create is private unless given a mode
    ctx.obj = Options(spec_path=spec, home=home, json=json_out, debug=debug, actor=actor)


@app.command()
def init(
    ctx: typer.Context, force: bool = typer.Option(False, "--force", help="overwrite an existing spec")
) -> None:
    """Write a commented example spec (three agencies) to the --spec path."""
    from govcloud_platform.errors import ConflictError
    from govcloud_platform.spec.example import EXAMPLE_SPEC

    opts: Options = ctx.obj
    if opts.spec_path.exists() and not force:
        raise ConflictError(f"{opts.spec_path} exists", hint="use --force to overwrite it")
    opts.spec_path.parent.mkdir(parents=True, exist_ok=True)
    opts.spec_path.write_text(EXAMPLE_SPEC, encoding="utf-8")
    if opts.json:
        emit_json({"spec": str(opts.spec_path), "written": True})
    else:
        info(f"wrote {opts.spec_path}")


@app.command()
def validate(ctx: typer.Context) -> None:
    """Check the spec; print every problem with its key path and line (exit 2 if any)."""
    from govcloud_platform.spec import validate_file

    opts: Options = ctx.obj
    problems = validate_file(opts.spec_path)
    if opts.json:
        emit_json({"spec": str(opts.spec_path), "valid": not problems, "problems": [p.as_dict() for p in problems]})
    else:
        for p in problems:
            sys.stderr.write(f"{p}\n")
        if not problems:
            info(f"{opts.spec_path}: valid")
    if problems:
        raise typer.Exit(2)


@app.command()
def schema(ctx: typer.Context) -> None:
    """Print the JSON Schema of the spec (for editors)."""
    from govcloud_platform.spec import Spec

    doc = Spec.model_json_schema()
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    doc["title"] = "govcloud.yaml"
    emit_json(doc)


box_cmds.register(app)
agency.register(app)
verify_cmd.register(app)
app.add_typer(box_cmds.box_app, name="box")
app.add_typer(agency.agency_app, name="agency")
app.add_typer(app_cmds.app_app, name="app")
app.add_typer(backup.backup_app, name="backup")
app.add_typer(iaas.iaas_app, name="iaas")
app.add_typer(lab.lab_app, name="lab")


def run() -> None:
    """Console entry point: GovCloudError becomes one line on stderr and its exit code."""
    from govcloud_platform.errors import GovCloudError

    try:
        app()
    except GovCloudError as exc:
        if _DEBUG["on"]:
            import traceback

            traceback.print_exc()
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted; re-run the same command to converge\n")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - last resort: one line, no locals
        if _DEBUG["on"] or os.environ.get("GOVCLOUD_DEBUG"):
            raise
        sys.stderr.write(f"error: unexpected {type(exc).__name__}: {exc} (re-run with --debug for details)\n")
        sys.exit(1)


if __name__ == "__main__":
    run()
