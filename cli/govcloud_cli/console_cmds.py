"""`govcloud console client ...`: the web console's script clients (API access for scripts, docs/console.md)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from govcloud_cli.boxes import copy_registry, load_box
from govcloud_cli.output import Options, emit, emit_json, info

console_app = typer.Typer(help="The web console: API access for scripts.", no_args_is_help=True)
client_app = typer.Typer(help="Script clients: OIDC clients (client credentials) with a standing in the console's "
                              "API, an operator's or one agency's.", no_args_is_help=True)
console_app.add_typer(client_app, name="client")


def _check_secret_file(raw: str) -> Path:
    """The file to write the secret to: new (never overwritten), in an existing directory; InputError otherwise,
    before anything is changed."""
    from govcloud_platform.errors import InputError
    from govcloud_platform.text import printable

    path = Path(raw)
    if path.exists() or path.is_symlink():
        raise InputError(f"--secret-file {printable(raw, 100)} exists", hint="name a new file: it is never "
                                                                              "overwritten")
    if not path.parent.is_dir():
        raise InputError(f"--secret-file {printable(raw, 100)}: {printable(str(path.parent), 100)} is not a "
                         "directory", hint="name a file in an existing directory")
    if not os.access(path.parent, os.W_OK):
        raise InputError(f"--secret-file {printable(raw, 100)}: cannot write in {printable(str(path.parent), 100)}",
                         hint="name a file where you can write")
    return path


def _write_secret(path: Path, secret: str) -> None:
    """Only its owner's (0600), made here (O_EXCL: never a file someone placed meanwhile)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (secret + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


@client_app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="the script's name, e.g. ci-report (2-32 of a-z, 0-9, '-')")],
    operator: Annotated[bool, typer.Option("--operator", help="a directorate operator's standing: every agency")]
    = False,
    agency: Annotated[str | None, typer.Option("--agency", help="one agency's standing", metavar="SLUG")] = None,
    role: Annotated[str | None, typer.Option("--role", help="with --agency: member (default) or admin",
                                             metavar="ROLE")] = None,
    secret_file: Annotated[str | None, typer.Option("--secret-file", help="write the secret to this new file "
                                                    "(0600) instead of printing it", metavar="PATH")] = None,
) -> None:
    """Register a script client in the box's IdP (client credentials only) with the standing it has in the
    console's API. Its secret is shown once (stdout), or written to --secret-file."""
    from govcloud_platform.console_scripts import ScriptClients
    from govcloud_platform.names import check_script_name

    opts: Options = ctx.obj
    check_script_name(name)
    path = _check_secret_file(secret_file) if secret_file is not None else None
    box = load_box(opts)
    clients = ScriptClients(box, opts.actor)
    found, secret = clients.add(name, operator=operator, agency=agency, role=role)
    if path is not None:
        try:
            _write_secret(path, secret)
        except OSError as exc:
            clients.remove(name)  # a secret nobody holds makes a useless client
            from govcloud_platform.errors import OperationFailed

            raise OperationFailed(f"cannot write --secret-file ({exc.strerror or type(exc).__name__}); the client "
                                  "was removed again", hint="re-run with another --secret-file") from None
    copy_registry(box)
    doc = {**found.as_dict(), "token_endpoint": f"{box.issuer}/oauth2/token", "ca_file": str(box.ca_file)}
    if opts.json:
        emit_json({**doc, **({"secret_file": str(path)} if path is not None else {"client_secret": secret})})
        return
    standing = "operator" if found.agency is None else f"{found.role} of agency {found.agency}"
    info(f"script client {name} added ({standing}): client id {found.client_id}, token endpoint "
         f"{doc['token_endpoint']} (grant client_credentials, scope openid)")
    if path is not None:
        info(f"its secret is in {path} (0600)")
    else:
        info("its secret (shown once, on stdout):")
        sys.stdout.write(secret + "\n")


@client_app.command("list")
def list_(ctx: typer.Context) -> None:
    """Every script client and its standing (never a secret)."""
    from govcloud_platform.console_scripts import ScriptClients

    opts: Options = ctx.obj
    found = ScriptClients(load_box(opts), opts.actor).list()
    emit(opts, {"clients": [c.as_dict() for c in found]}, "console script clients",
         ["name", "client id", "role", "agency", "created"],
         [(c.name, c.client_id, c.role, c.agency or "", c.created_at) for c in found])


@client_app.command("remove")
def remove(ctx: typer.Context, name: Annotated[str, typer.Argument(help="the script client's name")]) -> None:
    """Remove a script client: the console refuses its tokens at once (before they expire), the IdP gives it no
    new one."""
    from govcloud_platform.console_scripts import ScriptClients
    from govcloud_platform.names import check_script_name

    opts: Options = ctx.obj
    check_script_name(name)
    box = load_box(opts)
    found = ScriptClients(box, opts.actor).remove(name)
    copy_registry(box)
    if opts.json:
        emit_json({**found.as_dict(), "removed": True})
    else:
        info(f"script client {name} removed; its tokens are refused from now on")
