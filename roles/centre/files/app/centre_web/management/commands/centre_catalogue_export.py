"""Write this centre's catalogue (catalogue.yaml and its BPMN files) to a folder, or to one .tar.gz archive when
the target's name ends so: what `centre_catalogue_import` reads back on another agency's centre."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from centre_core import catalogue, installed
from centre_web import runtime


class Command(BaseCommand):
    help = "Export the current catalogue to a folder or a .tar.gz archive."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("target", help="a folder (created; must be empty) or a file name ending in .tar.gz")

    def handle(self, *args: Any, **options: Any) -> None:
        target = Path(options["target"])
        loaded = runtime.loaded()
        if target.name.endswith((".tar.gz", ".tgz")):
            if target.exists():
                raise CommandError(f"{target}: already exists")
            installed.export_archive(loaded, target)
        else:
            if target.exists() and (not target.is_dir() or any(target.iterdir())):
                raise CommandError(f"{target}: exists and is not an empty folder")
            catalogue.export(loaded, target)
        self.stdout.write(f"exported {len(loaded.catalogue.services)} services to {target}")
