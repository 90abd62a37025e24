"""`apply` and an agency's restore as console jobs, and the deploys an approved onboarding request starts (registered
by `app.create_app`; docs/console.md, "Jobs").

The work is the CLI's: `converge.apply_spec` (what `govcloud apply` calls; never with `--prune` here) and
`backups.agency_restore.restore` in place (what `govcloud backup restore --agency SLUG [--snapshot ID] --yes`
calls), with the console's principal as the actor; then the registry copied into the platform's backups when it
changed, as the CLI does. Who may: `jobs.apply_status` (operators), `jobs.restore_status` (`authz.may_restore`:
operators and the agency's administrators; another agency's slug 404 as an unknown one). A restore replaces data:
its page asks to confirm (a POST form with the session's CSRF token and `confirm=yes`), the API wants
`"confirm": true`."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

from flask import Flask, abort, jsonify, redirect, request, session
from werkzeug.wrappers import Response

from govcloud_platform.console import authz, jobs, signin
from govcloud_platform.console.apps_backups import deploy_work
from govcloud_platform.console.jobs import APPLY_TARGET, BACKUPS_TARGET, PLATFORM, Runner
from govcloud_platform.console.texts import TEXTS
from govcloud_platform.console.work import Views, problem
from govcloud_platform.progress import Progress
from govcloud_platform.state.jobs import Busy, Job
from govcloud_platform.state.onboarding_requests import OnboardingRequest

BACKUP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:._-]{0,79}$")  # a backup's id or a restic snapshot id


def backup_choice(raw: object) -> str | None | Literal[False]:
    """The backup a restore names (pure): its id, None for the latest (absent or empty), False when malformed."""
    if raw is None or raw == "":
        return None
    return raw if isinstance(raw, str) and BACKUP_ID.match(raw) else False


def apply_work(v: Views, actor: str) -> Callable[[Progress], Any]:
    def work(progress: Progress) -> Any:
        from govcloud_platform.converge import apply_spec

        report = apply_spec(v.settings.box, False, actor, progress)
        if any(report.get(k) for k in ("added", "updated", "removed")) or report.get("apps", {}).get("deployed"):
            v.platform.copy_registry()  # as `govcloud apply` does after a change
        return report

    return work


def restore_work(v: Views, actor: str, slug: str, backup: str | None) -> Callable[[Progress], Any]:
    def work(progress: Progress) -> Any:
        from govcloud_platform.backups import agency_restore

        return agency_restore.restore(v.settings.box, slug, backup, None, actor=actor, progress=progress)

    return work


def deploy_requested(v: Views, runner: Runner, req: OnboardingRequest, actor: str) -> list[int]:
    """After an approval onboarded the request's agency: one deploy job per app it asked for (the runner's, as a
    Deploy button starts), recorded on the request so that its page links them."""
    started: list[int] = []
    for app in req.apps:
        try:
            started.append(runner.start("deploy", req.slug, app, actor, deploy_work(v, actor, req.slug, app)).id)
        except Busy as busy:  # one was started otherwise meanwhile: link that one
            if busy.job_id is not None:
                started.append(busy.job_id)
    if started:
        v.platform.set_request_jobs(req.id, started)
    return started


def register(app: Flask, v: Views, runner: Runner) -> None:
    def start_apply(who: authz.Principal) -> Job | int:
        status = jobs.apply_status(who)
        if status != 202:
            return status
        actor = f"console:{who.subject}"
        try:
            return runner.start("apply", PLATFORM, APPLY_TARGET, actor, apply_work(v, actor))
        except Busy:
            return 409

    def start_restore(who: authz.Principal, slug: str, backup: str | None) -> Job | int:
        record = v.platform.agency(slug)
        status = jobs.restore_status(who, slug, record is not None)
        if status != 202:
            return status
        if record is not None and "backups" not in record.services:
            return 409
        actor = f"console:{who.subject}"
        # the backups page's cache of the agency's runs (console/backup_runs.py) reads them again when it ends
        work = app.extensions["govcloud"]["backup_runs"].after(slug, restore_work(v, actor, slug, backup))
        try:
            return runner.start("restore", slug, BACKUPS_TARGET, actor, work)
        except Busy:
            return 409

    def api_started(job: Job | int, forbidden: str) -> Response:
        if isinstance(job, int):
            if job == 404:
                abort(404)
            if job == 403:
                return problem(403, "forbidden", forbidden)
            return problem(409, "conflict", "A job for this target is queued or running (or the agency has no "
                                            "backups service): wait for it to finish.")
        resp = jsonify(job=job.as_dict(), url=f"/api/jobs/{job.id}")
        resp.status_code = 202
        resp.headers["Location"] = f"/api/jobs/{job.id}"
        return resp

    def form_refused(lang: str) -> Response | None:
        if signin.csrf_matches(session.get("csrf"), request.form.get("csrf")):
            return None
        return v.page("message.j2", lang, 400, heading=TEXTS[lang]["refused"], text=TEXTS[lang]["csrf_failed"])

    def page_started(lang: str, job: Job | int, forbidden: str) -> Response:
        t = TEXTS[lang]
        if isinstance(job, int):
            if job == 404:
                abort(404)
            return v.page("message.j2", lang, job, heading=t["refused"], text=t[forbidden] if job == 403
                          else t["job_busy"])
        return redirect(f"/{lang}/jobs/{job.id}", 303)

    # --- apply (operators) ----------------------------------------------------------------------------------
    @app.post("/api/apply")
    def api_apply() -> Response:
        return api_started(start_apply(v.api_principal()), "Only a directorate operator runs apply.")

    @app.get("/api/apply")
    def api_apply_jobs() -> Response:
        who = v.api_principal()
        if not authz.may_apply(who):
            return problem(403, "forbidden", "Only a directorate operator runs apply.")
        return jsonify(jobs=[j.as_dict() for j in runner.recent(PLATFORM, 20)])

    @app.post("/<lang>/apply")
    @v.signed_page
    def apply_page(lang: str, who: authz.Principal) -> Response:
        refused = form_refused(lang)
        return refused or page_started(lang, start_apply(who), "apply_forbidden")

    # --- an agency's restore ------------------------------------------------------------------------------
    def agency_seen(who: authz.Principal, slug: str) -> None:
        if not authz.may_see(who, slug) or v.platform.agency(slug) is None:
            abort(404)  # another agency's exactly as an unknown one

    @app.post("/api/agencies/<slug>/backups/restore")
    def api_restore(slug: str) -> Response:
        who = v.api_principal()
        agency_seen(who, slug)
        body = request.get_json(silent=True)
        body = body if isinstance(body, dict) else {}
        backup = backup_choice(body.get("backup"))
        forbidden = "Only a directorate operator or the agency's administrators restore its backups."
        if not authz.may_restore(who, slug):
            return problem(403, "forbidden", forbidden)
        if backup is False:
            return problem(400, "invalid", "backup: a backup's id (as the backups list gives it), or null for the "
                                           "latest")
        if body.get("confirm") is not True:
            return problem(400, "confirmation_needed", "A restore replaces the agency's databases and bucket by "
                                                       "the backup's: send \"confirm\": true.")
        return api_started(start_restore(who, slug, backup), forbidden)

    @app.get("/<lang>/agencies/<slug>/backups/restore")
    @v.signed_page
    def restore_confirm_page(lang: str, who: authz.Principal, slug: str) -> Response:
        agency_seen(who, slug)
        t = TEXTS[lang]
        if not authz.may_restore(who, slug):
            return v.page("message.j2", lang, 403, heading=t["refused"], text=t["restore_forbidden"])
        backup = backup_choice(request.args.get("backup"))
        if not isinstance(backup, str):
            abort(404)
        record = v.platform.agency(slug)
        return v.page("restore.j2", lang, agency=record, backup=backup)

    @app.post("/<lang>/agencies/<slug>/backups/restore")
    @v.signed_page
    def restore_page(lang: str, who: authz.Principal, slug: str) -> Response:
        agency_seen(who, slug)
        refused = form_refused(lang)
        if refused is not None:
            return refused
        t = TEXTS[lang]
        if not authz.may_restore(who, slug):
            return v.page("message.j2", lang, 403, heading=t["refused"], text=t["restore_forbidden"])
        backup = backup_choice(request.form.get("backup"))
        if not isinstance(backup, str):
            abort(404)
        if request.form.get("confirm") != "yes":  # not confirmed: ask again, nothing started
            return v.page("restore.j2", lang, agency=v.platform.agency(slug), backup=backup)
        return page_started(lang, start_restore(who, slug, backup), "restore_forbidden")
