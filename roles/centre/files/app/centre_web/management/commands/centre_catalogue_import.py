"""Replace this centre's catalogue with another one (a folder, a catalogue.yaml, or a .tar.gz written by
`centre_catalogue_export`): checked whole first; a refused catalogue changes nothing. Prints "changed: ..." or
"unchanged". Applications under way keep the process version they started on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from centre_core.errors import CentreError
from centre_web import catalogue_ops


class Command(BaseCommand):
    help = "Import a catalogue (folder, catalogue.yaml or .tar.gz): validate it, then replace the current one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", help="a folder with catalogue.yaml, a catalogue.yaml, or a .tar.gz")

    def handle(self, *args: Any, **options: Any) -> None:
        source = Path(options["source"])
        if not source.exists():
            raise CommandError(f"{source}: no such file or folder")
        try:
            changed = catalogue_ops.import_catalogue(source)
        except (CentreError, catalogue_ops.NoRoot) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"changed: {changed}" if changed else "unchanged")
