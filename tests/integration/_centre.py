"""The Citizen's Centre without a deploy, for its tests and its benchmark: a throwaway PostgreSQL 15 with the
centre's database, and Django configured from an env file as the role writes it."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from govcloud_platform.box.context import Box
from govcloud_platform.box.ports import free_port_base
from govcloud_platform.spec import load_spec_text
from govcloud_platform.spec.example import EXAMPLE_SPEC
from tests.conftest import new_home
from tests.integration._pg import running_postgres


@contextmanager
def centre_database(stem: str) -> Iterator[tuple[Box, Path]]:
    """(a box whose PostgreSQL runs with an empty `centre` database, the scratch root); removed afterwards."""
    root = new_home(stem)
    box = Box(home=root / "box", spec=load_spec_text(EXAMPLE_SPEC), port_base=free_port_base())
    try:
        with running_postgres(box):
            with box.pg_admin() as admin:
                admin.execute("CREATE DATABASE centre")
            yield box, root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def setup_django(box: Box, root: Path, extra: dict[str, str] | None = None) -> None:
    """Django set up from a 0600 env file as the role writes it (the superuser's connection, fresh keys), then
    the schema migrated. The environment is set only while Django reads its settings: later tests of the same
    session start apps (the portal's Django among them) from this process's environment."""
    import django
    from django.apps import apps
    from django.core.management import call_command

    info = box.pg_conninfo("centre")
    env = root / "centre.env"
    env.write_text("\n".join([
        "AGENCY_SLUG=health", "AGENCY_NAME=Health Department", "PUBLIC_URL=https://centre.test",
        "PUBLIC_HOST=centre.test", f"SECRET_KEY={secrets.token_hex(32)}", f"DB_HOST={info['host']}",
        f"DB_PORT={info['port']}", "DB_NAME=centre", "DB_USER=postgres", f"DB_PASSWORD={info['password']}",
        f"CA_FILE={info['sslrootcert']}", f"TRACKING_KEY={secrets.token_hex(32)}",
        *(f"{k}={v}" for k, v in (extra or {}).items()), ""]))
    env.chmod(0o600)
    os.environ["CENTRE_ENV_FILE"] = str(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "centre_web.settings"
    try:
        if apps.ready:  # a second module of the session: Django reads its settings once, so point them here
            _reread_settings()
        else:
            django.setup()
    finally:
        del os.environ["CENTRE_ENV_FILE"], os.environ["DJANGO_SETTINGS_MODULE"]
    call_command("centre_migrate")


def _reread_settings() -> None:
    """Read the settings module again (from the new env file) into Django's settings, and drop this thread's
    connection to the previous module's database (each module has its own, removed with it)."""
    import importlib

    from django.conf import settings

    import centre_web.settings as module
    from centre_web import runtime

    importlib.reload(module)
    for name in dir(module):
        if name.isupper():
            setattr(settings, name, getattr(module, name))
    runtime.connection().close()
