"""Create or update the centre's tables in the agency's database (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from centre_core import store
from centre_web import runtime


class Command(BaseCommand):
    help = "Create the centre's tables (applications, workflow states, tasks, tracking codes, audit)."

    def handle(self, *args: Any, **options: Any) -> None:
        store.migrate(runtime.connection())
