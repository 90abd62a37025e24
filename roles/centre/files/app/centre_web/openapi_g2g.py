"""The G2G endpoint's part of the OpenAPI document (`openapi.PATHS` takes it in): kept apart, as the other parts
of issue 16 keep theirs."""

from __future__ import annotations

from typing import Any

_JOSE = {"application/jose": {"schema": {"type": "string", "description": "A compact JWS (RS256 or ES256) with the "
                                         "signing agency's certificate from the platform CA in `x5c`."}}}
_ERR = {"application/json": {"schema": {"type": "object", "required": ["error"], "properties": {
    "error": {"type": "string", "description": "why: not_granted, not_offered, agency_mismatch, untrusted, "
                                               "bad_signature, purpose, no_consent, replay, expired, malformed"},
    "detail": {"type": "string"}}}}}

G2G_PATHS: dict[str, Any] = {
    "/api/g2g/requests": {"post": {
        "operationId": "answerG2GRequest", "tags": ["G2G"], "security": [],
        "summary": "Another agency asks this agency for a record it offers (docs/centre.md, G2G).",
        "description": "The request's claims: iss (the asking agency, as its certificate names it), aud (this "
                       "agency), service, purpose (the grant's), ref (the asking application's reference), sub (the "
                       "identifier asked about), consent, nonce (once only), iat, exp (at most 5 minutes later). "
                       "The answer's: iss, aud, service, inReplyTo (the request's nonce), result {found, since?}, "
                       "nonce, iat, exp. Every request and refusal is logged on both sides.",
        "requestBody": {"required": True, "content": _JOSE},
        "responses": {"200": {"description": "The signed answer", "content": _JOSE},
                      "400": {"description": "A token that cannot be read", "content": _ERR},
                      "403": {"description": "Refused (see `error`), and logged", "content": _ERR},
                      "404": {"description": "This agency takes no G2G requests", "content": _ERR},
                      "415": {"description": "Not one compact JWS as application/jose", "content": _ERR}}}},
}
