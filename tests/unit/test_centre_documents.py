"""The pure decisions about a citizen's documents (centre_core.documents): type by content, size limits, clean
names, where objects go in the bucket (never under opendata/), the open data rows; and the role's nginx limit
agreeing with the app's."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from centre_core import documents
from centre_core.catalogue import Document, Localised, load_samples
from centre_core.documents import Problem, Upload

ROLE = Path(__file__).resolve().parents[2] / "roles" / "centre"
NAME = Localised(en="CNIC", ur="شناختی کارڈ")


def doc(**kw: object) -> Document:
    return Document(id="cnic", name=NAME, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("head", "media"), [
    (b"%PDF-1.7\n", "application/pdf"), (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"), (b"GIF89a", None), (b"MZ\x90\x00", None), (b"<html>", None),
    (b"PK\x03\x04", None), (b"", None), (b"%PDF", None), (b"\x89PNG\r\n", None)])
def test_the_type_is_read_from_the_first_bytes(head: bytes, media: str | None) -> None:
    assert documents.sniff(head) == media


@given(st.binary(max_size=32).filter(lambda b: not b.startswith((b"%PDF-", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"))))
def test_nothing_else_passes_as_a_document(head: bytes) -> None:
    assert documents.sniff(head) is None


def test_an_upload_is_checked_for_presence_emptiness_size_and_type() -> None:
    d = doc()
    assert documents.check(d, None, b"") == (None, Problem.missing)
    assert documents.check(d, 0, b"") == (None, Problem.empty)
    assert documents.check(d, 5 * 1024 * 1024 + 1, b"%PDF-1.4") == (None, Problem.too_large)
    assert documents.check(d, 5 * 1024 * 1024, b"%PDF-1.4") == ("application/pdf", None)
    assert documents.check(d, 10, b"hello") == (None, Problem.wrong_type)
    only_pdf = doc(media_types=("application/pdf",))
    assert documents.check(only_pdf, 10, b"\x89PNG\r\n\x1a\n") == (None, Problem.wrong_type)


def test_the_limit_is_the_documents_own_but_never_over_10_mib() -> None:
    assert documents.limit(doc()) == 5 * 1024 * 1024
    assert documents.limit(doc(max_bytes=20 * 1024 * 1024)) == documents.MAX_UPLOAD_BYTES == 10 * 1024 * 1024
    assert documents.limit(doc(max_bytes=2048)) == 2048


def test_the_role_s_nginx_takes_the_largest_upload_on_the_upload_pages_only() -> None:
    """12m on the three upload URLs (a 10 MiB file and the form around it), 1m everywhere else (checked with a real
    nginx while building it: 11 MB passes to the upload pages, 13 MB gets 413, 11 MB to /en/track/ 413)."""
    vhost = (ROLE / "templates" / "vhost.conf.j2").read_text()
    assert re.findall(r"client_max_body_size (\d+m);", vhost) == ["1m", documents.NGINX_BODY_LIMIT]
    body_limit = int(documents.NGINX_BODY_LIMIT.removesuffix("m")) * 1024 * 1024
    assert documents.MAX_UPLOAD_BYTES < body_limit <= documents.MAX_UPLOAD_BYTES + 2 * 1024 * 1024
    pattern = re.search(r"location ~ (\S+) \{\n\s+client_max_body_size 12m;", vhost)
    assert pattern is not None
    upload_urls = ["/en/services/trade_licence/documents/owner_cnic/", "/ur/track/status/document/",
                   "/ur/staff/catalogue/upload/"]  # a catalogue file (catalogue_rules.MAX_UPLOAD: 8 MB)
    others = ["/en/track/", "/en/services/trade_licence/check/", "/en/services/trade_licence/apply/email/",
              "/api/applications", "/en/services/trade_licence/documents/owner_cnic/x", "/de/track/status/document/",
              "/en/staff/catalogue/", "/en/staff/catalogue/install/", "/en/staff/catalogue/services/x/"]
    assert all(re.search(pattern.group(1), u) for u in upload_urls)
    assert not any(re.search(pattern.group(1), u) for u in others)


def test_the_role_hands_the_bucket_to_the_app_in_its_0600_env_file_only() -> None:
    env = (ROLE / "templates" / "centre.env.j2").read_text()
    for key in ("S3_ENDPOINT", "S3_BUCKET", "S3_ACCESS_KEY", "S3_SECRET_KEY"):
        assert f"\n{key}={{{{ centre_s3." in env
    deploy = (ROLE / "tasks" / "deploy.yml").read_text()
    block = deploy[deploy.index("- name: Write the instance settings"):][:400]
    assert 'mode: "0600"' in block and "no_log: true" in block
    assert "S3_" not in (ROLE / "templates" / "program.conf.j2").read_text()  # not in the process's command line


@pytest.mark.parametrize(("name", "clean"), [
    ("cnic.pdf", "cnic.pdf"), ("../../etc/passwd", "passwd"), ("C:\\Users\\ali\\scan.jpg", "scan.jpg"),
    ("evil\u202egnp.pdf", "evilgnp.pdf"), ("a\x00b\nc.png", "abc.png"), ("", "document"), ("..", "document"),
    (None, "document"), ("x" * 300, "x" * 100), ("شناختی کارڈ.pdf", "شناختی کارڈ.pdf")])
def test_a_file_name_is_kept_without_path_or_control_characters(name: str | None, clean: str) -> None:
    assert documents.clean_filename(name) == clean


def test_objects_go_under_the_private_prefix_never_under_opendata() -> None:
    upload = Upload("owner_cnic", "cnic.pdf", "application/pdf", 10, "ab" * 32)
    key = documents.application_key("2H9NDNJ3DBWV", upload)
    assert key == "centre/applications/2H9NDNJ3DBWV/owner_cnic-abababababababab.pdf"
    assert documents.archive_key("standard", key) == "centre/archive/standard/2H9NDNJ3DBWV/owner_cnic-" \
                                                     "abababababababab.pdf"
    upload_id = documents.new_upload_id()
    assert documents.pending_key(upload_id, "owner_cnic") == f"centre/pending/{upload_id}/owner_cnic"
    for k in (key, documents.pending_key(upload_id, "x")):
        assert k.startswith(documents.PREFIX) and not k.startswith("opendata/")
    with pytest.raises(ValueError):
        documents.pending_key("../opendata", "x")
    with pytest.raises(ValueError):
        documents.application_key("2H9NDNJ3DBWV", Upload("x", "x", "application/pdf", 1, "not a hash"))
    with pytest.raises(ValueError):
        documents.archive_key("standard", "opendata/centre-services.csv")


def test_the_open_data_is_one_row_per_service_in_csv_and_json() -> None:
    files = documents.opendata_files(load_samples().catalogue, "https://centre.civic.gov.test:8443/")
    assert set(files) == {"opendata/centre-services.csv", "opendata/centre-services.json"}
    rows = list(csv.DictReader(io.StringIO(files["opendata/centre-services.csv"].decode("utf-8"))))
    assert tuple(rows[0]) == documents.OPENDATA_COLUMNS
    assert [r["id"] for r in rows] == ["birth_certificate", "trade_licence", "building_permit", "grievance"]
    birth = rows[0]
    assert birth["documents_en"] == "A parent's CNIC | Hospital birth record (optional)"
    assert birth["retention"] == "permanent" and birth["sla_working_days"] == "5"
    assert birth["url"] == "https://centre.civic.gov.test:8443/en/services/birth_certificate/"
    assert json.loads(files["opendata/centre-services.json"])["services"] == rows
    again = documents.opendata_files(load_samples().catalogue, "https://centre.civic.gov.test:8443/")
    assert again == files  # the same catalogue gives the same bytes: the deploy writes only on a change
