"""documents (Mayan EDMS) on a real box for one agency: deploy (web, one celery worker, its own redis on a Unix
socket), health through the TLS proxy, SSO through LemonLDAP::NG for an agency member and refused for another
agency's user, document files stored in the agency's bucket, and a removal that leaves nothing behind."""

from __future__ import annotations

import random
import re
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from govcloud_platform.apps.layout import instance_dir
from govcloud_platform.box.supervisor import Supervisor
from govcloud_platform.names import app_program, system_user
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
PROGRAMS = (app_program(SLUG, APP), f"{app_program(SLUG, APP)}-worker", f"{app_program(SLUG, APP)}-redis")


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
    # The IdP refuses first: the app's client admits the agency's group only (PE_UNAUTHORIZEDPARTNER).
    assert refused.status_code == 200 and 'trmsg="84"' in refused.text, (refused.status_code, refused.url)


UPLOAD = """
from io import BytesIO
from django.core.files import File
from mayan.apps.documents.models import DocumentFile, DocumentType
dt, _ = DocumentType.objects.get_or_create(label="govcloud-test")
doc = dt.documents_create(label="{name}")
try:
    doc.files_upload(file_object=File(BytesIO(b"minutes of the board"), name="{name}"))
except Exception:  # page images of a text file need LibreOffice, which the box does not have
    pass
print("STORED", *[f.file.name for f in DocumentFile.objects.filter(document=doc)])
"""


def _manage_shell(box: BoxHandle, script: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run `script` in Mayan's Django shell as the agency user with the instance's settings."""
    b = box.box()
    manage = (f"set -a && . {instance_dir(b, SLUG, APP)}/documents.env && "
              f"exec {b.home}/apps/venvs/documents/bin/mayan-edms.py shell")
    return subprocess.run(["runuser", "-u", system_user(SLUG), "--", "/bin/sh", "-c", manage],
                          input=script, capture_output=True, text=True, timeout=timeout)


def test_document_files_are_stored_in_the_agency_bucket(box: BoxHandle, deployed: dict[str, Any]) -> None:
    b = box.box()
    name = f"minutes-{uuid.uuid4().hex[:6]}.txt"
    out = _manage_shell(box, UPLOAD.format(name=name), timeout=120)
    stored = re.findall(r"^STORED (.+)$", out.stdout, re.M)
    assert stored and stored[0].strip(), out.stderr[-1500:]
    keys = [o["Key"] for o in b.s3_client().list_objects_v2(Bucket=f"ag-{SLUG}", Prefix="documents/")
            .get("Contents", [])]
    assert f"documents/{stored[0].split()[0]}" in keys, (stored, keys)
    others = b.s3_client().list_objects_v2(Bucket=f"ag-{OTHER}", Prefix="documents/").get("Contents", [])
    assert not others


def _pdf(text: str) -> bytes:
    """A one-page PDF that shows `text` in large Helvetica: enough for a page image and for OCR."""
    stream = f"BT /F1 36 Tf 60 700 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


OCR = """
import time
from io import BytesIO
from django.core.files import File
from mayan.apps.documents.models import DocumentType
dt, _ = DocumentType.objects.get_or_create(label="govcloud-ocr")
doc = dt.documents_create(label="{name}")
doc.files_upload(file_object=File(BytesIO({pdf!r}), name="{name}"))
deadline, text = time.monotonic() + 300, ""
while time.monotonic() < deadline and "{word}" not in "".join(text.upper().split()):
    time.sleep(3)
    doc.refresh_from_db()
    text = " ".join(c or "" for c in doc.ocr_content())
page = doc.file_latest.pages.first()
print("IMAGE", page.generate_image() if page else None)
print("OCR", " ".join(text.split()))
"""


def test_pdf_pages_get_images_and_ocr_text(box: BoxHandle, deployed: dict[str, Any]) -> None:
    """poppler-utils renders the pages (previews), tesseract reads them (OCR): both through the celery worker."""
    # Letters only, none that OCR takes for a digit (0/O, 1/I) or a bracket (J read as "]" once): the word must
    # come back exactly.
    word = "GOVCLOUD" + "".join(random.choice("ABCDEFGHKMNPRSTUVWXYZ") for _ in range(4))
    script = OCR.format(name=f"{word.lower()}.pdf", pdf=_pdf(f"{word} MINUTES"), word=word)
    out = _manage_shell(box, script, timeout=420)
    image = re.search(r"^IMAGE (.+)$", out.stdout, re.M)
    assert image and image.group(1) != "None", out.stderr[-1500:]
    ocr = re.search(r"^OCR (.*)$", out.stdout, re.M)
    # Tesseract may split a long word ("GOVCLOUDCJ HD"): compare without the spaces it puts in.
    assert ocr and word in "".join(ocr.group(1).upper().split()), (ocr.group(1) if ocr else None, out.stderr[-1500:])


def test_remove_leaves_no_process_vhost_or_credentials(box: BoxHandle, deployed: dict[str, Any]) -> None:
    remove_and_assert_clean(box, SLUG, APP, "documents.env", PROGRAMS, "/authentication/login/")
