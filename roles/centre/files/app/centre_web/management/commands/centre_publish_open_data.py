"""Publish the scheduled open data now (`publishing.round` with every part): e-participation's results and the
transparency figures, to the agency bucket's `opendata/` (the timers' job does it on its own schedule: results
hourly, figures daily). Prints the keys written, or `unchanged`; without a bucket it says so and exits 1."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from centre_web import publishing, runtime


class Command(BaseCommand):
    help = "Publish e-participation's results and the transparency figures to the agency's open data now."

    def handle(self, *args: Any, **options: Any) -> None:
        bucket = runtime.bucket()
        if bucket is None:
            raise CommandError("no bucket: this centre has no S3_ENDPOINT, so it publishes no open data")
        written = publishing.round(runtime.connection(), bucket, runtime.loaded(), runtime.now(), runtime.calendar(),
                                   force=True)
        self.stdout.write(("changed: open data " + " ".join(written)) if written else "unchanged")
