"""The attacker's suite, citizen class: the Citizen's Centre of the victim agency on the session box, reached as a
citizen would reach it, through the agency's TLS proxy under its public name (the platform CA verified). The
citizen holds no saved link and no tracking code of anyone else's:
- saved answers ("save and come back later") are reached only with their own link: a guessed or mangled token,
  or another service's page with the victim's draft, gives nothing;
- the per-client tracking throttle cannot be escaped by sending an `X-Forwarded-For` of one's own (the proxy sets
  it from the connection, or from an edge's PROXY header on the hosts target)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from centre_core import references
from tests.apps_helpers import resolve_to_loopback
from tests.conftest import BoxHandle
from tests.security.conftest import VICTIM
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
