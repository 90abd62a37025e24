"""What the app tests share (tests/integration/test_apps*.py, tests/infra/test_apps_host.py): the apps deployed
once per session, one app deployed for a module, agency users, the headless SSO login through an app, name
resolution of the box's public names, and the checks every deploy and every removal must pass."""

from __future__ import annotations

import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from govcloud_platform.apps.layout import public_url
from govcloud_platform.apps.manifests import manifest
from govcloud_platform.box import idp_api
from govcloud_platform.box.context import Box
from govcloud_platform.box.supervisor import Supervisor
from govcloud_platform.names import app_program, oidc_app_client, pg_app, system_user
from tests.conftest import BoxHandle
from tests.oidc import browser, host_only, login_form

PORTAL_AGENCIES = ("health", "revenue")
OPENDATA_AGENCY = "health"
_DEPLOYED: dict[str, dict[str, Any]] = {}


# --- deployments --------------------------------------------------------------------------------------
def apply_spec(box: BoxHandle) -> None:
    applied = box.cli("--json", "apply", timeout=600)
    assert applied.rc == 0, applied.stderr[-2000:]


def deploy(box: BoxHandle, slug: str, app: str, timeout: float = 900) -> dict[str, Any]:
    r = box.cli("--json", "app", "deploy", slug, app, timeout=timeout)
    assert r.rc == 0, r.stderr[-3000:]
    doc: dict[str, Any] = r.json()
    return doc


def deploy_session_apps(box: BoxHandle) -> dict[str, Any]:
    """portal for two agencies and opendata for one, deployed once per session box (tests/integration and
    tests/infra share them: whichever asks first deploys, the other gets the cached result)."""
    key = str(box.home)
    if key in _DEPLOYED:
        return _DEPLOYED[key]
    apply_spec(box)
    results = {f"{slug}/portal": deploy(box, slug, "portal") for slug in PORTAL_AGENCIES}
    results[f"{OPENDATA_AGENCY}/opendata"] = deploy(box, OPENDATA_AGENCY, "opendata")
    _DEPLOYED[key] = results
    return results


@contextmanager
def deployed_app(box: BoxHandle, slug: str, app: str, timeout: float = 900) -> Iterator[dict[str, Any]]:
    """One app deployed for one agency (after `apply`), its names resolving to the box; removed at the end."""
    apply_spec(box)
    doc = deploy(box, slug, app, timeout)
    try:
        with resolve_to_loopback(box.box().spec.platform.domain):
            yield doc
    finally:
        box.cli("app", "remove", slug, app, timeout=600)


@contextmanager
def agency_users(box: BoxHandle, slugs: tuple[str, ...], tag: str) -> Iterator[dict[str, tuple[str, str]]]:
    """One IdP user per agency, member of that agency's group: {slug: (login, password)}; deleted at the end."""
    b = box.box()
    users = {}
    for slug in slugs:
        login, password = f"{slug}-{tag}-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
        idp_api.add_user(b, login, password, f"{login}@{slug}.gov.example", f"{slug} clerk", [f"agency-{slug}"])
        users[slug] = (login, password)
    try:
        yield users
    finally:
        for login, _ in users.values():
            idp_api.remove_user(b, login)


# --- clients ------------------------------------------------------------------------------------------
@contextmanager
def resolve_to_loopback(domain: str) -> Iterator[None]:
    """Names under `domain` resolve to 127.0.0.1 (what DNS would say for the box), so that clients send
    the real name in SNI and Host and verify the certificate for it."""
    original = socket.getaddrinfo

    def fake(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and (host == domain or host.endswith("." + domain)):
            host = "127.0.0.1"
        return original(host, *args, **kwargs)

    socket.getaddrinfo = fake
    try:
        yield
    finally:
        socket.getaddrinfo = original


def sso_login(box: Box, start: str, user: str, password: str,
              stop_at: str | None = None) -> tuple[requests.Session, requests.Response]:
    """Follow an app's OIDC login by hand from `start`, filling LemonLDAP::NG's form once. Ends at the first
    answer that is neither a redirect nor the form, or at a redirect to `stop_at` (a client's own URL, e.g.
    where Matrix sends the loginToken), which is returned unfollowed."""
    s = browser(box)
    resp = s.get(start, allow_redirects=False, timeout=30)
    host_only(s)
    for _ in range(12):
        if resp.status_code in (301, 302, 303, 307):
            target = urljoin(resp.url, resp.headers["location"])
            if stop_at and target.startswith(stop_at):
                break
            resp = s.get(target, allow_redirects=False, timeout=60)
            host_only(s)
        elif resp.status_code == 200 and 'name="password"' in resp.text:
            fields = login_form(resp)
            fields.update(user=user, password=password)
            resp = s.post(resp.url, data=fields, allow_redirects=False, timeout=30)
            host_only(s)
        else:
            break
    return s, resp


def system_user_exists(name: str) -> bool:
    """`getent passwd NAME` finds it (and so does `getent group`: the apps create both together)."""
    found = [subprocess.run(["getent", db, name], capture_output=True, check=False).returncode == 0
             for db in ("passwd", "group")]
    assert found[0] == found[1], f"user and group {name} out of step: {found}"
    return found[0]


# --- what every app must do ---------------------------------------------------------------------------
def assert_redeploy_changes_nothing(box: BoxHandle, slug: str, app: str) -> None:
    doc = deploy(box, slug, app, timeout=600)
    assert doc["changed"] == 0, doc["changed_steps"]


def remove_and_assert_clean(box: BoxHandle, slug: str, app: str, secrets_file: str,
                            programs: tuple[str, ...] = (), probe_path: str = "/") -> None:
    """Remove the app (data kept) and check that no process, vhost, credential or certificate is left, the
    database role cannot log in, the public name no longer answers as the app, and the agency's system user
    is gone exactly when this was the agency's last app."""
    from govcloud_platform.apps.layout import instance_dir

    b = box.box()
    programs = programs or (app_program(slug, app),)
    vhost = b.home / "nginx" / "apps.d" / f"{app_program(slug, app)}.conf"
    secrets = instance_dir(b, slug, app) / secrets_file
    assert vhost.exists() and secrets.exists() and oct(secrets.stat().st_mode & 0o777) == "0o600"
    r = box.cli("--json", "app", "remove", slug, app, timeout=600)
    assert r.rc == 0 and r.json()["removed"] is True, r.stderr[-2000:]
    info = Supervisor(b).info()
    assert not [p for p in programs if p in info]
    assert not vhost.exists() and not secrets.exists()
    assert idp_api.get_oidc_client(b, oidc_app_client(slug, app)) is None
    assert not list((b.ca.directory / "certs").glob(f"app-{slug}-{app}.*"))
    if "database" in manifest(app).services:
        with b.pg_admin() as conn:
            assert conn.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s",
                                (pg_app(slug, app),)).fetchone() == (False,)
    others = box.cli("--json", "app", "list", "--agency", slug).json()["apps"]
    assert app not in {a["app"] for a in others}
    assert system_user_exists(system_user(slug)) == bool(others), others
    with pytest.raises(requests.RequestException):
        browser(b).get(public_url(b, slug, app) + probe_path, timeout=10)
