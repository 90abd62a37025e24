"""The e-payment endpoints of the OpenAPI document (`openapi.PATHS` takes them in): GovStack-style bill payment
by reference (inquiry, pay/confirm), the provider's signed notification, the receipts' public keys."""

from __future__ import annotations

from typing import Any


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERROR = {"$ref": "#/components/schemas/Error"}
_BILL = {"type": "object", "required": ["billReference", "amount", "currency", "status"], "properties": {
    "billReference": {"type": "string"}, "display": {"type": "string"}, "agency": {"type": "string"},
    "serviceKey": {"type": "string"}, "description": {"type": ["object", "null"]},
    "amount": {"type": "string", "description": "Decimal string, e.g. \"1500.00\" (never a float)"},
    "currency": {"type": "string", "enum": ["PKR"]},
    "status": {"type": "string", "enum": ["open", "paid", "cancelled"]},
    "createdAt": {"type": "string", "format": "date-time"}, "paidAt": {"type": ["string", "null"]},
    "transactionId": {"type": "string"}, "receipt": {"type": "string", "description": "Compact JWS (ES256)"},
    "receiptUrl": {"type": "string"}}}
_BILL_PARAM = {"name": "billReference", "in": "path", "required": True,
               "schema": {"type": "string", "pattern": "^[0-9A-Za-z -]{12,40}$"},
               "description": "The bill's payment reference: 12 Crockford base32 symbols with a check symbol."}

PAYMENT_PATHS: dict[str, Any] = {
    "/api/bills/{billReference}": {"get": {
        "operationId": "getBillByReference", "tags": ["Payments"], "security": [],
        "summary": "Bill inquiry (P2G bill payment): amount, currency and status of the bill with this payment "
                   "reference.",
        "parameters": [_BILL_PARAM],
        "responses": {"200": _json(_BILL, "The bill"), "400": _json(_ERROR, "Not a bill reference"),
                      "404": _json(_ERROR, "No such bill")}}},
    "/api/bills/{billReference}/payments": {"post": {
        "operationId": "payBill", "tags": ["Payments"], "security": [{"staffBearer": []}],
        "summary": "Pay and confirm a bill (a counter, a bank's teller system): {transactionId, amount, currency}. "
                   "The same transactionId again answers 200 with the same receipt (idempotent).",
        "parameters": [_BILL_PARAM],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False, "required": ["transactionId", "amount", "currency"],
            "properties": {"transactionId": {"type": "string"}, "amount": {"type": "string"},
                           "currency": {"type": "string"}}}}}},
        "responses": {"201": _json(_BILL, "Paid: the signed receipt"), "200": _json(_BILL, "Paid before by this "
                                                                                          "transaction"),
                      "400": _json(_ERROR, "A malformed body or amount"),
                      "401": _json(_ERROR, "No valid staff bearer token"),
                      "403": _json(_ERROR, "A token with no desk of this centre"),
                      "404": _json(_ERROR, "No such bill"),
                      "409": _json(_ERROR, "Paid already by another transaction, cancelled, or another amount"),
                      "415": _json(_ERROR, "Not application/json")}}},
    "/api/payments/notify": {"post": {
        "operationId": "notifyPayment", "tags": ["Payments"], "security": [],
        "summary": "The payment provider's notification, signed: X-Pay-Timestamp, X-Pay-Nonce, X-Pay-Signature "
                   "(v1=hex HMAC-SHA256 of '<timestamp>.<nonce>.' + the raw body, with the agency's secret).",
        "responses": {"200": _json(_BILL, "The bill is paid"),
                      "401": _json(_ERROR, "A bad signature, a stale timestamp or a malformed notification: "
                                           "nothing stored"),
                      "409": _json(_ERROR, "A replay (nothing stored), or no open bill matches (kept for the "
                                           "reconciliation)")}}},
    "/api/payments/receipt-keys": {"get": {
        "operationId": "getReceiptKeys", "tags": ["Payments"], "security": [],
        "summary": "The public keys (JWKS) that verify the agency's receipts.",
        "responses": {"200": _json({"type": "object"}, "JWKS")}}},
}
