"""Converge one agency's centre on deploy: the core's tables, then the catalogue (read and checked: a bad file
fails the deploy, not the first citizen) and its processes recorded by version. One process, Django loads once.
With the agency's bucket, the catalogue is also
published as open data (`opendata/centre-services.csv` and `.json`, written only when they changed).
Prints "changed: <what>" or "unchanged", so that the Ansible task reports changed=0 on a second deploy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from centre_core import store
from centre_core.errors import CentreError
from centre_web import catalogue_ops, housekeeping, runtime


class Command(BaseCommand):
    help = "Converge this centre: database schema, the catalogue's processes (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--catalogue", help="the catalogue to install (a deploy's copy of the spec's; "
                            "as centre_catalogue_import: checked whole, a refused one changes nothing)")

    def handle(self, *args: Any, **options: Any) -> None:
        conn = runtime.connection()
        changed = []
        if store.migrate(conn):
            changed.append("schema")
        if options.get("catalogue"):
            try:
                imported = catalogue_ops.import_catalogue(Path(options["catalogue"]))
            except (CentreError, catalogue_ops.NoRoot) as exc:  # its files by name: the deploy copied them
                why = str(exc).replace(f"{Path(options['catalogue']).parent}/", "")
                raise CommandError(f"catalogue refused, the running one stays: {why}") from None
            if imported:
                changed.append(imported)
        else:
            added = store.record_processes(conn, runtime.loaded())
            if added:
                changed.append("processes " + " ".join(added))
        bucket = runtime.bucket()
        if bucket is not None:
            published = housekeeping.publish_opendata(bucket, runtime.loaded(), settings.PUBLIC_URL)
            if published:
                changed.append("open data " + " ".join(published))
        self.stdout.write(("changed: " + ", ".join(changed)) if changed else "unchanged")
