"""An agency's members, pages and API (registered by `app.create_app`): the list (every member of the agency sees
it), invitations by e-mail, role changes and removals (its administrators and the operators; 403 for a plain member,
404 for anyone who may not see the agency, exactly as an unknown slug), and the invitation's page, reached without
signing in through the mailed link. Views only fetch (`staff.Staff`), decide (`membership`, `authz`) and answer."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, abort, jsonify, redirect, request, session
from werkzeug.wrappers import Response

from govcloud_platform.console import authz, membership, signin
from govcloud_platform.console.members_texts import MEMBER_TEXTS
from govcloud_platform.console.staff import MailFailed, Staff
from govcloud_platform.console.texts import TEXTS
from govcloud_platform.console.work import Views, problem
from govcloud_platform.errors import ConflictError, GovCloudError
from govcloud_platform.state.invitations import Invitation
from govcloud_platform.state.registry import AgencyRecord


class RedactJoinLinks(logging.Filter):
    """gunicorn's access log without the query string of the invitation's page (`/<lang>/join?t=<token>`): the
    token opens an account, so no log may hold it (nginx logs nothing of that location)."""

    def filter(self, record: logging.LogRecord) -> bool:
        atoms = record.args
        if isinstance(atoms, dict) and str(atoms.get("U", "")).endswith("/join"):
            atoms["r"] = f"{atoms.get('m', '')} {atoms.get('U', '')} {atoms.get('H', '')}"
            atoms["q"] = ""
        return True


def register(app: Flask, v: Views) -> None:
    staff = Staff(v.settings.box)

    def member_of(slug: str, login: str) -> tuple[membership.Member, list[membership.Member]]:
        members = staff.members(slug)
        found = next((m for m in members if m.login == login), None)
        if found is None:
            abort(404)
        return found, members

    def invitation_of(slug: str, raw_id: str) -> Invitation:
        found = staff.invitation(slug, int(raw_id)) if raw_id.isascii() and raw_id.isdigit() else None
        if found is None:
            abort(404)  # unknown, or another agency's
        return found

    def link_base(lang: str) -> str:
        return f"{v.settings.public_url}/{lang}/join?t="

    def now() -> str:
        return membership.stamp(dt.datetime.now(dt.UTC))

    # --- pages ------------------------------------------------------------------------------------
    def members_page(lang: str, who: authz.Principal, record: AgencyRecord, status: int = 200,
                     **values: Any) -> Response:
        return v.page("members.j2", lang, status, agency=record, m=MEMBER_TEXTS[lang],
                      members=[x.as_dict() for x in staff.members(record.slug)],
                      invitations=[i.as_dict() for i in staff.invitations(record.slug)
                                   if membership.invitation_status(i.state, i.expires_at, now()) == "usable"],
                      manages=authz.may_act(who, record.slug), roles=membership.ROLES,
                      **{"error": None, "notice": None, "values": {"role": membership.MEMBER}, **values})

    def refused(lang: str, status: int, text: str) -> Response:
        return v.page("message.j2", lang, status, heading=TEXTS[lang]["refused"], text=text)

    def form_checked(lang: str) -> Response | None:
        if signin.csrf_matches(session.get("csrf"), request.form.get("csrf")):
            return None
        return refused(lang, 400, TEXTS[lang]["csrf_failed"])

    def managing(view: Callable[..., Response]) -> Callable[..., Response]:
        """A change's page (a POST form, under `signed_page`), called with the agency's record once its checks
        pass, in order: 404 (not the principal's), the CSRF token (400), 403 (a plain member)."""
        @functools.wraps(view)
        def checked(lang: str, who: authz.Principal, slug: str, **values: Any) -> Response:
            record = v.platform.visible_agency(who, slug)
            bad = form_checked(lang)
            if bad is not None:
                return bad
            if not authz.may_act(who, slug):
                return refused(lang, 403, MEMBER_TEXTS[lang]["forbidden"])
            return view(lang, who, record, **values)

        return checked

    @app.get("/<lang>/agencies/<slug>/members")
    @v.signed_page
    def members_view(lang: str, who: authz.Principal, slug: str) -> Response:
        return members_page(lang, who, v.platform.visible_agency(who, slug),
                            notice=MEMBER_TEXTS[lang]["sent"] if request.args.get("sent") == "1" else None)

    @app.post("/<lang>/agencies/<slug>/invitations")
    @v.signed_page
    @managing
    def invite_page(lang: str, who: authz.Principal, record: AgencyRecord) -> Response:
        slug = record.slug
        email, role = request.form.get("email", "").strip(), request.form.get("role", "")
        why = membership.email_problem(email) or (None if membership.check_role(role) else "no such role")
        values = {"email": email, "role": role}
        if why:
            return members_page(lang, who, record, 400, error=why, values=values)
        try:
            staff.invite(record, email, role, who.subject, f"console:{who.subject}", link_base(lang))
        except ConflictError as exc:
            return members_page(lang, who, record, 409, error=str(exc), values=values)
        except MailFailed as exc:
            return members_page(lang, who, record, 502, error=str(exc), values=values)
        return redirect(f"/{lang}/agencies/{slug}/members?sent=1", 303)

    @app.post("/<lang>/agencies/<slug>/invitations/<invitation_id>/revoke")
    @v.signed_page
    @managing
    def revoke_page(lang: str, who: authz.Principal, record: AgencyRecord, invitation_id: str) -> Response:
        slug = record.slug
        staff.revoke(slug, invitation_of(slug, invitation_id).id, f"console:{who.subject}")
        return redirect(f"/{lang}/agencies/{slug}/members", 303)

    @app.post("/<lang>/agencies/<slug>/invitations/<invitation_id>/resend")
    @v.signed_page
    @managing
    def resend_page(lang: str, who: authz.Principal, record: AgencyRecord, invitation_id: str) -> Response:
        found = invitation_of(record.slug, invitation_id)
        try:
            staff.resend(record, found, who.subject, f"console:{who.subject}", link_base(lang))
        except ConflictError as exc:
            return members_page(lang, who, record, 409, error=str(exc))
        except MailFailed as exc:
            return members_page(lang, who, record, 502, error=str(exc))
        return redirect(f"/{lang}/agencies/{record.slug}/members?sent=1", 303)

    @app.post("/<lang>/agencies/<slug>/members/<login>/role")
    @v.signed_page
    @managing
    def role_page(lang: str, who: authz.Principal, record: AgencyRecord, login: str) -> Response:
        slug = record.slug
        _, members = member_of(slug, login)
        role = membership.check_role(request.form.get("role"))
        why = membership.change_problem(slug, login, role, members) if role else "no such role"
        if why:
            return members_page(lang, who, record, 409 if role else 400, error=why)
        assert role is not None
        staff.set_role(slug, login, role, f"console:{who.subject}")
        return redirect(f"/{lang}/agencies/{slug}/members", 303)

    @app.post("/<lang>/agencies/<slug>/members/<login>/remove")
    @v.signed_page
    @managing
    def remove_page(lang: str, who: authz.Principal, record: AgencyRecord, login: str) -> Response:
        slug = record.slug
        _, members = member_of(slug, login)
        why = membership.removal_problem(slug, login, members)
        if why:
            return members_page(lang, who, record, 409, error=why)
        staff.remove(slug, login, f"console:{who.subject}")
        return redirect(f"/{lang}/agencies/{slug}/members", 303)

    # --- the invitation's page (no sign-in: the link's token is the proof) --------------------------
    def join_page(lang: str, invitation: Invitation | None, status: int = 200, **values: Any) -> Response:
        m = MEMBER_TEXTS[lang]
        state = "unknown" if invitation is None else \
            membership.invitation_status(invitation.state, invitation.expires_at, now())
        if state != "usable":
            return v.page("message.j2", lang, 404 if state == "unknown" else 410, heading=m["invitation"],
                          text=m[f"link_{state}"])
        assert invitation is not None
        record = v.platform.agency(invitation.agency)
        if not isinstance(session.get("csrf"), str):
            session["csrf"] = signin.new_csrf()
        return v.page("join.j2", lang, status, m=m, invitation=invitation.as_dict(),
                      agency_name=record.name if record else invitation.agency,
                      token=request.values.get("t", ""),
                      **{"error": None, "values": {}, **values})

    @app.get("/<lang>/join")
    def join_view(lang: str) -> Response:
        if lang not in MEMBER_TEXTS:
            abort(404)
        return join_page(lang, staff.by_token(request.args.get("t", "")))

    @app.post("/<lang>/join")
    def join_post(lang: str) -> Response:
        if lang not in MEMBER_TEXTS:
            abort(404)
        m = MEMBER_TEXTS[lang]
        invitation = staff.by_token(request.form.get("t", ""))
        if not signin.csrf_matches(session.get("csrf"), request.form.get("csrf")):
            return refused(lang, 400, TEXTS[lang]["csrf_failed"])
        if invitation is None or membership.invitation_status(invitation.state, invitation.expires_at,
                                                              now()) != "usable":
            return join_page(lang, invitation)
        local, name = request.form.get("login", "").strip(), request.form.get("name", "").strip()[:120]
        login, why = membership.new_login(invitation.agency, local)
        why = why or membership.password_problem(request.form.get("password"), request.form.get("repeat"), local)
        values = {"login": local, "name": name}
        if why:
            return join_page(lang, invitation, 400, error=why, values=values)
        try:
            outcome = staff.accept(invitation, login, str(request.form.get("password")), name)
        except GovCloudError as exc:
            return join_page(lang, invitation, 502, error=str(exc), values=values)
        if outcome == "taken":
            return join_page(lang, invitation, 409, error=m["login_taken"], values=values)
        if outcome == "gone":
            return join_page(lang, staff.by_token(request.form.get("t", "")))
        return v.page("message.j2", lang, 201, heading=m["joined"], text=m["joined_text"].format(login=login),
                      signin_link=True)

    # --- API --------------------------------------------------------------------------------------
    def api_managing(view: Callable[..., Response]) -> Callable[..., Response]:
        """A change through the API, called with the principal and the agency's record once its checks pass:
        401 (no token), 404 (not the principal's), 403 (a plain member)."""
        @functools.wraps(view)
        def checked(slug: str, **values: Any) -> Response:
            who = v.api_principal()
            record = v.platform.visible_agency(who, slug)
            if not authz.may_act(who, slug):
                return problem(403, "forbidden",
                               "Only the agency's administrators and the operators change its members.")
            return view(who, record, **values)

        return checked

    @app.get("/api/agencies/<slug>/members")
    def api_members(slug: str) -> Response:
        who = v.api_principal()
        v.platform.visible_agency(who, slug)
        return jsonify(members=[x.as_dict() for x in staff.members(slug)])

    @app.post("/api/agencies/<slug>/members/<login>/role")
    @api_managing
    def api_role(who: authz.Principal, record: AgencyRecord, login: str) -> Response:
        slug = record.slug
        _, members = member_of(slug, login)
        body = request.get_json(silent=True)
        role = membership.check_role(body.get("role") if isinstance(body, dict) else None)
        if role is None:
            return problem(400, "invalid", f"role: one of {', '.join(membership.ROLES)}")
        why = membership.change_problem(slug, login, role, members)
        if why:
            return problem(409, "conflict", why)
        staff.set_role(slug, login, role, f"console:{who.subject}")
        changed, _ = member_of(slug, login)
        return jsonify(changed.as_dict())

    @app.delete("/api/agencies/<slug>/members/<login>")
    @api_managing
    def api_remove(who: authz.Principal, record: AgencyRecord, login: str) -> Response:
        slug = record.slug
        _, members = member_of(slug, login)
        why = membership.removal_problem(slug, login, members)
        if why:
            return problem(409, "conflict", why)
        staff.remove(slug, login, f"console:{who.subject}")
        return Response(status=204)

    @app.get("/api/agencies/<slug>/invitations")
    def api_invitations(slug: str) -> Response:
        who = v.api_principal()
        v.platform.visible_agency(who, slug)
        if not authz.may_act(who, slug):
            return problem(403, "forbidden", "Only the agency's administrators and the operators see its invitations.")
        return jsonify(invitations=[i.as_dict() for i in staff.invitations(slug)])

    @app.post("/api/agencies/<slug>/invitations")
    @api_managing
    def api_invite(who: authz.Principal, record: AgencyRecord) -> Response:
        body = request.get_json(silent=True)
        body = body if isinstance(body, dict) else {}
        email, role = body.get("email"), body.get("role", membership.MEMBER)
        lang = body.get("lang", "en") if body.get("lang") in MEMBER_TEXTS else "en"
        why = membership.email_problem(email) or (None if membership.check_role(role) else
                                                  f"role: one of {', '.join(membership.ROLES)}")
        if why:
            return problem(400, "invalid", why)
        assert isinstance(email, str) and isinstance(role, str)
        try:
            made = staff.invite(record, email.strip(), role, who.subject, f"console:{who.subject}", link_base(lang))
        except ConflictError as exc:
            return problem(409, "conflict", str(exc))
        except MailFailed as exc:
            return problem(502, "mail_failed", str(exc))
        resp = jsonify(made.as_dict())
        resp.status_code = 201
        return resp

    @app.delete("/api/agencies/<slug>/invitations/<invitation_id>")
    @api_managing
    def api_revoke(who: authz.Principal, record: AgencyRecord, invitation_id: str) -> Response:
        slug = record.slug
        invitation = invitation_of(slug, invitation_id)
        if not staff.revoke(slug, invitation.id, f"console:{who.subject}"):
            return problem(409, "conflict", f"The invitation was {invitation.state} already.")
        return Response(status=204)

    @app.post("/api/agencies/<slug>/invitations/<invitation_id>/resend")
    @api_managing
    def api_resend(who: authz.Principal, record: AgencyRecord, invitation_id: str) -> Response:
        found = invitation_of(record.slug, invitation_id)
        body = request.get_json(silent=True)
        lang = body.get("lang") if isinstance(body, dict) and body.get("lang") in MEMBER_TEXTS else "en"
        try:
            made = staff.resend(record, found, who.subject, f"console:{who.subject}", link_base(str(lang)))
        except ConflictError as exc:
            return problem(409, "conflict", str(exc))
        except MailFailed as exc:
            return problem(502, "mail_failed", str(exc))
        return jsonify(made.as_dict())
