"""A test OIDC provider on loopback, for the centre's tests (the API's bearer tokens, the staff pages' sign-in and
sign-out): a real HTTP server with an RSA key (RS256) and

- `GET /jwks`: the key set (the centre's `OIDC_JWKS_URL`);
- `GET /.well-known/openid-configuration`: the discovery document (its `end_session_endpoint` is the server's own);
- `POST /token`: the token endpoint of the code flow, for the codes a test hands out with `grant` (it checks the
  client's secret by HTTP basic, the redirect URI and the PKCE verifier, and answers RS256 id and access tokens);
- `GET /oauth2/authorize`: for a browser (`signed_in`: who is signed in at the IdP, as `grant` takes it): back to
  the redirect URI with a code and the state at once, as an IdP with a session does; with nobody signed in, the
  IdP's own sign-in page (a form that is never sent: `asked_to_sign_in` counts them);
- `GET /oauth2/logout`: the end-session endpoint (OpenID Connect RP-Initiated Logout 1.0): every call is kept in
  `logouts` (its query); it redirects to `post_logout_redirect_uri` (with `state`) when that URI is one of
  `post_logout_redirect_uris`, and answers 400 otherwise, as LemonLDAP::NG refuses an unregistered one. An
  `id_token_hint` that is one of the id_tokens it handed out ends the IdP's session (`signed_in` is None after).

`token(...)` mints an access token directly (the API's tests, with a wrong key, audience or issuer on demand).
The issuer is a name only (`https://auth.health.test`): nothing fetches it, the URLs are the server's."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://auth.health.test"


class Issuer:
    """The agency's identity provider as the centre sees it (see the module's note)."""

    def __init__(self, issuer: str = ISSUER, audience: str = "health-centre", client_secret: str = "") -> None:
        self.issuer, self.audience = issuer, audience
        self.client_secret = client_secret or secrets.token_urlsafe(24)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwks = json.dumps({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()
        self.codes: dict[str, dict[str, Any]] = {}
        self.exchanges = 0
        self.id_tokens: list[str] = []  # every id_token handed out, in order
        self.logouts: list[dict[str, str]] = []  # the end-session endpoint's calls, their query
        self.post_logout_redirect_uris: list[str] = []
        self.signed_in: dict[str, Any] | None = None  # the IdP's session of the browser tests (sub, groups, name)
        self.asked_to_sign_in = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                url = urlsplit(self.path)
                if url.path == "/jwks":
                    self._answer(200, jwks)
                elif url.path == "/.well-known/openid-configuration":
                    self._answer(200, json.dumps(provider.discovery()).encode())
                elif url.path == "/oauth2/authorize":
                    self._authorize({k: v[0] for k, v in parse_qs(url.query).items()})
                elif url.path == "/oauth2/logout":
                    query = {k: v[0] for k, v in parse_qs(url.query).items()}
                    provider.logouts.append(query)
                    if query.get("id_token_hint") in provider.id_tokens:
                        provider.signed_in = None
                    target = query.get("post_logout_redirect_uri", "")
                    if target not in provider.post_logout_redirect_uris:
                        self._answer(400, b'{"error": "invalid_request"}')
                        return
                    back = f"{target}?{urlencode({'state': query['state']})}" if query.get("state") else target
                    self.send_response(302)
                    self.send_header("Location", back)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self._answer(404, b'{"error": "not_found"}')

            def do_POST(self) -> None:  # noqa: N802
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
                        .items()}
                basic = base64.b64encode(f"{provider.audience}:{provider.client_secret}".encode()).decode()
                grant = provider.codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "")
                challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                if (urlsplit(self.path).path != "/token" or self.headers.get("Authorization") != f"Basic {basic}"
                        or grant is None or form.get("redirect_uri") != grant["redirect_uri"]
                        or challenge != grant["challenge"]):
                    self._answer(400, b'{"error": "invalid_grant"}')
                    return
                provider.exchanges += 1
                self._answer(200, json.dumps(provider.tokens(grant)).encode())

            def _authorize(self, query: dict[str, str]) -> None:
                who = provider.signed_in
                if who is None:
                    provider.asked_to_sign_in += 1
                    page = (b'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in - IdP</title>'
                            b'</head><body><main><h1>Sign in to the agency</h1></main></body></html>')
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(page)))
                    self.end_headers()
                    self.wfile.write(page)
                    return
                code = provider.grant(**who, nonce=query["nonce"], challenge=query["code_challenge"],
                                      redirect_uri=query["redirect_uri"])
                self.send_response(302)
                back = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
                self.send_header("Location", back)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = f"{self.base}/jwks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def discovery(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "authorization_endpoint": self.issuer + "/oauth2/authorize",
                "token_endpoint": self.base + "/token", "jwks_uri": self.url,
                "end_session_endpoint": self.base + "/oauth2/logout"}

    def settings(self, desk_prefix: str) -> dict[str, str]:
        """The centre's `CENTRE_OIDC` entries for this provider (its sign-in: the code flow of the client)."""
        return {"issuer": self.issuer, "audience": self.audience, "jwks_url": self.url, "desk_prefix": desk_prefix,
                "client_id": self.audience, "client_secret": self.client_secret,
                "authorize_url": self.issuer + "/oauth2/authorize", "token_url": self.base + "/token",
                "discovery_url": self.base + "/.well-known/openid-configuration"}

    def token(self, groups: list[str], key: Any = None, kid: str = "k1", algorithm: str = "RS256",
              **claims: Any) -> str:
        """An access token for `groups` (staff-7 of this issuer and audience, 5 minutes), claims overridden."""
        now = int(time.time())
        body = {"iss": self.issuer, "aud": self.audience, "sub": "staff-7", "iat": now, "exp": now + 300,
                "groups": groups, **claims}
        return jwt.encode(body, key if key is not None else self.key, algorithm=algorithm, headers={"kid": kid})

    def tokens(self, grant: dict[str, Any]) -> dict[str, Any]:
        """The token endpoint's answer for a code granted (`grant`: sub, groups, name, nonce; iss/aud overridable)."""
        now = int(time.time())
        common = {"iss": grant.get("iss", self.issuer), "aud": grant.get("aud", self.audience), "sub": grant["sub"],
                  "iat": now, "exp": now + 600}
        id_token = jwt.encode({**common, "nonce": grant["nonce"], "azp": self.audience}, self.key, "RS256",
                              headers={"kid": "k1"})
        access = jwt.encode({**common, "groups": grant["groups"], "name": grant["name"]}, self.key, "RS256",
                            headers={"kid": "k1"})
        self.id_tokens.append(id_token)
        return {"access_token": access, "id_token": id_token, "token_type": "Bearer", "expires_in": 600}

    def grant(self, **grant: Any) -> str:
        """A code for the token endpoint (the test played the IdP's login): `grant` as `tokens` reads it, plus the
        redirect URI and PKCE challenge the authorization request carried."""
        code = secrets.token_urlsafe(16)
        self.codes[code] = grant
        return code

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
