"""Tracking: reference + one-time code, then the status page with the service's flow of steps.

An unknown reference and a wrong, expired, used or locked code all get the same answer (nothing tells a guesser
whether a reference exists); only a reference that is not one at all (wrong length or check symbol, found
without touching the database) is told apart, so that a typing mistake can be fixed. The attempt limit is the
core's (5 wrong tries lock the code, checked under a row lock), and each client (its address, as the proxy saw
it) may look up 20 times in 15 minutes (`centre_core.throttle`; then 429 with Retry-After). A right code is used
up at once; the status then stays readable for 30 minutes in this browser's signed session."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from centre_core import grievance, references, store, throttle
from centre_core.bpmn import CITIZEN_DESK
from centre_core.catalogue import Service
from centre_core.errors import ActionError, NotFound
from centre_core.tracking import Outcome

from . import certificates, g2g, pay, runtime, uploads
from .texts import lang, t
from .tracked import described, remember
from .tracked import reference as tracked_reference


@require_http_methods(["GET", "POST"])
def track(request: HttpRequest) -> HttpResponse:
    typed = {"reference": "", "code": ""}
    errors: list[tuple[str, str]] = []
    if request.method == "POST":
        typed = {k: str(request.POST.get(k, ""))[:40] for k in typed}
        reference = references.normalise(typed["reference"])
        if reference is None:
            errors.append(("#reference", t("err_reference")))
        if not typed["code"].strip():
            errors.append(("#code", t("err_code_empty")))
        if not errors:
            assert reference is not None
            client = throttle.client_key(runtime.tracking_key(), runtime.client_address(request))
            allowed, wait = store.client_attempt(runtime.connection(), client, runtime.now())
            if not allowed:
                response = render(request, "centre_web/track.html", {
                    "title": t("track"), "typed": typed, "errors": [("#reference", t("err_too_many",
                                                                                     minutes=(wait + 59) // 60))],
                    "field_errors": {}}, status=429)
                response["Retry-After"] = str(wait)
                return response
            outcome, _ = store.track(runtime.connection(), runtime.tracking_key(), reference, typed["code"],
                                     runtime.now())
            if outcome is Outcome.OK:
                remember(request, reference)
                return HttpResponseRedirect(reverse("status"))
            errors.append(("#reference", t("err_no_match")))
    field_errors = {href[1:]: message for href, message in errors}
    return render(request, "centre_web/track.html", {
        "title": t("track"), "typed": typed, "errors": errors, "field_errors": field_errors},
        status=400 if errors else 200)


def status(request: HttpRequest) -> HttpResponse:
    reference = tracked_reference(request)
    if reference is None:
        return HttpResponseRedirect(reverse("track"))
    return _status_page(request, reference, [], request.session.pop("provided", None) == reference)


@require_http_methods(["POST"])
def provide(request: HttpRequest) -> HttpResponse:
    """The citizen's task: send the missing document (multipart form on the status page)."""
    reference = tracked_reference(request)
    if reference is None:
        return HttpResponseRedirect(reverse("track"))
    try:
        seen = store.view(runtime.connection(), reference)
    except NotFound:
        return HttpResponseRedirect(reverse("track"))
    service = runtime.loaded().catalogue.service(seen.service_id)
    error = uploads.provide(request, reference, service) if service else t("err_provide_nothing")
    if error is None:
        request.session["provided"] = reference
        return HttpResponseRedirect(reverse("status"))
    target = "#document-" + service.documents[0].id if service and service.documents and \
        error == t("err_provide_which") else "#file"
    return _status_page(request, reference, [(target, error)], False, chosen=str(request.POST.get("document", "")))


def _status_page(request: HttpRequest, reference: str, errors: list[tuple[str, str]], provided: bool,
                 chosen: str = "") -> HttpResponse:
    try:
        seen = store.view(runtime.connection(), reference)
    except NotFound:
        return HttpResponseRedirect(reverse("track"))
    service, steps, outcome = described(seen)
    language = lang()
    waiting = next((task for task in seen.ready if task.desk == CITIZEN_DESK), None)
    sent = store.documents(runtime.connection(), reference)
    return pay.with_provider_csp(render(request, "centre_web/status.html", {
        "title": t("status_title"), "service": service, "reference": references.display(reference),
        "status": t(f"st_{seen.status}"), "submitted": seen.submitted_at,
        "steps": [{"name": s.names[language], "here": s.here, "done": s.done} for s in steps],
        "outcome": outcome[language] if outcome else None,
        "ask_document": waiting is not None and service is not None and bool(service.documents)
        and runtime.has_bucket(),
        "reason": store.return_reason(runtime.connection(), reference) if waiting is not None else None,
        "chosen": chosen, "provided": provided, "errors": errors, "error": errors[0][1] if errors else None,
        "error_on": errors[0][0] if errors else None,
        "sent_documents": [(d, uploads.size_text(d.size), _local_day(d.deleted_at)) for d in sent],
        "hint": t("doc_hint", types="PDF, JPEG" + t("doc_types_or") + "PNG",
                  mb=uploads.megabytes(service.documents[0])) if service and service.documents else "",
        "g2g_access": g2g.access_rows(reference, language),  # data sharing between agencies (g2g.py)
        **after_close(request, seen, service), **_certificate(reference, seen.status),
        **pay.bill_part(seen, service)},
        status=400 if errors else 200))


def _certificate(reference: str, status: str) -> dict[str, object]:
    return certificates.status_context(reference) if status == "closed" else {}


def _local_day(moment: datetime | None) -> str | None:
    """A day in the agency's time zone (the one retention and SLAs are counted in), ISO: 2033-12-04."""
    return moment.astimezone(runtime.calendar().zone).date().isoformat() if moment else None


# After closing (the grievance service): a satisfaction rating and reopening, offered on the status page when
# the service asks for them (`satisfaction_rating`, `reopen_within_days`); template after_close.html.

def after_close(request: HttpRequest, seen: store.Tracked, service: Service | None) -> dict[str, object]:
    """The status page's part after closing: what may be done now, and the error of a refused form."""
    if service is None or seen.status != "closed":
        return {}
    until = grievance.reopen_until(service.reopen_within_days, seen.status, seen.updated_at)
    open_until = until.astimezone(runtime.calendar().zone).date().isoformat() \
        if until and until > runtime.now() else None
    after = {"rate": service.satisfaction_rating, "rating": seen.rating,
             "ratings": [(n, t(f"rate_{n}")) for n in grievance.RATINGS], "reopen_until": open_until}
    error = getattr(request, "centre_after_error", None)
    return {"after": after, **({"errors": [error]} if error else {}), "after_error": error[1] if error else None}


@require_http_methods(["POST"])
def rate(request: HttpRequest) -> HttpResponse:
    return _after_action(request, "rating")


@require_http_methods(["POST"])
def reopen(request: HttpRequest) -> HttpResponse:
    return _after_action(request, "reopen")


def _after_action(request: HttpRequest, what: str) -> HttpResponse:
    """Rate or reopen the application this browser tracks (its session, as the status page); a refusal shows
    the status page again with the error (400)."""
    reference = tracked_reference(request)
    if reference is None:
        return HttpResponseRedirect(reverse("track"))
    try:
        if what == "rating":
            rating = grievance.parse_rating(request.POST.get("rating", ""))
            if rating is None:
                raise ActionError(t("err_rating"))
            store.rate(runtime.connection(), runtime.loaded(), reference, rating, runtime.now())
        else:
            store.reopen(runtime.connection(), runtime.loaded(), reference, runtime.now(), runtime.calendar())
    except ActionError:  # the citizen reads the page's own words
        message = t("err_rating") if what == "rating" else t("err_reopen")
        request.centre_after_error = ("#rating-1" if what == "rating" else "#reopen", message)
        response = status(request)
        response.status_code = 400
        return response
    except NotFound:
        return HttpResponseRedirect(reverse("track"))
    return HttpResponseRedirect(reverse("status"))
