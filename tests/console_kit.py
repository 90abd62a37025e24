"""A client of the box's web console for the tests: signing in through the IdP as a browser does (the console's
pages start the code flow with PKCE), and an access token of the console's client for the API (the test runs the
code flow with PKCE itself, as a script's own client would)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

from govcloud_platform.box.context import Box
from govcloud_platform.box.services import console_conf
from govcloud_platform.onboarding import AgencyRequest, Onboarding
from govcloud_platform.spec.example import EXAMPLE_SPEC
from tests import oidc
from tests.conftest import BoxHandle, make_box, teardown_box

# the example spec with the console enabled
ENABLED = EXAMPLE_SPEC.replace("  openstack:                   # used", "    console:\n      enabled: true\n"
                                                                       "  openstack:                   # used")


@contextmanager
def console_box(prefix: str, slugs: tuple[str, ...], services: dict[str, list[str]] | None = None
                ) -> Iterator[BoxHandle]:
    """A box of its own with the console enabled (`govcloud up`), and these agencies onboarded with the identity
    service only (an administrator in the IdP, the agency's group), or the services given for a slug; always
    destroyed."""
    handle = make_box(prefix, ENABLED)
    try:
        result = handle.cli("--json", "up", "--port-base", str(handle.port_base), timeout=600)
        assert result.rc == 0, f"govcloud up failed: {result.stderr[-2000:]}"
        onboard(handle, slugs, services)
        yield handle
    finally:
        teardown_box(handle)


def onboard(handle: BoxHandle, slugs: tuple[str, ...], services: dict[str, list[str]] | None = None) -> BoxHandle:
    """These agencies onboarded on the box (`agency add` by actor `test`), with the identity service only (an
    administrator in the IdP, the agency's group) or the services given for a slug. A module on the shared console
    box (`console_session` of tests/conftest.py) onboards its own agencies so, under slugs no other module uses."""
    box = handle.box()
    for slug in slugs:
        Onboarding(box, actor="test").add(AgencyRequest(slug, f"Agency {slug}", f"it@{slug}.example", "standard",
                                                        (services or {}).get(slug, ["identity"])))
    return handle


def identity(handle: BoxHandle, slug: str) -> dict[str, str]:
    creds = handle.cli("--json", "agency", "credentials", slug, "--show-secrets")
    assert creds.rc == 0, creds.stderr
    found: dict[str, str] = creds.json()["identity"]
    return found


def admin(handle: BoxHandle, slug: str) -> tuple[str, str]:
    """The agency administrator's login and password (a member of the agency's group)."""
    found = identity(handle, slug)
    return found["admin_user"], found["admin_password"]


def operator(handle: BoxHandle) -> tuple[str, str]:
    box = handle.box()
    password = box.secrets.get("idp-operator-password")
    assert password
    return box.spec.platform.services.identity.operator_user, password


def url(box: Box, path: str = "/") -> str:
    return console_conf.public_url(box) + path


def sign_in(box: Box, user: str, password: str, start: str = "/en/agencies") -> tuple[requests.Session,
                                                                                       requests.Response]:
    """A browser session signed in to the console through the IdP's login form; the page it lands on."""
    s = oidc.browser(box)
    resp = s.get(url(box, start), allow_redirects=False, timeout=10)
    for _ in range(10):  # the console's redirects to /auth/signin and to the IdP's authorize
        if resp.status_code not in (301, 302, 303):
            break
        resp = s.get(urljoin(resp.url, resp.headers["location"]), allow_redirects=False, timeout=10)
        oidc.host_only(s)
    fields = oidc.login_form(resp)
    fields.update(user=user, password=password)
    resp = s.post(resp.url, data=fields, allow_redirects=False, timeout=10)
    oidc.host_only(s)
    for _ in range(10):  # the IdP's redirect to the console's callback, then to the page
        if resp.status_code not in (301, 302, 303):
            break
        resp = s.get(urljoin(resp.url, resp.headers["location"]), allow_redirects=False, timeout=10)
    return s, resp


def access_token(box: Box, user: str, password: str) -> str:
    """An access token of the console's client for `user` (authorization code with PKCE S256)."""
    token: str = token_answer(box, user, password)["access_token"]
    return token


def token_answer(box: Box, user: str, password: str) -> dict[str, str]:
    """The token endpoint's answer (access_token, id_token...) to the console's client for `user` (authorization
    code with PKCE S256)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    redirect = url(box, console_conf.CALLBACK)
    s = oidc.browser(box)
    first = s.get(f"{box.issuer}/oauth2/authorize", timeout=10, allow_redirects=False, params={
        "response_type": "code", "client_id": console_conf.CLIENT_ID, "redirect_uri": redirect,
        "scope": "openid profile groups", "state": "st", "nonce": "nc", "code_challenge": challenge,
        "code_challenge_method": "S256"})
    oidc.host_only(s)
    fields = oidc.login_form(first)
    fields.update(user=user, password=password)
    resp = s.post(first.url, data=fields, allow_redirects=False, timeout=10)
    location = resp.headers.get("location", "")
    assert resp.status_code == 302 and location.startswith(redirect), (resp.status_code, location[:200])
    code = parse_qs(urlsplit(location).query)["code"][0]
    secret = box.secrets.get(console_conf.CLIENT_SECRET)
    assert secret
    tokens = s.post(f"{box.issuer}/oauth2/token", auth=(console_conf.CLIENT_ID, secret), timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect, "code_verifier": verifier})
    assert tokens.status_code == 200, tokens.text[:300]
    answer: dict[str, str] = tokens.json()
    return answer


def api(box: Box, path: str, token: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    with requests.Session() as s:
        s.trust_env = False
        return s.get(url(box, path), headers=headers, verify=str(box.ca_file), timeout=10)


def api_post(box: Box, path: str, token: str | None, body: object = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    with requests.Session() as s:
        s.trust_env = False
        return s.post(url(box, path), headers=headers, json=body, verify=str(box.ca_file), timeout=120)


def until_approved(page: object, timeout: float = 300) -> None:
    """A request's page (a browser's, JavaScript off) after its Approve button: follow its "check the progress" link
    (the page says the approval's job runs) until the request is approved or its job failed."""
    import time

    from tests.integration._browser import follow

    t0 = time.monotonic()
    while (check := page.locator("#approval-check a")).count():  # type: ignore[attr-defined]
        assert time.monotonic() - t0 < timeout, page.locator("#approval").inner_text()  # type: ignore[attr-defined]
        time.sleep(1)
        follow(page, check)
