"""Verifying the box IdP's tokens (a thin adapter over PyJWT): the signature against the issuer's JWKS (fetched
over HTTPS with the box CA, keys cached, refetched when a new key id appears), the issuer, the audience (the
console's own client: a token the IdP gave another client is refused), the expiry. Asymmetric algorithms only."""

from __future__ import annotations

import hmac
import ssl
import threading
from typing import Any

import jwt

ALGORITHMS = ["RS256", "PS256", "ES256"]  # never HS*: a token signed with a shared secret is refused
MAX_TOKEN = 8192


class Refused(Exception):
    """The token is missing, malformed, not signed by the issuer, for another audience, or expired."""


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None when there is no usable one."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN:
        return None
    return token


class Verifier:
    def __init__(self, issuer: str, audience: str, ca_file: str) -> None:
        self.issuer, self.audience, self.ca_file = issuer, audience, ca_file
        self._lock = threading.Lock()
        self._jwks: jwt.PyJWKClient | None = None  # made at the first token (the CA file is read then)

    def claims(self, token: str, audience: str | None = "") -> dict[str, Any]:
        """The verified claims of a JWT of the IdP for the console's client (`audience` ""), or for any client
        (None: the caller checks the audience); Refused otherwise."""
        if not token or len(token) > MAX_TOKEN:
            raise Refused("no token")
        try:
            with self._lock:  # the client's key cache is shared by the worker's threads
                if self._jwks is None:
                    self._jwks = jwt.PyJWKClient(f"{self.issuer}/oauth2/jwks", cache_keys=True, lifespan=300,
                                                 timeout=5, ssl_context=ssl.create_default_context(cafile=self.ca_file))
                key = self._jwks.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=ALGORITHMS, audience=self.audience if audience == "" else audience,
                issuer=self.issuer, leeway=30,
                options={"require": ["exp", "iss", "aud", "sub"], "verify_aud": audience is not None})
        except (jwt.PyJWTError, ValueError) as error:
            raise Refused(type(error).__name__) from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > 200:
            raise Refused("no subject")
        return claims

    def access_claims(self, token: str) -> dict[str, Any]:
        """The claims of an access token: as `claims`, and made as one (LemonLDAP::NG's JWT access tokens carry the
        granted `scope` and the `client_id`; an id_token has neither, and is never accepted as a bearer token)."""
        claims = self.claims(token)
        if not isinstance(claims.get("scope"), str) or claims.get("client_id") != self.audience:
            raise Refused("not an access token of the console's client")
        return claims

    def bearer_claims(self, token: str) -> dict[str, Any]:
        """The claims of a bearer token of the API: an access token of the console's client (`access_claims`), or
        one the IdP gave a client by the client-credentials grant (its `client_id` among its audiences and its
        subject: LemonLDAP::NG's client-credentials session traces the client itself). Whether that client is a
        script's the caller asks the registry (`state.console_clients`): any other client's token is no key."""
        claims = self.claims(token, None)
        client, audience = claims.get("client_id"), claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
        if not isinstance(claims.get("scope"), str) or not isinstance(client, str) or client not in audiences:
            raise Refused("not an access token")
        if client != self.audience and claims["sub"] != client:
            raise Refused("not a client-credentials token")
        return claims

    def id_token_subject(self, token: str, nonce: str) -> str:
        """An id_token of the sign-in: verified as an access token is, plus the nonce the sign-in sent."""
        claims = self.claims(token)
        if not isinstance(claims.get("nonce"), str) or not hmac.compare_digest(claims["nonce"], nonce):
            raise Refused("the id_token's nonce is not this sign-in's")
        return str(claims["sub"])
