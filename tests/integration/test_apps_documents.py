"""documents (Mayan EDMS) on a real box for one agency: deploy (web, one celery worker, its own redis on a Unix
socket), health through the TLS proxy, SSO through LemonLDAP::NG for an agency member and refused for another
agency's user, document files stored in the agency's bucket, and a removal that leaves nothing behind."""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from govcloud_platform.apps.service import instance_dir, program_name, run_user
from govcloud_platform.box.supervisor import Supervisor
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
SLUG, OTHER, APP = "health", "revenue", "documents"
PROGRAMS = (program_name(SLUG, APP), f"{program_name(SLUG, APP)}-worker", f"{program_name(SLUG, APP)}-redis")


@pytest.fixture(scope="module")
def deployed(box: BoxHandle) -> Iterator[dict[str, Any]]:
    with deployed_app(box, SLUG, APP, timeout=1500) as doc:
        yield doc


@pytest.fixture(scope="module")
def members(box: BoxHandle, deployed: dict[str, Any]) -> Iterator[dict[str, tuple[str, str]]]:
    with agency_users(box, (SLUG, OTHER), "rec") as users:
        yield users


def sso(box: BoxHandle, base: str, user: str, password: str) -> Any:
    """Mayan's OIDC login starts at /oidc/authenticate/ and ends wherever it leads."""
    return sso_login(box.box(), f"{base}/oidc/authenticate/?next=/", user, password)[1]


def test_health_through_the_proxy_and_all_processes_run(box: BoxHandle, deployed: dict[str, Any]) -> None:
    resp = browser(box.box()).get(deployed["url"] + "/authentication/login/", timeout=30)
    assert resp.status_code == 200
    info = Supervisor(box.box()).info()
    assert all(info[p]["statename"] == "RUNNING" for p in PROGRAMS), {p: info.get(p) for p in PROGRAMS}
    status = box.cli("--json", "app", "status", SLUG, APP)
    assert status.rc == 0 and status.json()["healthy"] is True, status.stdout


def test_second_deploy_changes_nothing(box: BoxHandle, deployed: dict[str, Any]) -> None:
    assert_redeploy_changes_nothing(box, SLUG, APP)


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
    remove_and_assert_clean(box, SLUG, APP, "documents.env", PROGRAMS, "/authentication/login/")
