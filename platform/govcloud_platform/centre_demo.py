"""`govcloud app demo AGENCY centre` (issue 16, item 6): one application driven through every step to an issued,
signed certificate, through the centre's interface for integrations (`/api/`, docs/centre.md) exactly as a client
would: the catalogue (`GET /api/services`), the application (`POST /api/applications`), each desk's task
(`GET /api/tasks`, `POST /api/tasks/<id>/<action>` with a staff token of that desk), then the application with its
access code (`GET /api/applications/<ref>`, `X-Access-Code`), whose `certificate` names the verification page.

The driver is transport-neutral (`Transport`: an HTTP client against the deployed centre, or Django's test client
in the tests) and acts with one staff bearer token that holds every desk of the process (on the box: a demo staff
member put at each desk with `govcloud agency desk`). Decisions are pure (`pick_service`,
`sample_answers`, `pick_action`)."""

from __future__ import annotations

import html
import http.client
import json
import re
import socket
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs, urlsplit

from govcloud_platform.errors import ServiceError
from govcloud_platform.names import desk_group, group, login

if TYPE_CHECKING:
    from govcloud_platform.box.context import Box

ISSUING = ("issued", "granted")
# The action that moves a task towards issuing, in order of preference (never reject or return).
FORWARD = ("accept", "approve", "issue", "grant", "done", "complete", "resolve")
PREFERRED_SERVICES = ("trade_licence", "birth_certificate", "building_permit")
MAX_STEPS = 20


class Transport(Protocol):
    def request(self, method: str, path: str, body: Any | None = None,
                headers: Mapping[str, str] | None = None) -> tuple[int, Any]:
        """(status, parsed JSON body) of one request to the centre."""
        ...


@dataclass(frozen=True)
class DemoResult:
    reference: str
    access_code: str
    certificate_url: str
    verify_url: str

    def as_dict(self) -> dict[str, str]:
        return {"reference": self.reference, "access_code": self.access_code,
                "certificate_url": self.certificate_url, "verify_url": self.verify_url}


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a public name through an address given (the proxy's): SNI, Host and the certificate's check are the
    name's, the TCP connection the address's (no DNS for the platform's names, as `apps/probe.py`)."""

    connect_to = ""

    def connect(self) -> None:
        sock = socket.create_connection((self.connect_to or self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class HttpTransport:
    """The demo's transport to a deployed centre: JSON over HTTPS verified with the box CA (plain http only on
    loopback, for tests). `connect`: the address of the proxy to reach the centre's public name through (the
    apps' target's; None: the name's own). Answers that are not JSON come back as None."""

    base_url: str
    ca_file: str | None = None
    timeout: float = 30.0
    connect: str | None = None

    def request(self, method: str, path: str, body: Any | None = None,
                headers: Mapping[str, str] | None = None) -> tuple[int, Any]:
        parts = urlsplit(self.base_url.rstrip("/") + path)
        host = parts.hostname or ""
        if parts.scheme != "https" and not (parts.scheme == "http" and host in ("127.0.0.1", "localhost")):
            raise ServiceError(f"the centre's address must be https: {self.base_url}")
        data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
        sent = {"Accept": "application/json", **({"Content-Type": "application/json"} if body is not None else {}),
                **(headers or {})}
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            pinned = _PinnedHTTPS(host, parts.port or 443, timeout=self.timeout,
                                  context=ssl.create_default_context(cafile=self.ca_file))
            pinned.connect_to = self.connect or ""
            conn = pinned
        else:
            conn = http.client.HTTPConnection(host, parts.port or 80, timeout=self.timeout)
        try:
            conn.request(method, (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body=data,
                         headers=sent)
            answer = conn.getresponse()
            status, raw = answer.status, answer.read()
        except (OSError, http.client.HTTPException) as exc:
            raise ServiceError(f"the centre at {self.base_url} cannot be reached ({type(exc).__name__})") from None
        finally:
            conn.close()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, None


def pick_service(services: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """A service whose process can end issuing a certificate, the samples' trade licence first."""
    issuing = [s for s in services if any(o.get("id") in ISSUING for o in s.get("outcomes", ()))]
    for wanted in PREFERRED_SERVICES:
        for s in issuing:
            if s["id"] == wanted:
                return s
    if not issuing:
        raise ServiceError("no service of this centre's catalogue ends with a certificate",
                           hint="the sample catalogue's trade licence does; deploy the centre with the samples")
    return issuing[0]


def sample_answers(service: Mapping[str, Any]) -> dict[str, Any]:
    """A valid answer to every question, by its kind."""
    by_kind: dict[str, Any] = {"email": "demo@example.invalid", "phone": "+92 51 0000000", "mobile": "03001234567",
                               "date": "2000-01-01", "number": 1, "long_text": "Demonstration application.",
                               "text": "Demo"}
    out: dict[str, Any] = {}
    for q in service.get("questions", ()):
        if q.get("choices"):
            out[q["id"]] = q["choices"][0]["id"]
        else:
            value = by_kind.get(q.get("kind", "text"), "Demo")
            limit = q.get("maxLength")
            out[q["id"]] = value[:limit] if isinstance(value, str) and isinstance(limit, int) else value
    return out


def pick_action(actions: Sequence[str]) -> str:
    for wanted in FORWARD:
        if wanted in actions:
            return wanted
    raise ServiceError(f"the demo cannot move a task offering only {', '.join(actions) or 'nothing'}")


def _ok(answer: tuple[int, Any], what: str, expected: int = 200) -> Any:
    status, body = answer
    if status != expected:
        detail = body.get("message", "") if isinstance(body, dict) else ""
        raise ServiceError(f"the centre refused {what}: HTTP {status} {detail}".strip())
    return body


def run(api: Transport, token: str, public_url: str, wait_s: float = 60.0,
        sleep: Callable[[float], None] = time.sleep) -> DemoResult:
    """Drive one application to its signed certificate; the certificate's URL carries an unused access code."""
    service = pick_service(_ok(api.request("GET", "/api/services"), "the catalogue"))
    sent = _ok(api.request("POST", "/api/applications", {"serviceKey": service["id"],
                                                         "answers": sample_answers(service)}),
               "the application", 201)
    reference, code = sent["reference"], sent["accessCode"]["code"]
    auth = {"Authorization": f"Bearer {token}"}
    for _ in range(MAX_STEPS):
        waiting = [t for t in _ok(api.request("GET", "/api/tasks", headers=auth), "the task list")
                   if t["reference"] == reference]
        if not waiting:
            raise ServiceError("the application waits at no desk the demo can act at", hint=f"reference {reference}")
        task = waiting[0]
        done = _ok(api.request("POST", f"/api/tasks/{task['id']}/{pick_action(task['actions'])}", headers=auth),
                   "a task's action")
        if done["status"] == "closed":
            if done.get("outcome") not in ISSUING:
                raise ServiceError(f"the application closed as {done.get('outcome')!r}, not issued")
            return _finish(api, public_url, reference, code, wait_s, sleep)
    raise ServiceError(f"the application did not close within {MAX_STEPS} steps")


def _finish(api: Transport, public_url: str, reference: str, code: str, wait_s: float,
            sleep: Callable[[float], None]) -> DemoResult:
    """Look the application up with its code until its certificate is there (issued when it closed, or by the
    timers' job); the last lookup's next code goes into the certificate's URL, unused."""
    deadline = time.monotonic() + wait_s
    while True:
        seen = _ok(api.request("GET", f"/api/applications/{reference}", headers={"X-Access-Code": code}),
                   "the application's lookup")
        code = seen["nextAccessCode"]["code"]
        certificate = seen.get("certificate")
        if certificate:
            base = public_url.rstrip("/")
            return DemoResult(reference, code, f"{base}{certificate['path']}?code={code}", certificate["verifyUrl"])
        if time.monotonic() > deadline:
            raise ServiceError("the application is issued but its certificate was not signed in time",
                               hint="is the signing service up? `govcloud status`")
        sleep(2.0)


def dumps(result: DemoResult) -> str:
    return json.dumps(result.as_dict())


# --- on the box: `govcloud app demo AGENCY centre` --------------------------------------------------------------
APP = "centre"
DEMO_PREFIX = "demo-"  # the demo staff member's login: demo-<8 hex>@<agency>, removed when the demo ends
_INPUT = re.compile(r'<input[^>]*?name="([^"]+)"[^>]*?value="([^"]*)"')


def demo_login(slug: str, suffix: str) -> str:
    """A login of the agency no person holds (a fresh random suffix per run: two demos never share one)."""
    return login(slug, f"{DEMO_PREFIX}{suffix}")


def demo_groups(slug: str, desks: Sequence[str]) -> list[str]:
    """The agency's members' group (the only one its centre's client admits) and every desk's group."""
    return [group(slug), *(desk_group(slug, d) for d in sorted(set(desks)))]


def login_fields(page: str, user: str, password: str) -> dict[str, str]:
    """LemonLDAP::NG's login form filled in: its hidden fields kept (its form token), the credentials set."""
    fields = {m.group(1): html.unescape(m.group(2)) for m in _INPUT.finditer(page)}
    return {**fields, "user": user, "password": password}


def staff_token(issuer: str, ca_file: str, client_id: str, client_secret: str, redirect_uri: str, user: str,
                password: str, timeout: float = 30.0) -> str:
    """An access token of `user` for the centre's client by the OIDC code flow with PKCE (RFC 7636), as a staff
    tool signs in: the IdP's authorization endpoint, its login form, the code from the redirect (its state checked;
    the redirect itself is not followed), the token endpoint with the client's secret. The password and the token
    appear in no error."""
    import requests

    from govcloud_platform.console import signin

    pending = signin.new_pending(int(time.time()), "/en/")
    with requests.Session() as s:
        s.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
        s.verify = ca_file
        try:
            form = s.get(signin.authorize_url(f"{issuer}/oauth2/authorize", client_id, redirect_uri, pending, "en"),
                         allow_redirects=False, timeout=timeout)
            if form.status_code != 200 or 'name="password"' not in form.text:
                raise ServiceError(f"the IdP's authorization endpoint answered HTTP {form.status_code}, not its "
                                   "login form", hint="`govcloud status`: is identity healthy?")
            back = s.post(form.url, data=login_fields(form.text, user, password), allow_redirects=False,
                          timeout=timeout)
            location = back.headers.get("Location", "")
            code = None
            if back.status_code in (302, 303) and location.startswith(redirect_uri + "?"):
                query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
                code = signin.callback_code(pending, query, int(time.time()))
            if code is None:
                raise ServiceError(f"the IdP did not sign the demo staff member in (HTTP {back.status_code})",
                                   hint="`govcloud logs identity`")
            tokens = s.post(f"{issuer}/oauth2/token", auth=(client_id, client_secret), timeout=timeout,
                            data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                                  "code_verifier": pending["verifier"]})
        except requests.RequestException as exc:
            raise ServiceError(f"the IdP at {issuer} cannot be reached ({type(exc).__name__})") from None
    token = tokens.json().get("access_token") if tokens.status_code == 200 else None
    if not isinstance(token, str) or not token:
        raise ServiceError(f"the IdP's token endpoint answered HTTP {tokens.status_code} without an access token")
    return token


def run_on_box(box: Box, slug: str, progress: Callable[[str], None] = lambda _: None,
               wait_s: float = 150.0) -> DemoResult:
    """The demo on a box: a temporary staff member of the agency at every desk of its centre's catalogue (the
    spec's, else the samples the deploy installed), signed in through the box's IdP with the centre's own OIDC
    client, drives one application to its signed certificate through the centre's public address (the proxy,
    TLS checked against the box CA); the member is removed at the end, whatever happened. Nothing is changed for
    an unknown agency or one without the centre (InputError)."""
    import secrets

    from govcloud_platform.apps.layout import app_target, public_url
    from govcloud_platform.apps.manifests import manifest
    from govcloud_platform.apps.store import READY, DeploymentStore
    from govcloud_platform.box import idp_api
    from govcloud_platform.centre_desks import catalogue_of, lanes
    from govcloud_platform.errors import ConflictError, InputError
    from govcloud_platform.names import oidc_app_client
    from govcloud_platform.state.registry import Registry

    if Registry(box.home).agency(slug) is None:
        raise InputError(f"unknown agency {slug!r}", hint="`govcloud agency list` shows the agencies")
    store = DeploymentStore(box)
    deployment = store.get(slug, APP)
    if deployment is None:
        raise InputError(f"the centre is not deployed for agency {slug!r}", hint=f"`govcloud app deploy {slug} centre`")
    if deployment.state != READY:
        raise ConflictError(f"the centre of {slug} is {deployment.state}", hint=f"`govcloud app deploy {slug} centre`")
    client_secret = (store.secrets(slug, APP) or {}).get("oidc_secret")
    if not client_secret:
        raise ConflictError(f"the centre of {slug} has no OIDC client secret recorded",
                            hint=f"`govcloud app deploy {slug} centre`")
    desks = lanes(catalogue_of(box, slug))
    base = public_url(box, slug, APP)
    user, password = demo_login(slug, secrets.token_hex(4)), secrets.token_urlsafe(32)
    groups = demo_groups(slug, desks)
    progress(f"demo staff member {user} at the desks {', '.join(desks)}")
    if not idp_api.create_user(box, user, password, f"{user.replace('@', '.')}@example.invalid",
                               "Centre demo (temporary)", groups):
        raise ConflictError(f"the login {user} is taken", hint="run the demo again")
    try:
        token = staff_token(box.issuer, str(box.ca_file), oidc_app_client(slug, APP), client_secret,
                            base + manifest(APP).oidc_callback, user, password)
        progress("signed in through the IdP; one application through every step")
        return run(HttpTransport(base, str(box.ca_file), connect=app_target(box).connect), token, base, wait_s)
    finally:
        idp_api.remove_user(box, user)
        idp_api.remove_empty_groups(box, groups[1:])  # desk groups only this member held
        progress(f"demo staff member {user} removed")
