"""A headless browser for LemonLDAP::NG's login form and the OIDC authorization-code flow, shared by the
identity, box, apps and security tests. Each function takes the IdP as anything with `issuer` and `ca_file`:
a `Box`, or an `Issuer` made from an agency's credentials (the client's view)."""

from __future__ import annotations

import html
import http.cookiejar
import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlparse

import jwt
import requests


class Idp(Protocol):
    @property
    def issuer(self) -> str: ...

    @property
    def ca_file(self) -> Path: ...


@dataclass(frozen=True)
class Issuer:
    """The IdP as an agency's credentials describe it (`identity.issuer`, `identity.ca_file`)."""

    issuer: str
    ca_file: Path

    @classmethod
    def of(cls, identity: dict[str, Any]) -> Issuer:
        return cls(identity["issuer"], Path(identity["ca_file"]))


class LocalhostCookies(http.cookiejar.DefaultCookiePolicy):
    """LLNG needs a cookie domain and sets Domain=localhost; the stdlib jar refuses that for "localhost"
    (it wants an embedded dot), browsers accept it as the host itself."""

    def _is_localhost(self, domain: str) -> bool:
        return domain.lstrip(".") == "localhost"

    def set_ok_domain(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return self._is_localhost(cookie.domain) or super().set_ok_domain(cookie, request)

    def return_ok_domain(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return self._is_localhost(cookie.domain) or super().return_ok_domain(cookie, request)

    def domain_return_ok(self, domain: str, request: Any) -> bool:
        return self._is_localhost(domain) or super().domain_return_ok(domain, request)


def host_only(s: requests.Session) -> None:
    """requests copies the jar into a default-policy jar to build the Cookie header: re-file the
    Domain=localhost cookies as host-only ones (domain "") so that they are sent back."""
    for cookie in list(http.cookiejar.CookieJar.__iter__(s.cookies)):
        if cookie.domain == ".localhost":
            s.cookies.clear(cookie.domain, cookie.path, cookie.name)
            s.cookies.set(cookie.name, cookie.value or "", path=cookie.path, secure=cookie.secure)


def browser(box: Idp) -> requests.Session:
    s = requests.Session()
    s.cookies.set_policy(LocalhostCookies())
    s.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
    s.verify = str(box.ca_file)
    return s


def authorize(s: requests.Session, box: Idp, client_id: str, redirect_uri: str, state: str = "st",
               nonce: str = "nc", response_type: str = "code") -> requests.Response:
    resp = s.get(
        f"{box.issuer}/oauth2/authorize",
        params={"response_type": response_type, "client_id": client_id, "redirect_uri": redirect_uri,
                "scope": "openid profile email groups", "state": state, "nonce": nonce},
        verify=str(box.ca_file), allow_redirects=False,
    )
    host_only(s)
    return resp


def login_form(resp: requests.Response) -> dict[str, str]:
    assert resp.status_code == 200 and 'name="password"' in resp.text, resp.text[:500]
    return {m.group(1): html.unescape(m.group(2))
            for m in re.finditer(r'<input[^>]*?name="([^"]+)"[^>]*?value="([^"]*)"', resp.text)}


def code_from(resp: requests.Response, redirect_uri: str, state: str = "st") -> str | None:
    """The code of a redirect to `redirect_uri`; None for anything else (a page, an error redirect)."""
    location = resp.headers.get("location", "")
    if resp.status_code != 302 or not location.startswith(redirect_uri):
        return None
    query = parse_qs(urlparse(location).query)
    assert query["state"] == [state]
    codes = query.get("code")
    return codes[0] if codes else None


def login(s: requests.Session, box: Idp, client_id: str, redirect_uri: str, user: str,
          password: str, response_type: str = "code") -> requests.Response:
    """authorize -> login form -> POST credentials; returns the response to the POST."""
    first = authorize(s, box, client_id, redirect_uri, response_type=response_type)
    fields = login_form(first)
    fields.update(user=user, password=password)
    resp = s.post(first.url, data=fields, verify=str(box.ca_file), allow_redirects=False)
    host_only(s)
    return resp


def token(box: Idp, code: str, redirect_uri: str, client_id: str, secret: str) -> requests.Response:
    s = browser(box)
    return s.post(f"{box.issuer}/oauth2/token", auth=(client_id, secret), verify=str(box.ca_file),
                  data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri})


def verify_id_token(box: Idp, id_token: str, audience: str) -> dict[str, object]:
    ctx = ssl.create_default_context(cafile=str(box.ca_file))
    jwks = jwt.PyJWKClient(f"{box.issuer}/oauth2/jwks", ssl_context=ctx)
    key = jwks.get_signing_key_from_jwt(id_token)
    claims: dict[str, object] = jwt.decode(id_token, key.key, algorithms=["RS256"], audience=audience,
                                           issuer=box.issuer)
    return claims
