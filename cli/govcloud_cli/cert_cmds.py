"""`govcloud cert verify FILE.pdf`: check a signed PDF offline (docs/signing.md). pyHanko is imported inside the
command: `govcloud --help` stays instant."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from govcloud_cli.output import Options, emit_json, info, mark, table

cert_app = typer.Typer(help="Signed documents: verify a PDF signed by the box's signing service.",
                       no_args_is_help=True)

MAX_FILE = 100 * 1024 * 1024


def _trust_root(opts: Options, ca: Path | None) -> Path:
    """`--ca`, else the platform CA of the box at --home (no spec needed: verification is offline)."""
    if ca is not None:
        return ca
    from govcloud_platform.box.context import require_box

    require_box(opts.home)
    return opts.home / "ca" / "ca.pem"


@cert_app.command("verify")
def verify(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="the signed PDF")],
    ca: Annotated[Path | None, typer.Option("--ca", help="trust this root (PEM) instead of the box's platform CA")]
    = None,
) -> None:
    """Check every signature of FILE: intact (not one byte changed), trusted (its certificate chains to the platform
    CA), timestamped (an RFC 3161 timestamp from a trusted TSA) and covering the whole file. Exit 0 valid, 1 a
    signature is not valid, 2 bad input (no such file, not a PDF, no signature)."""
    from govcloud_platform.errors import InputError

    opts: Options = ctx.obj
    root_file = _trust_root(opts, ca)
    try:
        if file.stat().st_size > MAX_FILE:
            raise InputError(f"{file}: larger than {MAX_FILE // (1024 * 1024)} MiB")
        data = file.read_bytes()
    except OSError as exc:
        raise InputError(f"{file}: cannot read it ({exc.strerror})") from None
    try:
        from asn1crypto import pem as asn1_pem
        from asn1crypto import x509 as asn1_x509

        raw = root_file.read_bytes()
        roots = [asn1_x509.Certificate.load(der) for _, _, der in asn1_pem.unarmor(raw, multiple=True)] \
            if asn1_pem.detect(raw) else [asn1_x509.Certificate.load(raw)]
    except (OSError, ValueError) as exc:
        raise InputError(f"{root_file}: not a readable certificate ({type(exc).__name__})") from None
    from govcloud_platform.signing.pades import verify_pdf

    try:
        reports = verify_pdf(data, roots)
    except ValueError as exc:
        raise InputError(f"{file}: {exc}") from None
    valid = all(r.valid for r in reports)
    if opts.json:
        emit_json({"file": str(file), "valid": valid, "signatures": [r.as_dict() for r in reports]})
    else:
        table(str(file), ["field", "signer", "intact", "trusted", "timestamped", "timestamp", "valid"],
              [(r.field, r.signer, mark(r.intact), mark(r.trusted), mark(r.timestamped), r.timestamp or "-",
                mark(r.valid)) for r in reports])
        info("valid" if valid else "NOT valid: " + "; ".join(f"{r.field}: {r.problem}" for r in reports if not r.valid))
    if not valid:
        raise typer.Exit(1)


@cert_app.command("request")
def request(ctx: typer.Context, slug: str) -> None:
    """A certificate request (PKCS#10, PEM on stdout) for the agency's signing key, to have it signed by the agency's
    own or a national CA instead of the platform CA (docs/signing.md). The key never leaves its backend."""
    from govcloud_cli.boxes import load_box
    from govcloud_platform.brokers.signing import certificate_request

    opts: Options = ctx.obj
    pem = certificate_request(load_box(opts), slug).decode()
    if opts.json:
        emit_json({"agency": slug, "request": pem})
    else:
        typer.echo(pem, nl=False)


@cert_app.command("install")
def install(
    ctx: typer.Context, slug: str,
    file: Annotated[Path, typer.Argument(help="PEM: the agency's certificate, then its issuers up to the root")],
) -> None:
    """Sign for the agency with a certificate its own or a national CA issued for the request of `cert request`
    (checked: for the agency's key, valid now, each certificate issued by the next). Verifiers then trust that
    CA's root (`cert verify --ca`)."""
    from govcloud_cli.boxes import load_box
    from govcloud_platform.brokers.signing import install_certificate
    from govcloud_platform.errors import InputError
    from govcloud_platform.state.registry import Registry

    opts: Options = ctx.obj
    box = load_box(opts)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InputError(f"{file}: cannot read it ({exc.strerror})") from None
    doc = install_certificate(box, slug, data)
    Registry(box.home).audit("cert install", slug, "installed", opts.actor, f"issuer {doc['issuer']}")
    if opts.json:
        emit_json(doc)
    else:
        info(f"agency {slug} now signs as {doc['subject']} (issued by {doc['issuer']})")
