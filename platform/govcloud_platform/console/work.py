"""The console's onboarding requests and audit log, pages and API (registered by `app.create_app`). Views only
fetch (`data.Platform`), decide (`intake`, `auditlog`, `authz`) and answer; the pages' POST forms carry the
session's CSRF token (`signin.csrf_matches`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from flask import Flask, abort, jsonify, redirect, request, session
from werkzeug.wrappers import Response

from govcloud_platform.box.services.identity import OPERATOR_GROUPS
from govcloud_platform.console import approval, auditlog, authz, intake, signin
from govcloud_platform.console.data import Platform, agency_detail
from govcloud_platform.console.settings import Settings
from govcloud_platform.console.texts import TEXTS
from govcloud_platform.errors import ConflictError, InputError
from govcloud_platform.spec import APP_NAMES
from govcloud_platform.state.onboarding_requests import OnboardingRequest

if TYPE_CHECKING:
    from govcloud_platform.console.jobs import Runner
    from govcloud_platform.state.jobs import Job


@dataclass(frozen=True)
class Views:
    """What the views share with the app's own (made in `create_app`)."""

    settings: Settings
    platform: Platform
    page: Callable[..., Response]
    signed_page: Callable[[Callable[..., Response]], Callable[..., Response]]  # a page's view, called with `who`
    api_principal: Callable[[], authz.Principal]


def problem(status: int, error: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """The API's error answer: `{"error", "message"}`."""
    resp = jsonify(error=error, message=message)
    resp.status_code = status
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def session_principal() -> authz.Principal | None:
    """The signed-in session's principal when it has standing (no redirect: for a CSV a page links to; a GET
    changes nothing)."""
    held = session.get("p")
    if request.headers.get("Authorization") or not isinstance(held, dict):
        return None
    if not isinstance(held.get("exp"), int) or held["exp"] <= time.time():
        return None
    who = authz.principal(str(held.get("sub", "")), held.get("groups"), OPERATOR_GROUPS)
    return who if who.has_standing else None


DeployRequested = Callable[["Views", "Runner", OnboardingRequest, str], list[int]]


def register(app: Flask, v: Views, runner: Runner, deploy_requested: DeployRequested) -> None:
    """The onboarding requests' views; `deploy_requested` (`operations.deploy_requested`, handed in by `create_app`:
    this module is below the jobs' views) starts an approved request's deploy jobs, from its approval's job
    (console/approval.py)."""
    def declined(req_id: int, actor: str) -> OnboardingRequest:
        """After a decline: the mail to its contact in its language (`Platform.mail_decision`; an approval's job
        mails once it succeeded); the request as it is then."""
        found = v.platform.onboarding_request(req_id)
        assert found is not None
        v.platform.mail_decision(req_id, f"{v.settings.public_url}/{found.lang}/requests/{req_id}", actor)
        return found

    def approve(req: OnboardingRequest, actor: str) -> Job | None:
        """Claim it and start its onboarding job (console/approval.py), which deploys its apps with
        `deploy_requested` once the agency is made."""
        return approval.start(v.platform, runner, v.settings.public_url, req, actor,
                              lambda claimed: deploy_requested(v, runner, claimed, actor))

    def decided_already(t: dict[str, str], req_id: int) -> str:
        """Why a decision is 409: the request is being approved (its job runs), or was decided."""
        now = v.platform.onboarding_request(req_id)
        return t["approving_already"] if now is not None and now.state == intake.APPROVING else t["decided_already"]

    def approval_of(req: OnboardingRequest) -> dict[str, Any] | None:
        """The request's last approval job (its state, error and steps), for its page."""
        job = runner.get(req.approval_job) if req.approval_job else None
        return job.as_dict() if job is not None else None

    # --- onboarding requests (pages) ------------------------------------------------------------
    def visible_request(who: authz.Principal, raw_id: str) -> OnboardingRequest | None:
        found = intake.request_id(raw_id)
        req = v.platform.onboarding_request(found) if found is not None else None
        return req if req is not None and intake.may_see(who, req.filed_by, req.slug) else None

    def form_checked(lang: str) -> Response | None:
        """A POST form's CSRF token against the session's: the refusal page, or None when it matches."""
        if signin.csrf_matches(session.get("csrf"), request.form.get("csrf")):
            return None
        return v.page("message.j2", lang, 400, heading=TEXTS[lang]["refused"], text=TEXTS[lang]["csrf_failed"])

    @app.get("/<lang>/requests")
    @v.signed_page
    def requests_page(lang: str, who: authz.Principal) -> Response:
        shown = [r.as_dict() for r in v.platform.onboarding_requests() if intake.may_see(who, r.filed_by, r.slug)]
        return v.page("requests.j2", lang, requests=shown)

    @app.get("/<lang>/requests/new")
    @v.signed_page
    def new_request_page(lang: str, who: authz.Principal) -> Response:
        return v.page("request_form.j2", lang, values={"quota_class": "standard", "apps": []}, error=None,
                    quota_classes=sorted(v.settings.box.spec.quota_classes), app_names=APP_NAMES)

    @app.post("/<lang>/requests")
    @v.signed_page
    def file_request_page(lang: str, who: authz.Principal) -> Response:
        refused = form_checked(lang)
        if refused is not None:
            return refused
        data = {k: request.form.get(k, "") for k in ("slug", "name", "email", "quota_class")}
        fields = intake.fields({**data, "apps": request.form.getlist("apps")}, lang=lang)
        try:
            if isinstance(fields, str):
                raise InputError(fields)
            filed = v.platform.file_request(fields, who.subject, f"console:{who.subject}")
        except (InputError, ConflictError) as exc:
            status = 409 if isinstance(exc, ConflictError) else 400
            return v.page("request_form.j2", lang, status, values={**data, "apps": request.form.getlist("apps")},
                        error=str(exc), quota_classes=sorted(v.settings.box.spec.quota_classes), app_names=APP_NAMES)
        return redirect(f"/{lang}/requests/{filed.id}", 303)

    @app.get("/<lang>/requests/<request_id>")
    @v.signed_page
    def request_page(lang: str, who: authz.Principal, request_id: str) -> Response:
        req = visible_request(who, request_id)
        if req is None:
            abort(404)
        job = approval_of(req)
        return v.page("request.j2", lang, req=req.as_dict(), job=job,
                      job_seen=job is not None and authz.may_see(who, job["agency"]))

    @app.post("/<lang>/requests/<request_id>/approve", defaults={"verb": "approve"})
    @app.post("/<lang>/requests/<request_id>/decline", defaults={"verb": "decline"})
    @v.signed_page
    def decide_page(lang: str, who: authz.Principal, request_id: str, verb: str) -> Response:
        req = visible_request(who, request_id)
        if req is None:
            abort(404)
        refused = form_checked(lang)
        if refused is not None:
            return refused
        t = TEXTS[lang]
        status = intake.decision_status(who, req.state)
        if status != 200:
            return v.page("message.j2", lang, status, heading=t["refused"],
                          text=t["decide_forbidden"] if status == 403 else decided_already(t, req.id))
        actor = f"console:{who.subject}"
        if verb == "decline":
            reason = request.form.get("reason", "")
            why = intake.reason_problem(reason)
            if why:
                return v.page("request.j2", lang, 400, req=req.as_dict(), error=why, job=approval_of(req),
                              job_seen=True)
            done = v.platform.decline(req.id, actor, reason)
            if done:
                declined(req.id, actor)
        else:  # a job: the request's page follows it
            done = approve(req, actor) is not None
        if not done:
            return v.page("message.j2", lang, 409, heading=t["refused"], text=decided_already(t, req.id))
        return redirect(f"/{lang}/requests/{req.id}", 303)

    # --- the audit log (page and CSV) -------------------------------------------------------------
    def audit_entries(who: authz.Principal) -> tuple[auditlog.AuditQuery, auditlog.Page] | str:
        """The entries the query string asks for and the principal may read (a page, and the id the older page
        starts before), or why not (400); 404 for another agency's filter."""
        q = auditlog.query(request.args.to_dict())
        if isinstance(q, str):
            return q
        agencies = auditlog.scope(who, q.agency)
        if isinstance(agencies, int):
            abort(404)  # another agency's, exactly as an unknown one
        return q, v.platform.audit(q, agencies)

    @app.get("/<lang>/audit")
    @v.signed_page
    def audit_page(lang: str, who: authz.Principal) -> Response:
        found = audit_entries(who)
        if isinstance(found, str):
            return v.page("audit.j2", lang, 400, entries=[], args=request.args.to_dict(), error=found, csv_query="",
                          older_query=None, newest_query=None)
        q, (entries, older) = found
        return v.page("audit.j2", lang, entries=entries, args=q.as_args(), error=None,
                    csv_query=urlencode(q.page_args()),
                    older_query=urlencode(q.older_args(older)) if older is not None else None,
                    newest_query=urlencode(q.as_args()) if q.before is not None else None)

    @app.get("/api/requests")
    def api_requests() -> Response:
        who = v.api_principal()
        return jsonify(requests=[r.as_dict() for r in v.platform.onboarding_requests()
                                 if intake.may_see(who, r.filed_by, r.slug)])

    @app.post("/api/requests")
    def api_file_request() -> Response:
        who = v.api_principal()
        body = request.get_json(silent=True)
        fields = intake.fields(body) if isinstance(body, dict) else "a JSON object is needed"
        if isinstance(fields, str):
            return problem(400, "invalid", fields)
        try:
            filed = v.platform.file_request(fields, who.subject, f"console:{who.subject}")
        except InputError as exc:
            return problem(400, "invalid", str(exc))
        except ConflictError as exc:
            return problem(409, "conflict", str(exc))
        resp = jsonify(filed.as_dict())
        resp.status_code = 201
        resp.headers["Location"] = f"/api/requests/{filed.id}"
        return resp

    @app.get("/api/requests/<request_id>")
    def api_request(request_id: str) -> Response:
        who = v.api_principal()
        req = visible_request(who, request_id)
        if req is None:
            abort(404)
        return jsonify(req.as_dict())

    @app.post("/api/requests/<request_id>/approve", defaults={"verb": "approve"})
    @app.post("/api/requests/<request_id>/decline", defaults={"verb": "decline"})
    def api_decide(request_id: str, verb: str) -> Response:
        who = v.api_principal()
        req = visible_request(who, request_id)
        if req is None:
            abort(404)
        status = intake.decision_status(who, req.state)
        if status == 403:
            return problem(403, "forbidden", "Only a directorate operator decides onboarding requests.")
        if status == 409:
            return problem(409, "conflict", intake.decided_text(req.state, req.approval_job))
        actor = f"console:{who.subject}"
        if verb == "decline":
            body = request.get_json(silent=True)
            reason = body.get("reason") if isinstance(body, dict) else None
            why = intake.reason_problem(reason)
            if why:
                return problem(400, "invalid", why)
            assert isinstance(reason, str)
            if not v.platform.decline(req.id, actor, reason):
                return problem(409, "conflict", "The request was decided already.")
            return jsonify(request=declined(req.id, actor).as_dict())
        job = approve(req, actor)
        after = v.platform.onboarding_request(req.id)
        if job is None or after is None:
            return problem(409, "conflict", intake.decided_text(after.state if after else req.state,
                                                                 after.approval_job if after else 0))
        # the agency is onboarded by the job: `agency` is its record when one exists already (a retry), else null;
        # the job's result holds the onboarded agency and the deploy jobs' URLs once it succeeded
        record = v.platform.agency(req.slug)
        resp = jsonify(request=after.as_dict(), agency=agency_detail(record) if record is not None else None,
                       jobs=[f"/api/jobs/{j}" for j in after.jobs], job=job.as_dict(), url=f"/api/jobs/{job.id}")
        resp.status_code = 202
        resp.headers["Location"] = f"/api/jobs/{job.id}"
        return resp

    @app.get("/api/audit")
    def api_audit() -> Response:
        found = audit_entries(v.api_principal())
        if isinstance(found, str):
            return problem(400, "invalid", found)
        entries, older = found[1]
        return jsonify(entries=entries, next_before=older)

    @app.get("/api/audit.csv")
    def api_audit_csv() -> Response:
        """The CSV export: a bearer token, or the page's session (the page links here; a GET changes nothing)."""
        who = session_principal() or v.api_principal()
        found = audit_entries(who)
        if isinstance(found, str):
            return problem(400, "invalid", found)
        return Response(auditlog.csv_text(found[1][0]), content_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="govcloud-audit.csv"'})

