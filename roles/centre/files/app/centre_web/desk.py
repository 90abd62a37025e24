"""The staff pages (`/en/staff/` and `/ur/staff/`, English and Urdu as the citizen pages: the language is the
URL's prefix, `/staff/` follows the browser, each page links to itself in the other language): sign-in through
the agency's IdP (the authorization code flow of the centre's own client, with state, nonce and PKCE; the tokens
verified by `staff.py`, as the API's), an inbox per desk, holding tasks (claim, assign to a colleague of the desk,
release), an application's answers and history, comments, and the actions of its current task through
`store.act`, the function behind `POST /api/tasks/<id>/<action>`. Sign-out (a POST form) clears the session
first, then sends the browser to the IdP's end-session endpoint (OpenID Connect RP-Initiated Logout 1.0: the
id_token as `id_token_hint`, back to the signed-out page in the page's language); when the IdP does not answer,
the staff pages' session is gone anyway.

Who is signed in lives in the signed session cookie (Secure, HttpOnly, SameSite=Lax): subject, name, desks, the
session's end (the access token's) and the id_token (for the sign-out). Every form has Django's CSRF token. An id
in a URL that is unknown, not a task or application of the member's desks, or malformed, gets the same 404
page."""

from __future__ import annotations

import json
import logging
import ssl
import time
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse, translate_url
from django.utils import translation
from django.views.decorators.http import require_http_methods, require_POST

from centre_core import desk_store, desks, documents, references, store
from centre_core.errors import ActionError, NotFound

from . import certificates, flow, runtime, signin_rules, staff
from .middleware import CSP
from .texts import TEXTS, lang, t

log = logging.getLogger(__name__)
View = Callable[..., HttpResponse]
SESSION = "staff"
PENDING = "staff_signin"


class Me:
    def __init__(self, data: dict[str, Any]) -> None:
        self.subject: str = data["sub"]
        self.name: str = data["name"]
        self.desks: frozenset[str] = frozenset(data["desks"])
        self.manager: bool = data.get("manager") is True  # manages the catalogue (catalogue_pages.py)
        self.actor = f"staff:{self.subject}"


def _me(request: HttpRequest) -> Me | None:
    data = request.session.get(SESSION)
    if not isinstance(data, dict) or not isinstance(data.get("end"), int) or data["end"] <= int(time.time()):
        return None
    return Me(data)


def page(*methods: str) -> Callable[[View], View]:
    """A staff page: in the URL's language, only these methods, a signed-in member at one desk at least (GET
    without a session goes to the sign-in; a POST gets 403)."""
    def wrap(view: View) -> View:
        @require_http_methods(list(methods))
        def run(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            me = _me(request)
            if me is None:
                if request.method == "GET":
                    return HttpResponseRedirect(reverse("staff-signin") + "?" + urlencode({"next": request.path}))
                return _message(request, "staff_signed_out", "staff_session_ended", 403)
            return view(request, me, *args, **kwargs)
        run.__name__ = view.__name__
        return run
    return wrap


def _render(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200,
            here: str | None = None) -> HttpResponse:
    """A staff page. Its language switch leads to `here` (a GET page: itself) in the other language; the answer
    to a form or to the IdP's callback has no address of its own to show again: it switches to the inbox."""
    context.setdefault("me", _me(request))
    if here is None:
        here = request.path if request.method == "GET" and signin_rules.safe_next(request.path, "") else \
            reverse("staff-inbox")
    context["other_url"] = translate_url(here, "en" if lang() == "ur" else "ur")
    response = render(request, template, context, status=status)
    origins = " ".join(signin_rules.form_origins(staff.oidc()))
    if origins:  # the sign-out form's answer leads to the IdP
        response["Content-Security-Policy"] = CSP.replace("form-action 'self'", f"form-action 'self' {origins}")
    return response


def _message(request: HttpRequest, title: str, message: str, status: int = 200, again: bool = False,
             here: str | None = None, **extra: Any) -> HttpResponse:
    """A page of one message: its title and text are keys of the staff pages' words."""
    return _render(request, "centre_web/staff/message.html", {
        "title": t(title), "message": t(message), "again": again, **extra}, status, here)


def _gone(request: HttpRequest) -> HttpResponse:
    """One answer for an unknown id, another desk's task or application, a malformed id (its language switch
    too: to the inbox, not to the address asked for)."""
    return _message(request, "staff_not_found", "staff_nothing_here", 404, here=reverse("staff-inbox"))


def _refused(request: HttpRequest, refusal: desks.Refusal, status: int = 409) -> HttpResponse:
    return _render(request, "centre_web/staff/message.html", {"title": t("staff_not_done"),
                                                              "message": _refusal_text(refusal)}, status)


def _refusal_text(refusal: desks.Refusal) -> str:
    values = dict(refusal.values)
    if "action" in values:
        values["action"] = _action_label(values["action"])
    return t(f"refusal_{refusal.code}", **values)


def _action_label(action: str) -> str:
    """An action of a task in the page's language (the sample processes' actions; another shows its id)."""
    return t(f"action_{action}") if f"action_{action}" in TEXTS else action


def _step_name(service: Any, step: str, fallback: str) -> str:
    """A step (or an outcome) as the catalogue names it in the page's language, else the BPMN's name."""
    return flow.name_of(step, {}, service.steps if service is not None else {}, fallback)[lang()]


# --- sign-in -----------------------------------------------------------------------------------------------------
def _redirect_uri() -> str:
    return f"{settings.PUBLIC_URL}/oidc/callback/"


def _signin_config() -> dict[str, str] | None:
    config = staff.oidc()
    if config is None or not config.get("client_secret") or not config.get("token_url"):
        return None
    return config


@require_http_methods(["GET"])
def signin(request: HttpRequest) -> HttpResponse:
    config = _signin_config()
    if config is None:
        return _message(request, "staff_not_configured", "staff_not_configured_text", 503)
    pending = signin_rules.new_pending(int(time.time()))
    pending["next"] = signin_rules.safe_next(request.GET.get("next", ""), reverse("staff-inbox"))
    pending["lang"] = lang()  # the callback's address has no language: the pages go on in this one
    request.session[PENDING] = pending
    return HttpResponseRedirect(signin_rules.authorize_url(config["authorize_url"], config["client_id"],
                                                           _redirect_uri(), pending))


@require_http_methods(["GET"])
def callback(request: HttpRequest) -> HttpResponse:
    pending = request.session.pop(PENDING, None)
    started = pending.get("lang") if isinstance(pending, dict) else None
    with translation.override(started if started in ("en", "ur") else lang()):
        return _callback(request, pending)


def _callback(request: HttpRequest, pending: Any) -> HttpResponse:
    code = signin_rules.callback_code(pending, {k: v for k, v in request.GET.items()}, int(time.time()))
    config = _signin_config()
    if code is None or config is None:
        return _message(request, "staff_signin_failed", "staff_signin_not_ours", 400, again=True)
    assert isinstance(pending, dict)
    try:
        tokens = _exchange(config, code, pending["verifier"])
        subject = staff.verify_id_token(str(tokens.get("id_token", "")), pending["nonce"])
        known = {d for p in runtime.loaded().processes.values() for d in p.desks} - {"citizen"}
        who = staff.verify(str(tokens.get("access_token", "")), known)
    except (staff.Refused, OSError, ValueError) as error:
        log.warning("staff sign-in refused: %s", type(error).__name__ if not isinstance(error, staff.Refused)
                    else error)
        return _message(request, "staff_signin_failed", "staff_signin_unverified", 400, again=True)
    if who.subject != subject:
        return _message(request, "staff_signin_failed", "staff_signin_two_people", 400, again=True)
    if not who.desks and not who.manager:
        return _message(request, "staff_no_desk", "staff_no_desk_text", 403)
    request.session.cycle_key()
    # the id_token stays for the sign-out: the IdP's end-session endpoint takes it as `id_token_hint`
    request.session[SESSION] = {"sub": who.subject, "name": who.name or who.subject, "desks": sorted(who.desks),
                                "manager": who.manager,
                                "end": signin_rules.session_end(tokens.get("expires_in"), int(time.time())),
                                "id_token": str(tokens.get("id_token", ""))}
    desk_store.seen(runtime.connection(), who.subject, who.name or who.subject, who.desks, runtime.now())
    return HttpResponseRedirect(pending.get("next") or reverse("staff-inbox"))


def _exchange(config: dict[str, str], code: str, verifier: str) -> dict[str, Any]:
    """POST the code to the token endpoint (client_secret_basic; https with the box CA, http only on loopback)."""
    url = config["token_url"]
    parts = urlsplit(url)
    if parts.scheme != "https" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("the token URL must be https")
    body = urlencode({"grant_type": "authorization_code", "code": code, "redirect_uri": _redirect_uri(),
                      "code_verifier": verifier}).encode()
    basic = b64encode(f"{quote(config['client_id'], safe='')}:{quote(config['client_secret'], safe='')}".encode())
    req = urllib.request.Request(url, data=body, method="POST", headers={  # noqa: S310 - scheme checked above
        "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
        "Authorization": f"Basic {basic.decode()}"})
    context = ssl.create_default_context(cafile=config.get("ca_file") or None) if parts.scheme == "https" else None
    try:
        with urllib.request.urlopen(req, timeout=10, context=context) as answer:  # noqa: S310 - scheme checked
            data = json.loads(answer.read(65536))
    except urllib.error.HTTPError as error:
        raise ValueError(f"token endpoint answered {error.code}") from None
    if not isinstance(data, dict):
        raise ValueError("token endpoint answered no object")
    return data


@require_POST
def signout(request: HttpRequest) -> HttpResponse:
    """Sign-out (a POST with the CSRF token; never a GET): the staff pages' session is cleared first, whatever
    follows; then the browser goes to the IdP's end-session endpoint with the id_token of the sign-in and comes
    back to the signed-out page. Without an endpoint (the IdP did not answer, or has none) the page says that the
    IdP's sign-in may still be open."""
    data = request.session.get(SESSION)
    id_token = data.get("id_token") if isinstance(data, dict) else None
    request.session.flush()
    config = staff.oidc()
    endpoint = staff.end_session(config) if config is not None and id_token else None
    if config is None or not isinstance(id_token, str) or endpoint is None:
        return _message(request, "staff_signed_out", "staff_signed_out_here", again=True, me=None)
    back = f"{settings.PUBLIC_URL}{reverse('staff-signed-out')}"
    response = HttpResponseRedirect(signin_rules.logout_url(endpoint, config.get("client_id", ""), id_token, back))
    response.status_code = 303  # the browser GETs the IdP's endpoint after this POST
    return response


@require_http_methods(["GET"])
def signed_out(request: HttpRequest) -> HttpResponse:
    """Where the IdP sends the browser back after ending its session (registered with the IdP for the client, one
    URI per language). Signed in meanwhile (a sign-in in another tab): the inbox."""
    if _me(request) is not None:
        return HttpResponseRedirect(reverse("staff-inbox"))
    return _message(request, "staff_signed_out", "staff_signed_out_text", again=True)


# --- inbox -------------------------------------------------------------------------------------------------------
@page("GET")
def inbox(request: HttpRequest, me: Me) -> HttpResponse:
    if not me.desks and me.manager:  # a catalogue manager at no desk: their pages are the catalogue's
        return HttpResponseRedirect(reverse("staff-catalogue"))
    conn = runtime.connection()
    loaded = runtime.loaded()
    now = runtime.now()
    holders: set[str] = set()
    lanes = {d: n for p in loaded.processes.values() for d, n in p.desks.items()}
    boxes = []
    for desk in sorted(me.desks):
        rows = []
        for task in desk_store.desk_tasks(conn, desk):
            service = loaded.catalogue.service(task.service_id)
            due_at = desks.due(task.submitted_at, service.sla_working_days) if service else None
            rows.append({"task": task, "display": references.display(task.reference),
                         "service": _loc(service.name) if service else task.service_id,
                         "step": _step_name(service, task.step, task.name), "due": due_at,
                         "overdue": due_at is not None and desks.overdue(due_at, now)})
            if task.assigned_to:
                holders.add(task.assigned_to)
        boxes.append({"desk": desk, "name": lanes.get(desk, desk), "rows": rows})
    return _render(request, "centre_web/staff/inbox.html", {
        "title": t("staff_inbox_title"), "boxes": boxes, "names": desk_store.names(conn, holders) if holders else {}})


def _task(request: HttpRequest, me: Me, task_id: str) -> desk_store.DeskTask | None:
    found = desk_store.ready_task(runtime.connection(), task_id)
    return found if found is not None and found.desk in me.desks else None


def _back(request: HttpRequest, task: desk_store.DeskTask) -> HttpResponse:
    target = request.POST.get("back", "")
    if target != "file":
        return HttpResponseRedirect(reverse("staff-inbox"))
    return HttpResponseRedirect(reverse("staff-file", args=[task.reference]))


@page("POST")
def claim(request: HttpRequest, me: Me, task_id: str) -> HttpResponse:
    return _take(request, me, task_id, me.subject, "claim")


@page("POST")
def assign(request: HttpRequest, me: Me, task_id: str) -> HttpResponse:
    task = _task(request, me, task_id)
    if task is None:
        return _gone(request)
    to = request.POST.get("to", "")[:200]
    refusal = desks.may_assign(task.desk, to, desk_store.desks_of_member(runtime.connection(), to) if to else None)
    if refusal is not None:
        return _refused(request, refusal, 400)
    _hold(task, to, me, "assign")
    return _back(request, task)


@page("POST")
def release(request: HttpRequest, me: Me, task_id: str) -> HttpResponse:
    return _take(request, me, task_id, None, "release")


def _take(request: HttpRequest, me: Me, task_id: str, holder: str | None, verb: str) -> HttpResponse:
    """Claim (`holder`: the member) or release (None) a task of the member's desks that is free or theirs."""
    task = _task(request, me, task_id)
    if task is None:
        return _gone(request)
    refusal = desks.may_act(task.assigned_to, me.subject)
    if refusal is not None:
        return _refused(request, refusal)
    _hold(task, holder, me, verb)
    return _back(request, task)


def _hold(task: desk_store.DeskTask, holder: str | None, me: Me, verb: str) -> None:
    try:
        desk_store.hold(runtime.connection(), task.id, task.desk, holder, me.actor, verb, runtime.now())
    except NotFound:
        pass  # acted on meanwhile: the inbox shows where it is now


@page("POST")
def act(request: HttpRequest, me: Me, task_id: str) -> HttpResponse:
    """One action of the task's current BPMN step: `store.act`, as `POST /api/tasks/<id>/<action>`."""
    task = _task(request, me, task_id)
    if task is None:
        return _gone(request)
    action = request.POST.get("action", "")
    refusal = desks.may_act(task.assigned_to, me.subject)
    if refusal is None and action not in task.actions:
        refusal = desks.Refusal("not_offered")
    fields = desks.action_fields(action, request.POST.get("reason", ""), request.POST.get("comment", ""))
    if isinstance(fields, desks.Refusal):
        return _file_page(request, me, task.reference, errors={task.id: _refusal_text(fields)}, status=400)
    if refusal is not None:
        return _refused(request, refusal)
    try:
        after = store.act(runtime.connection(), task.reference, task.id, action, task.desk, me.actor, fields,
                          runtime.now())
    except ActionError as error:
        log.warning("staff action refused by the process: %s", error.message)
        return _refused(request, desks.Refusal("moved_on"))
    except NotFound:
        return _gone(request)

    certificates.after_act(task.reference, "closed" if after.finished else None, after.outcome)
    return HttpResponseRedirect(reverse("staff-file", args=[task.reference]))


# --- an application ----------------------------------------------------------------------------------------------
def opened(me: Me, reference: str) -> tuple[str, desk_store.File]:
    """The canonical reference and the application as the member's desks see it; NotFound for a malformed reference
    or an application of none of their desks (the views answer both alike: `_gone`)."""
    canonical = references.normalise(reference)
    if canonical is None:
        raise NotFound("not a reference")
    return canonical, desk_store.file(runtime.connection(), canonical, me.desks)


@page("GET")
def file(request: HttpRequest, me: Me, reference: str) -> HttpResponse:
    return _file_page(request, me, reference)


@page("POST")
def comment(request: HttpRequest, me: Me, reference: str) -> HttpResponse:
    conn = runtime.connection()
    try:
        canonical, _ = opened(me, reference)  # only an application of the member's desks
        text = desks.comment_text(request.POST.get("text", ""))
        if isinstance(text, desks.Refusal):
            return _file_page(request, me, canonical, comment_error=_refusal_text(text), status=400)
        desk_store.comment(conn, canonical, me.actor, text, runtime.now())
    except NotFound:
        return _gone(request)
    return HttpResponseRedirect(reverse("staff-file", args=[canonical]) + "#history")


@page("GET")
def document(request: HttpRequest, me: Me, reference: str, number: int) -> HttpResponse:
    """One document of an application of the member's desks, from the agency's bucket, as an attachment; its
    SHA-256 checked against the one recorded when it came (a changed object is refused, not served), and the
    download recorded in the audit trail."""
    conn = runtime.connection()
    try:
        canonical, _ = opened(me, reference)
        found = store.documents(conn, canonical)
        if not 1 <= number <= len(found):
            raise NotFound("no such document")
    except NotFound:
        return _gone(request)
    doc, bucket = found[number - 1], runtime.bucket()
    if doc.deleted_at is not None:
        return _refused(request, desks.Refusal("document_deleted"), 410)
    if bucket is None:
        return _refused(request, desks.Refusal("no_bucket"), 503)
    body = bucket.get(doc.object_key)
    if documents.digest(body) != doc.sha256:
        log.error("document %s of %s does not match its recorded SHA-256", doc.object_key, canonical)
        return _refused(request, desks.Refusal("document_changed"), 409)
    desk_store.downloaded(conn, canonical, me.actor, doc.document, doc.sha256, runtime.now())
    response = HttpResponse(body, content_type=doc.media_type)
    response["Content-Disposition"] = "attachment; filename*=UTF-8''" + quote(doc.filename)
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _file_page(request: HttpRequest, me: Me, reference: str, errors: dict[str, str] | None = None,
               comment_error: str = "", status: int = 200, hold_error: str = "") -> HttpResponse:
    conn = runtime.connection()
    try:
        canonical, found = opened(me, reference)
    except NotFound:
        return _gone(request)
    loaded = runtime.loaded()
    service = loaded.catalogue.service(found.service_id)
    questions = {q.id: _loc(q.label) for q in service.questions} if service else {}
    now = runtime.now()
    due_at = desks.due(found.submitted_at, service.sla_working_days) if service else None
    people = {row.assigned_to for row in found.tasks if row.assigned_to}
    people |= {e.actor.removeprefix("staff:") for e in found.history if e.actor.startswith("staff:")}
    names = desk_store.names(conn, people) if people else {}
    current = []
    for row in found.tasks:
        if row.state != "ready":
            continue
        mine = row.desk in me.desks
        current.append({"task": row, "mine": mine, "step": _step_name(service, row.step, row.name),
                        "free": mine and row.assigned_to in (None, me.subject),
                        "colleagues": [c for c in desk_store.colleagues(conn, row.desk) if c[0] != me.subject]
                        if mine else [],
                        "actions": [{"id": a, "label": _action_label(a), "reason": desks.needs_reason(a)}
                                    for a in row.actions]
                        if mine and row.desk != "citizen" else [],
                        "error": (errors or {}).get(row.id, "")})
    history = [{"entry": e, "who": _who(e.actor, names), "text": _entry_text(e, service, names)}
               for e in reversed(found.history)]
    all_errors = [("#task-" + k, v) for k, v in (errors or {}).items()]
    if comment_error:
        all_errors.append(("#comment-text", comment_error))
    if hold_error:
        all_errors.append(("#hold-reason", hold_error))
    return _render(request, "centre_web/staff/file.html", {
        "title": t("staff_application", display=references.display(found.reference)), "file": found,
        "display": references.display(found.reference),
        "status": t(f"st_{found.status}") if f"st_{found.status}" in TEXTS else found.status,
        "outcome": _step_name(service, found.outcome, found.outcome) if found.outcome else "",
        "service": _loc(service.name) if service else found.service_id,
        "answers": [(questions.get(k, k), v) for k, v in found.answers.items()],
        "due": due_at, "overdue": due_at is not None and found.status != "closed" and desks.overdue(due_at, now),
        "current": current,
        "tasks": [{"task": x, "step": _step_name(service, x.step, x.name),
                   "state": t(f"task_{x.state}") if f"task_{x.state}" in TEXTS else x.state,
                   "action": _action_label(x.action) if x.action else ""} for x in found.tasks],
        "history": history, "names": names, "errors": all_errors,
        "documents": [{"doc": d, "label": _document_label(service, d.document)}
                      for d in store.documents(conn, canonical)],
        "comment_error": comment_error, "back": reverse("staff-inbox"), "hold_error": hold_error,
        "supervisor": desks.is_supervisor(me.desks)}, status,
        here=reverse("staff-file", args=[found.reference]))


def _loc(text: Any) -> str:
    """A catalogue text ({en, ur}) in the page's language."""
    return str(text.ur if lang() == "ur" else text.en)


def _document_label(service: Any, document_id: str) -> str:
    """The catalogue's name of a document in the page's language, else its id."""
    names = {d.id: _loc(d.name) for d in service.documents} if service is not None else {}
    return str(names.get(document_id) or document_id)


def _who(actor: str, names: dict[str, str]) -> str:
    if actor.startswith("staff:"):
        subject = actor.removeprefix("staff:")
        return names.get(subject, subject)
    return {"citizen": t("who_applicant"), "system": t("who_system")}.get(actor, actor)


def _entry_text(entry: Any, service: Any = None, names: dict[str, str] | None = None) -> str:
    """A line of the history for people, in the page's language: the audit action and its details (the
    details are the staff's and the applicant's own words, shown as written)."""
    action: str = entry.action
    details = dict(entry.details)
    if action == "comment":
        return t("h_comment", text=details.get("text", ""))
    if action == "submitted":
        return t("h_submitted")
    if action.startswith("task:"):
        _, step_id, verb = action.split(":", 2)
        step = _step_name(service, step_id, step_id)
        if verb == "claim":
            return t("h_claim", step=step)
        if verb == "assign":
            holder = str(details.get("holder", ""))
            return t("h_assign", step=step, holder=(names or {}).get(holder, holder))
        if verb == "release":
            return t("h_release", step=step)
        extra = "; ".join(f"{k}: {v}" for k, v in sorted(details.items()) if k != "holder")
        if extra:
            return t("h_action_details", step=step, action=_action_label(verb), details=extra)
        return t("h_action", step=step, action=_action_label(verb))
    if action.startswith("document:"):
        return t("h_document", doc=_document_label(service, action.removeprefix("document:")))
    if action.startswith("download:"):
        return t("h_download", doc=_document_label(service, action.removeprefix("download:")))
    if action.startswith("timer:"):
        return t("h_timer", timer=action.removeprefix("timer:"))
    if action in ("hold:placed", "hold:released", "erased"):
        return t(f"h_{action.replace(':', '_')}", reason=details.get("reason", ""))
    return action
