"""E-payments on the web side: the bill on the citizen's status page with its Pay button, the way to the provider's
page and back, the printable signed receipt; the staff's counter payment and daily reconciliation (CSV); the
GovStack-style bill payment API (inquiry, pay/confirm) and the provider's notification endpoint under `/api/`.

The citizen's return from the provider shows what the provider's signed notification did; it never marks a bill
paid (anyone can open a return URL). Only two things pay a bill: an authentic, fresh, unseen notification
(`POST /api/payments/notify`) or a staff member (counter page, or `POST /api/bills/<ref>/payments` with a token)."""

from __future__ import annotations

import csv
import io
import logging
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import get_language
from django.views.decorators.http import require_http_methods

from centre_core import payments, payments_store, references, store
from centre_core.catalogue import Service
from centre_core.payments import Channel, Checkout, Refused

from . import api, desk, payment_provider, receipts, runtime, tracked
from .api_rules import Problem, check_json_request, content_length, json_object
from .middleware import CSP
from .texts import t

log = logging.getLogger(__name__)


def _public(path: str) -> str:
    return settings.PUBLIC_URL.rstrip("/") + path


def _sign(claims: dict[str, Any]) -> str:
    signer = receipts.signer()
    if signer is None:
        raise Refused("payments_off", "This centre takes no payments (no receipt key).")
    return signer.sign(claims)


def _provider() -> payments.PaymentProvider | None:
    conf = runtime.payments()
    return payment_provider.provider_of(conf) if conf.get("url") and conf.get("secret") else None


def bill_part(seen: store.Tracked, service: Service | None) -> dict[str, Any]:
    """The status page's bill (made now when the application owes its fee and has none), or nothing."""
    if receipts.signer() is None or not payments_store.bill_due(service, seen):
        return {}
    assert service is not None
    bill = payments_store.ensure_bill(runtime.connection(), seen.reference, service, runtime.now())
    return {"bill": {"ref": references.display(bill.bill_ref), "raw": bill.bill_ref,
                     "amount": payments.amount_text(bill.amount_minor, bill.currency), "currency": bill.currency,
                     "state": bill.state.value, "state_text": t(f"pay_state_{bill.state.value}")},
            "pay_online": bill.state is payments.BillState.OPEN and _provider() is not None}


def with_provider_csp(response: HttpResponse) -> HttpResponse:
    """The status page's form posts here and is redirected to the provider: form-action must allow its origin."""
    url = runtime.payments().get("url")
    if url:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        response["Content-Security-Policy"] = CSP.replace("form-action 'self'",
                                                          f"form-action 'self' {parts.scheme}://{parts.netloc}")
    return response


@require_http_methods(["POST"])
def start(request: HttpRequest) -> HttpResponse:
    """The Pay button: the tracked application's open bill sent to the provider, the citizen redirected there."""
    reference = tracked.reference(request)
    if reference is None:
        return HttpResponseRedirect(reverse("track"))
    bill = payments_store.bill_of_application(runtime.connection(), reference)
    provider = _provider()
    if bill is None or bill.state is not payments.BillState.OPEN or provider is None:
        return HttpResponseRedirect(reverse("status"))
    service = runtime.loaded().catalogue.service(bill.service_id)
    language = "ur" if get_language() == "ur" else "en"
    try:
        url = provider.start(Checkout(
            bill.bill_ref, bill.amount_minor, bill.currency,
            getattr(service.name, language) if service else bill.service_id,
            _public(reverse("pay-return", args=[bill.bill_ref])), _public("/api/payments/notify")))
    except Refused as refused:
        log.warning("payments: the provider refused a checkout (%s)", refused.code)
        return _page(request, "centre_web/pay_return.html", {"title": t("pay_return_title"),
                                                             "message": t("pay_unavailable")}, 502)
    return HttpResponseRedirect(url)


def returned(request: HttpRequest, bill_ref: str) -> HttpResponse:
    """Where the provider sends the citizen back: what the notification did (paid, or not confirmed yet)."""
    found = _bill_or_none(bill_ref)
    if found is None:
        return _page(request, "centre_web/not_found.html", {"title": t("receipt_title")}, 404)
    paid = found.state is payments.BillState.PAID
    return _page(request, "centre_web/pay_return.html", {
        "title": t("pay_return_title"), "paid": paid,
        "message": t("pay_return_paid") if paid else t("pay_return_waiting"),
        "receipt_url": reverse("receipt", args=[found.bill_ref]) if paid else None})


def receipt(request: HttpRequest, bill_ref: str) -> HttpResponse:
    """The printable receipt of a paid bill: what was paid, when, how, and the agency's signature (JWS)."""
    found = _bill_or_none(bill_ref)
    paid = payments_store.payment(runtime.connection(), found.bill_ref) if found else None
    if found is None or paid is None:
        return _page(request, "centre_web/not_found.html", {"title": t("receipt_title")}, 404)
    service = runtime.loaded().catalogue.service(found.service_id)
    return _page(request, "centre_web/receipt.html", {
        "title": t("receipt_title"), "bill": references.display(found.bill_ref), "service": service,
        "amount": payments.amount_text(paid.amount_minor, paid.currency), "currency": paid.currency,
        "paid_on": paid.paid_at.astimezone(runtime.calendar().zone).strftime("%Y-%m-%d %H:%M"),
        "channel": t(f"channel_{paid.channel}"), "transaction": paid.transaction, "jws": paid.receipt,
        "verify": t("receipt_verify"), "keys_url": _public("/api/payments/receipt-keys")})


def _bill_or_none(typed: str) -> payments_store.Bill | None:
    ref = payments.parse_bill_reference(typed)
    return payments_store.bill(runtime.connection(), ref) if ref else None


def _page(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    return render(request, template, context, status=status)


# --- staff: the counter and the reconciliation ---

@desk.page("GET", "POST")
def counter(request: HttpRequest, me: desk.Me) -> HttpResponse:
    """Find a bill by its reference (GET ?bill=) and record its payment at the counter (POST), audited as the
    staff member; the report of a day is downloaded from here too."""
    typed = str(request.GET.get("bill") or request.POST.get("bill") or "")[:40]
    message, status, found = "", 200, None
    if typed:
        found = _bill_or_none(typed)
        if found is None:
            message, status = t("staff_pay_refused", why=t("staff_pay_no_bill")), 404
    if request.method == "POST" and found is not None:
        receipt_no = str(request.POST.get("receipt_no", "")).strip()[:64]
        if not payments.TRANSACTION.match(receipt_no):
            message, status = t("staff_pay_refused", why=t("staff_pay_bad_receipt_no")), 400
        else:
            try:
                payments_store.pay(runtime.connection(), found.bill_ref, Channel.COUNTER, f"counter:{receipt_no}",
                                   found.amount_minor, found.currency, me.actor, runtime.now(), _sign,
                                   settings.AGENCY_SLUG)
                message = t("staff_pay_recorded")
            except Refused as refused:
                why = t("staff_pay_already") if refused.code == "already_paid" else \
                    t("staff_pay_receipt_no_used") if refused.code == "transaction_used" else refused.code
                message, status = t("staff_pay_refused", why=why), 409
            except receipts.SigningUnavailable:
                message, status = t("staff_pay_refused", why="signing_unavailable"), 503
            found = _bill_or_none(found.bill_ref)
    context: dict[str, Any] = {"title": t("staff_pay_title"), "typed": typed, "message": message,
               "today": runtime.now().astimezone(runtime.calendar().zone).date().isoformat()}
    if found is not None:
        context["bill"] = {"ref": references.display(found.bill_ref), "raw": found.bill_ref,
                           "application": references.display(found.application), "state": found.state.value,
                           "state_text": t(f"pay_state_{found.state.value}"),
                           "amount": payments.amount_text(found.amount_minor, found.currency),
                           "currency": found.currency}
    return desk._render(request, "centre_web/staff/payments.html", context, status,
                        here=reverse("staff-payments"))


@desk.page("GET")
def report_csv(request: HttpRequest, me: desk.Me) -> HttpResponse:
    day = _day(str(request.GET.get("day", "")))
    if day is None:
        return desk._message(request, "staff_pay_report", "staff_pay_day", 400)
    return HttpResponse(report_text(day), content_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="payments-{settings.AGENCY_SLUG}-{day.isoformat()}.csv"'})


def report_text(day: date) -> str:
    rows = payments_store.report_csv_rows(payments_store.reconciliation(runtime.connection(), day,
                                                                        _zone()))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _zone() -> ZoneInfo:
    zone = runtime.calendar().zone
    return zone if isinstance(zone, ZoneInfo) else ZoneInfo("UTC")


def _day(text: str) -> date | None:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if day <= runtime.now().date() + timedelta(days=1) else None


# --- the API: inquiry, pay/confirm, the provider's notification, the receipt keys ---

def bill_json(bill: payments_store.Bill) -> dict[str, Any]:
    service = runtime.loaded().catalogue.service(bill.service_id)
    return {"billReference": bill.bill_ref, "display": references.display(bill.bill_ref),
            "agency": settings.AGENCY_SLUG, "serviceKey": bill.service_id,
            "description": {"en": service.name.en, "ur": service.name.ur} if service else None,
            "amount": payments.amount_text(bill.amount_minor, bill.currency), "currency": bill.currency,
            "status": bill.state.value, "createdAt": api._iso(bill.created_at),
            "paidAt": api._iso(bill.closed_at) if bill.state is payments.BillState.PAID else None}


def _api_bill(bill_ref: str) -> payments_store.Bill:
    ref = payments.parse_bill_reference(bill_ref)
    if ref is None:
        raise Problem(400, "not_a_reference", "This is not a bill reference (12 symbols with a check symbol).")
    found = payments_store.bill(runtime.connection(), ref)
    if found is None:
        raise Problem(404, "not_found", "No bill has this reference.")
    return found


@api.endpoint("GET")
def inquiry(request: HttpRequest, billReference: str) -> HttpResponse:  # noqa: N803 - GovStack's style
    """Bill inquiry by reference (who holds the reference may ask: it is a 55-bit random number)."""
    return api._json(bill_json(_api_bill(billReference)))


@api.endpoint("POST")
def confirm(request: HttpRequest, billReference: str) -> HttpResponse:  # noqa: N803
    """Pay and confirm a bill (a counter, a bank's teller system) with a staff token: `{"transactionId",
    "amount", "currency"}`. The same transaction again: 200 with the same receipt; another one on a paid bill: 409."""
    who = api._staff(request)
    check_json_request(request.META.get("CONTENT_TYPE"), content_length(request.META.get("CONTENT_LENGTH")))
    data = json_object(request.body)
    unknown = set(data) - {"transactionId", "amount", "currency"}
    if unknown:
        raise Problem(400, "unknown_field", f"Unknown field {sorted(unknown)[0]}.", field=sorted(unknown)[0])
    txn, currency = data.get("transactionId"), data.get("currency")
    if not isinstance(txn, str) or not payments.TRANSACTION.match(txn):
        raise Problem(400, "invalid", "transactionId: 1-64 of letters, digits and . _ : -", field="transactionId")
    if currency not in payments.CURRENCIES:
        raise Problem(400, "invalid", "currency: PKR", field="currency")
    found = _api_bill(billReference)
    try:
        amount = payments.parse_amount(data.get("amount"), str(currency))
        before = payments_store.payment(runtime.connection(), found.bill_ref)
        paid = payments_store.pay(runtime.connection(), found.bill_ref, Channel.COUNTER, f"api:{txn}", amount,
                                  str(currency), f"staff:{who.subject}", runtime.now(), _sign, settings.AGENCY_SLUG)
    except Refused as refused:
        status = 400 if refused.code in ("amount", "currency") else 409
        raise Problem(status, refused.code, str(refused)) from None
    except receipts.SigningUnavailable:
        raise Problem(503, "signing_unavailable", "The receipt cannot be signed now; try again later.") from None
    body = {**bill_json(_api_bill(found.bill_ref)), "transactionId": txn, "receipt": paid.receipt,
            "receiptUrl": _public(reverse("receipt", args=[found.bill_ref]).replace("/ur/", "/en/"))}
    return api._json(body, status=200 if before is not None else 201)


@api.endpoint("POST")
def notify(request: HttpRequest) -> HttpResponse:
    """The provider's signed notification. Refused before anything is stored when the signature, the timestamp
    or a header is wrong (401); a replay 409; one that matches no open bill 409 (kept for the reconciliation)."""
    conf = runtime.payments()
    if not conf.get("secret"):
        raise Problem(404, "not_found", "This centre has no payment provider.")
    length = content_length(request.META.get("CONTENT_LENGTH"))
    raw = request.body if length is not None and length <= payments.MAX_BODY else b"x" * (payments.MAX_BODY + 1)
    try:
        nonce = payments.verify(conf["secret"].encode(), raw, request.META.get("HTTP_X_PAY_TIMESTAMP"),
                                request.META.get("HTTP_X_PAY_NONCE"), request.META.get("HTTP_X_PAY_SIGNATURE"),
                                runtime.now())
        notice = payments.parse_notice(raw)
    except Refused as refused:
        log.warning("payments: notification refused (%s)", refused.code)
        raise Problem(401 if refused.code in ("bad_signature", "stale", "malformed") else 413, refused.code,
                      str(refused)) from None
    try:
        paid = payments_store.apply_notice(runtime.connection(), notice, nonce, runtime.now(), _sign,
                                           settings.AGENCY_SLUG, conf.get("kind", "provider"))
    except Refused as refused:
        log.warning("payments: notification not applied (%s)", refused.code)
        raise Problem(409, refused.code, str(refused)) from None
    except receipts.SigningUnavailable:  # nothing kept, the nonce neither: the provider's retry is welcome
        log.warning("payments: the receipt could not be signed; notification not applied")
        raise Problem(503, "signing_unavailable", "The receipt cannot be signed now; send it again later.") from None
    return api._json({"billReference": paid.bill_ref, "status": "paid", "transactionId": paid.transaction})


@api.endpoint("GET")
def receipt_keys(request: HttpRequest) -> HttpResponse:
    signer = receipts.signer()
    return api._json(signer.jwks() if signer else {"keys": []})

