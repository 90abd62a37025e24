"""messaging (Matrix Synapse) on a real box for one agency: deploy, health through the TLS proxy, database
collation, SSO login through LemonLDAP::NG ending in a Matrix loginToken for an agency member and refused for
another agency's user, media in the agency's bucket, idempotence, and a removal that leaves nothing behind."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, quote, urlparse

import pytest
import requests

from govcloud_platform.names import pg_app
from tests.apps_helpers import (
    agency_users,
    assert_redeploy_changes_nothing,
    deployed_app,
    remove_and_assert_clean,
    sso_login,
)
from tests.conftest import BoxHandle
from tests.oidc import browser

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SLUG, OTHER, APP = "health", "revenue", "messaging"


@pytest.fixture(scope="module")
def deployed(box: BoxHandle) -> Iterator[dict[str, Any]]:
    with deployed_app(box, SLUG, APP) as doc:
        yield doc


@pytest.fixture(scope="module")
def members(box: BoxHandle, deployed: dict[str, Any]) -> Iterator[dict[str, tuple[str, str]]]:
    with agency_users(box, (SLUG, OTHER), "chat") as users:
        yield users


def sso(box: BoxHandle, base: str, user: str, password: str) -> requests.Response:
    """Matrix SSO as a client does it: the redirect endpoint, the IdP, back to Synapse; stops at the redirect
    to the client (carrying loginToken) or at the first page that is not a redirect."""
    done = base + "/done"
    start = f"{base}/_matrix/client/v3/login/sso/redirect?redirectUrl={quote(done, safe='')}"
    return sso_login(box.box(), start, user, password, stop_at=done)[1]


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
                           (pg_app(SLUG, APP),)).fetchone()
    assert row == ("C", "C")


def test_second_deploy_changes_nothing(box: BoxHandle, deployed: dict[str, Any]) -> None:
    assert_redeploy_changes_nothing(box, SLUG, APP)


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
    # The IdP refuses first: the app's client admits the agency's group only (PE_UNAUTHORIZEDPARTNER).
    assert refused.status_code == 200 and 'trmsg="84"' in refused.text, (refused.status_code, refused.url)
    assert "loginToken" not in refused.headers.get("location", "")


def test_remove_leaves_no_process_vhost_or_credentials(box: BoxHandle, deployed: dict[str, Any]) -> None:
    remove_and_assert_clean(box, SLUG, APP, "homeserver.yaml", probe_path="/health")
