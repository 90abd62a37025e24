"""Put an application on legal hold, or release it (the operator's way; supervisors use the staff pages): while
held, the retention round deletes none of its documents and erases none of its answers or contact addresses.
Audited in the hash-chained trail (`hold:placed` / `hold:released`, actor `operator`, the reason).

    manage.py centre_legal_hold 7K3M-Q9XA-P2DF --reason "court order 2031/17"
    manage.py centre_legal_hold 7K3M-Q9XA-P2DF --release --reason "case closed"
    manage.py centre_legal_hold 7K3M-Q9XA-P2DF --show
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from centre_core import references, retention_store
from centre_core.errors import NotFound
from centre_web import runtime


class Command(BaseCommand):
    help = "Put an application on legal hold (retention deletes nothing of it) or release it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("reference")
        parser.add_argument("--reason", default="", help="why (kept in the audit trail; required to hold or release)")
        parser.add_argument("--release", action="store_true", help="end the hold")
        parser.add_argument("--show", action="store_true", help="say whether it is held, change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        reference = references.normalise(str(options["reference"]))
        if reference is None:
            raise CommandError("not a reference number (12 letters and digits, e.g. 7K3M-Q9XA-P2DF)", returncode=2)
        conn, shown = runtime.connection(), references.display(reference)
        if options["show"]:
            if conn.execute("SELECT 1 FROM applications WHERE reference = %s", (reference,)).fetchone() is None:
                raise CommandError("no application with this reference")
            since = retention_store.held_since(conn, reference)
            self.stdout.write(f"{shown}: on legal hold since {since.isoformat()}" if since else f"{shown}: not held")
            return
        release = bool(options["release"])
        try:
            change = retention_store.release if release else retention_store.hold
            changed = change(conn, reference, "operator", str(options["reason"]), runtime.now())
        except NotFound:
            raise CommandError("no application with this reference") from None
        except ValueError as error:
            raise CommandError(f"--reason: {error}", returncode=2) from None
        if release:
            self.stdout.write(f"released: {shown}" if changed else f"unchanged: {shown} was not held")
        else:
            self.stdout.write(f"held: {shown}" if changed else f"unchanged: {shown} is held already")
