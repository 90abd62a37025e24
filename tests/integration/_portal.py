"""The portal (Wagtail) without a deploy, for its page tests: a throwaway PostgreSQL 15 with the portal's
database, Django configured from an env file as the role writes it, the code as the role installs it (the portal's
project and the shared design package side by side)."""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from govcloud_platform.box.context import Box
from govcloud_platform.box.ports import free_port_base
from govcloud_platform.spec import load_spec_text
from govcloud_platform.spec.example import EXAMPLE_SPEC
from tests.conftest import new_home
from tests.integration._pg import running_postgres

REPO = Path(__file__).resolve().parents[2]
PORTAL_CODE = REPO / "roles" / "portal" / "files" / "app"
DESIGN_PARENT = REPO / "roles" / "app_common" / "files"  # holds the `design` package


@contextmanager
def portal_database(stem: str) -> Iterator[tuple[Box, Path]]:
    root = new_home(stem)
    box = Box(home=root / "box", spec=load_spec_text(EXAMPLE_SPEC), port_base=free_port_base())
    try:
        with running_postgres(box):
            with box.pg_admin() as admin:
                admin.execute("CREATE DATABASE portal")
            yield box, root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def setup_django(box: Box, root: Path, name: str, colour: str, smtp_port: int = 0) -> None:
    """Django set up from a 0600 env file as the role writes it, then `portal_converge` (migrate, static files,
    the site and its first content). `smtp_port`: a local SMTP server for the newsletter (none: no newsletter)."""
    import django
    from django.core.management import call_command

    for p in (str(PORTAL_CODE), str(DESIGN_PARENT)):
        if p not in sys.path:
            sys.path.insert(0, p)
    info = box.pg_conninfo("portal")
    env = root / "portal.env"
    env.write_text("\n".join([
        "AGENCY_SLUG=health", f"AGENCY_NAME={name}", "AGENCY_GROUP=agency-health",
        "AGENCY_ADMINS_GROUP=agency-health-admins", "PUBLIC_HOST=portal.test", "PUBLIC_URL=https://portal.test",
        f"SECRET_KEY={secrets.token_hex(32)}", f"CA_FILE={info['sslrootcert']}", f"STATIC_ROOT={root / 'static'}",
        f"DB_HOST={info['host']}", f"DB_PORT={info['port']}", "DB_NAME=portal", "DB_USER=postgres",
        f"DB_PASSWORD={info['password']}", "S3_ENDPOINT=https://s3.invalid", "S3_BUCKET=none", "S3_ACCESS_KEY=none",
        "S3_SECRET_KEY=none", "OIDC_ISSUER=https://auth.invalid", "OIDC_CLIENT_ID=none", "OIDC_CLIENT_SECRET=none",
        f"BRAND_COLOUR={colour}", "LOGO_URL=/static/brand/health.svg",
        *(["SMTP_HOST=127.0.0.1", f"SMTP_PORT={smtp_port}", "MAIL_FROM=news@health.gov.example"]
          if smtp_port else []), ""]))
    env.chmod(0o600)
    os.environ["PORTAL_ENV_FILE"] = str(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "govportal.settings"
    try:
        django.setup()
    finally:
        del os.environ["PORTAL_ENV_FILE"], os.environ["DJANGO_SETTINGS_MODULE"]
    call_command("portal_converge")
