"""An agency's page with its services' credentials (what `govcloud agency credentials SLUG` gives), pages and API
(registered by `app.create_app`). The secrets (`brokers.SECRET_KEYS`) are hidden; the agency's administrators and
the directorate's operators reveal them on request (a POST: the page's form with the session's CSRF token, or the
API), each reveal audited (`agency credentials`, `revealed`, actor `console:<subject>`; never the secret), answered
`Cache-Control: no-store`. A plain member sees the rest; another agency's slug answers 404 as an unknown one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Flask, jsonify, request, session
from werkzeug.wrappers import Response

from govcloud_platform.brokers import SECRET_KEYS, masked
from govcloud_platform.console import auditlog, authz, signin
from govcloud_platform.console.data import Platform, agency_detail
from govcloud_platform.console.texts import TEXTS
from govcloud_platform.console.work import problem
from govcloud_platform.state.registry import AgencyRecord

AUDIT_COMMAND = "agency credentials"


@dataclass(frozen=True)
class Views:
    platform: Platform
    page: Callable[..., Response]
    signed_page: Callable[[Callable[..., Response]], Callable[..., Response]]
    api_principal: Callable[[], authz.Principal]


def rows(doc: dict[str, dict[str, Any]] | None, revealed: bool) -> list[dict[str, Any]]:
    """The page's rows (service, key, value, whether it is a secret); a secret's value is None unless revealed."""
    found = []
    for service, creds in sorted((doc or {}).items()):
        for key, value in creds.items():
            secret = key in SECRET_KEYS
            shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            found.append({"service": service, "key": key, "secret": secret,
                          "value": shown if revealed or not secret else None})
    return found


def register(app: Flask, v: Views) -> None:
    def reveal(who: authz.Principal, slug: str) -> dict[str, dict[str, Any]] | None:
        doc = v.platform.credentials(slug)
        if doc is not None:
            v.platform.audit_event(AUDIT_COMMAND, slug, "revealed", f"console:{who.subject}",
                                   f"secrets of {', '.join(sorted(doc))} shown in the console")
        return doc

    def agency_view(lang: str, who: authz.Principal, record: AgencyRecord, revealed: bool, status: int = 200
                    ) -> Response:
        doc = reveal(who, record.slug) if revealed else v.platform.credentials(record.slug)
        recent = auditlog.of_agency(record.slug)  # after the reveal: its own entry is the newest
        entries, _ = v.platform.audit(recent, [record.slug])  # the audit log's reading (its `agency` filter)
        resp = v.page("agency.j2", lang, status, agency=agency_detail(record), credentials=rows(doc, revealed),
                      ready=doc is not None, may_reveal=authz.may_act(who, record.slug), revealed=revealed,
                      audit_entries=entries, audit_query=urlencode(recent.as_args()))
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.get("/<lang>/agencies/<slug>")
    @v.signed_page
    def agency_page(lang: str, who: authz.Principal, slug: str) -> Response:
        return agency_view(lang, who, v.platform.visible_agency(who, slug), revealed=False)

    @app.post("/<lang>/agencies/<slug>/credentials/reveal")
    @v.signed_page
    def reveal_page(lang: str, who: authz.Principal, slug: str) -> Response:
        record = v.platform.visible_agency(who, slug)
        if not signin.csrf_matches(session.get("csrf"), request.form.get("csrf")):
            return v.page("message.j2", lang, 400, heading=TEXTS[lang]["refused"], text=TEXTS[lang]["csrf_failed"])
        if not authz.may_act(who, slug):
            return v.page("message.j2", lang, 403, heading=TEXTS[lang]["forbidden"],
                          text=TEXTS[lang]["secrets_admins_only"])
        return agency_view(lang, who, record, revealed=True)

    @app.get("/api/agencies/<slug>/credentials")
    def api_credentials(slug: str) -> Response:
        """The credentials with every secret masked: anyone who sees the agency."""
        v.platform.visible_agency(v.api_principal(), slug)
        doc = v.platform.credentials(slug)
        if doc is None:
            return problem(409, "conflict", f"The agency {slug} is not ready: it has no credentials yet.")
        return jsonify(slug=slug, credentials=masked(doc))

    @app.post("/api/agencies/<slug>/credentials/reveal")
    def api_reveal(slug: str) -> Response:
        who = v.api_principal()
        v.platform.visible_agency(who, slug)
        if not authz.may_act(who, slug):
            return problem(403, "forbidden", "Only the agency's administrators and operators reveal its secrets.")
        doc = reveal(who, slug)
        if doc is None:
            return problem(409, "conflict", f"The agency {slug} is not ready: it has no credentials yet.")
        resp = jsonify(slug=slug, credentials=doc)
        resp.headers["Cache-Control"] = "no-store"
        return resp
