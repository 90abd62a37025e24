"""The attacker's suite, citizen class: the Citizen's Centre of the victim agency on the session box, reached as a
citizen would reach it, through the agency's TLS proxy under its public name (the platform CA verified). The
citizen holds no saved link and no tracking code of anyone else's:
- saved answers ("save and come back later") are reached only with their own link: a guessed or mangled token,
  or another service's page with the victim's draft, gives nothing;
- the per-client tracking throttle cannot be escaped by sending an `X-Forwarded-For` of one's own (the proxy sets
  it from the connection, or from an edge's PROXY header on the hosts target);
- the interface for integrations (`/api/`): an application sent there is read only with its current one-time
  code, and the staff side takes only access tokens the agency's IdP issued to the centre's own client (a token of
  the agency's other client or of another agency, from the same IdP and signed with the same key, is refused)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from centre_core import references
from tests import oidc
from tests.apps_helpers import resolve_to_loopback
from tests.conftest import BoxHandle
from tests.security.conftest import INTRUDER, VICTIM
from tests.security.matrix import attack

pytestmark = pytest.mark.integration
APP = "centre"
_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_SAVED = re.compile(r'class="saved-link" href="([^"]+)"')


@pytest.fixture(scope="module")
def centre(box: BoxHandle, tenants: dict[str, dict[str, Any]]) -> Iterator[str]:
    """The victim's centre, deployed through the CLI; its public URL (names resolving to the box)."""
    deployed = box.cli("--json", "app", "deploy", VICTIM, APP, timeout=900)
    assert deployed.rc == 0, deployed.stderr[-3000:]
    try:
        with resolve_to_loopback(box.box().spec.platform.domain):
            yield str(deployed.json()["url"])
    finally:
        box.cli("app", "remove", VICTIM, APP, "--purge-data", timeout=600)


def _session(box: BoxHandle) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.verify = str(box.box().ca_file)
    return s


def _forget_throttle(box: BoxHandle) -> None:
    """Set-up, not an attack: the victim centre's per-client lookup windows emptied, so that each test of the
    throttle (or of codes, whose lookups it counts) starts with this connection's 20 lookups."""
    from govcloud_platform.names import pg_app

    with box.box().pg_admin(pg_app(VICTIM, APP)) as conn:
        conn.execute("DELETE FROM tracking_clients")


def _form_token(s: requests.Session, url: str) -> str:
    page = s.get(url, timeout=30)
    assert page.status_code == 200, (url, page.status_code)
    match = _TOKEN.search(page.text)
    assert match, page.text[:500]
    return match.group(1)


@pytest.fixture(scope="module")
def saved_link(box: BoxHandle, centre: str) -> str:
    """The victim citizen saves the first answer of a trade licence and keeps the link (positive control: the
    link brings the answer back in a fresh session)."""
    s = _session(box)
    url = f"{centre}/en/services/trade_licence/apply/business_name/"
    token = _form_token(s, url)
    saved = s.post(url, data={"answer": "Victim Traders", "save": "1", "csrfmiddlewaretoken": token},
                   headers={"Referer": url}, timeout=30)
    assert saved.status_code == 200 and saved.url.endswith("/saved/"), (saved.status_code, saved.url)
    match = _SAVED.search(saved.text)
    assert match, saved.text[:500]
    fresh = _session(box)
    back = fresh.get(match.group(1), timeout=30)
    assert back.status_code == 200 and back.url.endswith("/apply/business_kind/"), (back.status_code, back.url)
    check = fresh.get(f"{centre}/en/services/trade_licence/check/", timeout=30)
    assert "Victim Traders" in check.text
    return match.group(1)


@pytest.mark.parametrize("how", ["a random token", "the link with its last symbol changed", "the link cut short",
                                 "the token's digest instead of the token"])
def test_saved_answers_need_their_own_link(box: BoxHandle, centre: str, saved_link: str, how: str) -> None:
    import hashlib

    token = saved_link.rstrip("/").rsplit("/", 1)[-1]
    forged = {
        "a random token": secrets.token_urlsafe(32),
        "the link with its last symbol changed": token[:-1] + ("A" if token[-1] != "A" else "B"),
        "the link cut short": token[:-4],
        "the token's digest instead of the token": hashlib.sha256(token.encode()).hexdigest(),
    }[how]
    s = _session(box)
    with attack("citizen", f"saved answers with {how}") as result:
        response = s.get(f"{centre}/en/resume/{forged}/", timeout=30, allow_redirects=False)
        check = s.get(f"{centre}/en/services/trade_licence/check/", timeout=30)
        result.succeeded = response.status_code != 404 or "Victim Traders" in check.text
        result.detail = f"HTTP {response.status_code}"


def test_the_tracking_throttle_ignores_a_forged_forwarded_for(box: BoxHandle, centre: str) -> None:
    """21 lookups from one connection's address, each claiming another address in X-Forwarded-For: the 21st is
    still refused (429)."""
    _forget_throttle(box)
    s = _session(box)
    statuses = []
    for i in range(21):
        token = _form_token(s, f"{centre}/en/track/")
        response = s.post(f"{centre}/en/track/", timeout=30, headers={
            "X-Forwarded-For": f"198.51.100.{i + 1}", "Referer": f"{centre}/en/track/"},
            data={"reference": references.display(references.new_reference()), "code": "ABCD2345",
                  "csrfmiddlewaretoken": token})
        statuses.append(response.status_code)
    assert statuses[:20] == [400] * 20, statuses  # positive control: wrong lookups, counted
    with attack("citizen", "escaping the tracking throttle with a forged X-Forwarded-For") as result:
        result.succeeded = statuses[20] != 429
        result.detail = f"HTTP {statuses[20]}"


# --- the interface for integrations ---------------------------------------------------------------------------
TRADE = {"business_name": "Victim Traders", "business_kind": "shop", "email": "victim@example.pk"}


@pytest.fixture(scope="module")
def sent(box: BoxHandle, centre: str) -> dict[str, Any]:
    """An application the victim citizen sent through the API, with its first code (positive control: the code
    reads it once, and the next code it returns reads it again)."""
    _forget_throttle(box)
    s = _session(box)
    response = s.post(f"{centre}/api/applications", json={"serviceKey": "trade_licence", "answers": TRADE}, timeout=30)
    assert response.status_code == 201, response.text[:500]
    doc: dict[str, Any] = response.json()
    first = s.get(f"{centre}/api/applications/{doc['reference']}", timeout=30,
                  headers={"X-Access-Code": doc["accessCode"]["code"]})
    assert first.status_code == 200 and first.json()["serviceKey"] == "trade_licence", first.text[:300]
    return {**doc, "used": doc["accessCode"]["code"], "next": first.json()["nextAccessCode"]["code"]}


@pytest.mark.parametrize("how", ["no code", "a made-up code", "the code already used",
                                 "another application's code"])
def test_an_application_is_read_only_with_its_current_code(box: BoxHandle, centre: str, sent: dict[str, Any],
                                                           how: str) -> None:
    s = _session(box)
    if how == "another application's code":
        other = s.post(f"{centre}/api/applications", json={"serviceKey": "trade_licence", "answers": TRADE},
                       timeout=30)
        assert other.status_code == 201, other.text[:300]
        code: str | None = other.json()["accessCode"]["code"]
    else:
        code = {"no code": None, "a made-up code": "ABCD2345", "the code already used": sent["used"]}[how]
    with attack("citizen", f"reading an application through the API with {how}") as result:
        response = s.get(f"{centre}/api/applications/{sent['reference']}", timeout=30,
                         headers={"X-Access-Code": code} if code else {})
        result.succeeded = response.status_code != 404 or "Victim Traders" in response.text
        result.detail = f"HTTP {response.status_code}"


def _client_token(box: BoxHandle, identity: dict[str, Any]) -> str:
    """An access token of the agency's own OIDC client (client credentials): an RS256 JWT from the platform's IdP,
    signed with the key the centre trusts, but for another audience than the centre's client."""
    with oidc.browser(oidc.Issuer.of(identity)) as s:
        response = s.post(f"{identity['issuer']}/oauth2/token", auth=(identity["client_id"], identity["client_secret"]),
                          data={"grant_type": "client_credentials", "scope": "openid groups"}, timeout=30)
    assert response.status_code == 200, response.text[:300]
    return str(response.json()["access_token"])


@pytest.mark.parametrize("whose", ["no token", "a made-up token", "a token of the victim agency's own client",
                                   "a token of the intruder agency's client"])
def test_the_staff_api_takes_only_the_centres_own_tokens(box: BoxHandle, centre: str,
                                                          tenants: dict[str, dict[str, Any]], whose: str) -> None:
    victim, intruder = tenants[VICTIM]["identity"], tenants[INTRUDER]["identity"]
    token = {"no token": None, "a made-up token": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
             "a token of the victim agency's own client": lambda: _client_token(box, victim),
             "a token of the intruder agency's client": lambda: _client_token(box, intruder)}[whose]
    bearer = token() if callable(token) else token
    s = _session(box)
    with attack("oidc" if callable(token) else "citizen", f"the centre's staff API with {whose}") as result:
        response = s.get(f"{centre}/api/tasks", timeout=30,
                         headers={"Authorization": f"Bearer {bearer}"} if bearer else {})
        result.succeeded = response.status_code != 401
        result.detail = f"HTTP {response.status_code}"
