""""Send me a code" (`/<lang>/track/code/`): the citizen types the reference; when the application has an
e-mail, a new one-time code is issued and queued for mailing (`centre_core.outbox.request_code`, one
transaction). The page answers the same whether the reference exists, has an e-mail, or has had its codes for
the hour (3), so it tells nothing about references and cannot flood a mailbox; only a reference that is not one
at all (its shape or check symbol, no database) is told apart, so that a typing mistake can be fixed. Each client
(its address) may ask 10 times an hour (then 429 with Retry-After). Without the mail service the page says the
office sends no codes. The codes staff hand out (`centre_issue_code`) are unchanged.

With an SMS provider, a code goes by text message to the application's mobile number when it has one (else by
e-mail), and the page then says so with the number's last two digits only (`outbox.request_code`)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from centre_core import outbox, references

from . import runtime
from .texts import t


@require_http_methods(["GET", "POST"])
def send_code(request: HttpRequest) -> HttpResponse:
    page = {"title": t("send_code"), "typed": "", "errors": [], "field_errors": {},
            "off": not runtime.channels(), "sms": runtime.sms() is not None, "asked": False, "digits": ""}
    if request.method == "GET":
        asked = request.session.pop("code_asked", False)
        page["asked"] = bool(asked)
        page["digits"] = asked if isinstance(asked, str) and asked.isdigit() else ""
        return render(request, "centre_web/send_code.html", page)
    if page["off"]:
        return render(request, "centre_web/send_code.html", page, status=400)
    typed = str(request.POST.get("reference", ""))[:40]
    page["typed"] = typed
    if references.normalise(typed) is None:
        page["errors"] = [("#reference", t("err_reference"))]
        page["field_errors"] = {"reference": t("err_reference")}
        return render(request, "centre_web/send_code.html", page, status=400)
    client = runtime.client_address(request)
    allowed, wait, digits = outbox.request_code(runtime.connection(), runtime.tracking_key(), typed, client,
                                                runtime.now(), runtime.channels())
    if not allowed:
        message = t("err_send_code_too_many", minutes=(wait + 59) // 60)
        page["errors"] = [("#reference", message)]
        page["field_errors"] = {"reference": message}
        response = render(request, "centre_web/send_code.html", page, status=429)
        response["Retry-After"] = str(wait)
        return response
    request.session["code_asked"] = digits or True
    return HttpResponseRedirect(reverse("send-code"))
