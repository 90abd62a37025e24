"""Class "console": agency B's member (`sec-con-intruder`'s administrator), with only what B holds (its own access
token of the console's client, its own signed-in browser session), against agency A (`sec-con-victim`) through the
web console: A's slug in the API and the pages under every spelling, tokens forged from B's (A's group written
in, `alg: none`, HS256 keyed with the IdP's public key), a token of another client, a forged session cookie. A
refusal of another agency's id must be the 404 an unknown id gets (a 403 would confirm that A exists). The second
slice's rows: A's onboarding request (read, approved or declined by B: 404 as an unknown id), A's audit entries (the
filter under several spellings, the CSV export, the unfiltered list), and a form posted without the session's CSRF
token (what a cross-site form sends). The jobs' rows: starting A's deploys, removals, backups and drills through the
API and the pages (with B's own form token), and reading A's job, and the approval job of A's onboarding request,
by its id; restoring A's backup (confirmed, API and
page) and running `apply` or reading an operator's apply job. The members' rows: A's members and
invitations (listed, demoted, removed, invited into, withdrawn; by the API and the pages with B's own form token):
404 as an unknown agency, nothing changed. Positive control: B reads its own agency, files a request and cannot
approve it, lists its own members. Scripts: B's own script client's token (client credentials) against A's slug,
that token rewritten to the operators' script client, and a removed script client's token that has not expired."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests import console_kit as kit
from tests.conftest import BoxHandle
from tests.security.matrix import attack

pytestmark = pytest.mark.integration
VICTIM, INTRUDER = "sec-con-victim", "sec-con-intruder"


@pytest.fixture(scope="module")
def cbox(console_session: BoxHandle) -> BoxHandle:
    return kit.onboard(console_session, (VICTIM, INTRUDER))


@pytest.fixture(scope="module")
def own(cbox: BoxHandle) -> dict[str, Any]:
    """The intruder's own: an access token of the console's client, and a signed-in browser session."""
    box = cbox.box()
    session, landed = kit.sign_in(box, *kit.admin(cbox, INTRUDER))
    assert landed.status_code == 200
    return {"token": kit.access_token(box, *kit.admin(cbox, INTRUDER)), "session": session}


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    head, body, signature = token.split(".")
    return (json.loads(base64.urlsafe_b64decode(head + "==")), json.loads(base64.urlsafe_b64decode(body + "==")),
            signature)


def with_victims_group(token: str) -> str:
    head, claims, signature = _parts(token)
    return f"{_b64(head)}.{_b64({**claims, 'groups': [f'agency-{VICTIM}', 'platform-operators']})}.{signature}"


def unsigned(token: str) -> str:
    _, claims, _ = _parts(token)
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64({**claims, 'groups': ['platform-operators']})}."


def hs256_with_public_key(box: Any, token: str) -> str:
    """The algorithm confusion: an HMAC token keyed with the IdP's public RSA key (which anyone can fetch)."""
    _, claims, _ = _parts(token)
    s = kit.oidc.browser(box)
    jwk = s.get(f"{box.issuer}/oauth2/jwks", timeout=10).json()["keys"][0]
    public = jwt.PyJWK(jwk).key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "typ": "JWT", "kid": jwk.get("kid", "")}
    signing = f"{_b64(header)}.{_b64({**claims, 'groups': ['platform-operators']})}"
    mac = hmac.new(public, signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def agency_client_token(cbox: BoxHandle) -> str:
    """The intruder agency's own OIDC client's token (client credentials): the same IdP, another audience."""
    box = cbox.box()
    ident = kit.identity(cbox, INTRUDER)
    resp = kit.oidc.browser(box).post(f"{box.issuer}/oauth2/token", timeout=10,
                                      auth=(ident["client_id"], ident["client_secret"]),
                                      data={"grant_type": "client_credentials", "scope": "openid"})
    assert resp.status_code == 200, resp.text[:200]
    token: str = resp.json()["access_token"]
    return token


def _get(box: Any, path: str, token: str | None = None, session: requests.Session | None = None) -> requests.Response:
    url = kit.url(box, path)
    if session is not None:
        return session.get(url, allow_redirects=False, timeout=10)
    with requests.Session() as s:
        s.trust_env = False
        return s.get(url, headers={"Authorization": f"Bearer {token}"} if token else {}, verify=str(box.ca_file),
                     timeout=10, allow_redirects=False)


# (what, the path asked for with the intruder's own token)
SLUG_ROWS = [
    ("the victim's slug", f"/api/agencies/{VICTIM}"),
    ("the victim's slug with a trailing slash", f"/api/agencies/{VICTIM}/"),
    ("the victim's slug in upper case", f"/api/agencies/{VICTIM.upper()}"),
    ("the victim's slug percent-encoded", "/api/agencies/" + "".join(f"%{b:02x}" for b in VICTIM.encode())),
    ("the victim's slug through a dot segment", f"/api/agencies/{INTRUDER}/..%2f{VICTIM}"),
    ("the victim's slug with a query", f"/api/agencies/{VICTIM}?agency={INTRUDER}"),
    ("the victim's usage", f"/api/agencies/{VICTIM}/usage"),
    ("the victim's usage history", f"/api/agencies/{VICTIM}/usage/history"),
    ("the victim's credentials (masked)", f"/api/agencies/{VICTIM}/credentials"),
    ("the victim's apps", f"/api/agencies/{VICTIM}/apps"),
    ("the victim's backups", f"/api/agencies/{VICTIM}/backups"),
    ("the victim's jobs", f"/api/agencies/{VICTIM}/jobs"),
]


@pytest.mark.parametrize(("what", "path"), SLUG_ROWS, ids=[r[0] for r in SLUG_ROWS])
def test_intruder_cannot_read_the_victim_through_the_api(cbox: BoxHandle, own: dict[str, Any], what: str,
                                                         path: str) -> None:
    box = cbox.box()
    unknown = _get(box, "/api/agencies/no-such-agency", own["token"])
    with attack("console", f"API: {what}") as attempt:
        resp = _get(box, path, own["token"])
        attempt.succeeded = resp.status_code not in (404, 308) or VICTIM in resp.text.replace(path, "")
        attempt.detail = f"HTTP {resp.status_code}"
    if resp.status_code == 404:
        assert resp.json() == unknown.json()  # not even the body tells the victim from nothing


def test_intruder_list_holds_only_itself(cbox: BoxHandle, own: dict[str, Any]) -> None:
    with attack("console", "API: list the agencies") as attempt:
        resp = _get(cbox.box(), "/api/agencies", own["token"])
        slugs = [a["slug"] for a in resp.json()["agencies"]]
        attempt.succeeded = slugs != [INTRUDER]
        attempt.detail = str(slugs)


def test_intruder_cannot_reveal_the_victims_secrets_nor_read_the_chargeback(cbox: BoxHandle,
                                                                           own: dict[str, Any]) -> None:
    """The intruder is its own agency's administrator: it may reveal its own secrets, never the victim's (API, and
    the page's form with the intruder's own CSRF token), and the chargeback report is the operators'."""
    box = cbox.box()
    headers = {"Authorization": f"Bearer {own['token']}"}
    with requests.Session() as s:
        s.trust_env = False
        unknown = s.post(kit.url(box, "/api/agencies/no-such-agency/credentials/reveal"), headers=headers,
                         verify=str(box.ca_file), timeout=30)
        with attack("console", "API: reveal the victim's secrets") as attempt:
            resp = s.post(kit.url(box, f"/api/agencies/{VICTIM}/credentials/reveal"), headers=headers,
                          verify=str(box.ca_file), timeout=30)
            attempt.succeeded = resp.status_code != 404 or resp.json() != unknown.json()
            attempt.detail = f"HTTP {resp.status_code}"
    page = own["session"].get(kit.url(box, f"/en/agencies/{INTRUDER}"), timeout=10)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf, "the intruder's own page offers it the reveal form"
    with attack("console", "page: reveal the victim's secrets with the intruder's own CSRF token") as attempt:
        resp = own["session"].post(kit.url(box, f"/en/agencies/{VICTIM}/credentials/reveal"),
                                   data={"csrf": csrf.group(1)}, allow_redirects=False, timeout=30)
        attempt.succeeded = resp.status_code != 404 or f"Agency {VICTIM}" in resp.text
        attempt.detail = f"HTTP {resp.status_code}"
    with attack("console", "API: the directorate's chargeback report") as attempt:
        resp = _get(box, "/api/chargeback.csv", own["token"])
        attempt.succeeded = resp.status_code != 403 or VICTIM in resp.text
        attempt.detail = f"HTTP {resp.status_code}"


TOKEN_ROWS: list[tuple[str, Callable[[BoxHandle, str], str]]] = [
    ("own token with the victim's and the operators' groups written in", lambda c, t: with_victims_group(t)),
    ("own claims unsigned (alg none) as an operator", lambda c, t: unsigned(t)),
    ("HS256 keyed with the IdP's public key, as an operator", lambda c, t: hs256_with_public_key(c.box(), t)),
    ("own agency client's token (another audience)", lambda c, t: agency_client_token(c)),
    ("own id_token of the console's client as a bearer token, not an access token",
     lambda c, t: kit.token_answer(c.box(), *kit.admin(c, INTRUDER))["id_token"]),
]


@pytest.mark.parametrize(("what", "forge"), TOKEN_ROWS, ids=[r[0] for r in TOKEN_ROWS])
def test_forged_or_foreign_tokens_are_refused(cbox: BoxHandle, own: dict[str, Any], what: str,
                                             forge: Callable[[BoxHandle, str], str]) -> None:
    token = forge(cbox, own["token"])
    with attack("console", f"API: {what}") as attempt:
        resp = _get(cbox.box(), f"/api/agencies/{INTRUDER}", token)  # even its own agency: the token is no key
        attempt.succeeded = resp.status_code != 401
        attempt.detail = f"HTTP {resp.status_code}"


PAGE_ROWS = [
    ("the victim's page", f"/en/agencies/{VICTIM}"),
    ("the victim's page in Urdu", f"/ur/agencies/{VICTIM}"),
    ("the victim's page with a trailing slash", f"/en/agencies/{VICTIM}/"),
    ("the victim's page percent-encoded", "/en/agencies/" + "".join(f"%{b:02x}" for b in VICTIM.encode())),
    ("the victim's usage page", f"/en/agencies/{VICTIM}/usage"),
]


@pytest.mark.parametrize(("what", "path"), PAGE_ROWS, ids=[r[0] for r in PAGE_ROWS])
def test_intruder_cannot_read_the_victims_page(cbox: BoxHandle, own: dict[str, Any], what: str, path: str) -> None:
    with attack("console", f"page: {what}") as attempt:
        resp = _get(cbox.box(), path, session=own["session"])
        attempt.succeeded = resp.status_code != 404 or f"Agency {VICTIM}" in resp.text
        attempt.detail = f"HTTP {resp.status_code}"


def test_a_forged_session_cookie_is_no_session(cbox: BoxHandle, own: dict[str, Any]) -> None:
    box = cbox.box()
    cookie = next(c for c in own["session"].cookies if c.name == "govcloud_console")
    payload, stamp, signature = (cookie.value or "").rsplit(".", 2)  # itsdangerous: payload.timestamp.signature
    forged = base64.urlsafe_b64encode(json.dumps({"p": {"sub": "x", "groups": ["platform-operators"],
                                                        "exp": 4_000_000_000}}).encode()).rstrip(b"=").decode()
    with attack("console", "page: a session cookie rewritten to an operator's") as attempt:
        with requests.Session() as s:
            s.trust_env = False
            resp = s.get(kit.url(box, f"/en/agencies/{VICTIM}"), verify=str(box.ca_file), allow_redirects=False,
                         timeout=10, headers={"Cookie": f"govcloud_console={forged}.{stamp}.{signature}"})
        attempt.succeeded = resp.status_code == 200
        attempt.detail = f"HTTP {resp.status_code}"
    assert resp.status_code == 302 and payload


def test_positive_control_the_intruder_reads_its_own_agency(cbox: BoxHandle, own: dict[str, Any]) -> None:
    box = cbox.box()
    assert _get(box, f"/api/agencies/{INTRUDER}", own["token"]).json()["slug"] == INTRUDER
    assert _get(box, f"/en/agencies/{INTRUDER}", session=own["session"]).status_code == 200


# --- the second slice: onboarding requests and the audit log ------------------------------------------------------
@pytest.fixture(scope="module")
def victims_request(cbox: BoxHandle) -> int:
    """A request filed by the victim's administrator (for an annex of the victim)."""
    box = cbox.box()
    token = kit.access_token(box, *kit.admin(cbox, VICTIM))
    resp = kit.api_post(box, "/api/requests", token, {"slug": f"{VICTIM}-annex", "name": "Victim annex",
                                                      "email": "it@annex.example"})
    assert resp.status_code == 201, resp.text[:300]
    found: int = resp.json()["id"]
    return found


REQUEST_ROWS = [("read the victim's request", "GET", ""), ("approve the victim's request", "POST", "/approve"),
                ("decline the victim's request", "POST", "/decline")]


@pytest.mark.parametrize(("what", "method", "tail"), REQUEST_ROWS, ids=[r[0] for r in REQUEST_ROWS])
def test_intruder_cannot_touch_the_victims_request(cbox: BoxHandle, own: dict[str, Any], victims_request: int,
                                                  what: str, method: str, tail: str) -> None:
    box = cbox.box()
    unknown = kit.api_post(box, "/api/requests/999999" + tail, own["token"], {"reason": "x"}) if method == "POST" \
        else _get(box, "/api/requests/999999", own["token"])
    with attack("console", f"API: {what}") as attempt:
        path = f"/api/requests/{victims_request}{tail}"
        resp = kit.api_post(box, path, own["token"], {"reason": "mine now"}) if method == "POST" \
            else _get(box, path, own["token"])
        attempt.succeeded = resp.status_code != 404 or "annex" in resp.text
        attempt.detail = f"HTTP {resp.status_code}"
    assert resp.json() == unknown.json()
    victim = kit.access_token(box, *kit.admin(cbox, VICTIM))
    assert _get(box, f"/api/requests/{victims_request}", victim).json()["state"] == "pending"


def test_intruder_list_of_requests_holds_none_of_the_victims(cbox: BoxHandle, own: dict[str, Any],
                                                            victims_request: int) -> None:
    with attack("console", "API: list the onboarding requests") as attempt:
        resp = _get(cbox.box(), "/api/requests", own["token"])
        ids = [r["id"] for r in resp.json()["requests"]]
        attempt.succeeded = victims_request in ids or "annex" in resp.text
        attempt.detail = str(ids)


AUDIT_ROWS = [
    ("the victim's audit entries", f"/api/audit?agency={VICTIM}"),
    ("the victim's audit entries in upper case", f"/api/audit?agency={VICTIM.upper()}"),
    ("the victim's app's audit entries", f"/api/audit?agency={VICTIM}/portal"),
    ("the victim's audit entries twice over", f"/api/audit?agency={INTRUDER}&agency={VICTIM}"),
    ("the victim's audit entries as CSV", f"/api/audit.csv?agency={VICTIM}"),
]


@pytest.mark.parametrize(("what", "path"), AUDIT_ROWS, ids=[r[0] for r in AUDIT_ROWS])
def test_intruder_cannot_read_the_victims_audit_entries(cbox: BoxHandle, own: dict[str, Any], what: str,
                                                       path: str) -> None:
    box = cbox.box()
    with attack("console", f"API: {what}") as attempt:
        resp = _get(box, path, own["token"])
        body = resp.text.replace(path.split("?")[1], "")
        attempt.succeeded = VICTIM in body or (resp.status_code != 404 and INTRUDER not in body)
        attempt.detail = f"HTTP {resp.status_code}"


def test_intruder_unfiltered_audit_holds_only_itself(cbox: BoxHandle, own: dict[str, Any]) -> None:
    with attack("console", "API and page: the audit log without a filter") as attempt:
        resp = _get(cbox.box(), "/api/audit", own["token"])
        targets = {e["target"].split("/")[0] for e in resp.json()["entries"]}
        page = _get(cbox.box(), "/en/audit", session=own["session"])
        attempt.succeeded = targets != {INTRUDER} or VICTIM in page.text
        attempt.detail = str(sorted(targets))


def _csrf(session: requests.Session, box: Any) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', _get(box, "/en/requests/new", session=session).text)
    assert found
    return found.group(1)


def test_intruder_pages_cannot_touch_the_victims_request(cbox: BoxHandle, own: dict[str, Any],
                                                        victims_request: int) -> None:
    box = cbox.box()
    token = _csrf(own["session"], box)
    with attack("console", "page: the victim's request, and approving it with the intruder's own form token") as at:
        read = _get(box, f"/en/requests/{victims_request}", session=own["session"])
        post = own["session"].post(kit.url(box, f"/ur/requests/{victims_request}/approve"), data={"csrf": token},
                                   allow_redirects=False, timeout=60)
        at.succeeded = read.status_code != 404 or post.status_code != 404 or "annex" in read.text + post.text
        at.detail = f"HTTP {read.status_code}, {post.status_code}"


def test_a_form_without_the_sessions_token_files_nothing(cbox: BoxHandle, own: dict[str, Any]) -> None:
    """What a cross-site form would post in the intruder's signed-in browser: the fields without the token."""
    box = cbox.box()
    before = _get(box, "/api/requests", own["token"]).json()["requests"]
    with attack("console", "page: a form posted without the session's CSRF token") as attempt:
        resp = own["session"].post(kit.url(box, "/en/requests"), allow_redirects=False, timeout=30, data={
            "slug": "sec-con-csrf", "name": "CSRF", "email": "a@b.cd", "quota_class": "standard"})
        after = _get(box, "/api/requests", own["token"]).json()["requests"]
        attempt.succeeded = resp.status_code != 400 or after != before
        attempt.detail = f"HTTP {resp.status_code}"


def test_positive_control_the_intruder_files_but_cannot_approve(cbox: BoxHandle, own: dict[str, Any]) -> None:
    box = cbox.box()
    filed = kit.api_post(box, "/api/requests", own["token"], {"slug": f"{INTRUDER}-annex", "name": "Intruder annex",
                                                              "email": "it@annex.example"})
    assert filed.status_code == 201, filed.text[:300]
    refused = kit.api_post(box, f"/api/requests/{filed.json()['id']}/approve", own["token"])
    assert refused.status_code == 403


# --- the jobs (console/jobs.py, console/apps_backups.py): starting the victim's, reading the victim's --------------
JOB_STARTS = [("deploy an app", "apps/opendata/deploy"), ("remove an app", "apps/opendata/remove"),
              ("run a backup", "backups"), ("run a restore drill", "backups/drill")]


@pytest.fixture(scope="module")
def victims_job(cbox: BoxHandle) -> int:
    """A job of the victim's, recorded as the console records one (it never runs: nothing is started here)."""
    from govcloud_platform.state import jobs
    from govcloud_platform.state.registry import Registry

    registry = Registry(cbox.box().home)
    try:
        job = jobs.create(registry, "drill", VICTIM, "backups", "console:victim")
        jobs.move(registry, job.id, jobs.FAILED, error="never run: a test's record")
        return job.id
    finally:
        registry.close()


@pytest.mark.parametrize(("what", "tail"), JOB_STARTS, ids=[r[0] for r in JOB_STARTS])
def test_intruder_cannot_start_the_victims_jobs(cbox: BoxHandle, own: dict[str, Any], what: str, tail: str) -> None:
    box = cbox.box()
    unknown = kit.api_post(box, f"/api/agencies/no-such-agency/{tail}", own["token"])
    token = _csrf(own["session"], box)
    with attack("console", f"start the victim's job: {what} (API, and the page with the intruder's form token)") as at:
        api = kit.api_post(box, f"/api/agencies/{VICTIM}/{tail}", own["token"])
        page = own["session"].post(kit.url(box, f"/en/agencies/{VICTIM}/{tail}"), data={"csrf": token},
                                   allow_redirects=False, timeout=30)
        at.succeeded = api.status_code != 404 or page.status_code != 404 or api.json() != unknown.json()
        at.detail = f"HTTP {api.status_code}, {page.status_code}"


def test_intruder_cannot_read_the_victims_job(cbox: BoxHandle, own: dict[str, Any], victims_job: int) -> None:
    box = cbox.box()
    unknown = _get(box, "/api/jobs/987654321", own["token"])
    with attack("console", "read the victim's job by its id (API and page)") as attempt:
        api = _get(box, f"/api/jobs/{victims_job}", own["token"])
        page = _get(box, f"/en/jobs/{victims_job}", session=own["session"])
        attempt.succeeded = (api.status_code != 404 or page.status_code != 404 or api.json() != unknown.json()
                             or VICTIM in api.text + page.text)
        attempt.detail = f"HTTP {api.status_code}, {page.status_code}"


def test_intruder_cannot_read_the_victims_approval_job(cbox: BoxHandle, own: dict[str, Any],
                                                      victims_request: int) -> None:
    """An approval is a job (`onboard`, its agency the request's slug, its target `request-<id>`): the victim's
    request's approval job, recorded as the console records one (never run), is the 404 of an unknown job to the
    intruder, through the API and the page; the victim's request stays pending."""
    from govcloud_platform.state import jobs
    from govcloud_platform.state import onboarding_requests as requests_store
    from govcloud_platform.state.registry import Registry

    box = cbox.box()
    registry = Registry(box.home)
    try:
        job = jobs.create(registry, "onboard", f"{VICTIM}-annex", f"request-{victims_request}", "console:operator")
        jobs.move(registry, job.id, jobs.FAILED, error="never run: a test's record")
        requests_store.set_approval_job(registry, victims_request, job.id)
    finally:
        registry.close()
    unknown = _get(box, "/api/jobs/987654321", own["token"])
    with attack("console", "read the victim's request's approval job by its id (API and page)") as attempt:
        api = _get(box, f"/api/jobs/{job.id}", own["token"])
        page = _get(box, f"/en/jobs/{job.id}", session=own["session"])
        attempt.succeeded = (api.status_code != 404 or page.status_code != 404 or api.json() != unknown.json()
                             or "annex" in api.text + page.text)
        attempt.detail = f"HTTP {api.status_code}, {page.status_code}"
    victim = kit.access_token(box, *kit.admin(cbox, VICTIM))
    assert _get(box, f"/api/requests/{victims_request}", victim).json()["state"] == "pending"


def test_intruder_cannot_restore_the_victims_backup(cbox: BoxHandle, own: dict[str, Any]) -> None:
    """A restore replaces the victim's data: the intruder confirms it as the API and the page ask, with its own form
    token, and opens the confirmation page; each answers what an unknown agency gets, and no job is recorded."""
    from govcloud_platform.state import jobs
    from govcloud_platform.state.registry import Registry

    box = cbox.box()
    body = {"confirm": True, "backup": None}
    unknown = kit.api_post(box, "/api/agencies/no-such-agency/backups/restore", own["token"], body)
    token = _csrf(own["session"], box)
    with attack("console", "restore the victim's backup (API confirmed, the page's form with the intruder's form "
                           "token, the confirmation page)") as at:
        api = kit.api_post(box, f"/api/agencies/{VICTIM}/backups/restore", own["token"], body)
        page = own["session"].post(kit.url(box, f"/en/agencies/{VICTIM}/backups/restore"), allow_redirects=False,
                                   data={"csrf": token, "backup": "latest", "confirm": "yes"}, timeout=30)
        ask = _get(box, f"/ur/agencies/{VICTIM}/backups/restore?backup=latest", session=own["session"])
        registry = Registry(box.home)
        try:
            started = [j for j in jobs.recent(registry, VICTIM, 50) if j.kind == "restore"]
        finally:
            registry.close()
        at.succeeded = (api.status_code != 404 or page.status_code != 404 or ask.status_code != 404
                        or api.json() != unknown.json() or bool(started))
        at.detail = f"HTTP {api.status_code}, {page.status_code}, {ask.status_code}"


def test_intruder_cannot_run_apply_nor_read_its_job(cbox: BoxHandle, own: dict[str, Any]) -> None:
    """`apply` converges every agency: an agency's administrator gets 403 (API and page) and the 404 of an unknown
    job on an operator's apply job."""
    from govcloud_platform.state import jobs
    from govcloud_platform.state.registry import Registry

    box = cbox.box()
    registry = Registry(box.home)
    try:
        before = [j.id for j in jobs.recent(registry, "", 50)]
        job = jobs.create(registry, "apply", "", "apply", "console:operator")
        jobs.move(registry, job.id, jobs.FAILED, error="never run: a test's record")
    finally:
        registry.close()
    unknown = _get(box, "/api/jobs/987654321", own["token"])
    token = _csrf(own["session"], box)
    with attack("console", "run apply (API, the overview's form with the intruder's form token), list and read an "
                           "operator's apply job") as at:
        api = kit.api_post(box, "/api/apply", own["token"])
        page = own["session"].post(kit.url(box, "/en/apply"), data={"csrf": token}, allow_redirects=False, timeout=30)
        listed = _get(box, "/api/apply", own["token"])
        read = _get(box, f"/api/jobs/{job.id}", own["token"])
        registry = Registry(box.home)
        try:
            after = [j.id for j in jobs.recent(registry, "", 50)]
        finally:
            registry.close()
        at.succeeded = (api.status_code != 403 or page.status_code != 403 or listed.status_code != 403
                        or read.status_code != 404 or read.json() != unknown.json() or after != [job.id, *before])
        at.detail = f"HTTP {api.status_code}, {page.status_code}, {listed.status_code}, {read.status_code}"


# --- scripts: the intruder's own script client (client credentials), made for it by an operator -----------------
def _script(cbox: BoxHandle, name: str, *args: str) -> tuple[dict[str, Any], str]:
    """A script client made with the CLI and an access token of it (client credentials at the IdP)."""
    made = cbox.cli("--json", "console", "client", "add", name, *args)
    assert made.rc == 0, made.stderr
    client = made.json()
    box = cbox.box()
    resp = kit.oidc.browser(box).post(f"{box.issuer}/oauth2/token", timeout=10,
                                      auth=(client["client_id"], client["client_secret"]),
                                      data={"grant_type": "client_credentials", "scope": "openid"})
    assert resp.status_code == 200, resp.text[:200]
    return client, resp.json()["access_token"]


@pytest.fixture(scope="module")
def script(cbox: BoxHandle) -> dict[str, str]:
    """The intruder's own script token; an operators' script client exists too (its id is worth forging)."""
    _, own_token = _script(cbox, "sec-con-intruder-ci", "--agency", INTRUDER)
    ops, _ = _script(cbox, "sec-con-ops", "--operator")
    return {"token": own_token, "operators_client": ops["client_id"]}


def test_intruders_script_cannot_read_the_victim(cbox: BoxHandle, script: dict[str, str]) -> None:
    box = cbox.box()
    unknown = _get(box, "/api/agencies/no-such-agency", script["token"])
    with attack("console", "API: the victim's slug with the intruder's own script client's token") as attempt:
        resp = _get(box, f"/api/agencies/{VICTIM}", script["token"])
        listed = _get(box, "/api/agencies", script["token"])
        attempt.succeeded = resp.status_code != 404 or resp.json() != unknown.json() or VICTIM in listed.text
        attempt.detail = f"HTTP {resp.status_code}, list {listed.status_code}"
    assert [a["slug"] for a in listed.json()["agencies"]] == [INTRUDER]  # positive control: its own


def test_a_script_token_rewritten_to_the_operators_client_is_refused(cbox: BoxHandle, script: dict[str, str]) -> None:
    head, claims, signature = _parts(script["token"])
    ops = script["operators_client"]
    forged = f"{_b64(head)}.{_b64({**claims, 'client_id': ops, 'sub': ops, 'aud': [ops]})}.{signature}"
    with attack("console", "API: own script token rewritten to the operators' script client") as attempt:
        resp = _get(cbox.box(), f"/api/agencies/{VICTIM}", forged)
        attempt.succeeded = resp.status_code != 401
        attempt.detail = f"HTTP {resp.status_code}"


def test_a_removed_script_clients_token_is_refused(cbox: BoxHandle) -> None:
    _, live = _script(cbox, "sec-con-gone", "--agency", INTRUDER)
    assert _get(cbox.box(), f"/api/agencies/{INTRUDER}", live).status_code == 200
    assert cbox.cli("console", "client", "remove", "sec-con-gone").rc == 0
    with attack("console", "API: a removed script client's unexpired token") as attempt:
        resp = _get(cbox.box(), f"/api/agencies/{INTRUDER}", live)
        attempt.succeeded = resp.status_code != 401
        attempt.detail = f"HTTP {resp.status_code}"


# --- the third slice: the victim's members and invitations ----------------------------------------------------------
@pytest.fixture(scope="module")
def victims_invitation(cbox: BoxHandle) -> int:
    """An invitation the victim's administrator sent (waiting)."""
    box = cbox.box()
    token = kit.access_token(box, *kit.admin(cbox, VICTIM))
    resp = kit.api_post(box, f"/api/agencies/{VICTIM}/invitations", token, {"email": "staff@victim.example"})
    assert resp.status_code == 201, resp.text[:300]
    made: int = resp.json()["id"]
    return made


def _call(box: Any, method: str, path: str, token: str, body: object = None) -> requests.Response:
    with requests.Session() as s:
        s.trust_env = False
        return s.request(method, kit.url(box, path), headers={"Authorization": f"Bearer {token}"}, json=body,
                         verify=str(box.ca_file), timeout=30, allow_redirects=False)


VICTIMS_ADMIN = f"admin@{VICTIM}"
MEMBER_ROWS = [
    ("the victim's members", "GET", f"/api/agencies/{VICTIM}/members", None),
    ("demoting the victim's administrator", "POST", f"/api/agencies/{VICTIM}/members/{VICTIMS_ADMIN}/role",
     {"role": "member"}),
    ("removing the victim's administrator", "DELETE", f"/api/agencies/{VICTIM}/members/{VICTIMS_ADMIN}", None),
    ("the victim's invitations", "GET", f"/api/agencies/{VICTIM}/invitations", None),
    ("inviting oneself into the victim", "POST", f"/api/agencies/{VICTIM}/invitations",
     {"email": "spy@intruder.example", "role": "admin"}),
    ("withdrawing the victim's invitation", "DELETE", f"/api/agencies/{VICTIM}/invitations/{{id}}", None),
    ("sending the victim's invitation again", "POST", f"/api/agencies/{VICTIM}/invitations/{{id}}/resend", None),
    ("sending the victim's invitation again under the intruder's slug", "POST",
     f"/api/agencies/{INTRUDER}/invitations/{{id}}/resend", None),
    ("the victim's members in upper case", "GET", f"/api/agencies/{VICTIM.upper()}/members", None),
    ("the victim's administrator under the intruder's slug", "DELETE",
     f"/api/agencies/{INTRUDER}/members/{VICTIMS_ADMIN}", None),
]


def _victim_intact(cbox: BoxHandle, invitation: int) -> bool:
    from govcloud_platform.box import idp_api
    from govcloud_platform.state import invitations
    from govcloud_platform.state.registry import Registry

    box = cbox.box()
    user = idp_api.get_user(box, VICTIMS_ADMIN)
    registry = Registry(cbox.home)
    try:
        held = invitations.of_agency(registry, VICTIM)
        resent = registry.audit_log(target=VICTIM, command="member reinvite")
    finally:
        registry.close()
    return (user is not None and f"agency-{VICTIM}--admins" in user["groups"]
            and [(i.id, i.state) for i in held] == [(invitation, "pending")] and not resent)


@pytest.mark.parametrize(("what", "method", "path", "body"), MEMBER_ROWS, ids=[r[0] for r in MEMBER_ROWS])
def test_intruder_cannot_touch_the_victims_members(cbox: BoxHandle, own: dict[str, Any], victims_invitation: int,
                                                   what: str, method: str, path: str, body: object) -> None:
    box = cbox.box()
    with attack("console", f"API: {what}") as attempt:
        resp = _call(box, method, path.replace("{id}", str(victims_invitation)), own["token"], body)
        attempt.succeeded = (resp.status_code != 404 or "victim.example" in resp.text
                             or not _victim_intact(cbox, victims_invitation))
        attempt.detail = f"HTTP {resp.status_code}"


def test_intruder_pages_cannot_touch_the_victims_members(cbox: BoxHandle, own: dict[str, Any],
                                                        victims_invitation: int) -> None:
    box = cbox.box()
    token = _csrf(own["session"], box)
    base = f"/en/agencies/{VICTIM}"
    with attack("console", "pages: the victim's members, invite, demote, remove, withdraw, send again with the "
                           "intruder's own form token") as attempt:
        codes = [_get(box, f"{base}/members", session=own["session"]).status_code]
        for path, data in ((f"{base}/invitations", {"email": "spy@intruder.example", "role": "admin"}),
                           (f"{base}/members/{VICTIMS_ADMIN}/role", {"role": "member"}),
                           (f"{base}/members/{VICTIMS_ADMIN}/remove", {}),
                           (f"{base}/invitations/{victims_invitation}/revoke", {}),
                           (f"{base}/invitations/{victims_invitation}/resend", {})):
            codes.append(own["session"].post(kit.url(box, path), data={"csrf": token, **data},
                                             allow_redirects=False, timeout=30).status_code)
        attempt.succeeded = codes != [404] * 6 or not _victim_intact(cbox, victims_invitation)
        attempt.detail = f"HTTP {codes}"


def test_positive_control_the_intruder_manages_its_own_members(cbox: BoxHandle, own: dict[str, Any]) -> None:
    box = cbox.box()
    listed = _get(box, f"/api/agencies/{INTRUDER}/members", own["token"])
    assert listed.status_code == 200 and [m["login"] for m in listed.json()["members"]] == [f"admin@{INTRUDER}"]
    assert _get(box, f"/api/agencies/{INTRUDER}/invitations", own["token"]).status_code == 200
