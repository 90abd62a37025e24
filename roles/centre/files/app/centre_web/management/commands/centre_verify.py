"""Check a certificate's PDF offline (issue 16): its PAdES signature intact, its signer trusted by the roots
given (`--ca`, else SIGNING_CA_FILE, else the box CA of CA_FILE), its RFC 3161 timestamp valid, nothing added
after signing. No network: no CRL or OCSP is fetched. Whether the agency has since revoked it is on the public
page the QR code leads to (printed here as `verify`). Exit 0 valid, 1 not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from centre_core import certificates, signing


class Command(BaseCommand):
    help = "Check a signed certificate (PDF) offline: signature, trust, timestamp."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the certificate's PDF")
        parser.add_argument("--ca", action="append", default=[], help="a PEM file of trusted roots (repeatable)")
        parser.add_argument("--json", action="store_true", help="one JSON document")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"no file {path}")
        roots = options["ca"] or [settings.CENTRE_SIGNING_CA_FILE]
        verdict = signing.verify(path.read_bytes(), [Path(r).read_bytes() for r in roots if r])
        cert_id = certificates.parse_id(verdict.certificate_id or "")
        out = {"ok": verdict.ok, "signed": verdict.signed, "intact": verdict.intact, "trusted": verdict.trusted,
               "timestamped": verdict.timestamped, "wholeFile": verdict.covers_whole_file, "signer": verdict.signer,
               "signedAt": verdict.signed_at.isoformat() if verdict.signed_at else None, "certificate": cert_id,
               "verify": certificates.verify_url(settings.PUBLIC_URL, cert_id) if cert_id else None,
               "problem": verdict.problem}
        if options["json"]:
            self.stdout.write(json.dumps(out))
        else:
            for key, value in out.items():
                if value not in (None, ""):
                    self.stdout.write(f"{key}: {value}")
        if not verdict.ok:
            raise SystemExit(1)
