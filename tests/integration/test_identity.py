"""The box IdP for real: LemonLDAP::NG behind nginx on a throwaway PostgreSQL, on free ports.

The programs run directly under subprocess here (not supervisord); the lead's box fixture replaces that."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from govcloud_platform.box import idp_api, oidc_policy
from govcloud_platform.box.context import Box
from govcloud_platform.box.idp_api import conf_store
from govcloud_platform.box.llng_store import update_conf
from govcloud_platform.box.ports import free_port_base
from govcloud_platform.box.services.base import Program
from govcloud_platform.box.services.identity import OPERATOR_GROUPS, IdentityService
from govcloud_platform.errors import ServiceError
from govcloud_platform.names import admins_group, group, oidc_client
from govcloud_platform.spec.example import EXAMPLE_SPEC
from govcloud_platform.spec.loader import load_spec_text
from tests.integration._pg import running_postgres
from tests.oidc import (
    authorize,
    browser,
    code_from,
    login,
    token,
    verify_id_token,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REDIRECT_A = "https://app-a.localhost/oidc/callback"
REDIRECT_B = "https://app-b.localhost/oidc/callback"
ADMIT = [*OPERATOR_GROUPS, "health-staff"]  # the test clients' access rule: the operator, and the clerk below


@dataclass
class RunningIdp:
    box: Box
    service: IdentityService
    start_to_discovery_s: float
    procs: list[subprocess.Popen[bytes]]


def _start(box: Box, prog: Program) -> subprocess.Popen[bytes]:
    log = (box.log_dir / f"{prog.name}.log").open("ab")
    return subprocess.Popen(prog.command, env=box.child_env(prog.environment), cwd=prog.directory,
                            stdout=log, stderr=subprocess.STDOUT)


def _stop(procs: list[tuple[Program, subprocess.Popen[bytes]]]) -> None:
    for prog, proc in reversed(procs):
        if proc.poll() is None:
            proc.send_signal(getattr(signal, f"SIG{prog.stopsignal}"))
    for prog, proc in reversed(procs):
        try:
            proc.wait(prog.stopwaitsecs)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningIdp]:
    box = Box(home=tmp_path_factory.mktemp("idp") / "box", spec=load_spec_text(EXAMPLE_SPEC),
              port_base=free_port_base())
    service = IdentityService()
    service.check_binaries(box)
    with running_postgres(box):
        service.prepare(box)
        started: list[tuple[Program, subprocess.Popen[bytes]]] = []
        try:
            t0 = time.monotonic()
            for prog in sorted(service.programs(box), key=lambda p: p.priority):
                started.append((prog, _start(box, prog)))
            service.wait_ready(box, timeout=30)
            elapsed = time.monotonic() - t0
            service.post_start(box)
            yield RunningIdp(box, service, elapsed, [p for _, p in started])
        finally:
            _stop(started)




@pytest.fixture(scope="module")
def client_a(idp: RunningIdp) -> Iterator[tuple[str, str]]:
    secret = idp.box.secrets.get_or_create("test-client-a")
    idp_api.add_oidc_client(idp.box, "app-a", secret, [REDIRECT_A], "App A", admit=ADMIT)
    yield "app-a", secret
    idp_api.remove_oidc_client(idp.box, "app-a")


# --- tests ----------------------------------------------------------------------------------------
def test_discovery_answers_with_the_box_issuer(idp: RunningIdp) -> None:
    box = idp.box
    s = browser(box)
    doc = s.get(f"{box.issuer}/.well-known/openid-configuration", verify=str(box.ca_file), timeout=5).json()
    assert doc["issuer"] == box.issuer
    assert doc["authorization_endpoint"] == f"{box.issuer}/oauth2/authorize"
    assert idp.service.check(box) == (True, f"OIDC issuer {box.issuer}")
    assert idp.service.endpoint(box) == box.issuer
    assert idp.start_to_discovery_s < 10, idp.start_to_discovery_s


def test_operator_logs_in_headless_with_authorization_code(idp: RunningIdp, client_a: tuple[str, str]) -> None:
    box = idp.box
    ident = box.spec.platform.services.identity
    password = box.secrets.get("idp-operator-password")
    assert password
    s = browser(box)
    resp = login(s, box, client_a[0], REDIRECT_A, ident.operator_user, password)
    code = code_from(resp, REDIRECT_A)
    assert code, (resp.status_code, resp.headers.get("location"))

    tok = token(box, code, REDIRECT_A, *client_a)
    assert tok.status_code == 200, tok.text
    body = tok.json()
    claims = verify_id_token(box, body["id_token"], client_a[0])
    assert claims["sub"] == ident.operator_user
    assert claims["nonce"] == "nc"
    assert claims["email"] == ident.operator_email  # IDTokenForceClaims: claims in the id_token itself
    assert claims["groups"] == ["platform-operators"]
    assert body["expires_in"] == ident.access_token_lifetime_s
    info = browser(box).get(f"{box.issuer}/oauth2/userinfo",
                             headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.status_code == 200, info.text
    assert info.json()["preferred_username"] == ident.operator_user
    # the code is single-use
    assert token(box, code, REDIRECT_A, *client_a).status_code in (400, 401)


def test_wrong_password_is_refused(idp: RunningIdp, client_a: tuple[str, str]) -> None:
    box = idp.box
    s = browser(box)
    resp = login(s, box, client_a[0], REDIRECT_A, box.spec.platform.services.identity.operator_user,
                  "not-the-password")
    assert code_from(resp, REDIRECT_A) is None
    assert 'trmsg="5"' in resp.text  # PE_BADCREDENTIALS, the form is shown again
    assert "govcloud_sso" not in s.cookies


def test_client_added_through_manager_api_is_live_at_once_and_gone_after_removal(
    idp: RunningIdp, client_a: tuple[str, str]
) -> None:
    box = idp.box
    password = box.secrets.get("idp-operator-password") or ""
    s = browser(box)
    assert code_from(login(s, box, client_a[0], REDIRECT_A, "operator", password), REDIRECT_A)

    secret_c = box.secrets.get_or_create("test-client-c")
    redirect_c = "https://app-c.localhost/cb"
    t0 = time.monotonic()
    idp_api.add_oidc_client(box, "app-c", secret_c, [redirect_c], "App C", admit=ADMIT)
    code = None
    while code is None and time.monotonic() - t0 < 5:
        code = code_from(authorize(s, box, "app-c", redirect_c), redirect_c)  # existing SSO session
        time.sleep(0.05)
    live_after = time.monotonic() - t0
    assert code, "new client never became usable"
    assert live_after < 1.5, f"new client took {live_after:.2f} s to become live"
    assert "app-c" in idp_api.list_oidc_clients(box)
    got = idp_api.get_oidc_client(box, "app-c")
    assert got and got["redirectUris"] == [redirect_c]
    assert token(box, code, redirect_c, "app-c", secret_c).status_code == 200

    assert idp_api.remove_oidc_client(box, "app-c") is True
    t0 = time.monotonic()
    while time.monotonic() - t0 < 5:
        if code_from(authorize(s, box, "app-c", redirect_c), redirect_c) is None:
            break
        time.sleep(0.05)
    assert time.monotonic() - t0 < 1.5
    assert idp_api.get_oidc_client(box, "app-c") is None
    assert "app-c" not in idp_api.list_oidc_clients(box)
    assert idp_api.remove_oidc_client(box, "app-c") is False


def test_client_secret_of_a_cannot_get_tokens_as_b(idp: RunningIdp, client_a: tuple[str, str]) -> None:
    box = idp.box
    secret_b = box.secrets.get_or_create("test-client-b")
    idp_api.add_oidc_client(box, "app-b", secret_b, [REDIRECT_B], "App B", admit=ADMIT)
    try:
        s = browser(box)
        password = box.secrets.get("idp-operator-password") or ""
        code_b = code_from(login(s, box, "app-b", REDIRECT_B, "operator", password), REDIRECT_B)
        assert code_b
        # B's client_id with A's secret
        assert token(box, code_b, REDIRECT_B, "app-b", client_a[1]).status_code in (400, 401)
        # A authenticating properly, presenting B's code
        stolen = token(box, code_b, REDIRECT_B, *client_a)
        assert stolen.status_code in (400, 401) and "id_token" not in stolen.text
    finally:
        idp_api.remove_oidc_client(box, "app-b")


def test_users_are_live_at_once(idp: RunningIdp, client_a: tuple[str, str]) -> None:
    box = idp.box
    assert idp_api.add_user(box, "clerk.health", "clerk-pass-1", "clerk@health.gov.example", "Clerk",
                            ["health-staff"]) is True
    assert idp_api.add_user(box, "clerk.health", "clerk-pass-1", "clerk@health.gov.example", "Clerk",
                            ["health-staff"]) is False
    assert idp_api.get_user(box, "clerk.health") == {
        "login": "clerk.health", "mail": "clerk@health.gov.example", "name": "Clerk", "groups": ["health-staff"]
    }
    with box.pg_admin(idp_api.IDP_DB) as conn:
        stored = conn.execute("SELECT password_hash FROM users WHERE login = 'clerk.health'").fetchone()
    assert stored and stored[0].startswith("$2a$10$")
    code = code_from(login(browser(box), box, client_a[0], REDIRECT_A, "clerk.health", "clerk-pass-1"), REDIRECT_A)
    assert code
    claims = verify_id_token(box, token(box, code, REDIRECT_A, *client_a).json()["id_token"], client_a[0])
    assert claims["groups"] == ["health-staff"]

    assert idp_api.remove_user(box, "clerk.health") is True
    resp = login(browser(box), box, client_a[0], REDIRECT_A, "clerk.health", "clerk-pass-1")
    assert code_from(resp, REDIRECT_A) is None


def test_prepare_again_changes_nothing_that_matters(idp: RunningIdp, client_a: tuple[str, str]) -> None:
    box = idp.box
    conf_dir = box.home / "idp" / "conf"
    before = sorted(conf_dir.glob("lmConf-*.json"))
    key = box.secrets.get("idp-signing-key")
    jwks_before = browser(box).get(f"{box.issuer}/oauth2/jwks").json()
    idp.service.prepare(box)
    idp.service.post_start(box)
    assert sorted(conf_dir.glob("lmConf-*.json")) == before
    assert box.secrets.get("idp-signing-key") == key
    assert browser(box).get(f"{box.issuer}/oauth2/jwks").json() == jwks_before
    assert client_a[0] in idp_api.list_oidc_clients(box)  # relying parties survive a re-prepare
    newest = json.loads(before[-1].read_text())
    assert newest["oidcServiceMetaDataIssuer"] == box.issuer
    assert (box.home / "secrets" / "idp-db-password").stat().st_mode & 0o077 == 0


def test_wait_ready_names_the_log_when_down(idp: RunningIdp) -> None:
    box = Box(home=idp.box.home, spec=idp.box.spec, port_base=free_port_base())  # nothing listens there
    with pytest.raises(ServiceError, match="identity not ready") as info:
        idp.service.wait_ready(box, timeout=0.5)
    assert "\n" not in str(info.value)  # one line for the user
    assert "govcloud logs identity" in str(info.value)


def test_sessions_and_secrets_are_private(idp: RunningIdp) -> None:
    home: Path = idp.box.home
    for d in ("conf", "sessions", "psessions", "cache", "run"):
        path = home / "idp" / d
        assert path.stat().st_mode & 0o077 == 0, path
        assert path.owner() == "www-data", path
    assert (home / "nginx" / "apps.d").is_dir()


def test_manager_api_requires_the_platform_password(idp: RunningIdp) -> None:
    """Apps run on the box as their agencies' users: without the platform's password, nobody on loopback may
    read or change the relying parties (their secrets) through the manager API."""
    import requests

    box = idp.box
    url = f"http://127.0.0.1:{box.ports.idp_manager}/api/v1/providers/oidc/rp/findByConfKey?pattern=*"
    with requests.Session() as s:
        s.trust_env = False
        assert s.get(url, timeout=10).status_code == 401
        assert s.get(url, auth=("govcloud", "wrong"), timeout=10).status_code == 401
        assert s.post(url.split("/findByConfKey")[0], json={"confKey": "intruder"}, timeout=10).status_code == 401
    assert "intruder" not in idp_api.list_oidc_clients(box)  # the platform's own calls carry the password
    htpasswd = box.home / "nginx" / "manager.htpasswd"
    assert htpasswd.stat().st_mode & 0o077 == 0 and htpasswd.owner() == "www-data"
    manager_password = box.secrets.get("idp-manager-password")
    assert manager_password and manager_password not in htpasswd.read_text()


# --- who a client admits (its access rule), and what its tokens are good for -----------------------------
CRAFTED = [  # (the agency whose client it is, the user's groups, admitted?)
    ("acme", [group("acme")], True),
    ("acme", [group("acme-x")], False),            # agency-x-y is not agency-x
    ("acme", [admins_group("acme")], False),       # nor is agency-x--admins
    ("acme", [group("acm")], False),
    ("acme", [group("other"), group("acme")], True),
    ("acme", list(OPERATOR_GROUPS), False),        # operators are not admitted by agency clients
    ("skip", [group("skip")], True),               # LLNG rewrites the word `skip` in rules: still itself
    ("skip", [group("ski")], False),
]


@pytest.fixture(scope="module")
def agency_clients(idp: RunningIdp) -> Iterator[dict[str, tuple[str, str]]]:
    """An agency client (named and ruled as the broker makes them) per slug of CRAFTED: {slug: (id, redirect)}."""
    made = {}
    for slug in sorted({row[0] for row in CRAFTED}):
        client_id, redirect = oidc_client(slug), f"https://{slug}.localhost/cb"
        idp_api.add_oidc_client(idp.box, client_id, uuid.uuid4().hex, [redirect], slug,
                                admit=oidc_policy.admitted_groups(client_id) or [])
        made[slug] = (client_id, redirect)
    yield made
    for client_id, _ in made.values():
        idp_api.remove_oidc_client(idp.box, client_id)


@pytest.mark.parametrize(("slug", "groups", "admitted"), CRAFTED, ids=[f"{r[0]}:{'+'.join(r[1])}" for r in CRAFTED])
def test_an_agency_client_admits_exactly_its_group(idp: RunningIdp, agency_clients: dict[str, tuple[str, str]],
                                                    slug: str, groups: list[str], admitted: bool) -> None:
    box = idp.box
    client_id, redirect = agency_clients[slug]
    user, password = f"crafted.{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    idp_api.add_user(box, user, password, f"{user}@example.org", "crafted", groups)
    try:
        resp = login(browser(box), box, client_id, redirect, user, password)
        assert (code_from(resp, redirect) is not None) == admitted, (resp.status_code, resp.headers.get("location"))
        if not admitted:
            assert 'trmsg="84"' in resp.text  # PE_UNAUTHORIZEDPARTNER: the rule, after a good password
    finally:
        idp_api.remove_user(box, user)


def test_a_refresh_token_is_good_for_its_own_client_only(idp: RunningIdp) -> None:
    """Agency clients get no refresh tokens today; should one be given them, LLNG binds the token to its client."""
    box = idp.box
    password = box.secrets.get("idp-operator-password") or ""
    clients = {name: box.secrets.get_or_create(f"test-{name}") for name in ("refresh-one", "refresh-two")}
    for name, secret in clients.items():
        idp_api.add_oidc_client(box, name, secret, [REDIRECT_A], name, admit=ADMIT, refresh_tokens=True)
    try:
        code = code_from(login(browser(box), box, "refresh-one", REDIRECT_A, "operator", password), REDIRECT_A)
        assert code
        issued = token(box, code, REDIRECT_A, "refresh-one", clients["refresh-one"]).json()
        refresh = {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]}
        stolen = browser(box).post(f"{box.issuer}/oauth2/token", auth=("refresh-two", clients["refresh-two"]),
                                   data=refresh)
        assert stolen.status_code == 400 and "access_token" not in stolen.text
        own = browser(box).post(f"{box.issuer}/oauth2/token", auth=("refresh-one", clients["refresh-one"]),
                                data=refresh)
        assert own.status_code == 200 and own.json()["access_token"]
    finally:
        for name in clients:
            idp_api.remove_oidc_client(box, name)


def test_prepare_gives_an_agency_client_made_without_a_rule_its_rule(idp: RunningIdp) -> None:
    """A box made by older code holds agency clients without an access rule (any user got in): `up` sees the
    configuration as stale and `prepare` sets every agency client's rule; the portal applies it at once."""
    box = idp.box
    password = box.secrets.get("idp-operator-password") or ""
    client_id, redirect = oidc_client("legacy"), "https://legacy.localhost/cb"
    idp_api.add_oidc_client(box, client_id, uuid.uuid4().hex, [redirect], "legacy",
                            admit=oidc_policy.admitted_groups(client_id) or [])

    def strip(conf: dict[str, object]) -> dict[str, object]:
        del conf["oidcRPMetaDataOptions"][client_id]["oidcRPMetaDataOptionsRule"]  # type: ignore[index]
        return conf

    try:
        update_conf(conf_store(box), strip, "as older govcloud wrote it")
        assert idp.service.stale_programs(box) == ["idp-fastcgi"]
        deadline = time.monotonic() + 5
        while not code_from(login(browser(box), box, client_id, redirect, "operator", password), redirect):
            assert time.monotonic() < deadline, "the rule-less client never admitted the operator"
            time.sleep(0.2)
        idp.service.prepare(box)
        assert idp.service.stale_programs(box) == []
        rule = idp_api.configured_clients(box)[client_id]["oidcRPMetaDataOptionsRule"]
        assert rule == oidc_policy.access_rule([group("legacy")])
        deadline = time.monotonic() + 15  # the portal's checkTime (1 s), longer on a loaded machine
        while True:
            resp = login(browser(box), box, client_id, redirect, "operator", password)
            if code_from(resp, redirect) is None or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert code_from(resp, redirect) is None and 'trmsg="84"' in resp.text
    finally:
        idp_api.remove_oidc_client(box, client_id)
