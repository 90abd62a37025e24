"""The citizen's documents: one upload page per document of the service on the application journey (after the
questions, before the answers check), and the citizen's own task on the status page (send the missing document
a desk asked for). GOV.UK's file upload pattern: a multipart form, no JavaScript; the server checks the size and
the type by content (`centre_core.documents`) and refuses with an error summary, storing nothing.

While applying, a document goes to `centre/pending/<upload id>/<document>` in the agency's bucket (the upload id
is random and only in the signed session); sending the application copies each to
`centre/applications/<reference>/...`, records it with its SHA-256 in the database and the audit trail, and
deletes the pending copy. Nothing serves a document back to a citizen: the pages show its name and size."""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from centre_core import documents, references, store
from centre_core.catalogue import Document, Service
from centre_core.documents import Problem, Upload
from centre_core.errors import ActionError

from . import runtime
from .texts import lang, t

log = logging.getLogger(__name__)
STORE_ERRORS = (BotoCoreError, ClientError)


def asked(found: Service) -> tuple[Document, ...]:
    """The documents the journey asks for: the service's, when the centre has a bucket."""
    return found.documents if runtime.has_bucket() else ()


def first_page(found: Service) -> str:
    """Where the journey goes after the last question: the first document's page, or the answers check."""
    docs = asked(found)
    return reverse("document", args=[found.id, docs[0].id]) if docs else reverse("check", args=[found.id])


def last_page(found: Service) -> str | None:
    docs = asked(found)
    return reverse("document", args=[found.id, docs[-1].id]) if docs else None


def uploaded(request: HttpRequest, service_id: str) -> dict[str, dict[str, Any]]:
    kept = request.session.get(f"docs:{service_id}")
    return dict(kept) if isinstance(kept, dict) else {}


def size_text(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size >= 1024 * 1024 else f"{max(1, size // 1024)} KB"


def types_text(document: Document) -> str:
    names = [{"application/pdf": "PDF", "image/jpeg": "JPEG", "image/png": "PNG"}[m] for m in document.media_types]
    return ", ".join(names[:-1]) + t("doc_types_or") + names[-1] if len(names) > 1 else names[0]


def megabytes(document: Document) -> str:
    mb = documents.limit(document) / (1024 * 1024)
    return f"{mb:.0f}" if mb == int(mb) else f"{mb:.1f}"


def received(request: HttpRequest, document: Document) -> tuple[bytes, Upload | None, str | None]:
    """(body, the checked upload, None) or (b"", None, the error in the page's language); nothing is stored."""
    file = request.FILES.get("file")
    size = file.size if file is not None else None
    body = b""
    if file is not None and size is not None and 0 < size <= documents.limit(document):
        body = file.read()
    media, problem = documents.check(document, size, body[:16])
    if problem is not None or media is None:
        name = _name(document)
        return b"", None, {
            Problem.missing: t("err_doc_missing", name=name), Problem.empty: t("err_doc_empty"),
            Problem.too_large: t("err_doc_too_large", mb=megabytes(document)),
            Problem.wrong_type: t("err_doc_type", types=types_text(document)),
        }[problem or Problem.wrong_type]
    assert file is not None
    return body, Upload(document.id, documents.clean_filename(file.name), media, len(body),
                        documents.digest(body)), None


@require_http_methods(["GET", "POST"])
def document_page(request: HttpRequest, service_id: str, document_id: str) -> HttpResponse:
    found = runtime.loaded().catalogue.service(service_id)
    docs = asked(found) if found is not None else ()
    index = next((i for i, d in enumerate(docs) if d.id == document_id), None)
    if found is None or index is None:
        raise Http404
    document = docs[index]
    kept = uploaded(request, found.id)
    error = None
    if request.method == "POST":
        chosen = request.FILES.get("file") is not None
        if chosen or (document.required and document.id not in kept):
            body, upload, error = received(request, document)
            if upload is not None:
                error = _keep_pending(request, found, upload, body)
        if error is None:
            if request.GET.get("change") == "1" or index + 1 >= len(docs):
                return HttpResponseRedirect(reverse("check", args=[found.id]))
            return HttpResponseRedirect(reverse("document", args=[found.id, docs[index + 1].id]))
    if index:
        back = reverse("document", args=[found.id, docs[index - 1].id])
    elif found.questions:
        back = reverse("question", args=[found.id, found.questions[-1].id])
    else:
        back = reverse("service", args=[found.id])
    previous = kept.get(document.id)
    return render(request, "centre_web/document.html", {
        "title": _name(document), "service": found,
        "document": document, "number": index + 1, "count": len(docs), "back": back,
        "hint": t("doc_hint", types=types_text(document), mb=megabytes(document)),
        "previous": t("doc_uploaded", name=previous["name"], size=size_text(int(previous["size"])))
        if previous else None,
        "accept": ",".join(sorted({f".{documents.EXTENSIONS[m]}" for m in document.media_types}
                                  | ({".jpeg"} if "image/jpeg" in document.media_types else set()))),
        "error": error, "errors": [("#file", error)] if error else []}, status=400 if error else 200)


def _keep_pending(request: HttpRequest, found: Service, upload: Upload, body: bytes) -> str | None:
    bucket = runtime.bucket()
    assert bucket is not None
    upload_id = request.session.get(f"upload:{found.id}")
    if not isinstance(upload_id, str) or len(upload_id) != 32:
        upload_id = documents.new_upload_id()
    try:
        bucket.put(documents.pending_key(upload_id, upload.document), body, upload.media_type, upload.sha256)
    except STORE_ERRORS:
        log.exception("upload: the bucket refused a pending document")
        return t("err_doc_store")
    kept = uploaded(request, found.id)
    kept[upload.document] = {"name": upload.filename, "type": upload.media_type, "size": upload.size,
                             "sha256": upload.sha256}
    request.session[f"upload:{found.id}"] = upload_id
    request.session[f"docs:{found.id}"] = kept
    return None


def check_rows(request: HttpRequest, found: Service) -> tuple[list[tuple[Document, str, str]], list[tuple[str, str]]]:
    """The check page's document rows (document, what was uploaded, change link) and its missing documents."""
    kept = uploaded(request, found.id)
    rows, missing = [], []
    for d in asked(found):
        link = reverse("document", args=[found.id, d.id]) + "?change=1"
        info = kept.get(d.id)
        rows.append((d, f"{info['name']} ({size_text(int(info['size']))})" if info else "", link))
        if d.required and not info:
            missing.append((link, t("err_doc_missing", name=_name(d))))
    return rows, missing


def pending_uploads(request: HttpRequest, found: Service) -> tuple[list[tuple[Upload, str]], list[tuple[str, str]]]:
    """The uploads to send with the application ((upload, pending key)), checked against the bucket: a pending
    object that is gone or not the one the session recorded is asked for again (errors as the check page's)."""
    bucket = runtime.bucket()
    kept = uploaded(request, found.id)
    upload_id = request.session.get(f"upload:{found.id}")
    if bucket is None or not kept or not isinstance(upload_id, str):
        return [], []
    out, errors = [], []
    for d in asked(found):
        info = kept.get(d.id)
        if not info:
            continue
        upload = Upload(d.id, str(info["name"]), str(info["type"]), int(info["size"]), str(info["sha256"]))
        key = documents.pending_key(upload_id, d.id)
        if bucket.sha256_of(key) != upload.sha256:
            errors.append((reverse("document", args=[found.id, d.id]) + "?change=1",
                           t("err_doc_again", name=_name(d))))
        out.append((upload, key))
    return out, errors


def send_with(found: Service, pending: list[tuple[Upload, str]], start: Any) -> str:
    """Copy the pending documents under the new application's reference, then start it (`start(reference,
    uploads)` records them), then delete the pending copies."""
    bucket = runtime.bucket()
    reference = references.new_reference()
    placed: list[tuple[Upload, str]] = []
    if bucket is not None:
        for upload, key in pending:
            target = documents.application_key(reference, upload)
            bucket.copy(key, target)
            placed.append((upload, target))
    sent = str(start(reference, placed))
    for _, key in pending:
        try:
            assert bucket is not None
            bucket.delete(key)
        except STORE_ERRORS:  # the timers' job deletes pending uploads a day old anyway
            log.warning("upload: a pending copy could not be deleted")
    return sent


def forget(request: HttpRequest, service_id: str) -> None:
    request.session.pop(f"docs:{service_id}", None)
    request.session.pop(f"upload:{service_id}", None)


def provide(request: HttpRequest, reference: str, found: Service) -> str | None:
    """The citizen's task from the status page: the chosen document checked, put under the application's prefix,
    and the task completed (`store.provide_document`). None when done, else the error (nothing recorded)."""
    bucket = runtime.bucket()
    conn = runtime.connection()
    if bucket is None or store.citizen_task(conn, reference) is None:
        return t("err_provide_nothing")
    chosen = str(request.POST.get("document", ""))
    document = next((d for d in found.documents if d.id == chosen), None)
    if document is None:
        return t("err_provide_which")
    body, upload, error = received(request, document)
    if upload is None:
        return error
    key = documents.application_key(reference, upload)
    try:
        bucket.put(key, body, upload.media_type, upload.sha256)
    except STORE_ERRORS:
        log.exception("upload: the bucket refused a provided document")
        return t("err_doc_store")
    try:
        store.provide_document(conn, reference, upload, key, runtime.now())
    except ActionError:  # the task went meanwhile (a desk or a timer): nothing stays behind
        bucket.delete(key)
        return t("err_provide_nothing")
    except Exception:
        bucket.delete(key)
        raise
    return None


def _name(document: Document) -> str:
    return str(document.name.ur if lang() == "ur" else document.name.en)
