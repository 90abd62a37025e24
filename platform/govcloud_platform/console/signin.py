"""Pure parts of the console's sign-in (OIDC authorization code flow with PKCE, RFC 7636): the values a sign-in
starts with, the authorization URL, the callback's checks, when a session ends, and where to go afterwards. No I/O.
The same steps as the Citizen's Centre's staff pages (roles/centre/.../signin_rules.py), which run in an app's own
venv and cannot import the platform; both follow RFC 7636 and OIDC Core 3.1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from typing import Any
from urllib.parse import urlencode

PENDING_SECONDS = 600  # a sign-in started and not finished within 10 minutes is forgotten
MAX_SESSION_SECONDS = 8 * 3600  # a console session never outlives its access token, nor a working day
_NEXT_RE = re.compile(r"^/(en|ur)/[A-Za-z0-9/_-]{0,200}$")


def new_pending(now: int, next_path: str) -> dict[str, Any]:
    """State (against forged callbacks), nonce (binds the id_token to this sign-in), PKCE verifier, and the page
    to return to."""
    return {"state": secrets.token_urlsafe(32), "nonce": secrets.token_urlsafe(32),
            "verifier": secrets.token_urlsafe(48), "at": now, "next": safe_next(next_path)}


def safe_next(path: object) -> str:
    """A page of the console itself to return to (never another site: an open redirect), else the overview."""
    return path if isinstance(path, str) and _NEXT_RE.fullmatch(path) else "/en/"


def challenge(verifier: str) -> str:
    """PKCE S256: base64url(SHA-256(verifier)) without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


def authorize_url(endpoint: str, client_id: str, redirect_uri: str, pending: dict[str, Any], lang: str) -> str:
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
             "scope": "openid profile groups", "state": pending["state"], "nonce": pending["nonce"],
             "code_challenge": challenge(pending["verifier"]), "code_challenge_method": "S256",
             "ui_locales": lang}
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
    """When the session ends: when the access token does (`expires_in`; an hour when it says nothing), at most
    MAX_SESSION_SECONDS from now. Groups are read again at the next sign-in."""
    if isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in <= 0:
        expires_in = 3600
    return now + min(expires_in, MAX_SESSION_SECONDS)


def new_csrf() -> str:
    """The session's token for its forms (a hidden field each POST form carries back)."""
    return secrets.token_urlsafe(32)


def csrf_matches(held: object, sent: object) -> bool:
    """Whether a form's token is the session's (constant time; a session without one matches nothing)."""
    return (isinstance(held, str) and isinstance(sent, str) and len(held) >= 32
            and hmac.compare_digest(held.encode(), sent.encode()))
