"""The console's routes (Flask): pages under `/<lang>/` (signed in through the IdP, `signin`), the JSON API under
`/api/` (bearer tokens), the health check and the CA certificate. Views only fetch (`data`), decide (`authz`) and
answer."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import requests
from flask import Flask, abort, g, jsonify, redirect, render_template, request, session
from werkzeug.wrappers import Response

from govcloud_platform.box.services.identity import OPERATOR_GROUPS
from govcloud_platform.console import apps_backups, authz, credentials, jobs, members, operations, signin, usage, work
from govcloud_platform.console.data import Platform, agency_detail, agency_summary
from govcloud_platform.console.openapi import document
from govcloud_platform.console.sampler import Sampler
from govcloud_platform.console.settings import Settings
from govcloud_platform.console.texts import LANGUAGES, TEXTS
from govcloud_platform.console.tokens import Refused, Verifier, bearer_token
from govcloud_platform.console.work import problem

REALM = 'Bearer realm="govcloud console"'
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")


def create_app(settings: Settings) -> Flask:
    app = Flask(__name__)
    app.jinja_env.autoescape = True  # the templates are .j2: Flask would escape only .html by its name
    app.config.update(SECRET_KEY=settings.session_key, SESSION_COOKIE_NAME="govcloud_console",
                      SESSION_COOKIE_SECURE=True, SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      MAX_CONTENT_LENGTH=64 * 1024)
    platform = Platform(settings.box)
    # measures in the background once started (wsgi.py starts it; the unit tests' apps never do)
    sampler = Sampler(settings.box, settings.box.spec.platform.services.console.usage_interval_minutes * 60.0)
    verifier = Verifier(settings.issuer, settings.client_id, settings.ca_file)
    app.extensions["govcloud"] = {"settings": settings, "platform": platform, "verifier": verifier,
                                   "sampler": sampler}

    def page(template: str, lang: str, status: int = 200, **values: Any) -> Response:
        html = render_template(template, lang=lang, dir=LANGUAGES[lang][1], t=TEXTS[lang], languages=LANGUAGES,
                               who=g.get("who"), path_rest=request.path[len(lang) + 2:],
                               csrf=session.get("csrf", ""), **values)
        return Response(html, status, content_type="text/html; charset=utf-8")

    def signed_in(lang: str) -> authz.Principal | Response:
        """The session's principal, or the redirect that signs the browser in (then back to this page)."""
        held = session.get("p")
        if not isinstance(held, dict) or not isinstance(held.get("exp"), int) or held["exp"] <= time.time():
            session.pop("p", None)
            return redirect(f"/auth/signin?lang={lang}&next={quote(request.path)}")
        who = authz.principal(str(held.get("sub", "")), held.get("groups"), OPERATOR_GROUPS)
        g.who = who
        if not isinstance(session.get("csrf"), str):
            session["csrf"] = signin.new_csrf()
        if not who.has_standing:
            return page("message.j2", lang, 403, heading=TEXTS[lang]["forbidden"], text=TEXTS[lang]["forbidden_text"])
        return who

    def check_lang(lang: str) -> None:
        if lang not in LANGUAGES:
            abort(404)

    def signed_page(view: Callable[..., Response]) -> Callable[..., Response]:
        """A page for the signed-in, called with `who`: the language checked first; a browser not signed in is sent
        to sign in (and back), one without standing gets the 403 page."""
        @functools.wraps(view)
        def checked(lang: str, **values: Any) -> Response:
            check_lang(lang)
            who = signed_in(lang)
            return who if isinstance(who, Response) else view(lang, who, **values)

        return checked

    @app.after_request
    def headers(resp: Response) -> Response:
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        if request.path.startswith(("/api/", "/auth/", "/en/", "/ur/")):
            resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.errorhandler(404)
    def not_found(_: Exception) -> Response:
        if request.path.startswith("/api/"):
            return problem(404, "not_found", "No such resource, or not yours to see.")
        lang = request.path.split("/")[1] if request.path.split("/")[1:2] in (["en"], ["ur"]) else "en"
        return page("message.j2", lang, 404, heading=TEXTS[lang]["not_found"], text=TEXTS[lang]["not_found_text"])

    # --- plumbing -------------------------------------------------------------------------------
    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    @app.get("/")
    def root() -> Response:
        return redirect("/en/")

    @app.get("/ca.pem")
    def ca_certificate() -> Response:
        return Response(platform.ca_pem(), content_type="application/x-pem-file",
                        headers={"Content-Disposition": 'attachment; filename="govcloud-ca.pem"'})

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status=204, headers={"Cache-Control": "max-age=86400"})

    @app.get("/static/console.css")
    def stylesheet() -> Response:
        return Response(render_template("console.css.j2"), content_type="text/css; charset=utf-8",
                        headers={"Cache-Control": "max-age=3600"})

    @app.get("/static/job.js")
    def job_script() -> Response:  # a running job's page follows it live with this (templates/job.js.j2)
        return Response(render_template("job.js.j2"), content_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "max-age=3600"})

    # --- sign-in (OIDC code flow with PKCE) -------------------------------------------------------
    @app.get("/auth/signin")
    def start_signin() -> Response:
        lang = request.args.get("lang", "en")
        lang = lang if lang in LANGUAGES else "en"
        pending = signin.new_pending(int(time.time()), request.args.get("next", f"/{lang}/"))
        session["pending"] = pending
        return redirect(signin.authorize_url(f"{settings.issuer}/oauth2/authorize", settings.client_id,
                                             settings.redirect_uri, pending, lang))

    @app.get("/auth/callback")
    def callback() -> Response:
        pending = session.pop("pending", None)
        now = int(time.time())
        code = signin.callback_code(pending, request.args.to_dict(), now)
        back = signin.safe_next(pending.get("next") if isinstance(pending, dict) else None)
        lang = back.split("/")[1]
        if code is None:
            return page("message.j2", lang, 400, heading=TEXTS[lang]["signin"], text=TEXTS[lang]["signin_failed"])
        try:
            answer = _exchange(settings, code, pending["verifier"])
            verifier.id_token_subject(str(answer.get("id_token", "")), pending["nonce"])
            claims = verifier.access_claims(str(answer.get("access_token", "")))
        except (Refused, requests.RequestException, ValueError):
            return page("message.j2", lang, 400, heading=TEXTS[lang]["signin"], text=TEXTS[lang]["signin_failed"])
        session.clear()
        session["p"] = {"sub": claims["sub"], "groups": [x for x in claims.get("groups") or [] if isinstance(x, str)]
                        if isinstance(claims.get("groups"), list) else [],
                        "name": str(claims.get("name") or claims.get("preferred_username") or claims["sub"])[:200],
                        "exp": signin.session_end(answer.get("expires_in"), now)}
        return redirect(back)

    @app.post("/auth/signout")
    def signout() -> Response:
        lang = request.form.get("lang", "en")
        session.clear()
        return redirect(f"/{lang if lang in LANGUAGES else 'en'}/signed-out")

    # --- pages ----------------------------------------------------------------------------------
    @app.get("/<lang>/signed-out")
    def signed_out(lang: str) -> Response:
        check_lang(lang)
        return page("message.j2", lang, heading=TEXTS[lang]["signout"], text="", signin_link=True)

    runner = jobs.Runner(settings.box.home)  # marks jobs a previous process left unfinished failed
    platform.reopen_interrupted()  # and the requests their approvals' jobs left `approving` pending again
    app.extensions["govcloud"]["jobs"] = runner

    @app.get("/<lang>/")
    @signed_page
    def overview(lang: str, who: authz.Principal) -> Response:  # with `apply` and its jobs for operators
        return page("overview.j2", lang, services=platform.services(),
                    jobs=[j.as_dict() for j in runner.recent(jobs.PLATFORM, 5)] if authz.may_apply(who) else [])

    @app.get("/<lang>/agencies")
    @signed_page
    def agencies_page(lang: str, who: authz.Principal) -> Response:
        records = [r for r in platform.agencies() if authz.may_see(who, r.slug)]
        return page("agencies.j2", lang, agencies=[agency_summary(r) for r in records])

    # --- API ------------------------------------------------------------------------------------
    def api_principal() -> authz.Principal:
        token = bearer_token(request.headers.get("Authorization"))
        if token is None:
            abort(problem(401, "unauthorised", "A bearer token of the box's identity provider is needed.",
                           {"WWW-Authenticate": REALM}))
        refused = problem(401, "invalid_token", "The token is not valid for the console.",
                          {"WWW-Authenticate": f'{REALM}, error="invalid_token"'})
        try:
            claims = verifier.bearer_claims(token)
        except Refused:
            abort(refused)
        if claims["client_id"] == settings.client_id:  # a person's, through the console's own client
            who = authz.principal(claims["sub"], claims.get("groups"), OPERATOR_GROUPS)
        else:  # a script's (client credentials) while the registry holds its client; any other client's: 401
            script = platform.script_client(claims["client_id"])
            if script is None:
                abort(refused)
            who = authz.script_principal(script.name, script.role, script.agency)
        if not who.has_standing:
            abort(problem(403, "forbidden", "Neither a directorate operator nor an agency member."))
        return who

    @app.get("/api/agencies")
    def api_agencies() -> Response:
        who = api_principal()
        return jsonify(agencies=[agency_summary(r) for r in platform.agencies() if authz.may_see(who, r.slug)])

    @app.get("/api/agencies/<slug>")
    def api_agency(slug: str) -> Response:
        return jsonify(agency_detail(platform.visible_agency(api_principal(), slug)))

    # --- onboarding requests and the audit log (pages and API: console/work.py) ----------------------
    views = work.Views(settings, platform, page, signed_page, api_principal)
    work.register(app, views, runner, operations.deploy_requested)
    # --- an agency's page with its credentials; usage, its history and the chargeback report ---------------
    credentials.register(app, credentials.Views(platform, page, signed_page, api_principal))
    rates = settings.box.spec.platform.services.console.chargeback
    usage.register(app, usage.Views(platform, sampler, page, signed_page, api_principal,
                                    rates.model_dump() if rates is not None else None))

    # --- apps, backups and the jobs that change them (console/apps_backups.py, console/jobs.py) ------------------
    apps_backups.register(app, views, runner)
    operations.register(app, views, runner)  # `apply` and restores as jobs
    # --- an agency's members and invitations (console/members.py) -------------------------------------
    members.register(app, views)

    @app.get("/api/openapi.json")
    def openapi() -> Response:
        return jsonify(document(settings.public_url))

    return app


def _exchange(settings: Settings, code: str, verifier: str) -> dict[str, Any]:
    """The code for tokens at the IdP's token endpoint (the client's secret, the PKCE verifier), over TLS checked
    against the box CA."""
    with requests.Session() as s:
        s.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
        resp = s.post(f"{settings.issuer}/oauth2/token", auth=(settings.client_id, settings.client_secret),
                      data={"grant_type": "authorization_code", "code": code, "redirect_uri": settings.redirect_uri,
                            "code_verifier": verifier}, verify=settings.ca_file, timeout=10)
    if resp.status_code != 200:
        raise ValueError(f"token endpoint: HTTP {resp.status_code}")
    answer: dict[str, Any] = resp.json()
    return answer
