"""messaging (Matrix Synapse) on a real box for one agency: deploy, health through the TLS proxy, database
collation, SSO login through LemonLDAP::NG ending in a Matrix loginToken for an agency member and refused for
another agency's user, media in the agency's bucket, idempotence, and a removal that leaves nothing behind."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, quote, urljoin, urlparse

import pytest
import requests

from govcloud_platform.apps.service import db_name, instance_dir, oidc_client_id, program_name, run_user
from govcloud_platform.box import idp_api
from govcloud_platform.box.supervisor import Supervisor
from tests.conftest import BoxHandle
from tests.infra._apps import resolve_to_loopback, system_user_exists
from tests.oidc import browser, host_only, login_form

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SLUG, OTHER, APP = "health", "revenue", "messaging"


@pytest.fixture(scope="module")
def deployed(box: BoxHandle) -> Iterator[dict[str, Any]]:
    applied = box.cli("--json", "apply", timeout=600)
    assert applied.rc == 0, applied.stderr[-2000:]
    r = box.cli("--json", "app", "deploy", SLUG, APP, timeout=900)
    assert r.rc == 0, r.stderr[-3000:]
    try:
        with resolve_to_loopback(box.box().spec.platform.domain):
            yield r.json()
    finally:
        box.cli("app", "remove", SLUG, APP, timeout=600)


@pytest.fixture(scope="module")
def members(box: BoxHandle, deployed: dict[str, Any]) -> Iterator[dict[str, tuple[str, str]]]:
    b = box.box()
    users = {}
    for slug in (SLUG, OTHER):
        login, password = f"{slug}-chat-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
        idp_api.add_user(b, login, password, f"{login}@{slug}.gov.example", f"{slug} clerk", [f"agency-{slug}"])
        users[slug] = (login, password)
    yield users
    for login, _ in users.values():
        idp_api.remove_user(b, login)


def sso(box: BoxHandle, base: str, user: str, password: str) -> requests.Response:
    """Matrix SSO as a client does it: the redirect endpoint, LemonLDAP::NG's form once, back to Synapse;
    stops at the redirect to the client (carrying loginToken) or at the first page that is not a redirect."""
    done = base + "/done"
    s = browser(box.box())
    resp = s.get(f"{base}/_matrix/client/v3/login/sso/redirect?redirectUrl={quote(done, safe='')}",
                 allow_redirects=False, timeout=30)
    host_only(s)
    for _ in range(12):
        if resp.status_code in (301, 302, 303, 307):
            target = urljoin(resp.url, resp.headers["location"])
            if target.startswith(done):
                break
            resp = s.get(target, allow_redirects=False, timeout=30)
            host_only(s)
        elif resp.status_code == 200 and 'name="password"' in resp.text:
            fields = login_form(resp)
            fields.update(user=user, password=password)
            resp = s.post(resp.url, data=fields, allow_redirects=False, timeout=30)
            host_only(s)
        else:
            break
    return resp


def matrix_login(base: str, ca: str, login_token: str) -> dict[str, Any]:
    resp = requests.post(f"{base}/_matrix/client/v3/login", json={"type": "m.login.token", "token": login_token},
                         verify=ca, timeout=30)
    assert resp.status_code == 200, resp.text[:300]
    doc: dict[str, Any] = resp.json()
    return doc


def test_health_through_the_proxy(box: BoxHandle, deployed: dict[str, Any]) -> None:
    resp = browser(box.box()).get(deployed["url"] + "/health", timeout=30)
    assert resp.status_code == 200 and resp.text == "OK"
    versions = browser(box.box()).get(deployed["url"] + "/_matrix/client/versions", timeout=30)
    assert versions.status_code == 200 and "versions" in versions.json()
    status = box.cli("--json", "app", "status", SLUG, APP)
    assert status.rc == 0 and status.json()["healthy"] is True, status.stdout


def test_database_has_the_c_collation_synapse_needs(box: BoxHandle, deployed: dict[str, Any]) -> None:
    with box.box().pg_admin() as conn:
        row = conn.execute("SELECT datcollate, datctype FROM pg_database WHERE datname = %s",
                           (db_name(SLUG, APP),)).fetchone()
    assert row == ("C", "C")


def test_second_deploy_changes_nothing(box: BoxHandle, deployed: dict[str, Any]) -> None:
    r = box.cli("--json", "app", "deploy", SLUG, APP, timeout=600)
    assert r.rc == 0, r.stderr[-2000:]
    assert r.json()["changed"] == 0, r.json()["changed_steps"]


def test_sso_gives_agency_members_a_matrix_account_and_refuses_other_agencies(
    box: BoxHandle, deployed: dict[str, Any], members: dict[str, tuple[str, str]]
) -> None:
    base, ca = deployed["url"], str(box.box().ca_file)
    resp = sso(box, base, *members[SLUG])
    location = resp.headers.get("location", "")
    assert resp.status_code in (302, 303) and location.startswith(base + "/done"), (resp.status_code, resp.text[:300])
    token = parse_qs(urlparse(location).query)["loginToken"][0]
    session = matrix_login(base, ca, token)
    assert session["user_id"] == f"@{members[SLUG][0]}:{SLUG}.gov.example"

    # Media uploaded by that account land in the agency's bucket, under messaging/.
    upload = requests.post(f"{base}/_matrix/media/v3/upload?filename=memo.txt", data=b"meeting at 10\n",
                           headers={"Authorization": f"Bearer {session['access_token']}",
                                    "Content-Type": "text/plain"}, verify=ca, timeout=30)
    assert upload.status_code == 200, upload.text[:300]
    media_id = upload.json()["content_uri"].rsplit("/", 1)[-1]
    keys = [o["Key"] for o in box.box().s3_client().list_objects_v2(
        Bucket=f"ag-{SLUG}", Prefix="messaging/").get("Contents", [])]
    assert f"messaging/local_content/{media_id[:2]}/{media_id[2:4]}/{media_id[4:]}" in keys, keys

    refused = sso(box, base, *members[OTHER])
    assert refused.status_code in (400, 401, 403), (refused.status_code, refused.headers.get("location"))
    assert "not allowed to log in" in refused.text and "loginToken" not in refused.headers.get("location", "")


def test_remove_leaves_no_process_vhost_or_credentials(box: BoxHandle, deployed: dict[str, Any]) -> None:
    b = box.box()
    vhost = b.home / "nginx" / "apps.d" / f"{program_name(SLUG, APP)}.conf"
    config = instance_dir(b, SLUG, APP) / "homeserver.yaml"
    assert vhost.exists() and config.exists() and oct(config.stat().st_mode & 0o777) == "0o600"
    r = box.cli("--json", "app", "remove", SLUG, APP, timeout=600)
    assert r.rc == 0 and r.json()["removed"] is True, r.stderr[-2000:]
    # The agency's system user goes with its last app, and only then.
    others = box.cli("--json", "app", "list", "--agency", SLUG).json()["apps"]
    assert system_user_exists(run_user(SLUG)) == bool(others), others
    assert program_name(SLUG, APP) not in Supervisor(b).info()
    assert not vhost.exists() and not config.exists()
    assert idp_api.get_oidc_client(b, oidc_client_id(SLUG, APP)) is None
    assert not list((b.ca.directory / "certs").glob(f"app-{SLUG}-{APP}.*"))
    with b.pg_admin() as conn:
        assert conn.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s",
                            (db_name(SLUG, APP),)).fetchone() == (False,)
    with pytest.raises(requests.RequestException):
        browser(b).get(deployed["url"] + "/health", timeout=10)
