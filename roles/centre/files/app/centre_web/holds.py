"""A legal hold from the staff pages: a supervisor (a member of the desk `supervisor` or `<x>_supervisor`,
`desks.is_supervisor`) puts an application they can see on hold, or releases it, with a reason; the retention
round then deletes none of its documents and erases none of its data until released (`retention_store.hold`).
The operator does the same with `manage.py centre_legal_hold`."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from centre_core import desks, retention_store
from centre_core.errors import NotFound

from . import runtime
from .desk import Me, _file_page, _gone, _message, opened, page
from .texts import t


@page("POST")
def hold(request: HttpRequest, me: Me, reference: str) -> HttpResponse:
    conn = runtime.connection()
    try:
        canonical, _ = opened(me, reference)  # only an application of the member's desks
        if not desks.is_supervisor(me.desks):
            return _message(request, "staff_forbidden", "hold_not_supervisor", 403,
                            here=reverse("staff-file", args=[canonical]))
        reason = request.POST.get("reason", "").strip()
        if not reason or len(reason) > retention_store.MAX_HOLD_REASON:
            return _file_page(request, me, canonical, hold_error=t(
                "hold_reason_needed", n=retention_store.MAX_HOLD_REASON), status=400)
        change = retention_store.release if request.POST.get("do") == "release" else retention_store.hold
        change(conn, canonical, me.actor, reason, runtime.now())
    except NotFound:
        return _gone(request)
    return HttpResponseRedirect(reverse("staff-file", args=[canonical]) + "#legal-hold")
