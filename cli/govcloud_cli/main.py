"""The `govcloud` command. Heavy modules are imported inside commands so that `--help` stays fast."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from govcloud_cli import agency, app_cmds, backup, box_cmds, cert_cmds, console_cmds, hosts_cmds, iaas, lab, verify_cmd
from govcloud_cli.output import RUN, Options, emit_json, info

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


@app.callback()
def root(
    ctx: typer.Context,
    # str, not Path: Path("") is ".", and an empty --home must not silently mean the current directory
    spec: Annotated[str, typer.Option("--spec", envvar="GOVCLOUD_SPEC", help="spec file", metavar="PATH")]
    = "govcloud.yaml",
    home: Annotated[str, typer.Option("--home", envvar="GOVCLOUD_HOME", help="box directory", metavar="PATH")]
    = ".govcloud",
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON document on stdout")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="show tracebacks")] = False,
    actor: Annotated[str | None, typer.Option("--actor", envvar="GOVCLOUD_ACTOR", help="who acts (audit log)")] = None,
) -> None:
    from govcloud_platform.box.modes import private_umask
    from govcloud_platform.errors import InputError

    RUN.debug = debug
    private_umask()  # every file this command and what it starts create is private unless given a mode
    for option, value in (("--spec", spec), ("--home", home)):
        if not value.strip():
            raise InputError(f"{option} is empty", hint=f"pass {option} PATH")
    if actor is not None:
        from govcloud_platform.text import text_problem

        problem = text_problem(actor, max_length=100)
        if problem:
            from govcloud_platform.text import printable

            raise InputError(f"--actor '{printable(actor, 60)}' {problem}",
                             hint="name who acts in plain text (GOVCLOUD_ACTOR)")
    ctx.obj = Options(spec_path=Path(spec), home=Path(home), json=json_out, debug=debug, actor=actor)


@app.command()
def init(
    ctx: typer.Context, force: Annotated[bool, typer.Option("--force", help="overwrite an existing spec")] = False
) -> None:
    """Write a commented example spec (three agencies) to the --spec path."""
    from govcloud_platform.errors import ConflictError, InputError
    from govcloud_platform.spec.example import EXAMPLE_SPEC

    opts: Options = ctx.obj
    path = opts.spec_path
    if path.is_dir():
        raise InputError(f"--spec {path} is a directory", hint="pass the path of the file to write")
    if path.exists() and not force:
        raise ConflictError(f"{path} exists", hint="use --force to overwrite it")
    if not path.parent.is_dir():  # never make directories: a typo would leave them behind
        what = "is not a directory" if path.parent.exists() else "does not exist"
        raise InputError(f"cannot write {path}: {path.parent} {what}",
                         hint="pass --spec PATH in an existing directory")
    try:
        path.write_text(EXAMPLE_SPEC, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}",
                         hint="pass --spec PATH where you can write") from None
    if opts.json:
        emit_json({"spec": str(opts.spec_path), "written": True})
    else:
        info(f"wrote {opts.spec_path}")


@app.command()
def validate(ctx: typer.Context) -> None:
    """Check the spec; print every problem with its key path and line (exit 2 if any)."""
    from govcloud_platform.spec import validate_file

    opts: Options = ctx.obj
    try:
        problems = validate_file(opts.spec_path)
    except RecursionError:  # see output.read_spec
        from govcloud_platform.errors import SpecProblem

        problems = [SpecProblem(str(opts.spec_path), "", None, "nested too deeply to be a spec")]
    if opts.json:
        emit_json({"spec": str(opts.spec_path), "valid": not problems, "problems": [p.as_dict() for p in problems]})
    else:
        from govcloud_platform.text import printable

        for p in problems:
            sys.stderr.write(f"{printable(str(p))}\n")
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
app.add_typer(hosts_cmds.hosts_app, name="hosts")
app.add_typer(console_cmds.console_app, name="console")
app.add_typer(cert_cmds.cert_app, name="cert")


def endpoints(box: Any) -> list[tuple[int, str, str]]:
    """(port, service, where) of the box's endpoints, to name the service behind a client library's error."""
    p, at = box.ports, box.bind_address
    out = [
        (p.postgres, "database", f"PostgreSQL at {at('postgres')}:{p.postgres}"),
        (p.s3_https, "storage", f"S3 at {box.s3_endpoint}"),
        (p.s3_edge, "storage", f"S3 at {box.s3_endpoint}"),
        (p.s3_http, "storage", f"S3 at http://{at('s3_http')}:{p.s3_http}"),
        (p.idp_https, "identity", f"the IdP at {box.issuer}"),
        (p.idp_manager, "identity", f"the IdP manager API at http://{at('idp_manager')}:{p.idp_manager}"),
        (p.proxy_https, "apps", f"the apps' proxy at https://{at('proxy_https')}:{p.proxy_https}"),
        (p.signing_https, "signing", f"the signing service at https://{at('signing_https')}:{p.signing_https}"),
        (p.paydemo_https, "paydemo", f"the demo payment provider at https://{at('paydemo_https')}:{p.paydemo_https}"),
    ]
    return out + [(p.base + n, "apps", f"an app at 127.0.0.1:{p.base + n}") for n in range(20, 100)]


def error_line(exc: BaseException) -> tuple[str, int] | None:
    """The one stderr line and exit code for an exception, or None for a bug (shown as `unexpected`)."""
    from govcloud_platform.errors import SERVICE_HINT, GovCloudError, ServiceError, translate
    from govcloud_platform.state.registry import FILE as REGISTRY_FILE
    from govcloud_platform.state.registry import registry_path
    from govcloud_platform.text import one_line

    if not isinstance(exc, GovCloudError):
        box = RUN.box
        try:
            known = translate(exc, endpoints(box) if box is not None else [],
                              str(registry_path(box.home)) if box is not None else REGISTRY_FILE)
        except Exception:  # noqa: BLE001 - naming the failure must never fail itself
            known = None
        if known is None:
            return None
        exc = known
    if isinstance(exc, ServiceError) and exc.hint is None:
        exc.hint = SERVICE_HINT
    return f"error: {one_line(str(exc), 600)}", exc.exit_code


def _check_argv(args: list[str]) -> None:
    """Arguments that are not UTF-8 (Python keeps their bytes as lone surrogates) would fail later in whatever
    first encodes them (SQLite, a path, the terminal), and empty ones would read as "not given": refuse both at
    the door."""
    from govcloud_platform.errors import InputError
    from govcloud_platform.text import printable

    for i, arg in enumerate(args):
        if any("\ud800" <= ch <= "\udfff" for ch in arg):
            raise InputError(f"argument '{printable(arg, 60)}' is not valid UTF-8", hint="pass text in UTF-8")
        # No option or argument of govcloud takes an empty value: `--agency ""` must not mean "every agency".
        if arg == "" or (arg.startswith("--") and arg.endswith("=")):
            name = arg[:-1] if arg else (args[i - 1] if i and args[i - 1].startswith("-") else f"argument {i + 1}")
            raise InputError(f"{name} is empty", hint="leave it out, or give it a value")


def _usage_line(exc: Exception) -> tuple[str, int] | None:
    """Typer's own errors (unknown option, missing argument, a value out of range): one line too, with where to
    find help, instead of click's three. Asking for nothing (`govcloud agency`) still shows the help."""
    from typer.exceptions import TyperException

    if not isinstance(exc, TyperException) or not hasattr(exc, "format_message"):
        return None
    if type(exc).__name__ == "NoArgsIsHelpError":
        exc.show()  # type: ignore[attr-defined]
        return None
    from govcloud_platform.text import one_line

    ctx = getattr(exc, "ctx", None)
    where = f" (see `{ctx.command_path} -h`)" if ctx is not None else ""
    return f"error: {one_line(exc.format_message(), 400)}{where}", int(getattr(exc, "exit_code", 2))


_COMMAND: list[Any] = []


def command() -> Any:
    """The click command Typer builds from `app` (its options' annotations evaluated, ~40 ms), built once per
    process: the CLI agent builds it before it forks, so its children do not."""
    if not _COMMAND:
        import typer.main

        _COMMAND.append(typer.main.get_command(app))
    return _COMMAND[0]


def run() -> None:
    """Console entry point: a typed error (or a client library's, named by service) becomes one line on stderr
    and its exit code; anything else is a bug, reported as `unexpected` in one line."""
    import typer

    try:
        _check_argv(sys.argv[1:])
        code = command()(standalone_mode=False)
    except (KeyboardInterrupt, typer.Abort) as exc:
        interrupted = isinstance(exc, KeyboardInterrupt) or isinstance(exc.__context__, KeyboardInterrupt)
        sys.stderr.write("error: interrupted; re-run the same command to converge\n" if interrupted
                         else "error: not confirmed; nothing was changed\n")
        sys.exit(130 if interrupted else 1)
    except Exception as exc:  # noqa: BLE001 - the funnel: one line, no locals
        if RUN.debug or os.environ.get("GOVCLOUD_DEBUG"):
            import traceback

            traceback.print_exc()
        usage = _usage_line(exc)
        if usage is None and type(exc).__name__ == "NoArgsIsHelpError":
            sys.exit(2)
        line = usage or error_line(exc)
        if line is None:
            from govcloud_platform.text import one_line

            sys.stderr.write(one_line(f"error: unexpected {type(exc).__name__}: {exc}", 600)
                             + " (re-run with --debug for details)\n")
            sys.exit(1)
        sys.stderr.write(line[0] + "\n")
        sys.exit(line[1])
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    run()
