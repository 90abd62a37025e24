"""A citizen's documents: what an upload must be (size, type by content), where it is kept in the agency's
bucket, and the service's open data. Pure decisions; the bucket is `objects.Bucket`, the rows `store`.

An upload's type is read from its first bytes (PDF `%PDF-`, JPEG `FF D8 FF`, PNG's 8-byte signature), never from
its name or the browser's Content-Type: a renamed file is what its bytes say. Objects live under a private
prefix of the agency's bucket (`centre/`), never under `opendata/` (published) or another app's prefix:
`centre/pending/<upload id>/<document>` while an application is being filled in (the upload id is random and
only in the citizen's signed session), `centre/applications/<reference>/<document>-<sha256 prefix>.<ext>` once
sent, and `centre/archive/<retention class>/<reference>/...` when the application closes."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from .catalogue import Catalogue, Document, Service

# The largest upload of any document, whatever its catalogue entry says (a document's own `max_bytes` may be
# lower). The role's nginx vhost takes a body of up to `client_max_body_size 12m`: the file plus the form
# around it, so a file a little over the limit reaches the app and gets its error summary, not nginx's 413.
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
NGINX_BODY_LIMIT = "12m"
EXTENSIONS = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}
PENDING_FOR = timedelta(days=1)  # pending uploads of an application never sent are deleted after this
PREFIX = "centre/"
OPENDATA_CSV = "opendata/centre-services.csv"
OPENDATA_JSON = "opendata/centre-services.json"
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class Problem(StrEnum):
    """Why an upload is refused (the page says it in the citizen's language)."""

    missing = "missing"  # no file chosen
    empty = "empty"  # a file of 0 bytes
    too_large = "too_large"
    wrong_type = "wrong_type"  # not one of the document's types, by content


@dataclass(frozen=True)
class Upload:
    """A checked upload: what the database and the audit trail record of it."""

    document: str  # the catalogue's document id
    filename: str  # the citizen's file name, cleaned (shown back to them; never used as a path)
    media_type: str
    size: int
    sha256: str


def limit(document: Document) -> int:
    return min(document.max_bytes, MAX_UPLOAD_BYTES)


def sniff(head: bytes) -> str | None:
    """The media type the first bytes show, among those the centre takes, or None."""
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None


def check(document: Document, size: int | None, head: bytes) -> tuple[str | None, Problem | None]:
    """(media type, None) for an acceptable upload, else (None, the problem). `size` None: no file chosen."""
    if size is None:
        return None, Problem.missing
    if size == 0:
        return None, Problem.empty
    if size > limit(document):
        return None, Problem.too_large
    media = sniff(head)
    if media is None or media not in document.media_types:
        return None, Problem.wrong_type
    return media, None


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def clean_filename(name: str | None) -> str:
    """The file's own name without any path, control or format characters, at most 100 characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    kept = "".join(c for c in unicodedata.normalize("NFC", base) if unicodedata.category(c)[0] not in "CZ" or c == " ")
    kept = kept.strip(" .")[:100]
    return kept or "document"


def new_upload_id() -> str:
    return secrets.token_hex(16)


def pending_key(upload_id: str, document: str) -> str:
    if not _UPLOAD_ID.fullmatch(upload_id):
        raise ValueError("not an upload id")
    return f"{PREFIX}pending/{upload_id}/{document}"


def application_key(reference: str, upload: Upload) -> str:
    if not _SHA256.fullmatch(upload.sha256):
        raise ValueError("not a SHA-256")
    return f"{PREFIX}applications/{reference}/{upload.document}-{upload.sha256[:16]}.{EXTENSIONS[upload.media_type]}"


def archive_key(retention: str, object_key: str) -> str:
    """Where a sent document goes when its application closes: `centre/archive/<class>/<reference>/<file>`."""
    marker = f"{PREFIX}applications/"
    if not object_key.startswith(marker):
        raise ValueError("not an application's document")
    return f"{PREFIX}archive/{retention}/{object_key[len(marker):]}"


def archived_class(archived_key: str) -> str | None:
    """The retention class an archived document's key names (`centre/archive/<class>/...`), or None."""
    marker = f"{PREFIX}archive/"
    if not archived_key.startswith(marker):
        return None
    retention, _, rest = archived_key[len(marker):].partition("/")
    return retention if retention and rest else None


def pending_expired(last_modified: datetime, now: datetime) -> bool:
    return last_modified <= now - PENDING_FOR


def missing_required(service: Service, uploaded: dict[str, Any]) -> list[Document]:
    return [d for d in service.documents if d.required and d.id not in uploaded]


# Open data: the service catalogue as one row per service (CSV for the opendata app's Datasette, JSON for
# programs). Stable column order; lists joined with " | ".
OPENDATA_COLUMNS = (
    "id", "name_en", "name_ur", "description_en", "description_ur", "eligibility_en", "eligibility_ur",
    "documents_en", "documents_ur", "fee_amount", "fee_currency", "sla_working_days", "office_en", "office_ur",
    "office_email", "office_phone", "retention", "url")


def opendata_rows(catalogue: Catalogue, public_url: str) -> list[dict[str, str]]:
    rows = []
    for s in catalogue.services:
        docs = [(d.name.en + ("" if d.required else " (optional)"), d.name.ur + ("" if d.required else " (اختیاری)"))
                for d in s.documents]
        rows.append({
            "id": s.id, "name_en": s.name.en, "name_ur": s.name.ur,
            "description_en": s.description.en, "description_ur": s.description.ur,
            "eligibility_en": " | ".join(e.en for e in s.eligibility),
            "eligibility_ur": " | ".join(e.ur for e in s.eligibility),
            "documents_en": " | ".join(d[0] for d in docs), "documents_ur": " | ".join(d[1] for d in docs),
            "fee_amount": str(s.fee.amount), "fee_currency": s.fee.currency,
            "sla_working_days": str(s.sla_working_days), "office_en": s.office.name.en, "office_ur": s.office.name.ur,
            "office_email": s.office.email or "", "office_phone": s.office.phone or "", "retention": s.retention.value,
            "url": f"{public_url.rstrip('/')}/en/services/{s.id}/"})
    return rows


def opendata_files(catalogue: Catalogue, public_url: str) -> dict[str, bytes]:
    """{object key: body} of the catalogue's open data: the same rows as CSV (UTF-8) and JSON."""
    rows = opendata_rows(catalogue, public_url)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=OPENDATA_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    body = json.dumps({"services": rows}, ensure_ascii=False, indent=1, sort_keys=False) + "\n"
    return {OPENDATA_CSV: text.getvalue().encode("utf-8"), OPENDATA_JSON: body.encode("utf-8")}
