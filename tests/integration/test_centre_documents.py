"""The citizen's documents on a real PostgreSQL 15 and a real S3 server (SeaweedFS, real boto3), the centre in
process (Django's test client, CSRF enforced): uploads on the application journey (one page per document, checked
by size and by content, stored under the application's private prefix, SHA-256 in the database, the audit trail
and the API), bad uploads refused with an error summary in English and Urdu and nothing stored, the objects
unreadable anonymously and with another agency's keys, the citizen's own task (send the missing document from
the status page) moving the process on, the catalogue's open data published by `centre_converge`, and the
documents of a closed application archived with the service's retention class by `centre_run_timers`."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from centre_core import documents, store
from tests.integration._centre import centre_database, setup_django
from tests.integration._s3 import client, running_s3

pytestmark = [pytest.mark.integration]
PAGE_LIMIT = 100 * 1024
_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_REFERENCE = re.compile(r'class="reference" dir="ltr">([0-9A-Z-]{14})<')
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n" + b"0" * 3000
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"1" * 2000
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"2" * 2000


@pytest.fixture(scope="module")
def site() -> Iterator[dict[str, Any]]:
    with centre_database("centredocs") as (box, root), running_s3(root) as s3:
        own = s3["health"]
        setup_django(box, root, {"S3_ENDPOINT": s3["endpoint"], "S3_BUCKET": own["bucket"],
                                 "S3_ACCESS_KEY": own["access_key"], "S3_SECRET_KEY": own["secret_key"]})
        yield {**s3, "box": box, "own": client(s3["endpoint"], own["access_key"], own["secret_key"])}
        from centre_web import runtime
        runtime.connection().close()


class Browser:
    def __init__(self, language: str = "en") -> None:
        from django.test import Client
        self.client = Client(enforce_csrf_checks=True, HTTP_HOST="centre.test", HTTP_ACCEPT_LANGUAGE=language,
                             HTTP_X_FORWARDED_FOR=f"203.0.113.{id(self) % 250 + 1}")
        self.token = ""

    def get(self, url: str, status: int = 200) -> str:
        return self._seen(self.client.get(url), status)

    def post(self, url: str, data: dict[str, Any], status: int = 302) -> Any:
        response = self.client.post(url, {**data, "csrfmiddlewaretoken": self.token})
        self._seen(response, status)
        return response

    def _seen(self, response: Any, status: int) -> str:
        assert response.status_code == status, (response.status_code, response.content[:3000])
        assert len(response.content) < PAGE_LIMIT
        text: str = response.content.decode()
        if match := _TOKEN.search(text):
            self.token = match.group(1)
        return text


def upload(name: str, body: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile
    return SimpleUploadedFile(name, body, content_type="application/octet-stream")  # the type is read from content


def keys(site: dict[str, Any], prefix: str) -> list[str]:
    return [o["Key"] for o in site["own"].list_objects_v2(Bucket="ag-health", Prefix=prefix).get("Contents", [])]


def apply_trade_licence(b: Browser, files: dict[str, tuple[str, bytes]], lang: str = "en") -> str:
    b.get(f"/{lang}/services/trade_licence/apply/business_name/")
    b.post(f"/{lang}/services/trade_licence/apply/business_name/", {"answer": "Ali Traders"})
    b.get(f"/{lang}/services/trade_licence/apply/business_kind/")
    b.post(f"/{lang}/services/trade_licence/apply/business_kind/", {"answer": "shop"})
    b.get(f"/{lang}/services/trade_licence/apply/email/")
    r = b.post(f"/{lang}/services/trade_licence/apply/email/", {"answer": "ali@example.pk"})
    assert r["Location"] == f"/{lang}/services/trade_licence/documents/owner_cnic/"  # documents after the questions
    for doc, (name, body) in files.items():
        page = b.get(f"/{lang}/services/trade_licence/documents/{doc}/")
        print(f"upload page {lang}/{doc}: {len(page.encode())} bytes")
        assert 'enctype="multipart/form-data"' in page and 'type="file"' in page and "<script" not in page
        b.post(f"/{lang}/services/trade_licence/documents/{doc}/", {"file": upload(name, body)})
    check = b.get(f"/{lang}/services/trade_licence/check/")
    for name, _ in files.values():
        assert name in check
    r = b.post(f"/{lang}/services/trade_licence/check/", {})
    text = b.get(r["Location"])
    found = _REFERENCE.search(text)
    assert found, text
    return found.group(1).replace("-", "")


def test_an_application_with_two_uploads_keeps_them_private_with_their_hash(site: dict[str, Any]) -> None:
    from centre_web import runtime
    b = Browser()
    reference = apply_trade_licence(b, {"owner_cnic": ("cnic.pdf", PDF), "premises_proof": ("lease.png", PNG)})
    stored = store.documents(runtime.connection(), reference)
    assert [(d.document, d.filename, d.media_type, d.size) for d in stored] == [
        ("owner_cnic", "cnic.pdf", "application/pdf", len(PDF)), ("premises_proof", "lease.png", "image/png", len(PNG))]
    for d, body in zip(stored, (PDF, PNG), strict=True):
        assert d.sha256 == hashlib.sha256(body).hexdigest()
        assert d.object_key.startswith(f"centre/applications/{reference}/{d.document}-")
        got = site["own"].get_object(Bucket="ag-health", Key=d.object_key)
        assert got["Body"].read() == body and got["Metadata"]["sha256"] == d.sha256
    assert keys(site, "centre/pending/") == []  # the pending copies went with the sending
    assert keys(site, "opendata/centre/") == [] and not any(k.startswith("opendata/") and reference in k
                                                             for k in keys(site, ""))
    trail = [e for e in store.audit_entries(runtime.connection()) if e.subject == reference]
    assert [(e.action, e.document_sha256) for e in trail] == [
        ("submitted", None), ("document:owner_cnic", stored[0].sha256), ("document:premises_proof", stored[1].sha256)]

    # not public: no anonymous read, no listing, and another agency's keys get nothing
    anonymous = f"{site['endpoint']}/ag-health/{stored[0].object_key}"
    for url in (anonymous, f"{site['endpoint']}/ag-health?list-type=2&prefix=centre/"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=10)  # noqa: S310 - loopback
        assert refused.value.code == 403
    other = client(site["endpoint"], site["revenue"]["access_key"], site["revenue"]["secret_key"])
    for call in (lambda: other.get_object(Bucket="ag-health", Key=stored[0].object_key),
                 lambda: other.head_object(Bucket="ag-health", Key=stored[0].object_key),
                 lambda: other.list_objects_v2(Bucket="ag-health", Prefix="centre/")):
        with pytest.raises(ClientError) as denied:
            call()
        assert denied.value.response["Error"]["Code"] in ("AccessDenied", "403")
    # no URL of the centre serves a document
    for url in (f"/en/{stored[0].object_key}", f"/{stored[0].object_key}", f"/api/documents/{reference}"):
        assert Browser().client.get(url).status_code == 404

    # the API: every field as before, and the documents (no object key, no URL)
    code = store.issue_code(runtime.connection(), runtime.tracking_key(), reference, datetime.now(UTC))
    from django.test import Client
    r = Client(HTTP_HOST="centre.test").get(f"/api/applications/{reference}", HTTP_X_ACCESS_CODE=code)
    assert r.status_code == 200, r.content
    doc = r.json()
    assert {"reference", "display", "serviceKey", "service", "status", "statusText", "outcome", "outcomeText",
            "submittedAt", "office", "slaWorkingDays", "steps", "nextAccessCode", "documents"} <= set(doc)
    assert [{k: d[k] for k in ("document", "name", "type", "size", "sha256")} for d in doc["documents"]] == [
        {"document": x.document, "name": x.filename, "type": x.media_type, "size": x.size, "sha256": x.sha256}
        for x in stored]
    assert "centre/" not in r.content.decode()


@pytest.mark.parametrize("lang", ["en", "ur"])
def test_bad_uploads_get_an_error_summary_and_nothing_is_stored(site: dict[str, Any], lang: str) -> None:
    b = Browser(lang)
    url = f"/{lang}/services/trade_licence/documents/owner_cnic/"
    b.get(f"/{lang}/services/trade_licence/")
    b.get(url)
    before = keys(site, "centre/")
    limit = documents.limit(next(d for d in __import__("centre_web.runtime", fromlist=["x"]).loaded()
                                 .catalogue.service("trade_licence").documents if d.id == "owner_cnic"))
    cases = {
        "too_large": upload("big.pdf", b"%PDF-1.4\n" + b"0" * limit),
        "wrong_type": upload("report.pdf", b"MZ\x90\x00 this is a program, not a PDF" * 50),
        "text_named_png": upload("photo.png", b"hello, I am text\n" * 100),
        "empty": upload("empty.pdf", b""),
        "missing": None,
    }
    expected = {
        "en": {"too_large": "must be smaller than 5 MB", "wrong_type": "must be a PDF, JPEG or PNG",
               "text_named_png": "must be a PDF, JPEG or PNG", "empty": "The selected file is empty",
               "missing": "Select the file of: The owner"},
        "ur": {"too_large": "ایم بی سے چھوٹی", "wrong_type": "ہونی چاہیے", "text_named_png": "ہونی چاہیے",
               "empty": "منتخب کردہ فائل خالی ہے", "missing": "اس کی فائل منتخب کریں"},
    }[lang]
    for case, file in cases.items():
        r = b.post(url, {"file": file} if file is not None else {}, status=400)
        page = r.content.decode()
        assert 'class="govuk-error-summary" role="alert"' in page and 'href="#file"' in page, case
        assert expected[case] in page, (case, page[:3000])
        assert 'aria-invalid="true"' in page and "<title>" + ("Error:" if lang == "en" else "خرابی:") in page
        if lang == "ur":
            assert 'dir="rtl"' in page
    assert keys(site, "centre/") == before  # nothing stored
    # the check page refuses to send without the required documents
    r = b.post(f"/{lang}/services/trade_licence/check/", {}, status=400)
    assert f'href="/{lang}/services/trade_licence/documents/owner_cnic/?change=1"' in r.content.decode()


def test_the_citizen_sends_the_missing_document_and_the_process_goes_on(site: dict[str, Any]) -> None:
    from centre_web import runtime
    conn, now = runtime.connection(), datetime.now(UTC)
    b = Browser()
    reference = apply_trade_licence(b, {"owner_cnic": ("cnic.jpg", JPEG), "premises_proof": ("lease.pdf", PDF)})
    review = next(t for t in store.view(conn, reference).ready if t.step == "review")
    store.act(conn, reference, review.id, "return", "clerk", "staff:clerk1", {"reason": "the lease is unsigned"}, now)
    assert store.view(conn, reference).status == "action_needed"
    assert store.citizen_task(conn, reference) is not None

    code = store.issue_code(conn, runtime.tracking_key(), reference, now)
    b.get("/en/track/")
    r = b.post("/en/track/", {"reference": reference, "code": code})
    page = b.get(r["Location"])
    print(f"status page with the citizen's task: {len(page.encode())} bytes")
    assert "Send the missing document" in page and 'action="/en/track/status/document/"' in page
    assert 'enctype="multipart/form-data"' in page and "cnic.jpg" in page  # the documents sent so far
    assert "The office wrote:" in page and "the lease is unsigned" in page  # the desk's reason

    # refused: no document chosen, a file that is not one
    r = b.post("/en/track/status/document/", {"file": upload("lease2.pdf", PDF)}, status=400)
    assert "Select which document you are sending" in r.content.decode()
    r = b.post("/en/track/status/document/", {"document": "premises_proof", "file": upload("x.pdf", b"<html>")},
               status=400)
    assert "must be a PDF, JPEG or PNG" in r.content.decode()
    assert store.view(conn, reference).status == "action_needed" and len(store.documents(conn, reference)) == 2

    signed = PDF + b"signed"
    r = b.post("/en/track/status/document/", {"document": "premises_proof", "file": upload("lease-signed.pdf", signed)})
    assert r["Location"] == "/en/track/status/"
    page = b.get("/en/track/status/")
    assert "your document was sent" in page and "Send the missing document" not in page
    seen = store.view(conn, reference)
    assert seen.status == "in_progress" and [t.step for t in seen.ready] == ["review"]
    assert "provide_document" in seen.done_steps
    last = store.documents(conn, reference)[-1]
    sha = hashlib.sha256(signed).hexdigest()
    assert (last.document, last.filename, last.sha256, last.uploaded_by) == ("premises_proof", "lease-signed.pdf",
                                                                             sha, "citizen")
    assert site["own"].get_object(Bucket="ag-health", Key=last.object_key)["Body"].read() == signed
    trail = [(e.action, e.actor, e.document_sha256) for e in store.audit_entries(conn) if e.subject == reference]
    assert trail[-2:] == [("document:premises_proof", "citizen", sha), ("task:provide_document:done", "citizen", sha)]
    # nothing waits for the citizen any more: the form is gone and a post is refused
    r = b.post("/en/track/status/document/", {"document": "premises_proof", "file": upload("again.pdf", PDF)},
               status=400)
    assert "Nothing is waiting for a document from you now." in r.content.decode()

    # closing it archives its documents with the trade licence's retention class (standard)
    review = next(t for t in store.view(conn, reference).ready if t.step == "review")
    store.act(conn, reference, review.id, "accept", "clerk", "staff:clerk1", {}, now)
    approve = next(t for t in store.view(conn, reference).ready if t.step == "approve")
    store.act(conn, reference, approve.id, "approve", "licensing_officer", "staff:officer1", {}, now)
    from django.core.management import call_command
    out = io.StringIO()
    call_command("centre_run_timers", stdout=out)
    assert "archived" in out.getvalue()
    for d in store.documents(conn, reference):
        assert d.archived_key == f"centre/archive/standard/{d.object_key.removeprefix('centre/applications/')}"
        tags = {t["Key"]: t["Value"] for t in
                site["own"].get_object_tagging(Bucket="ag-health", Key=d.archived_key)["TagSet"]}
        assert tags == {"retention": "standard", "reference": reference}
    assert any(e.action == "archived:premises_proof" and e.document_sha256 == sha for e in store.audit_entries(conn))


def test_the_catalogue_is_published_as_open_data_by_the_deploy(site: dict[str, Any]) -> None:
    from django.core.management import call_command
    out = io.StringIO()
    call_command("centre_converge", stdout=out)
    assert "open data opendata/centre-services.csv opendata/centre-services.json" in out.getvalue()
    body = site["own"].get_object(Bucket="ag-health", Key="opendata/centre-services.csv")["Body"].read().decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [r["id"] for r in rows] == ["birth_certificate", "trade_licence", "building_permit", "grievance"]
    trade = rows[1]
    assert trade["name_ur"] == "تجارتی لائسنس" and trade["fee_amount"] == "1500.00" and trade["retention"] == "standard"
    assert trade["url"] == "https://centre.test/en/services/trade_licence/"
    doc = json.loads(site["own"].get_object(Bucket="ag-health", Key="opendata/centre-services.json")["Body"].read())
    assert doc["services"] == rows
    again = io.StringIO()
    call_command("centre_converge", stdout=again)
    assert again.getvalue().strip() == "unchanged"
    # schema.org on the service page is still there
    page = Browser().get("/en/services/trade_licence/")
    assert '"@type": "GovernmentService"' in page


def test_pending_uploads_of_an_application_never_sent_go_after_a_day(site: dict[str, Any]) -> None:
    from datetime import timedelta

    from centre_web import housekeeping, runtime
    b = Browser()
    b.get("/en/services/birth_certificate/")
    b.get("/en/services/birth_certificate/documents/parent_cnic/")
    b.post("/en/services/birth_certificate/documents/parent_cnic/", {"file": upload("cnic.png", PNG)})
    pending = keys(site, "centre/pending/")
    assert len(pending) == 1 and pending[0].endswith("/parent_cnic")
    bucket = runtime.bucket()
    assert bucket is not None
    assert housekeeping.purge_pending(bucket, datetime.now(UTC)) == 0  # not a day old yet
    assert housekeeping.purge_pending(bucket, datetime.now(UTC) + timedelta(days=1, minutes=1)) == 1
    assert keys(site, "centre/pending/") == []


def test_staff_of_the_desk_download_the_documents_checked_against_their_hash(site: dict[str, Any]) -> None:
    """The staff pages list an application's documents and hand them out as attachments to the desks it is or was
    at, each download in the audit trail; a document changed in the bucket since it came is refused, not served;
    another desk gets the same 404 as an unknown number."""
    from django.conf import settings

    from centre_web import runtime
    from tests.integration._oidc_issuer import ISSUER, Issuer
    from tests.integration.test_centre_staff_pages import CLERK, CLIENT, SECRET, sign_in

    reference = apply_trade_licence(Browser(), {"owner_cnic": ("cnic.pdf", PDF), "premises_proof": ("lease.png", PNG)})
    provider, before = Issuer(ISSUER, CLIENT, SECRET), settings.CENTRE_OIDC
    settings.CENTRE_OIDC = {**before, **provider.settings("agency-health--desk-")}
    try:
        clerk, _ = sign_in(provider, "ayesha", CLERK)
        page = clerk.get(f"/en/staff/applications/{reference}/")
        text = page.content.decode()
        assert page.status_code == 200 and "cnic.pdf" in text and "lease.png" in text
        assert f"/en/staff/applications/{reference}/documents/1/" in text and "No documents are attached" not in text
        got = clerk.get(f"/en/staff/applications/{reference}/documents/1/")
        assert got.status_code == 200 and got.content == PDF and got["Content-Type"] == "application/pdf"
        assert got["Content-Disposition"] == "attachment; filename*=UTF-8''cnic.pdf"
        assert "sandbox" in got["Content-Security-Policy"] and got["X-Content-Type-Options"] == "nosniff"
        trail = [e for e in store.audit_entries(runtime.connection()) if e.subject == reference]
        assert trail[-1].action == "download:owner_cnic" and trail[-1].actor == "staff:ayesha"
        assert clerk.get(f"/en/staff/applications/{reference}/documents/3/").status_code == 404

        # another desk (no task of this application ever reached it): the same 404 as an unknown document
        officer, _ = sign_in(provider, "zara", ["agency-health", "agency-health--desk-licensing_officer"])
        assert officer.get(f"/en/staff/applications/{reference}/documents/1/").status_code == 404

        # the object changed behind the centre's back: refused, and no download is recorded
        second = store.documents(runtime.connection(), reference)[1]
        site["own"].put_object(Bucket="ag-health", Key=second.object_key, Body=PNG + b"tampered")
        refused = clerk.get(f"/en/staff/applications/{reference}/documents/2/")
        assert refused.status_code == 409 and PNG not in refused.content
        after = [e for e in store.audit_entries(runtime.connection()) if e.subject == reference]
        assert len(after) == len(trail)
    finally:
        settings.CENTRE_OIDC = before
        provider.close()
