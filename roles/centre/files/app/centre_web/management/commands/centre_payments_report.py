"""The day's reconciliation of payments (online and at the counter, totals, and the provider's notifications that
matched no open bill) as CSV on stdout: what the staff page downloads, for an operator's cron or a spreadsheet."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from centre_web import pay, runtime


class Command(BaseCommand):
    help = "Print the day's payment reconciliation as CSV (default: yesterday in the agency's time zone)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--day", default="", help="YYYY-MM-DD (default: yesterday)")

    def handle(self, *args: Any, **options: Any) -> None:
        text = str(options["day"])
        try:
            day = date.fromisoformat(text) if text else \
                runtime.now().astimezone(runtime.calendar().zone).date() - timedelta(days=1)
        except ValueError:
            raise CommandError("--day: give a date as YYYY-MM-DD", returncode=2) from None
        self.stdout.write(pay.report_text(day), ending="")
