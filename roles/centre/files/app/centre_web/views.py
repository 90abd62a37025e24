"""The citizen's side: the service list, a service's page, and the apply flow (one question per page, an
answers check, then the application is started in the store and its reference shown). Answers being typed
are kept in the signed cookie session, per service, until sent; "save and come back later" keeps them in the
agency's database under a link only the citizen holds (`centre_core.drafts`). Everything works without
JavaScript."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse, translate_url
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_http_methods

from centre_core import references, store
from centre_core.catalogue import Question, Service

from . import answers, runtime, uploads
from .texts import lang, t

CSS = Path(__file__).parent / "static" / "centre.css"
_DESIGN_CSS: tuple[bytes, bytes] | None = None  # the shared design's stylesheet: as it is, gzipped


def page_context(request: HttpRequest) -> dict[str, Any]:
    """What every page's layout needs: language, direction, the other language's URL, the agency's name."""
    current = lang()
    other = "en" if current == "ur" else "ur"
    return {"lang": current, "dir": "rtl" if current == "ur" else "ltr", "other_lang": other,
            "other_url": translate_url(request.path, other), "agency": settings.AGENCY_NAME,
            "sms_on": bool(getattr(settings, "CENTRE_SMS", None))}  # codes by text message too (notify.py)


def css(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(CSS.read_bytes(), content_type="text/css; charset=utf-8")
    response["Cache-Control"] = "public, max-age=86400"
    return response


def design_css(request: HttpRequest) -> HttpResponse:
    """The shared design's compiled stylesheet (installed beside the code as the package `design`), read and
    gzipped once: 78.5 KB, 9.4 KB to a browser that takes gzip (every one does), which keeps a first page on a
    400 kbit/s link within 3 s. Public and the same for everyone: compressing it leaks nothing."""
    global _DESIGN_CSS
    if _DESIGN_CSS is None:
        import gzip

        import design

        raw = (Path(design.__file__).parent / "static" / "design" / "govcloud.min.css").read_bytes()
        _DESIGN_CSS = (raw, gzip.compress(raw, compresslevel=9, mtime=0))
    raw, packed = _DESIGN_CSS
    gzipped = "gzip" in request.headers.get("Accept-Encoding", "")
    response = HttpResponse(packed if gzipped else raw, content_type="text/css; charset=utf-8")
    if gzipped:
        response["Content-Encoding"] = "gzip"
    response["Vary"] = "Accept-Encoding"
    response["Cache-Control"] = "public, max-age=86400"
    return response


def brand_logo(request: HttpRequest, name: str) -> HttpResponse:
    """The agency's logo (the spec checked it: .svg without script, or .png) at the URL the design's header
    shows; anything else is not found."""
    url, path = settings.DESIGN_LOGO_URL, settings.DESIGN_LOGO_FILE
    if not url or not path or request.path != url:
        raise Http404
    kind = "image/svg+xml" if path.endswith(".svg") else "image/png"
    response = HttpResponse(Path(path).read_bytes(), content_type=kind)
    response["Cache-Control"] = "public, max-age=3600"
    return response


def favicon(request: HttpRequest) -> HttpResponse:
    """No icon, said in a few bytes: browsers ask for /favicon.ico on a first visit, and the not-found page (1.3 KB)
    would be the answer (and an error in the browser's log); kept for a week."""
    response = HttpResponse(status=204)
    response["Cache-Control"] = "public, max-age=604800"
    return response


def healthz(request: HttpRequest) -> HttpResponse:
    """200 when the catalogue is loaded and the database answers (the deploy waits for it; `app status` reads
    it through the proxy); 503 otherwise, without saying why (the log says)."""
    runtime.loaded()
    try:
        runtime.connection().execute("SELECT 1")
    except psycopg.Error:
        logging.getLogger(__name__).exception("health: the database does not answer")
        return HttpResponse("database unavailable\n", status=503, content_type="text/plain")
    return HttpResponse("ok\n", content_type="text/plain")


def services(request: HttpRequest) -> HttpResponse:
    return render(request, "centre_web/services.html",
                  {"title": t("services"), "services": runtime.loaded().catalogue.services})


def service(request: HttpRequest, service_id: str) -> HttpResponse:
    found = _service(service_id)
    first = found.questions[0].id if found.questions else None
    start = reverse("question", args=[found.id, first]) if first else uploads.first_page(found)
    return render(request, "centre_web/service.html", {
        "title": _loc(found.name), "service": found, "start": start,
        "json_ld": _json_ld(request, found)})


@require_http_methods(["GET", "POST"])
def question(request: HttpRequest, service_id: str, question_id: str) -> HttpResponse:
    found = _service(service_id)
    index = next((i for i, q in enumerate(found.questions) if q.id == question_id), None)
    if index is None:
        raise Http404
    asked = found.questions[index]
    draft = _draft(request, found.id)
    value, error = draft.get(asked.id, ""), None
    if request.method == "POST":
        raw = request.POST.get("answer")
        saving = "save" in request.POST
        if saving and not (raw or "").strip():  # nothing typed on this page: save the answers so far
            return _save_for_later(request, found, draft)
        value, error = answers.check(asked, raw)
        if error is None:
            draft[asked.id] = value
            _save_draft(request, found.id, draft)
            if saving:
                return _save_for_later(request, found, draft)
            if request.GET.get("change") == "1":
                return HttpResponseRedirect(reverse("check", args=[found.id]))
            if index + 1 >= len(found.questions):  # the documents' pages next, if any, then the check page
                return HttpResponseRedirect(uploads.first_page(found))
            return HttpResponseRedirect(reverse("question", args=[found.id, found.questions[index + 1].id]))
    back = (reverse("question", args=[found.id, found.questions[index - 1].id]) if index
            else reverse("service", args=[found.id]))
    choices = [(c, answers.shown(asked, c)) for c in asked.choices]
    return render(request, "centre_web/question.html", {
        "title": answers.label(asked), "service": found, "question": asked, "value": value, "choices": choices,
        "errors": [(f"#{_field_id(asked)}", error)] if error else [], "error": error,
        "field_id": _field_id(asked), "back": back, "number": index + 1, "count": len(found.questions),
        "max_chars": answers.MAX_CHARS[asked.kind]}, status=400 if error else 200)


@require_http_methods(["GET", "POST"])
def check(request: HttpRequest, service_id: str) -> HttpResponse:
    found = _service(service_id)
    draft = _draft(request, found.id)
    problems = answers.missing(found, draft)
    doc_rows, doc_missing = uploads.check_rows(request, found)
    errors: list[tuple[str, str]] = []
    if request.method == "POST" and "save" in request.POST:
        return _save_for_later(request, found, draft)
    if request.method == "POST":
        pending, gone = uploads.pending_uploads(request, found) if not problems and not doc_missing else ([], [])
        if not problems and not doc_missing and not gone:
            reference = send(found, draft, pending)
            uploads.forget(request, found.id)
            request.session.pop(f"draft:{found.id}", None)
            token = request.session.pop(_token_key(found.id), None)
            if isinstance(token, str):  # sent: the saved answers are not needed any more
                store.delete_draft(runtime.connection(), token)
            request.session["sent"] = {"service": found.id, "reference": reference}
            return HttpResponseRedirect(reverse("done", args=[found.id]))
        errors = [(reverse("question", args=[found.id, q.id]) + "?change=1", message) for q, message in problems]
        errors += doc_missing + gone
    rows = [(q, answers.shown(q, draft.get(q.id, "")), reverse("question", args=[found.id, q.id]) + "?change=1")
            for q in found.questions]
    return render(request, "centre_web/check.html", {
        "title": t("check_title"), "service": found, "rows": rows, "doc_rows": doc_rows, "errors": errors,
        "back": uploads.last_page(found) or (reverse("question", args=[found.id, found.questions[-1].id])
                                             if found.questions else reverse("service", args=[found.id]))},
        status=400 if errors else 200)


def send(found: Service, checked: dict[str, str], pending: list[tuple[Any, str]] | None = None) -> str:
    """Start the application of answers that passed `answers.check` (the check page's and the API's way in):
    numbers go to the process as int, the first e-mail answer is the application's e-mail, the first mobile answer
    (E.164, `answers.check`) its mobile number for text messages. Its reference.
    `pending`: the documents uploaded on the way (`uploads.pending_uploads`), moved under the reference."""
    email = next((checked[q.id] for q in found.questions if q.kind == "email" and checked.get(q.id)), None)
    mobile = next((checked[q.id] for q in found.questions if q.kind == "mobile" and checked.get(q.id)), None)
    variables = answers.for_workflow(found, checked)
    if not pending:
        return store.submit(runtime.connection(), runtime.loaded(), found.id, variables, email, runtime.now(),
                            calendar=runtime.calendar(), language=lang(), mobile=mobile)
    return uploads.send_with(found, pending, lambda reference, placed: store.submit(
        runtime.connection(), runtime.loaded(), found.id, variables, email, runtime.now(), reference, placed,
        runtime.calendar(), language=lang(), mobile=mobile))


def done(request: HttpRequest, service_id: str) -> HttpResponse:
    found = _service(service_id)
    sent = request.session.get("sent")
    if not isinstance(sent, dict) or sent.get("service") != found.id:
        return HttpResponseRedirect(reverse("service", args=[found.id]))
    return render(request, "centre_web/done.html", {
        "title": t("done_title"), "service": found, "reference": references.display(str(sent["reference"]))})


def saved(request: HttpRequest, service_id: str) -> HttpResponse:
    """The link to come back with, shown once after saving (the session holds it; the database only its digest)."""
    found = _service(service_id)
    info = request.session.get("saved")
    if not isinstance(info, dict) or info.get("service") != found.id:
        return HttpResponseRedirect(reverse("service", args=[found.id]))
    link = settings.PUBLIC_URL.rstrip("/") + reverse("resume", args=[str(info["token"])])
    expires = "\u2066" + str(info["expires"]) + "\u2069"  # LRI..PDI: the date keeps its order in an Urdu sentence
    return render(request, "centre_web/saved.html", {
        "title": t("saved_title"), "service": found, "link": link, "expires": expires,
        "back": reverse("check", args=[found.id])})


def resume(request: HttpRequest, token: str) -> HttpResponse:
    """Come back with a saved link: the answers return to this browser's session (those the service still asks,
    and still valid), and the citizen goes on at the first question not answered (or the check page)."""
    kept = store.load_draft(runtime.connection(), token, runtime.now())
    found = runtime.loaded().catalogue.service(kept[0]) if kept is not None else None
    if kept is None or found is None:
        return render(request, "centre_web/resume_gone.html", {"title": t("resume_gone")}, status=404)
    draft = {}
    for q in found.questions:
        value, error = answers.check(q, kept[1].get(q.id)) if q.id in kept[1] else ("", "missing")
        if error is None:
            draft[q.id] = value
    _save_draft(request, found.id, draft)
    request.session[_token_key(found.id)] = token
    following = next((q for q in found.questions if q.id not in draft), None)
    return HttpResponseRedirect(reverse("question", args=[found.id, following.id]) if following is not None
                                else reverse("check", args=[found.id]))


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "centre_web/not_found.html", {"title": t("not_found")}, status=404)


def _service(service_id: str) -> Service:
    found = runtime.loaded().catalogue.service(service_id)
    if found is None:
        raise Http404
    return answers.asked(found, runtime.sms() is not None)


def _draft(request: HttpRequest, service_id: str) -> dict[str, str]:
    draft = request.session.get(f"draft:{service_id}")
    return {str(k): str(v) for k, v in draft.items()} if isinstance(draft, dict) else {}


def _save_draft(request: HttpRequest, service_id: str, draft: dict[str, str]) -> None:
    request.session[f"draft:{service_id}"] = draft


def _token_key(service_id: str) -> str:
    return f"draft_token:{service_id}"


def _save_for_later(request: HttpRequest, found: Service, draft: dict[str, str]) -> HttpResponse:
    """Keep the answers so far in the database (the same draft again when this browser saved or resumed one)."""
    token, expires_at = store.save_draft(runtime.connection(), found.id, draft, runtime.now(),
                                         request.session.get(_token_key(found.id)))
    request.session[_token_key(found.id)] = token
    request.session["saved"] = {"service": found.id, "token": token, "expires": expires_at.date().isoformat()}
    return HttpResponseRedirect(reverse("saved", args=[found.id]))


def _field_id(question: Question) -> str:
    return f"answer-{question.choices[0]}" if question.kind == "choice" else "answer"


def _loc(value: Any) -> str:
    return str(value.ur if lang() == "ur" else value.en)


def _json_ld(request: HttpRequest, found: Service) -> SafeString:
    """schema.org GovernmentService for the service's page (escaped for a <script> element)."""
    url = request.build_absolute_uri(reverse("service", args=[found.id]))
    office: dict[str, Any] = {"@type": "GovernmentOffice", "name": _loc(found.office.name)}
    if found.office.address:
        office["address"] = _loc(found.office.address)
    if found.office.email:
        office["email"] = found.office.email
    if found.office.phone:
        office["telephone"] = found.office.phone
    data = {
        "@context": "https://schema.org", "@type": "GovernmentService", "@id": url, "url": url,
        "name": _loc(found.name), "description": _loc(found.description), "inLanguage": lang(),
        "serviceType": found.id,
        "provider": {"@type": "GovernmentOrganization", "name": settings.AGENCY_NAME},
        "availableChannel": {"@type": "ServiceChannel", "serviceUrl": url, "availableLanguage": ["en", "ur"],
                             "serviceLocation": office},
        "offers": {"@type": "Offer", "price": str(found.fee.amount), "priceCurrency": found.fee.currency},
    }
    text = json.dumps(data, ensure_ascii=False)
    return mark_safe(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))  # noqa: S308
