"""Signed certificates (issue 16, item 1) on the web side: issuing one when an application closes with an issuing
outcome (`after_act`, called where staff act: the staff pages and `POST /api/tasks/...`; the timers' job issues
what is still `due`), the public verification page `/<lang>/verify/<id>`, the citizen's download
`/<lang>/certificate/<reference>?code=<access code>` and revocation (staff pages and `POST
/api/applications/<ref>/certificate/revoke`).

Issuing: the HTML (`centre_core.certificates`) -> PDF (WeasyPrint) -> signed by the platform (`signer()`: the HTTP
client of the platform's signing service, or the tests' stand-in set in `OVERRIDE`) -> the agency's bucket (or
the database, for a centre without one) -> the row and its audit entry. A failure to sign leaves nothing
written: the application stays `due` and the status page says the certificate is being prepared."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from centre_core import certificate_pdf, certificate_store, references, store, throttle
from centre_core import certificates as core
from centre_core.errors import NotFound
from centre_core.signing import HttpSigner, Signer, SigningError
from centre_core.tracking import Outcome

from . import runtime, tracked
from .texts import lang, t

log = logging.getLogger("centre.certificates")
OVERRIDE: Signer | None = None  # tests only: a stand-in for the platform's signing service


def signer() -> Signer | None:
    if OVERRIDE is not None:
        return OVERRIDE
    if not settings.CENTRE_SIGNING_URL or not settings.CENTRE_SIGNING_SECRET_FILE:
        return None
    return HttpSigner(settings.CENTRE_SIGNING_URL, settings.CENTRE_SIGNING_SECRET_FILE,
                      settings.CENTRE_SIGNING_TLS_CA_FILE or None)


def facts(reference: str, certificate_id: str) -> core.Facts:
    """What the application's certificate says (the catalogue's names, the answers but contact details)."""
    conn = runtime.connection()
    service_id, outcome, _, answers, _ = certificate_store.application_facts(conn, reference)
    loaded = runtime.loaded()
    service = loaded.catalogue.service(service_id)
    seen = store.view(conn, reference)
    _, _, outcome_names = tracked.described(seen)
    questions = [(q.id, q.kind, {"en": str(q.label.en), "ur": str(q.label.ur)})
                 for q in (service.questions if service else ())]
    name = {"en": str(service.name.en), "ur": str(service.name.ur)} if service else {"en": service_id,
                                                                                       "ur": service_id}
    office = {"en": str(service.office.name.en), "ur": str(service.office.name.ur)} if service else {}
    return core.Facts(certificate_id, references.display(reference), settings.AGENCY_NAME, name,
                      outcome_names or {"en": str(outcome), "ur": str(outcome)}, runtime.now(),
                      core.verify_url(settings.PUBLIC_URL, certificate_id),
                      core.shown_answers(questions, answers), office)


def issue(reference: str) -> certificate_store.Stored | None:
    """Render, sign, keep and record the certificate of a closed application; the one it has if any. None when
    the signing service is not set or did not sign (it stays due)."""
    conn = runtime.connection()
    found = certificate_store.of_reference(conn, reference)
    if found is not None:
        return found
    service_id, outcome, status, _, _ = certificate_store.application_facts(conn, reference)
    if not core.issues_certificate(status, outcome):
        return None
    sign = signer()
    if sign is None:
        log.warning("a certificate waits: no signing service is set (SIGNING_URL)")
        return None
    certificate_id = core.new_id()
    pdf = certificate_pdf.render_pdf(core.render_html(facts(reference, certificate_id)))
    try:
        signed = sign.sign(pdf)
    except SigningError as error:
        log.warning("a certificate waits: %s", error)
        return None
    digest = hashlib.sha256(signed).hexdigest()
    bucket = runtime.bucket()
    key = core.object_key(certificate_id) if bucket is not None else None
    if bucket is not None and key is not None:
        bucket.put(key, signed, "application/pdf", digest)
    certificate_store.record(conn, reference, certificate_id, digest, len(signed), key,
                             None if key else signed, runtime.now())
    return certificate_store.of_reference(conn, reference)


def after_act(reference: str, status: str | None, outcome: str | None) -> None:
    """Called after a staff action: an application that just closed with an issuing outcome gets its certificate
    now (a failure is logged; the timers' job tries again)."""
    if status != "closed" or outcome not in core.ISSUING_OUTCOMES:
        return
    try:
        issue(reference)
    except Exception as exc:  # noqa: BLE001 - the action is done; the certificate follows from the timers' job
        log.warning("a certificate waits: %s", type(exc).__name__)


def issue_due(limit: int = 50) -> int:
    """The timers' job: issue what is due; how many were issued."""
    done = 0
    for reference in certificate_store.due(runtime.connection(), limit):
        if issue(reference) is not None:
            done += 1
    return done


def pdf_bytes(found: certificate_store.Stored) -> bytes:
    if found.object_key:
        bucket = runtime.bucket()
        if bucket is None:
            raise NotFound("the agency's bucket is not set")
        return bucket.get(found.object_key)
    pdf = certificate_store.pdf_of(runtime.connection(), found.certificate_id)
    if pdf is None:
        raise NotFound("no PDF")
    return pdf


def public_status(found: certificate_store.Stored) -> core.PublicStatus:
    service = runtime.loaded().catalogue.service(found.service_id)
    name = {"en": str(service.name.en), "ur": str(service.name.ur)} if service else {"en": found.service_id,
                                                                                       "ur": found.service_id}
    zone = runtime.calendar().zone
    return core.PublicStatus(found.certificate_id, name, settings.AGENCY_NAME,
                             found.issued_at.astimezone(zone).date().isoformat(),
                             found.revoked_at.astimezone(zone).date().isoformat() if found.revoked_at else None,
                             found.revocation_reason)


@require_http_methods(["GET", "HEAD"])
def verify(request: HttpRequest, certificate_id: str) -> HttpResponse:
    """The public page the QR code leads to: valid or revoked, what, by whom, when; nothing else."""
    parsed = core.parse_id(certificate_id)
    found = certificate_store.by_id(runtime.connection(), parsed) if parsed else None
    if found is None:
        return render(request, "centre_web/verify.html", {"title": t("verify_unknown_title"), "found": None},
                      status=404)
    shown = public_status(found)
    return render(request, "centre_web/verify.html", {
        "title": t("verify_title"), "found": shown, "service": shown.service[lang()],
        "reason": t(f"reason_{shown.reason}") if shown.reason else None})


@require_http_methods(["GET"])
def download(request: HttpRequest, reference: str) -> HttpResponse:
    """The signed PDF, for whoever has the application's access code (`?code=`: the tracking code, used up as on
    the tracking page; this browser may then read it, and the status, for 30 minutes) or tracks it in this
    browser's session. Anything else, an unknown reference included, is the same 404."""
    canonical = references.normalise(reference)
    if canonical is None:
        raise Http404
    code = str(request.GET.get("code", ""))[:40]
    if code:
        client = throttle.client_key(runtime.tracking_key(), runtime.client_address(request))
        allowed, wait = store.client_attempt(runtime.connection(), client, runtime.now())
        if not allowed:
            response = HttpResponse(status=429)
            response["Retry-After"] = str(wait)
            return response
        outcome, _ = store.track(runtime.connection(), runtime.tracking_key(), canonical, code, runtime.now())
        if outcome is not Outcome.OK:
            raise Http404
        tracked.remember(request, canonical)
    elif tracked.reference(request) != canonical:
        raise Http404
    found = certificate_store.of_reference(runtime.connection(), canonical)
    if found is None:
        raise Http404
    try:
        body = pdf_bytes(found)
    except NotFound:
        raise Http404 from None
    if hashlib.sha256(body).hexdigest() != found.sha256:
        log.error("a certificate's PDF does not match its recorded hash")
        raise Http404
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="certificate-{canonical}.pdf"'
    return response


def status_context(reference: str) -> dict[str, Any]:
    """The status page's part: the download link once issued, or "being prepared"."""
    seen = certificate_store.of_reference(runtime.connection(), reference)
    if seen is not None:
        return {"certificate": {"url": reverse("certificate", args=[reference]),
                                "verify": reverse("verify", args=[seen.certificate_id]),
                                "revoked": seen.revoked_at is not None}}
    service_id, outcome, status, _, _ = certificate_store.application_facts(runtime.connection(), reference)
    return {"certificate_pending": core.issues_certificate(status, outcome)}


def certificate_json(reference: str) -> dict[str, Any] | None:
    """The API's `certificate` of an application: None until issued."""
    found = certificate_store.of_reference(runtime.connection(), reference)
    if found is None:
        return None
    return {"id": found.certificate_id, "verifyUrl": core.verify_url(settings.PUBLIC_URL, found.certificate_id),
            "path": f"/en/certificate/{reference}", "revoked": found.revoked_at is not None}


def revoke(reference: str, reason: str, note: str, actor: str) -> certificate_store.Stored:
    """Staff revoke (ValueError: not a reason; ActionError: already revoked; NotFound: no certificate)."""
    return certificate_store.revoke(runtime.connection(), reference, reason, note, actor, runtime.now())
