"""Migrate, collect static files and bootstrap the site in one process (Django and Wagtail load once).
Prints "changed: <what>" or "unchanged", so that the Ansible task reports changed=0 on a second deploy."""

import io

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Converge this portal instance: database schema, static files, home page and site."

    def handle(self, *args, **options):
        changed = []
        out = io.StringIO()
        call_command("migrate", interactive=False, stdout=out)
        if "No migrations to apply." not in out.getvalue():
            changed.append("migrate")
        out = io.StringIO()
        call_command("collectstatic", interactive=False, stdout=out)
        if not out.getvalue().strip().startswith("0 static files copied"):
            changed.append("static")
        out = io.StringIO()
        call_command("portal_bootstrap", stdout=out)
        if out.getvalue().strip().startswith("changed"):
            changed.append("site")
        self.stdout.write(("changed: " + ", ".join(changed)) if changed else "unchanged")
