"""Revoking a certificate (issue 16, item 1): a supervisor (`desks.is_supervisor`) of the desks that see the
application, from the staff pages (`/<lang>/staff/applications/<ref>/certificate/`) or the API (`POST
/api/applications/<ref>/certificate/revoke`, a staff token). A reason's category (public) and a note (the audit
trail only) are asked for; the public page then says revoked, with the date and the category."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from centre_core import certificate_store, desk_store, desks, references
from centre_core import certificates as core
from centre_core.errors import ActionError, NotFound

from . import certificates, runtime
from .api import _json, _staff, endpoint
from .api_rules import MAX_BODY, Problem, check_json_request, content_length, json_object
from .desk import Me, _gone, _message, _render, page
from .texts import t

MAX_NOTE = 500


def _form_page(request: HttpRequest, me: Me, reference: str, error: tuple[str, str] | None = None,
               status: int = 200) -> HttpResponse:
    found = certificate_store.of_reference(runtime.connection(), reference)
    return _render(request, "centre_web/staff/certificate.html", {
        "title": t("cert_staff_title", display=references.display(reference)), "reference": reference,
        "found": certificates.public_status(found) if found else None,
        "reasons": [(r, t(f"reason_{r}")) for r in core.REVOCATION_REASONS],
        "supervisor": desks.is_supervisor(me.desks), "errors": [error] if error else [],
        "error_on": error[0] if error else None, "error": error[1] if error else None}, status,
        reverse("staff-certificate", args=[reference]))


@page("GET", "POST")
def certificate(request: HttpRequest, me: Me, reference: str) -> HttpResponse:
    canonical = references.normalise(reference)
    conn = runtime.connection()
    try:
        if canonical is None:
            raise NotFound("not a reference")
        desk_store.file(conn, canonical, me.desks)  # only an application of the member's desks
        if request.method == "GET":
            return _form_page(request, me, canonical)
        if not desks.is_supervisor(me.desks):
            return _message(request, "staff_forbidden", "cert_not_supervisor", 403,
                            here=reverse("staff-file", args=[canonical]))
        reason = str(request.POST.get("reason", ""))
        note = str(request.POST.get("note", "")).strip()
        if reason not in core.REVOCATION_REASONS:
            return _form_page(request, me, canonical, ("#reason-" + core.REVOCATION_REASONS[0],
                                                       t("cert_err_reason")), 400)
        if not note or len(note) > MAX_NOTE:
            return _form_page(request, me, canonical, ("#note", t("cert_err_note")), 400)
        certificates.revoke(canonical, reason, note, me.actor)
    except ActionError:
        return _form_page(request, me, str(canonical), ("#reason-" + core.REVOCATION_REASONS[0],
                                                        t("cert_already")), 409)
    except NotFound:
        return _gone(request)
    return HttpResponseRedirect(reverse("staff-certificate", args=[canonical]))


@endpoint("POST")
def revoke(request: HttpRequest, reference: str) -> HttpResponse:
    """`{"reason": <category>, "note": <text>}` -> 200 `{certificate, reference, revokedAt, reason, verifyUrl}`;
    401/403 (no token; not a supervisor), 404 (not the caller's desks' application, or no certificate), 409
    (already revoked), 400 (reason or note)."""
    who = _staff(request)
    check_json_request(request.META.get("CONTENT_TYPE"), content_length(request.META.get("CONTENT_LENGTH")))
    body = json_object(request.read(MAX_BODY + 1))
    canonical = references.normalise(reference)
    conn = runtime.connection()
    try:
        if canonical is None:
            raise NotFound("not a reference")
        desk_store.file(conn, canonical, who.desks)
    except NotFound:
        raise Problem(404, "not_found", "No such application at your desks.") from None
    if not desks.is_supervisor(frozenset(who.desks)):
        raise Problem(403, "forbidden", "Only a supervisor may revoke a certificate.")
    reason, note = body.get("reason"), body.get("note")
    if reason not in core.REVOCATION_REASONS:
        raise Problem(400, "invalid", f"reason is one of {', '.join(core.REVOCATION_REASONS)}.", field="reason")
    if not isinstance(note, str) or not note.strip() or len(note) > MAX_NOTE:
        raise Problem(400, "invalid", f"note: a text of 1-{MAX_NOTE} characters for the audit trail.", field="note")
    try:
        done = certificates.revoke(canonical, str(reason), note.strip(), f"staff:{who.subject}")
    except ActionError:
        raise Problem(409, "conflict", "The certificate is already revoked.") from None
    except NotFound:
        raise Problem(404, "not_found", "This application has no certificate.") from None
    from django.conf import settings

    return _json({"certificate": done.certificate_id, "reference": canonical,
                  "revokedAt": done.revoked_at.isoformat() if done.revoked_at else None, "reason": reason,
                  "verifyUrl": core.verify_url(settings.PUBLIC_URL, done.certificate_id)})

