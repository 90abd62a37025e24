"""Pure parts of the staff pages' sign-in (OIDC authorization code flow with PKCE, RFC 7636) and sign-out
(OpenID Connect RP-Initiated Logout 1.0): the values a sign-in starts with, the authorization URL, the callback's
checks, where a sign-in may lead, when a staff session ends, the IdP's end-session endpoint read from its discovery
document, and the URL that ends the IdP's session. No I/O."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from typing import Any
from urllib.parse import urlencode, urlsplit

PENDING_SECONDS = 600  # a sign-in started and not finished within 10 minutes is forgotten
MAX_SESSION_SECONDS = 8 * 3600  # a staff session never outlives its access token, nor a working day
_STAFF_PATH = re.compile(r"/(?:en|ur)/staff/[A-Za-z0-9/_.~-]*")


def new_pending(now: int) -> dict[str, Any]:
    """State (against forged callbacks), nonce (binds the id_token to this sign-in), PKCE verifier."""
    return {"state": secrets.token_urlsafe(32), "nonce": secrets.token_urlsafe(32),
            "verifier": secrets.token_urlsafe(48), "at": now}


def challenge(verifier: str) -> str:
    """PKCE S256: base64url(SHA-256(verifier)) without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


def authorize_url(endpoint: str, client_id: str, redirect_uri: str, pending: dict[str, Any]) -> str:
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
             "scope": "openid profile groups", "state": pending["state"], "nonce": pending["nonce"],
             "code_challenge": challenge(pending["verifier"]), "code_challenge_method": "S256"}
    return f"{endpoint}?{urlencode(query)}"


def callback_code(pending: Any, query: dict[str, str], now: int) -> str | None:
    """The authorization code of a callback that answers the sign-in this browser started (its state, in time);
    None for anything else (no sign-in pending, another state, an error from the IdP, no code)."""
    if not isinstance(pending, dict) or not isinstance(pending.get("state"), str):
        return None
    if not isinstance(pending.get("at"), int) or not 0 <= now - pending["at"] <= PENDING_SECONDS:
        return None
    state, code = query.get("state", ""), query.get("code", "")
    if not state or not hmac.compare_digest(state.encode(), pending["state"].encode()):
        return None
    if "error" in query or not code or len(code) > 2048:
        return None
    return code


def session_end(expires_in: Any, now: int) -> int:
    """When the staff session ends: when the access token does (the token answer's `expires_in`; an hour when
    it says nothing), at most MAX_SESSION_SECONDS from now. Desks are read again at the next sign-in."""
    if isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in <= 0:
        expires_in = 3600
    return now + min(expires_in, MAX_SESSION_SECONDS)


def safe_next(target: str, fallback: str) -> str:
    """Where a finished sign-in leads: a staff page of this centre (`/en/staff/...` or `/ur/staff/...`, a path
    only: no scheme, host, `//` or `..`), else `fallback` (an open redirect otherwise)."""
    if _STAFF_PATH.fullmatch(target) and "//" not in target and ".." not in target:
        return target
    return fallback


def trusted_url(url: Any) -> bool:
    """https, or http on loopback only (a test IdP): the rule of the token and JWKS URLs."""
    if not isinstance(url, str) or len(url) > 2048:
        return False
    parts = urlsplit(url)
    return bool(parts.hostname) and (parts.scheme == "https" or (
        parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")))


def end_session_endpoint(discovery: Any, issuer: str) -> str | None:
    """The `end_session_endpoint` of the IdP's discovery document, when the document is the configured issuer's
    (OpenID Connect Discovery: its `issuer` is exactly the one configured) and the endpoint a trusted URL; else
    None (the IdP offers no RP-initiated logout, or the document is not its)."""
    if not isinstance(discovery, dict) or discovery.get("issuer") != issuer or not issuer:
        return None
    endpoint = discovery.get("end_session_endpoint")
    return endpoint if isinstance(endpoint, str) and trusted_url(endpoint) and "#" not in endpoint else None


def logout_url(endpoint: str, client_id: str, id_token: str, post_logout_redirect_uri: str) -> str:
    """RP-Initiated Logout: the browser goes to the IdP's end-session endpoint with the id_token it signed in with
    (`id_token_hint`, so the IdP knows whose session and which client) and the signed-out page to come back to
    (registered with the IdP for the client: apps/service.py)."""
    query = urlencode({"id_token_hint": id_token, "post_logout_redirect_uri": post_logout_redirect_uri,
                       "client_id": client_id})
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


def form_origins(config: dict[str, str] | None) -> list[str]:
    """The IdP's origins (its issuer's and its discovery document's) that a staff page's forms may lead to: the
    sign-out form's answer redirects the browser to the IdP's end-session endpoint, and a content security policy's
    `form-action` applies to the redirects after a form too."""
    found = set()
    for url in (config or {}).get("issuer", ""), (config or {}).get("discovery_url", ""):
        if trusted_url(url):
            parts = urlsplit(url)
            found.add(f"{parts.scheme}://{parts.netloc}")
    return sorted(found)
