"""E-payments, the pure part: bills paid by reference (GovStack P2G bill payment: inquiry, pay, confirm), the
bill's states, the provider's signed notifications (webhooks) and the adapter interface a real provider's client
implements. Nothing here reads the clock or the database (`payments_store` does); time is passed in.

A bill's reference is made like an application's (`references`: 11 random Crockford base32 symbols + a Damm check
symbol): a mistyped one is told apart without a query. Amounts are integers in minor units (paisa for PKR):
never floats. A bill is `open`, then `paid` or `cancelled`, both final; the database holds the same rule (a
trigger, and one payment per bill by a UNIQUE key), so a second payment fails even if code forgot to look.

A notification is `POST`ed by the provider with three headers: `X-Pay-Timestamp` (Unix seconds), `X-Pay-Nonce`
(16-64 of `[A-Za-z0-9_-]`) and `X-Pay-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<nonce>." + raw body)>`.
It is refused, before anything is stored, when the signature is wrong (compared in constant time), the timestamp
is more than `TOLERANCE` away from now, or a header is malformed; a nonce seen before (the store keeps them
longer than the tolerance) is a replay and refused too."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from . import references

TOLERANCE_S = 300  # a notification's timestamp may be this far from now (either way)
NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
TRANSACTION = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
CURRENCIES = {"PKR": 2}  # ISO 4217 code -> digits after the point (the catalogue's currencies)
MAX_BODY = 8 * 1024  # a notification is a few hundred bytes


class BillState(StrEnum):
    OPEN = "open"
    PAID = "paid"
    CANCELLED = "cancelled"


class Channel(StrEnum):
    ONLINE = "online"  # through the payment provider (its notification)
    COUNTER = "counter"  # at the office, recorded by staff


_MOVES = {(BillState.OPEN, "pay"): BillState.PAID, (BillState.OPEN, "cancel"): BillState.CANCELLED}


class Refused(Exception):
    """A payment or a notification refused; `code` is what the API answers and what the log may say."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code


def move(state: BillState, event: str) -> BillState:
    """The bill's next state: open -> paid (pay) or cancelled (cancel); paid and cancelled are final."""
    nxt = _MOVES.get((state, event))
    if nxt is None:
        raise Refused("already_paid" if state is BillState.PAID else f"bill_{state.value}",
                      f"A {state.value} bill cannot be {'paid' if event == 'pay' else 'cancelled'}.")
    return nxt


def new_bill_reference() -> str:
    return references.new_reference()


def parse_bill_reference(text: str) -> str | None:
    """The canonical 12 symbols of a typed bill reference, or None (length, symbols or check symbol wrong)."""
    return references.normalise(text)


def minor_units(amount: Decimal, currency: str) -> int:
    """1500.00 PKR -> 150000. Refuses a currency the centre does not know and sub-minor fractions."""
    digits = CURRENCIES.get(currency)
    if digits is None:
        raise Refused("currency", f"unknown currency {currency!r}")
    scaled = amount.scaleb(digits)
    if scaled != scaled.to_integral_value():
        raise Refused("amount", f"{amount} has more than {digits} decimals")
    return int(scaled)


def amount_text(minor: int, currency: str) -> str:
    """150000 PKR -> '1500.00' (the API's and the receipt's form: a string, never a float)."""
    digits = CURRENCIES.get(currency, 2)
    return str(Decimal(minor).scaleb(-digits).quantize(Decimal(1).scaleb(-digits)))


def parse_amount(text: Any, currency: str) -> int:
    """An amount as a client writes it ("1500.00" or "1500"), in minor units; a float or junk is refused."""
    if not isinstance(text, str) or not re.fullmatch(r"[0-9]{1,12}(\.[0-9]{1,4})?", text):
        raise Refused("amount", "Give the amount as a string, like \"1500.00\".")
    return minor_units(Decimal(text), currency)


# --- the provider's notifications (webhooks) ---

def signature(secret: bytes, timestamp: str, nonce: str, body: bytes) -> str:
    mac = hmac.new(secret, f"{timestamp}.{nonce}.".encode() + body, hashlib.sha256).hexdigest()
    return f"v1={mac}"


def signed_headers(secret: bytes, body: bytes, now: datetime, nonce: str | None = None) -> dict[str, str]:
    """The headers a provider sends with `body` (the demo provider's code, and the tests')."""
    timestamp = str(int(now.timestamp()))
    nonce = nonce or secrets.token_urlsafe(18)
    return {"X-Pay-Timestamp": timestamp, "X-Pay-Nonce": nonce,
            "X-Pay-Signature": signature(secret, timestamp, nonce, body)}


def verify(secret: bytes, body: bytes, timestamp: str | None, nonce: str | None, given: str | None,
           now: datetime, tolerance_s: int = TOLERANCE_S) -> str:
    """The nonce of an authentic, fresh notification; else `Refused` (bad_signature, stale, malformed). The
    caller must still refuse a nonce it has seen (a replay): that needs the store."""
    if len(body) > MAX_BODY:
        raise Refused("too_large")
    if not timestamp or not timestamp.isdigit() or len(timestamp) > 12 or not nonce or not NONCE.match(nonce) \
            or not given or len(given) > 100:
        raise Refused("malformed", "The notification lacks a valid timestamp, nonce or signature header.")
    expected = signature(secret, timestamp, nonce, body)
    if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
        raise Refused("bad_signature", "The notification's signature is not the agency's.")
    if abs(now.timestamp() - int(timestamp)) > tolerance_s:
        raise Refused("stale", "The notification's timestamp is too far from now.")
    return nonce


@dataclass(frozen=True)
class Notice:
    """What a provider says about a bill: paid with its `transaction` id, this amount."""

    bill: str  # canonical bill reference
    transaction: str
    amount_minor: int
    currency: str
    status: str  # "paid" (the only one acted upon) or "failed"


def parse_notice(body: bytes) -> Notice:
    """The notification's JSON: `{"bill", "transaction", "amount", "currency", "status"}`; anything else refused."""
    try:
        data = json.loads(body)
    except ValueError:
        raise Refused("malformed", "The notification is not JSON.") from None
    if not isinstance(data, dict) or set(data) != {"bill", "transaction", "amount", "currency", "status"}:
        raise Refused("malformed", "The notification must have exactly bill, transaction, amount, currency, status.")
    bill = parse_bill_reference(data["bill"]) if isinstance(data["bill"], str) else None
    if bill is None:
        raise Refused("malformed", "bill is not a bill reference")
    if not isinstance(data["transaction"], str) or not TRANSACTION.match(data["transaction"]):
        raise Refused("malformed", "transaction is not a transaction id")
    if data["status"] not in ("paid", "failed") or data["currency"] not in CURRENCIES:
        raise Refused("malformed", "status or currency unknown")
    return Notice(bill, data["transaction"], parse_amount(data["amount"], data["currency"]), data["currency"],
                  data["status"])


def notice_body(notice: Notice) -> bytes:
    return json.dumps({"bill": notice.bill, "transaction": notice.transaction,
                       "amount": amount_text(notice.amount_minor, notice.currency), "currency": notice.currency,
                       "status": notice.status}, sort_keys=True).encode()


class Decision(StrEnum):
    APPLY = "applied"  # the bill becomes paid by this payment
    SAME = "same"  # this very payment was recorded before (idempotent confirm): nothing to do, same receipt
    DUPLICATE = "duplicate"  # the bill was paid by another payment: refused (a provider's: to refund)
    MISMATCH = "mismatch"  # the amount or currency is not the bill's
    CLOSED = "cancelled"  # the bill was cancelled


def decide(state: BillState, amount_minor: int, currency: str, paid_by: str | None, transaction: str,
           paid_amount: int, paid_currency: str) -> Decision:
    """What a payment of `paid_amount` with `transaction` does to a bill in `state` (paid by `paid_by`, if)."""
    if state is BillState.PAID:
        return Decision.SAME if paid_by == transaction else Decision.DUPLICATE
    if state is BillState.CANCELLED:
        return Decision.CLOSED
    if (paid_amount, paid_currency) != (amount_minor, currency):
        return Decision.MISMATCH
    return Decision.APPLY


# --- the adapter a real provider's client implements ---

@dataclass(frozen=True)
class Checkout:
    """A bill as the provider is asked to collect it."""

    bill: str
    amount_minor: int
    currency: str
    description: str
    return_url: str  # where the provider sends the citizen back
    notify_url: str  # where the provider POSTs its signed notification


class PaymentProvider(Protocol):
    """One method to start a payment; the answer comes as a signed notification to `notify_url` (`verify`,
    `parse_notice`), never from the citizen's browser coming back (which only shows what the notification did)."""

    def start(self, checkout: Checkout) -> str:
        """The provider's page for this bill (the citizen is redirected there). Raises `Refused("provider")`
        when the provider cannot be reached or refuses."""
        ...


def receipt_claims(agency: str, bill: str, application: str, service: str, amount_minor: int, currency: str,
                   channel: str, transaction: str, paid_at: datetime) -> dict[str, Any]:
    """What the agency signs on a receipt (a compact JWS): enough to check it against the paper in hand."""
    return {"iss": agency, "typ": "payment-receipt", "bill": bill, "application": application, "service": service,
            "amount": amount_text(amount_minor, currency), "currency": currency, "channel": channel,
            "transaction": transaction, "paidAt": paid_at.isoformat().replace("+00:00", "Z"),
            "iat": int(paid_at.timestamp())}
