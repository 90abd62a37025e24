"""An agency's apps and backups in the console, pages and API, and the job pages (registered by `app.create_app`).

Reading goes through the platform's functions (`AppService.list`, what `app list` prints; `backups.agency.list_backups`
and `schedule.agency_status`, what `backup list` and `backup status` print; `drill.last_drill`, the audit log's last
`backup verify`). Deploying, removing, backing up and drilling run as jobs (`console.jobs`) that call what `govcloud
app deploy`, `app remove`, `backup run --agency` and `backup verify --agency` call, with the console's principal as
the actor. Who may: `jobs.start_status` (operators and the agency's administrators start; members read; another
agency's slug or job answers 404 as an unknown one)."""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, abort, jsonify, redirect, request, session
from werkzeug.wrappers import Response

from govcloud_platform.console import authz, jobs, signin
from govcloud_platform.console.backup_runs import REFRESHED_BY, RunsCache, read_runs
from govcloud_platform.console.jobs import BACKUPS_TARGET, REFRESH_S, Runner
from govcloud_platform.console.texts import TEXTS
from govcloud_platform.console.work import Views, problem
from govcloud_platform.progress import Progress
from govcloud_platform.state.jobs import ACTIVE, Busy, Job
from govcloud_platform.state.registry import AgencyRecord

# a running job's page: the console's policy with its one script (same origin) and the script's fetch of the page
JOB_CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; connect-src 'self'; "
           "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")

BACKUPS_SERVICE = "backups"


# --- the work of each job: the platform's own functions, as the CLI's commands call them ---------------------------
def deploy_work(v: Views, actor: str, slug: str, app: str) -> Callable[[Progress], Any]:
    def work(progress: Progress) -> Any:
        from govcloud_platform.apps import AppService

        service = AppService(v.settings.box, actor=actor, progress=progress)
        try:
            result = service.deploy(slug, app)
        finally:
            service.registry.close()
            service.store.registry.close()
        if result.changed:  # as `app deploy` does after a change
            v.platform.copy_registry()
        return result.as_dict()

    return work


def remove_work(v: Views, actor: str, slug: str, app: str) -> Callable[[Progress], Any]:
    def work(progress: Progress) -> Any:
        from govcloud_platform.apps import AppService

        service = AppService(v.settings.box, actor=actor, progress=progress)
        try:
            removed = service.remove(slug, app, False)  # the data is kept (`app remove` without --purge-data)
        finally:
            service.registry.close()
            service.store.registry.close()
        if removed:
            v.platform.copy_registry()
        return {"agency": slug, "app": app, "removed": removed, "purged": False}

    return work


def backup_work(v: Views, actor: str, slug: str) -> Callable[[Progress], Any]:
    def work(progress: Progress) -> Any:
        from govcloud_platform.backups import agency as agency_backups

        return agency_backups.run_backup(v.settings.box, slug, actor=actor, progress=progress).as_dict()

    return work


def drill_work(v: Views, actor: str, slug: str) -> Callable[[Progress], Any]:
    def work(progress: Progress) -> Any:
        from govcloud_platform.backups import drill

        report = drill.verify(v.settings.box, slug, None, actor=actor, progress=progress)
        return {"ok": report["ok"], "reports": [
            {k: r.get(k) for k in ("scope", "ok", "backup", "tables_checked", "objects_checked", "seconds")}
            | {"mismatches": list(r.get("mismatches", []))[:20]} for r in report["reports"]]}

    return work


# --- reading --------------------------------------------------------------------------------------------------------
def catalogue() -> list[dict[str, Any]]:
    from govcloud_platform.apps import CATALOGUE

    return [{"app": m.name, "product": m.product, "citizens_get": m.citizens_get, "needs": list(m.services),
             "memory_mb": m.memory_mb, "deployable": m.implemented} for m in CATALOGUE.values()]


def deployed(v: Views, slug: str) -> list[dict[str, Any]]:
    """What `govcloud app list --agency SLUG --json` lists: each deployed app, its URL and health."""
    from govcloud_platform.apps import AppService

    service = AppService(v.settings.box)
    try:
        return service.list(slug)
    finally:
        service.registry.close()
        service.store.registry.close()


def backups_doc(v: Views, runs: RunsCache, record: AgencyRecord) -> dict[str, Any]:
    """The agency's backups: `backup status`'s row (the last run, its age against the plan), `backup list
    --agency`'s runs (from the repository, as last read: `backup_runs`; `error` says why not when it cannot be read;
    `backups_read_at` and `backups_age_s` when) and the last restore drill."""
    from govcloud_platform.backups import drill, schedule

    if BACKUPS_SERVICE not in record.services:
        return {"service": False, "status": None, "backups": [], "error": None, "last_drill": None,
                "backups_read_at": None, "backups_age_s": None}
    status = schedule.agency_status(v.settings.box, record).as_dict()
    listing = runs.get(record.slug)
    return {"service": True, "status": status, "backups": listing.runs, "error": listing.error,
            "last_drill": drill.last_drill(v.settings.box, record.slug),
            "backups_read_at": dt.datetime.fromtimestamp(listing.read_at, dt.UTC).isoformat(timespec="seconds"),
            "backups_age_s": listing.age_s(time.time())}


def age_text(seconds: int | None) -> str:
    """An age for people, as `backup status` prints it: 3h05m, 4m09s, or - (pure)."""
    if seconds is None:
        return "-"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def register(app: Flask, v: Views, runner: Runner) -> None:
    # the agencies' backup lists, kept fresh by the jobs below and a thread wsgi.py starts (never a unit test's app)
    runs = RunsCache(functools.partial(read_runs, v.settings.box))
    app.extensions["govcloud"]["backup_runs"] = runs

    def known_app(name: str) -> str:
        from govcloud_platform.apps import CATALOGUE

        if name not in CATALOGUE:
            abort(404)
        return name

    def start(who: authz.Principal, slug: str, kind: str, target: str) -> Job | int:
        """Start the job (the principal's checks first): the job, or the status to answer (403, 404, 409)."""
        record = v.platform.agency(slug)
        status = jobs.start_status(who, slug, record is not None)
        if status != 202:
            return status
        if target == BACKUPS_TARGET and record is not None and BACKUPS_SERVICE not in record.services:
            return 409
        actor = f"console:{who.subject}"
        work = {"deploy": lambda: deploy_work(v, actor, slug, target),
                "remove": lambda: remove_work(v, actor, slug, target),
                "backup": lambda: backup_work(v, actor, slug),
                "drill": lambda: drill_work(v, actor, slug)}[kind]()
        if kind in REFRESHED_BY:  # the hook: a job that changes the agency's backups reads its list again at its end
            work = runs.after(slug, work)
        try:
            return runner.start(kind, slug, target, actor, work)
        except Busy:
            return 409

    def visible_job(who: authz.Principal, raw: str) -> Job:
        found = jobs.job_id(raw)
        job = runner.get(found) if found is not None else None
        if job is None or not authz.may_see(who, job.agency):
            abort(404)
        return job

    # --- API --------------------------------------------------------------------------------------------------
    def started(job: Job | int, what: str) -> Response:
        if isinstance(job, int):
            if job == 404:
                abort(404)
            if job == 403:
                return problem(403, "forbidden", "Only a directorate operator or the agency's administrators start "
                                                 "this; members read.")
            return problem(409, "conflict", f"A job for this {what} is queued or running (or the agency has no "
                                            "backups service): wait for it to finish.")
        resp = jsonify(job=job.as_dict(), url=f"/api/jobs/{job.id}")
        resp.status_code = 202
        resp.headers["Location"] = f"/api/jobs/{job.id}"
        return resp

    @app.get("/api/agencies/<slug>/apps")
    def api_apps(slug: str) -> Response:
        who = v.api_principal()
        record = v.platform.visible_agency(who, slug)
        return jsonify(catalogue=catalogue(), apps=deployed(v, record.slug),
                       may_act=authz.may_act(who, record.slug))

    @app.post("/api/agencies/<slug>/apps/<name>/deploy", defaults={"kind": "deploy"})
    @app.post("/api/agencies/<slug>/apps/<name>/remove", defaults={"kind": "remove"})
    def api_app_job(slug: str, name: str, kind: str) -> Response:
        who = v.api_principal()
        v.platform.visible_agency(who, slug)
        return started(start(who, slug, kind, known_app(name)), "app")

    @app.get("/api/agencies/<slug>/backups")
    def api_backups(slug: str) -> Response:
        who = v.api_principal()
        record = v.platform.visible_agency(who, slug)
        return jsonify({**backups_doc(v, runs, record), "may_act": authz.may_act(who, record.slug),
                        "may_restore": authz.may_restore(who, record.slug)})

    @app.post("/api/agencies/<slug>/backups", defaults={"kind": "backup"})
    @app.post("/api/agencies/<slug>/backups/drill", defaults={"kind": "drill"})
    def api_backup_job(slug: str, kind: str) -> Response:
        who = v.api_principal()
        v.platform.visible_agency(who, slug)
        return started(start(who, slug, kind, BACKUPS_TARGET), "agency's backups")

    @app.get("/api/agencies/<slug>/jobs")
    def api_agency_jobs(slug: str) -> Response:
        who = v.api_principal()
        record = v.platform.visible_agency(who, slug)
        return jsonify(jobs=[j.as_dict() for j in runner.recent(record.slug, 50)])

    @app.get("/api/jobs/<job_id>")
    def api_job(job_id: str) -> Response:
        return jsonify(visible_job(v.api_principal(), job_id).as_dict())

    # --- pages ------------------------------------------------------------------------------------------------
    def form_refused(lang: str) -> Response | None:
        if signin.csrf_matches(session.get("csrf"), request.form.get("csrf")):
            return None
        return v.page("message.j2", lang, 400, heading=TEXTS[lang]["refused"], text=TEXTS[lang]["csrf_failed"])

    def page_started(lang: str, job: Job | int) -> Response:
        t = TEXTS[lang]
        if isinstance(job, int):
            if job == 404:
                abort(404)
            return v.page("message.j2", lang, job, heading=t["refused"],
                          text=t["job_forbidden"] if job == 403 else t["job_busy"])
        return redirect(f"/{lang}/jobs/{job.id}", 303)

    @app.get("/<lang>/agencies/<slug>/apps")
    @v.signed_page
    def apps_page(lang: str, who: authz.Principal, slug: str) -> Response:
        record = v.platform.visible_agency(who, slug)
        found = {d["app"]: d for d in deployed(v, record.slug)}
        rows = [{**m, "deployed": found.get(m["app"]), "missing": sorted(set(m["needs"]) - set(record.services))}
                for m in catalogue()]
        return v.page("apps.j2", lang, agency=record, rows=rows, may_act=authz.may_act(who, record.slug),
                      jobs=[j.as_dict() for j in runner.recent(record.slug, 10) if j.target != BACKUPS_TARGET])

    @app.post("/<lang>/agencies/<slug>/apps/<name>/deploy", defaults={"kind": "deploy"})
    @app.post("/<lang>/agencies/<slug>/apps/<name>/remove", defaults={"kind": "remove"})
    @v.signed_page
    def app_job_page(lang: str, who: authz.Principal, slug: str, name: str, kind: str) -> Response:
        v.platform.visible_agency(who, slug)
        refused = form_refused(lang)
        return refused or page_started(lang, start(who, slug, kind, known_app(name)))

    @app.get("/<lang>/agencies/<slug>/backups")
    @v.signed_page
    def backups_page(lang: str, who: authz.Principal, slug: str) -> Response:
        record = v.platform.visible_agency(who, slug)
        doc = backups_doc(v, runs, record)
        status = doc["status"] or {}
        return v.page("backups.j2", lang, agency=record, doc=doc, age=age_text(status.get("age_seconds")),
                      allowed=age_text(status.get("allowed_seconds")) if status else "-",
                      runs_age=age_text(doc["backups_age_s"]),
                      may_act=authz.may_act(who, record.slug), may_restore=authz.may_restore(who, record.slug),
                      jobs=[j.as_dict() for j in runner.recent(record.slug, 10) if j.target == BACKUPS_TARGET])

    @app.post("/<lang>/agencies/<slug>/backups", defaults={"kind": "backup"})
    @app.post("/<lang>/agencies/<slug>/backups/drill", defaults={"kind": "drill"})
    @v.signed_page
    def backup_job_page(lang: str, who: authz.Principal, slug: str, kind: str) -> Response:
        v.platform.visible_agency(who, slug)
        refused = form_refused(lang)
        return refused or page_started(lang, start(who, slug, kind, BACKUPS_TARGET))

    @app.get("/<lang>/jobs/<job_id>")
    @v.signed_page
    def job_page(lang: str, who: authz.Principal, job_id: str) -> Response:
        job = visible_job(who, job_id)
        active = job.state in ACTIVE
        resp = v.page("job.j2", lang, job=job.as_dict(), active=active, refresh=REFRESH_S)
        if active:  # followed live by /static/job.js (progressive: without it, a link checks again); no timed
            # reload, which WCAG 2.2.1 forbids (axe's meta-refresh rule): the page's own script only, no inline one
            resp.headers["Content-Security-Policy"] = JOB_CSP
        return resp
