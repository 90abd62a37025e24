"""Class (c) of the attacker's suite, "oidc": one agency (the intruder), a look-alike agency, an administrators-only
member and the platform's operator try to get into another agency's (the victim's) OIDC clients, and to use what
the victim's clients were issued: real logins through LemonLDAP::NG's form, real token requests.

What the box promises (README, "Isolation"; docs/identity.md): an agency's client and its apps' clients admit the
agency's members only (not other agencies, not operators); a code, a refresh token or an access token is good for
the client it was issued to only; introspection and dynamic registration are not offered (403).

Everything comes from `agency credentials --json` (issuer, CA, client, administrator), except the operator's
password (the platform's own secret, read from the box) and one arranged user in the administrators' group only."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urljoin, urlparse

import pytest
import requests

from govcloud_platform.box import idp_api
from govcloud_platform.box.services.identity import OPERATOR_SECRET
from govcloud_platform.names import admins_group, login
from tests import oidc
from tests.conftest import BoxHandle
from tests.security.conftest import INTRUDER, VICTIM
from tests.security.matrix import attack

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LOOKALIKE = f"{VICTIM}-oidc"  # its group agency-sec-victim-oidc starts with the victim's agency-sec-victim
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


# --- who signs in, and through which client ------------------------------------------------------------
def _agency(identity: dict[str, Any]) -> dict[str, Any]:
    return {"user": identity["admin_user"], "password": identity["admin_password"]}


@pytest.fixture(scope="module")
def idp(tenants: dict[str, dict[str, Any]]) -> oidc.Issuer:
    return oidc.Issuer.of(tenants[VICTIM]["identity"])


@pytest.fixture(scope="module")
def lookalike(box: BoxHandle) -> dict[str, Any]:
    """An agency whose slug extends the victim's (`sec-victim-oidc`): its group must not pass for the victim's."""
    return _onboard(box, LOOKALIKE)


@pytest.fixture(scope="module")
def admins_only(box: BoxHandle) -> Iterator[dict[str, Any]]:
    """A user in the victim's administrators' group (`agency-sec-victim--admins`) and no other: that group is not
    the members' group the clients admit (the broker always puts administrators in both)."""
    b = box.box()
    user, password = login(VICTIM, "oidc-admins-only"), uuid.uuid4().hex
    idp_api.add_user(b, user, password, f"admins-only@{VICTIM}.example", "admins only", [admins_group(VICTIM)])
    yield {"user": user, "password": password}
    idp_api.remove_user(b, user)


@pytest.fixture(scope="module")
def operator(box: BoxHandle) -> dict[str, Any]:
    b = box.box()
    password = b.secrets.get(OPERATOR_SECRET)
    assert password
    return {"user": b.spec.platform.services.identity.operator_user, "password": password}


def _onboard(box: BoxHandle, slug: str) -> dict[str, Any]:
    added = box.cli("agency", "add", slug, "--name", f"Security {slug}", "--email", f"it@{slug}.example")
    assert added.rc == 0, added.stderr
    creds = box.cli("--json", "agency", "credentials", slug, "--show-secrets")
    assert creds.rc == 0, creds.stderr
    identity: dict[str, Any] = creds.json()["identity"]
    return identity


@pytest.fixture(scope="module")
def app_agency(box: BoxHandle) -> dict[str, Any]:
    """A third agency for the app rows, `sec-victim-<random>`: its group extends the victim's, so the victim's
    administrator is the look-alike there. A fresh slug per run because an app's system user (`gc-<slug>`) is
    the host's, not the box's: a fixed one would be shared with any other box that deployed for that slug."""
    slug = f"{VICTIM}-{uuid.uuid4().hex[:6]}"
    return {**_onboard(box, slug), "slug": slug}


@pytest.fixture(scope="module")
def app(box: BoxHandle, idp: oidc.Issuer, app_agency: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """That agency's portal app, deployed through the CLI (and removed, with its system user, at the end); its
    OIDC client as the app itself asks for it (the IdP authorization request its sign-in page redirects to)."""
    slug = app_agency["slug"]
    # From a shell that carries another Django app's settings (an operator's, or this session's): the portal's
    # own are used all the same.
    deployed = box.cli("--json", "app", "deploy", slug, "portal", timeout=900,
                       env={"DJANGO_SETTINGS_MODULE": "centre_web.settings"})
    assert deployed.rc == 0, deployed.stderr[-2000:]
    try:
        url = deployed.json()["url"]
        with _resolving_to_loopback(urlparse(url).hostname or ""):
            resp = oidc.browser(idp).get(url + "/oidc/authenticate/?next=/", allow_redirects=False, timeout=60)
        target = urljoin(url, resp.headers.get("location", ""))
        assert resp.status_code == 302 and target.startswith(f"{idp.issuer}/oauth2/authorize"), target
        query = parse_qs(urlparse(target).query)
        yield {"client_id": query["client_id"][0], "redirect_uri": query["redirect_uri"][0], "secret": None,
               "group": app_agency["group"]}
    finally:
        removed = box.cli("app", "remove", slug, "portal", "--purge-data", timeout=600)
        assert removed.rc == 0, removed.stderr[-1000:]


@contextmanager
def _resolving_to_loopback(hostname: str) -> Iterator[None]:
    """The box's public names are the box's to resolve (no DNS here): `hostname` means 127.0.0.1 meanwhile."""
    original = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        return original("127.0.0.1" if host == hostname else host, *args, **kwargs)

    socket.getaddrinfo = resolve
    try:
        yield
    finally:
        socket.getaddrinfo = original


def _client(identity: dict[str, Any]) -> dict[str, Any]:
    return {"client_id": identity["client_id"], "redirect_uri": identity["redirect_uris"][0],
            "secret": identity["client_secret"], "group": identity["group"]}


@pytest.fixture(scope="module")
def people(request: pytest.FixtureRequest, tenants: dict[str, dict[str, Any]]) -> Any:
    """Resolves a row's names lazily (the app is deployed only when an app row runs)."""
    def user(name: str) -> dict[str, Any]:
        if name == "victim-admin":
            return _agency(tenants[VICTIM]["identity"])
        if name == "intruder-admin":
            return _agency(tenants[INTRUDER]["identity"])
        if name == "lookalike-admin":
            return _agency(request.getfixturevalue("lookalike"))
        if name == "app-admin":
            return _agency(request.getfixturevalue("app_agency"))
        found: dict[str, Any] = request.getfixturevalue(name.replace("-", "_"))
        return found

    def client(name: str) -> dict[str, Any]:
        if name == "victim-client":
            return _client(tenants[VICTIM]["identity"])
        if name == "intruder-client":
            return _client(tenants[INTRUDER]["identity"])
        if name == "lookalike-client":
            return _client(request.getfixturevalue("lookalike"))
        found: dict[str, Any] = request.getfixturevalue("app")
        return found

    return user, client


# (who, through which client): every one must be refused before a code is issued.
CROSS_LOGINS = [
    ("intruder-admin", "victim-client"),
    ("victim-admin", "intruder-client"),
    ("lookalike-admin", "victim-client"),   # agency-sec-victim-oidc is not agency-sec-victim
    ("admins-only", "victim-client"),       # agency-sec-victim--admins is not agency-sec-victim
    ("operator", "victim-client"),          # operators are not admitted by agency clients
    ("intruder-admin", "app"),              # "app": the portal of agency sec-victim-<random>
    ("victim-admin", "app"),                # agency-sec-victim is not agency-sec-victim-<random>
    ("operator", "app"),                    # nor are operators admitted by app clients
]
# Positive controls: the owner's own login works, else a refusal above proves nothing.
OWN_LOGINS = [
    ("victim-admin", "victim-client"),
    ("intruder-admin", "intruder-client"),
    ("lookalike-admin", "lookalike-client"),
    ("app-admin", "app"),
]


@pytest.mark.parametrize(("who", "through"), CROSS_LOGINS, ids=[f"{w}@{c}" for w, c in CROSS_LOGINS])
def test_login_through_another_agencys_client_is_refused(idp: oidc.Issuer, people: Any, who: str,
                                                         through: str) -> None:
    user, client = people[0](who), people[1](through)
    with attack("oidc", f"{who} signs in through {through}") as attempt:
        s = oidc.browser(idp)
        resp = oidc.login(s, idp, client["client_id"], client["redirect_uri"], user["user"], user["password"])
        code = oidc.code_from(resp, client["redirect_uri"])
        attempt.succeeded = code is not None
        attempt.detail = f"HTTP {resp.status_code} {resp.headers.get('location', '')[:80]}"
        if code and client["secret"]:
            tokens = oidc.token(idp, code, client["redirect_uri"], client["client_id"], client["secret"])
            attempt.detail += f"; token endpoint HTTP {tokens.status_code}, id_token: {'id_token' in tokens.text}"
    assert 'trmsg="84"' in resp.text  # PE_UNAUTHORIZEDPARTNER: the IdP's own refusal, not a failed login


@pytest.mark.parametrize(("who", "through"), OWN_LOGINS, ids=[f"{w}@{c}" for w, c in OWN_LOGINS])
def test_members_sign_in_through_their_own_clients(idp: oidc.Issuer, people: Any, who: str, through: str) -> None:
    user, client = people[0](who), people[1](through)
    resp = oidc.login(oidc.browser(idp), idp, client["client_id"], client["redirect_uri"], user["user"],
                      user["password"])
    code = oidc.code_from(resp, client["redirect_uri"])
    assert code, (resp.status_code, resp.headers.get("location"))
    if client["secret"]:  # an agency client (an app's secret is the app's, not in the agency's credentials)
        tokens = oidc.token(idp, code, client["redirect_uri"], client["client_id"], client["secret"])
        assert tokens.status_code == 200, tokens.text[:300]
        claims = oidc.verify_id_token(idp, tokens.json()["id_token"], client["client_id"])
        assert claims["sub"] == user["user"]
        assert client["group"] in claims["groups"]  # type: ignore[operator]


def test_a_single_sign_on_session_does_not_carry_into_another_agencys_client(
    idp: oidc.Issuer, tenants: dict[str, dict[str, Any]]
) -> None:
    """Signed in at the victim's client (allowed), the victim's admin's browser asks the intruder's client for a
    code: the access rule is checked for an existing session too."""
    victim, intruder = _client(tenants[VICTIM]["identity"]), _client(tenants[INTRUDER]["identity"])
    admin = _agency(tenants[VICTIM]["identity"])
    s = oidc.browser(idp)
    assert oidc.code_from(oidc.login(s, idp, victim["client_id"], victim["redirect_uri"], admin["user"],
                                     admin["password"]), victim["redirect_uri"])
    with attack("oidc", "victim's SSO session at intruder's client") as attempt:
        resp = oidc.authorize(s, idp, intruder["client_id"], intruder["redirect_uri"])
        attempt.succeeded = oidc.code_from(resp, intruder["redirect_uri"]) is not None
        attempt.detail = f"HTTP {resp.status_code}"


def test_implicit_flow_through_another_agencys_client_gives_no_token(
    idp: oidc.Issuer, tenants: dict[str, dict[str, Any]]
) -> None:
    victim, intruder = _client(tenants[VICTIM]["identity"]), _agency(tenants[INTRUDER]["identity"])
    with attack("oidc", "intruder-admin implicit flow at victim-client") as attempt:
        resp = oidc.login(oidc.browser(idp), idp, victim["client_id"], victim["redirect_uri"], intruder["user"],
                          intruder["password"], response_type="id_token token")
        location = resp.headers.get("location", "")
        attempt.succeeded = location.startswith(victim["redirect_uri"]) and "token=" in location
        attempt.detail = f"HTTP {resp.status_code} {location[:80]}"


# --- what was issued to the victim, used by the intruder ------------------------------------------------
def _victim_tokens(idp: oidc.Issuer, tenants: dict[str, dict[str, Any]]) -> dict[str, Any]:
    victim = _client(tenants[VICTIM]["identity"])
    admin = _agency(tenants[VICTIM]["identity"])
    code = oidc.code_from(oidc.login(oidc.browser(idp), idp, victim["client_id"], victim["redirect_uri"],
                                     admin["user"], admin["password"]), victim["redirect_uri"])
    assert code
    tokens = oidc.token(idp, code, victim["redirect_uri"], victim["client_id"], victim["secret"])
    assert tokens.status_code == 200, tokens.text[:300]
    doc: dict[str, Any] = tokens.json()
    return doc


@pytest.fixture(scope="module")
def victim_tokens(idp: oidc.Issuer, tenants: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Tokens the victim's client got for the victim's admin (positive control: userinfo answers with them)."""
    doc = _victim_tokens(idp, tenants)
    info = _post(idp, "/oauth2/userinfo", None, {}, bearer=doc["access_token"])
    assert info.status_code == 200 and info.json()["preferred_username"] == tenants[VICTIM]["identity"]["admin_user"]
    return doc


def _post(idp: oidc.Issuer, path: str, auth: tuple[str, str] | None, data: dict[str, str],
          bearer: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    with oidc.browser(idp) as s:
        return s.post(idp.issuer + path, auth=auth, data=data, headers=headers, allow_redirects=False, timeout=30)


def _creds(tenants: dict[str, dict[str, Any]], slug: str) -> tuple[str, str]:
    identity = tenants[slug]["identity"]
    return identity["client_id"], identity["client_secret"]


def _leaks(resp: requests.Response, *secrets: str) -> bool:
    """A 2xx answer, or any of the victim's values in the body."""
    return resp.status_code < 300 or any(v and v in resp.text for v in secrets)


def test_a_code_issued_to_the_victim_is_refused_to_the_intruder(
    idp: oidc.Issuer, tenants: dict[str, dict[str, Any]]
) -> None:
    victim = _client(tenants[VICTIM]["identity"])
    admin = _agency(tenants[VICTIM]["identity"])
    code = oidc.code_from(oidc.login(oidc.browser(idp), idp, victim["client_id"], victim["redirect_uri"],
                                     admin["user"], admin["password"]), victim["redirect_uri"])
    assert code  # positive control: the victim's admin gets a code from the victim's client
    with attack("oidc", "victim's code exchanged with intruder's credentials") as attempt:
        resp = oidc.token(idp, code, victim["redirect_uri"], *_creds(tenants, INTRUDER))
        attempt.succeeded = _leaks(resp) or "id_token" in resp.text
        attempt.detail = f"HTTP {resp.status_code} {resp.text[:120]}"


def test_victims_tokens_are_refused_to_the_intruder_at_the_token_endpoint(
    idp: oidc.Issuer, tenants: dict[str, dict[str, Any]], victim_tokens: dict[str, Any]
) -> None:
    """Refresh: agency clients get no refresh token; the intruder presenting the victim's refresh token (or, as
    there is none, the access token) is refused. Token exchange (RFC 8693): no handler, refused."""
    intruder = _creds(tenants, INTRUDER)
    stolen = victim_tokens.get("refresh_token") or victim_tokens["access_token"]
    rows = {
        "victim's refresh token used by intruder": {"grant_type": "refresh_token", "refresh_token": stolen},
        "token exchange of victim's access token by intruder": {
            "grant_type": TOKEN_EXCHANGE, "subject_token": victim_tokens["access_token"],
            "subject_token_type": ACCESS_TOKEN_TYPE},
    }
    for what, data in rows.items():
        with attack("oidc", what) as attempt:
            resp = _post(idp, "/oauth2/token", intruder, data)
            attempt.succeeded = _leaks(resp, tenants[VICTIM]["identity"]["admin_user"])
            attempt.detail = f"HTTP {resp.status_code} {resp.text[:120]}"
        assert resp.status_code in (400, 401), resp.text[:200]


INTROSPECTION_PATHS = ["/oauth2/introspect", "/oauth2//introspect", "/oauth2/introspect/", "/oauth2/introspect/x",
                       "/index.psgi/oauth2/introspect", "/%6fauth2/%69ntrospect"]


@pytest.mark.parametrize("path", INTROSPECTION_PATHS)
def test_introspection_of_victims_token_by_intruder_answers_nothing(
    idp: oidc.Issuer, tenants: dict[str, dict[str, Any]], victim_tokens: dict[str, Any], path: str
) -> None:
    with attack("oidc", f"intruder introspects victim's access token at {path}") as attempt:
        resp = _post(idp, path, _creds(tenants, INTRUDER), {"token": victim_tokens["access_token"]})
        attempt.succeeded = (_leaks(resp, tenants[VICTIM]["identity"]["admin_user"], VICTIM)
                             or '"active":true' in resp.text.replace(" ", ""))
        attempt.detail = f"HTTP {resp.status_code} {resp.text[:160]}"
    assert 400 <= resp.status_code < 500, resp.status_code


# Spellings LLNG does not route to introspection (its routes are exact, case-sensitive path words): nginx lets
# them through, LLNG serves its portal page or an error; none may answer about a token.
NEAR_INTROSPECTION_PATHS = ["/OAUTH2/INTROSPECT", "/oauth2/Introspect", "/oauth2/introspect;x", "/oauth2/introspect.",
                            "/index.psgi/x.psgi/oauth2/introspect"]


@pytest.mark.parametrize("path", NEAR_INTROSPECTION_PATHS)
def test_near_introspection_paths_answer_about_no_token(
    idp: oidc.Issuer, tenants: dict[str, dict[str, Any]], victim_tokens: dict[str, Any], path: str
) -> None:
    victim = tenants[VICTIM]["identity"]
    with attack("oidc", f"intruder introspects victim's access token at {path}") as attempt:
        resp = _post(idp, path, _creds(tenants, INTRUDER), {"token": victim_tokens["access_token"]})
        attempt.succeeded = '"active"' in resp.text or any(v in resp.text for v in (victim["admin_user"],
                                                                                     victim["client_id"]))
        attempt.detail = f"HTTP {resp.status_code} {resp.text[:160]}"


def test_introspection_is_off_for_the_owner_too(idp: oidc.Issuer, tenants: dict[str, dict[str, Any]],
                                                 victim_tokens: dict[str, Any]) -> None:
    """Not offered at all (LLNG 2.16 cannot restrict it to the caller's own tokens): the victim's own request is
    refused the same way, so the denial above is the endpoint being off, documented, not an accident."""
    resp = _post(idp, "/oauth2/introspect", _creds(tenants, VICTIM), {"token": victim_tokens["access_token"]})
    assert resp.status_code == 403 and resp.json()["error"] == "access_denied"


def test_client_credentials_of_the_intruder_carry_nothing_of_the_victim(
    idp: oidc.Issuer, tenants: dict[str, dict[str, Any]]
) -> None:
    victim = tenants[VICTIM]["identity"]
    own = _post(idp, "/oauth2/token", _creds(tenants, VICTIM), {"grant_type": "client_credentials", "scope": "openid"})
    assert own.status_code == 200 and own.json()["access_token"]  # positive control
    with attack("oidc", "intruder's secret with victim's client_id (client credentials)") as attempt:
        resp = _post(idp, "/oauth2/token", (victim["client_id"], tenants[INTRUDER]["identity"]["client_secret"]),
                     {"grant_type": "client_credentials", "scope": "openid"})
        attempt.succeeded = _leaks(resp)
        attempt.detail = f"HTTP {resp.status_code}"
    claims = json.dumps({"userinfo": {"groups": {"value": victim["group"]}, "sub": {"value": victim["admin_user"]}}})
    with attack("oidc", "intruder's client credentials asking for victim's claims") as attempt:
        resp = _post(idp, "/oauth2/token", _creds(tenants, INTRUDER),
                     {"grant_type": "client_credentials", "scope": "openid profile email groups", "claims": claims})
        assert resp.status_code == 200, resp.text[:200]  # the intruder's own grant works, for itself
        info = _post(idp, "/oauth2/userinfo", None, {}, bearer=resp.json()["access_token"])
        attempt.succeeded = any(v in info.text for v in (VICTIM, victim["admin_user"], victim["client_id"]))
        attempt.detail = f"userinfo HTTP {info.status_code} {info.text[:160]}"


def test_password_grant_through_another_agencys_client_is_refused(
    idp: oidc.Issuer, tenants: dict[str, dict[str, Any]]
) -> None:
    intruder = _agency(tenants[INTRUDER]["identity"])
    with attack("oidc", "intruder-admin password grant at victim-client") as attempt:
        resp = _post(idp, "/oauth2/token", _creds(tenants, VICTIM),
                     {"grant_type": "password", "username": intruder["user"], "password": intruder["password"],
                      "scope": "openid groups"})
        attempt.succeeded = _leaks(resp)
        attempt.detail = f"HTTP {resp.status_code} {resp.text[:120]}"


@pytest.mark.parametrize("path", ["/oauth2/register", "/oauth2/register/", "/index.psgi/oauth2/register"])
def test_dynamic_registration_is_refused_cleanly(idp: oidc.Issuer, path: str) -> None:
    body = {"redirect_uris": ["https://attacker.example/cb"], "client_name": "attacker"}
    with attack("oidc", f"dynamic client registration at {path}") as attempt, oidc.browser(idp) as s:
        resp = s.post(idp.issuer + path, json=body, allow_redirects=False, timeout=30)
        attempt.succeeded = resp.status_code < 300 or "client_secret" in resp.text
        attempt.detail = f"HTTP {resp.status_code}"
    assert 400 <= resp.status_code < 500, f"registration answers HTTP {resp.status_code} (want a clean 4xx)"
    discovery = oidc.browser(idp).get(f"{idp.issuer}/.well-known/openid-configuration", timeout=30).json()
    assert "registration_endpoint" not in discovery
