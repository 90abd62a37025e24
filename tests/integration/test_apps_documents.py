"""documents (Mayan EDMS) on a real box for one agency: deploy (web, one celery worker, its own redis on a Unix
socket), health through the TLS proxy, SSO through LemonLDAP::NG for an agency member and refused for another
agency's user, document files stored in the agency's bucket, and a removal that leaves nothing behind."""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from govcloud_platform.apps.service import instance_dir, oidc_client_id, program_name, run_user
from govcloud_platform.box import idp_api
from govcloud_platform.box.supervisor import Supervisor
from tests.conftest import BoxHandle
from tests.infra._apps import resolve_to_loopback, system_user_exists
from tests.oidc import browser, host_only, login_form

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SLUG, OTHER, APP = "health", "revenue", "documents"
PROGRAMS = (program_name(SLUG, APP), f"{program_name(SLUG, APP)}-worker", f"{program_name(SLUG, APP)}-redis")


@pytest.fixture(scope="module")
def deployed(box: BoxHandle) -> Iterator[dict[str, Any]]:
    applied = box.cli("--json", "apply", timeout=600)
    assert applied.rc == 0, applied.stderr[-2000:]
    r = box.cli("--json", "app", "deploy", SLUG, APP, timeout=1500)
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
        login, password = f"{slug}-rec-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
        idp_api.add_user(b, login, password, f"{login}@{slug}.gov.example", f"{slug} clerk", [f"agency-{slug}"])
        users[slug] = (login, password)
    yield users
    for login, _ in users.values():
        idp_api.remove_user(b, login)


def sso(box: BoxHandle, base: str, user: str, password: str) -> requests.Response:
    """Mayan's OIDC login: /oidc/authenticate/ -> LemonLDAP::NG's form once -> callback -> wherever it leads."""
    s = browser(box.box())
    resp = s.get(f"{base}/oidc/authenticate/?next=/", allow_redirects=False, timeout=30)
    host_only(s)
    for _ in range(12):
        if resp.status_code in (301, 302, 303):
            resp = s.get(urljoin(resp.url, resp.headers["location"]), allow_redirects=False, timeout=60)
            host_only(s)
        elif resp.status_code == 200 and 'name="password"' in resp.text:
            fields = login_form(resp)
            fields.update(user=user, password=password)
            resp = s.post(resp.url, data=fields, allow_redirects=False, timeout=30)
            host_only(s)
        else:
            break
    return resp


def test_health_through_the_proxy_and_all_processes_run(box: BoxHandle, deployed: dict[str, Any]) -> None:
    resp = browser(box.box()).get(deployed["url"] + "/authentication/login/", timeout=30)
    assert resp.status_code == 200
    info = Supervisor(box.box()).info()
    assert all(info[p]["statename"] == "RUNNING" for p in PROGRAMS), {p: info.get(p) for p in PROGRAMS}
    status = box.cli("--json", "app", "status", SLUG, APP)
    assert status.rc == 0 and status.json()["healthy"] is True, status.stdout


def test_second_deploy_changes_nothing(box: BoxHandle, deployed: dict[str, Any]) -> None:
    r = box.cli("--json", "app", "deploy", SLUG, APP, timeout=600)
    assert r.rc == 0, r.stderr[-2000:]
    assert r.json()["changed"] == 0, r.json()["changed_steps"]


def test_sso_lets_agency_members_in_and_refuses_other_agencies(
    box: BoxHandle, deployed: dict[str, Any], members: dict[str, tuple[str, str]]
) -> None:
    base = deployed["url"]
    resp = sso(box, base, *members[SLUG])
    assert resp.status_code == 200 and resp.url.rstrip("/") == base, (resp.status_code, resp.url)
    assert members[SLUG][0] in resp.text
    refused = sso(box, base, *members[OTHER])
    assert members[OTHER][0] not in refused.text
    assert "/authentication/login/" in refused.url or refused.status_code in (302, 403), (refused.status_code,
                                                                                         refused.url)


UPLOAD = """
from io import BytesIO
from django.core.files import File
from mayan.apps.documents.models import DocumentFile, DocumentType
dt, _ = DocumentType.objects.get_or_create(label="govcloud-test")
doc = dt.documents_create(label="{name}")
try:
    doc.files_upload(file_object=File(BytesIO(b"minutes of the board"), name="{name}"))
except Exception:  # page images need LibreOffice, which the box does not have; the file is stored first
    pass
print("STORED", *[f.file.name for f in DocumentFile.objects.filter(document=doc)])
"""


def test_document_files_are_stored_in_the_agency_bucket(box: BoxHandle, deployed: dict[str, Any]) -> None:
    b = box.box()
    home = instance_dir(b, SLUG, APP)
    name = f"minutes-{uuid.uuid4().hex[:6]}.txt"
    manage = (f"set -a && . {home}/documents.env && "
              f"exec {b.home}/apps/venvs/documents/bin/mayan-edms.py shell")
    out = subprocess.run(["runuser", "-u", run_user(SLUG), "--", "/bin/sh", "-c", manage],
                         input=UPLOAD.format(name=name), capture_output=True, text=True, timeout=120)
    stored = re.findall(r"^STORED (.+)$", out.stdout, re.M)
    assert stored and stored[0].strip(), out.stderr[-1500:]
    keys = [o["Key"] for o in b.s3_client().list_objects_v2(Bucket=f"ag-{SLUG}", Prefix="documents/")
            .get("Contents", [])]
    assert f"documents/{stored[0].split()[0]}" in keys, (stored, keys)
    others = b.s3_client().list_objects_v2(Bucket=f"ag-{OTHER}", Prefix="documents/").get("Contents", [])
    assert not others


def test_remove_leaves_no_process_vhost_or_credentials(box: BoxHandle, deployed: dict[str, Any]) -> None:
    b = box.box()
    vhost = b.home / "nginx" / "apps.d" / f"{program_name(SLUG, APP)}.conf"
    env_file = instance_dir(b, SLUG, APP) / "documents.env"
    assert vhost.exists() and env_file.exists() and oct(env_file.stat().st_mode & 0o777) == "0o600"
    r = box.cli("--json", "app", "remove", SLUG, APP, timeout=600)
    assert r.rc == 0 and r.json()["removed"] is True, r.stderr[-2000:]
    # The agency's system user goes with its last app, and only then.
    others = box.cli("--json", "app", "list", "--agency", SLUG).json()["apps"]
    assert system_user_exists(run_user(SLUG)) == bool(others), others
    info = Supervisor(b).info()
    assert not [p for p in PROGRAMS if p in info]
    assert not vhost.exists() and not env_file.exists()
    assert idp_api.get_oidc_client(b, oidc_client_id(SLUG, APP)) is None
    assert not list((b.ca.directory / "certs").glob(f"app-{SLUG}-{APP}.*"))
    with pytest.raises(requests.RequestException):
        browser(b).get(deployed["url"] + "/authentication/login/", timeout=10)
