"""Staff on the interface for integrations: an OIDC access token (a JWT) of the agency's identity provider,
verified here: the signature against the issuer's JWKS (fetched over HTTPS with the box CA, cached, refetched
when a new key id appears), the issuer, the audience (the agency's client for the centre), the expiry. The groups
claim gives the desks (`api_rules.desks_of`). Without OIDC settings (`OIDC_ISSUER`, `OIDC_AUDIENCE`,
`OIDC_JWKS_URL` in the env file) every token is refused: nothing is ever let through unverified."""

from __future__ import annotations

import hmac
import json
import ssl
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
from django.conf import settings

from .api_rules import desks_of, is_catalogue_manager
from .signin_rules import end_session_endpoint, trusted_url

ALGORITHMS = ["RS256", "PS256", "ES256"]  # asymmetric only: a shared-secret (HS*) token is refused
_clients: dict[str, jwt.PyJWKClient] = {}
_lock = threading.Lock()
DISCOVERY_SECONDS = 3600  # an end-session endpoint found is kept this long per process (a failure is not kept)
_ends: dict[str, tuple[str, float]] = {}


class Refused(Exception):
    """The token is missing, malformed, unsigned by the issuer, for another audience, or expired."""


@dataclass(frozen=True)
class Staff:
    subject: str
    desks: frozenset[str]
    name: str = ""  # the token's `name` (or `preferred_username`), for colleagues to read
    manager: bool = False  # may manage the catalogue (the group `<desk prefix>catalogue`)


def oidc() -> dict[str, str] | None:
    found: dict[str, str] | None = getattr(settings, "CENTRE_OIDC", None)
    return found if found and found.get("issuer") and found.get("audience") and found.get("jwks_url") else None


def verify(token: str, known_desks: set[str]) -> Staff:
    """An access token: the staff member and the desks its groups give."""
    config, claims = _claims(token)
    subject = claims["sub"]
    groups = claims.get(config.get("groups_claim") or "groups")
    name = claims.get("name") or claims.get("preferred_username") or subject
    prefix = config.get("desk_prefix", "")
    return Staff(subject, desks_of(groups, prefix, known_desks), name[:200] if isinstance(name, str) else subject,
                 is_catalogue_manager(groups, prefix))


def verify_id_token(token: str, nonce: str) -> str:
    """An id_token of the staff pages' sign-in (the code flow): verified exactly as an access token (the same
    key set, algorithms, issuer, audience, expiry), plus the nonce the sign-in sent. Returns its subject."""
    _, claims = _claims(token)
    if not isinstance(claims.get("nonce"), str) or not hmac.compare_digest(claims["nonce"], nonce):
        raise Refused("the id_token's nonce is not this sign-in's")
    return str(claims["sub"])


def _claims(token: str) -> tuple[dict[str, str], dict[str, Any]]:
    config = oidc()
    if config is None:
        raise Refused("the centre has no OIDC provider configured")
    try:
        key = _client(config["jwks_url"], config.get("ca_file", "")).get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token, key.key, algorithms=ALGORITHMS, audience=config["audience"], issuer=config["issuer"],
            leeway=30, options={"require": ["exp", "iss", "aud", "sub"]})
    except jwt.PyJWTError as error:
        raise Refused(type(error).__name__) from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 200:
        raise Refused("no subject")
    return config, claims


def _client(url: str, ca_file: str) -> jwt.PyJWKClient:
    """One JWKS client per URL (its key cache shared by the threads). HTTPS only, but for loopback."""
    with _lock:
        found = _clients.get(url)
        if found is None:
            parts = urlsplit(url)
            if parts.scheme != "https" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
                raise Refused("the JWKS URL must be https")
            context = ssl.create_default_context(cafile=ca_file or None) if parts.scheme == "https" else None
            found = _clients[url] = jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=5,
                                                    ssl_context=context)
        return found


def end_session(config: dict[str, str]) -> str | None:
    """The IdP's end-session endpoint from its discovery document (`discovery_url`: https with the box CA, http on
    loopback only; 5 s at most), kept an hour; None when the IdP does not answer or offers none. The sign-out
    never waits on it for longer: the local session is cleared before this is asked."""
    url = config.get("discovery_url", "")
    with _lock:
        found = _ends.get(url)
    if found is not None and found[1] > time.monotonic():
        return found[0]
    if not trusted_url(url):
        return None
    parts = urlsplit(url)
    context = ssl.create_default_context(cafile=config.get("ca_file") or None) if parts.scheme == "https" else None
    try:
        req = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - scheme checked
        with urllib.request.urlopen(req, timeout=5, context=context) as answer:  # noqa: S310 - scheme checked
            document = json.loads(answer.read(65536))
    except (OSError, ValueError):
        return None
    endpoint = end_session_endpoint(document, config.get("issuer", ""))
    if endpoint is not None:
        with _lock:
            _ends[url] = (endpoint, time.monotonic() + DISCOVERY_SECONDS)
    return endpoint
