"""The interface for integrations: JSON under `/api/` (outside the language prefixes), described by
`/api/openapi.json` (`openapi.py`). It reuses the citizen side's own code: answers are checked by
`answers.check` and sent by `views.send`; lookups go through the same per-client throttle and `store.track` as
the tracking page, and the status is `tracked.described`, what the status page shows.

No cookie is read or set here: CSRF does not apply (`csrf_exempt`), and a browser's tracking session gives
nothing; an application is read with its one-time access code (`X-Access-Code`) or a staff bearer token.
Citizens' lookups: an unknown reference and a wrong, missing, used, expired or locked code get one answer (404),
after the same queries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt

from centre_core import references, store, throttle
from centre_core.catalogue import Loaded, Service
from centre_core.errors import ActionError, NotFound
from centre_core.tracking import DEFAULT_TTL, Outcome

from . import answers, certificates, flow, openapi, runtime, staff, tracked, views
from .api_rules import (
    MAX_BODY,
    NO_TOKEN,
    NOT_FOUND,
    Problem,
    application_request,
    bearer_token,
    check_json_request,
    content_length,
    json_object,
    task_fields,
    unauthorised,
)
from .texts import TEXTS

View = Callable[..., HttpResponse]


def endpoint(*methods: str) -> Callable[[View], View]:
    """A JSON endpoint: only these methods (else 405 with Allow), CSRF off (no cookies here), every `Problem`
    answered as its JSON error."""
    def wrap(view: View) -> View:
        @csrf_exempt
        def run(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = _problem(Problem(405, "method_not_allowed", f"Use {', '.join(methods)}."))
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return view(request, *args, **kwargs)
            except Problem as problem:
                return _problem(problem)
        run.__name__ = view.__name__
        run.__doc__ = view.__doc__
        return run
    return wrap


@endpoint("GET")
def openapi_json(request: HttpRequest) -> HttpResponse:
    return _json(openapi.document(settings.AGENCY_NAME, settings.PUBLIC_URL))


@endpoint("GET")
def services(request: HttpRequest) -> HttpResponse:
    loaded = runtime.loaded()
    return _json([service_json(loaded, s) for s in loaded.catalogue.services])


@endpoint("POST")
def applications(request: HttpRequest) -> HttpResponse:
    """Send an application: checked as the citizen pages check it, started as they start it, and given a
    one-time access code to track it with (only its HMAC is stored)."""
    check_json_request(request.META.get("CONTENT_TYPE"), content_length(request.META.get("CONTENT_LENGTH")))
    data = json_object(request.read(MAX_BODY + 1))
    loaded = runtime.loaded()
    service_id, given = application_request(
        data, {s.id for s in loaded.catalogue.services},
        {s.id: {q.id for q in s.questions} for s in loaded.catalogue.services})
    found = loaded.catalogue.service(service_id)
    assert found is not None
    checked: dict[str, str] = {}
    for question in found.questions:
        value, error = answers.check(question, given.get(question.id))
        if error is not None:
            messages = {}
            for language in ("en", "ur"):
                with translation.override(language):
                    messages[language] = str(answers.check(question, given.get(question.id))[1])
            raise Problem(400, "invalid", messages["en"], f"answers.{question.id}", messages)
        if value:
            checked[question.id] = value
    reference = views.send(found, checked)
    now = runtime.now()
    code = store.issue_code(runtime.connection(), runtime.tracking_key(), reference, now)
    link = f"/api/applications/{reference}"
    response = _json({"reference": reference, "display": references.display(reference), "serviceKey": found.id,
                      "status": "in_progress", "accessCode": {"code": code, "expiresAt": _iso(now + DEFAULT_TTL)},
                      "links": {"self": link}}, status=201)
    response["Location"] = link
    return response


@endpoint("GET")
def application(request: HttpRequest, reference: str) -> HttpResponse:
    """Status and steps with the one-time access code (counted by the tracking throttle, used up, a new one
    given back) or with a staff token (any of the agency's desks)."""
    canonical = references.normalise(reference)
    if canonical is None:  # not a reference at all: told apart without a lookup, as the tracking page does
        raise Problem(400, "malformed_reference", "This is not a reference number (12 symbols with a check "
                                                  "symbol, e.g. ABCD-EFGH-JK12).", "reference")
    conn = runtime.connection()
    if "HTTP_AUTHORIZATION" in request.META:
        _staff(request)
        try:
            return _json(file_json(store.view(conn, canonical), None))
        except NotFound:
            raise Problem(404, "not_found", "No such application.") from None
    now = runtime.now()
    client = throttle.client_key(runtime.tracking_key(), runtime.client_address(request))
    allowed, wait = store.client_attempt(conn, client, now)
    if not allowed:
        minutes = (wait + 59) // 60
        response = _problem(Problem(429, "too_many_requests", TEXTS["err_too_many"]["en"].format(minutes=minutes),
                                    messages={k: v.format(minutes=minutes)
                                              for k, v in TEXTS["err_too_many"].items()}))
        response["Retry-After"] = str(wait)
        return response
    code = str(request.META.get("HTTP_X_ACCESS_CODE", ""))[:40]
    outcome, seen = store.track(conn, runtime.tracking_key(), canonical, code, now)
    if outcome is not Outcome.OK or seen is None:
        return _problem(NOT_FOUND)
    following = store.issue_code(conn, runtime.tracking_key(), canonical, now)
    return _json(file_json(seen, {"code": following, "expiresAt": _iso(now + DEFAULT_TTL)}))


@endpoint("GET")
def tasks(request: HttpRequest) -> HttpResponse:
    who = _staff(request)
    conn = runtime.connection()
    return _json([{"id": task_id, "reference": reference, "name": name, "desk": desk, "actions": actions}
                  for desk in sorted(who.desks) for reference, task_id, name, actions in store.inbox(conn, desk)])


@endpoint("POST")
def task_action(request: HttpRequest, taskId: str, action: str) -> HttpResponse:  # noqa: N803 - GovStack's name
    task_id = taskId
    who = _staff(request)
    fields: dict[str, str] = {}
    length = content_length(request.META.get("CONTENT_LENGTH"))
    if length or request.META.get("CONTENT_TYPE"):
        check_json_request(request.META.get("CONTENT_TYPE"), length)
        raw = request.read(MAX_BODY + 1)
        fields = task_fields(json_object(raw)) if raw else {}
    conn = runtime.connection()
    found = store.task_at(conn, task_id)
    if found is None or found[1] not in who.desks:
        raise Problem(404, "not_found", "No such task waiting at your desks.")
    reference, desk = found
    try:
        after = store.act(conn, reference, task_id, action, desk, f"staff:{who.subject}", fields, runtime.now(),
                          runtime.calendar())
    except ActionError as error:
        raise Problem(409, "conflict", error.message) from None
    except NotFound:
        raise Problem(404, "not_found", "No such task waiting at your desks.") from None

    certificates.after_act(reference, "closed" if after.finished else None, after.outcome)
    seen = store.view(conn, reference)
    return _json({"id": task_id, "action": action, "reference": reference, "status": seen.status,
                  "outcome": after.outcome,
                  "next": [{"id": t.id, "reference": reference, "name": t.name, "desk": t.desk,
                            "actions": list(t.actions)} for t in after.ready]})


@endpoint("GET", "POST", "PUT", "PATCH", "DELETE")
def unknown(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any other path under /api/: a JSON 404 (the catalogue of endpoints is /api/openapi.json)."""
    raise Problem(404, "not_found", "No such endpoint: see /api/openapi.json.")


def service_json(loaded: Loaded, service: Service) -> dict[str, Any]:
    """A service of the catalogue as GET /api/services gives it, with the steps of its current process."""
    order, ends = flow.steps_of(loaded.folder / service.process)
    process = loaded.processes.get(service.id)
    names = {s.id: s.name for s in process.steps.values()} if process else {}
    names.update(ends)
    return {
        "id": service.id, "name": _text(service.name), "description": _text(service.description),
        "eligibility": [_text(e) for e in service.eligibility],
        "documents": [{"id": d.id, "name": _text(d.name), "required": d.required, "mediaTypes": list(d.media_types),
                       "maxBytes": d.max_bytes} for d in service.documents],
        "questions": [{"id": q.id, "label": _text(q.label), "hint": _text(q.hint) if q.hint else None,
                       "kind": q.kind, "required": q.required, "maxLength": answers.MAX_CHARS[q.kind],
                       **({"choices": [{"id": c, "label": _text(q.choice_labels[c]) if c in q.choice_labels
                                        else {"en": c, "ur": c}} for c in q.choices]} if q.choices else {})}
                      for q in service.questions],
        "fee": {"amount": str(service.fee.amount), "currency": service.fee.currency},
        "slaWorkingDays": service.sla_working_days,
        "office": _office(service),
        "steps": [{"id": step, "name": flow.name_of(step, names, service.steps, step), "escalation": escalation}
                  for step, escalation in order],
        "outcomes": [{"id": end, "name": flow.name_of(end, names, service.steps, end)} for end in ends],
    }


def file_json(seen: store.Tracked, next_code: dict[str, str] | None) -> dict[str, Any]:
    """An application as GET /api/applications/<ref> gives it: what the tracking page shows."""
    service, steps, outcome = tracked.described(seen)
    out: dict[str, Any] = {
        "reference": seen.reference, "display": references.display(seen.reference), "serviceKey": seen.service_id,
        "service": _text(service.name) if service else None, "status": seen.status,
        "statusText": dict(TEXTS[f"st_{seen.status}"]), "outcome": seen.outcome, "outcomeText": outcome,
        "submittedAt": _iso(seen.submitted_at),
        "office": _office(service) if service else None,
        "slaWorkingDays": service.sla_working_days if service else None,
        "steps": [{"id": s.id, "name": s.names, "state": "here" if s.here else "done" if s.done else "pending"}
                  for s in steps],
        "documents": [{"document": d.document, "name": d.filename, "type": d.media_type, "size": d.size,
                       "sha256": d.sha256, "uploadedAt": _iso(d.uploaded_at),
                       "deletedAt": _iso(d.deleted_at) if d.deleted_at else None}
                      for d in store.documents(runtime.connection(), seen.reference)],
    }

    out["certificate"] = certificates.certificate_json(seen.reference) if seen.status == "closed" else None
    if next_code is not None:
        out["nextAccessCode"] = next_code
    return out


def _office(service: Service) -> dict[str, Any]:
    office = service.office
    return {"name": _text(office.name), "address": _text(office.address) if office.address else None,
            "email": office.email, "phone": office.phone}


def _staff(request: HttpRequest) -> staff.Staff:
    """The staff member of the request's bearer token, at one desk of this centre at least: 401 without a valid
    token, 403 with a valid one that names no desk (a member of the agency who is no staff of the centre)."""
    who = _token_holder(request)
    if not who.desks:
        raise Problem(403, "forbidden", "The token gives no desk of this centre.")
    return who


def _token_holder(request: HttpRequest) -> staff.Staff:
    header = request.META.get("HTTP_AUTHORIZATION")
    token = bearer_token(header)
    if token is None:
        raise unauthorised()
    known = {d for p in runtime.loaded().processes.values() for d in p.desks} - {"citizen"}
    try:
        return staff.verify(token, known)
    except staff.Refused:
        raise unauthorised("The bearer token is not valid for this centre.") from None


def _problem(problem: Problem) -> HttpResponse:
    response = _json(problem.body(), status=problem.status)
    if problem.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="centre"' + (
            ', error="invalid_token"' if problem.message != NO_TOKEN else "")
    return response


def _json(data: Any, status: int = 200) -> JsonResponse:
    return JsonResponse(data, status=status, safe=False, json_dumps_params={"ensure_ascii": False})


def _text(value: Any) -> dict[str, str]:
    return {"en": str(value.en), "ur": str(value.ur)}


def _iso(moment: Any) -> str:
    return str(moment.isoformat().replace("+00:00", "Z"))
