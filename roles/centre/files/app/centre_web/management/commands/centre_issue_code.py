"""Issue a one-time tracking code for an application and print it (for the operator, until codes are mailed
to the applicant: the mail service is a later part of issue 14). Only the code's HMAC is stored."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from centre_core import references, store
from centre_core.errors import NotFound
from centre_web import runtime


class Command(BaseCommand):
    help = "Issue a one-time tracking code for an application (valid 30 minutes, one use)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("reference")

    def handle(self, *args: Any, **options: Any) -> None:
        reference = references.normalise(str(options["reference"]))
        if reference is None:
            raise CommandError("not a reference number (12 letters and digits, e.g. 7K3M-Q9XA-P2DF)", returncode=2)
        try:
            code = store.issue_code(runtime.connection(), runtime.tracking_key(), reference, runtime.now())
        except NotFound:
            raise CommandError("no application with this reference") from None
        self.stdout.write(code)
