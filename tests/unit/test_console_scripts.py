"""The console's script clients and the audit log's paging without servers: the registry's table and its migration,
the client's names, the standing an operator may record, the principal a script's token gets, which bearer tokens
the API takes (signed here with a key of the test's, the IdP's JWKS stood in for), and keyset paging of the audit
log in the API and the page. The IdP's side (client credentials from the real LemonLDAP::NG, the CLI) is
tests/integration/test_console_scripts.py's."""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from flask.testing import FlaskClient

from govcloud_platform import names
from govcloud_platform.box.context import Box
from govcloud_platform.console import auditlog, authz
from govcloud_platform.console.auditlog import AuditQuery
from govcloud_platform.console_scripts import decide_standing
from govcloud_platform.errors import ConflictError, InputError
from govcloud_platform.spec import load_spec_text
from govcloud_platform.state import console_clients as store
from govcloud_platform.state.registry import MIGRATIONS, Registry
from tests.console_kit import ENABLED
from tests.registry_kit import older_registry

ISSUER, CONSOLE = "https://localhost:2", "platform-console"


# --- the registry's table ----------------------------------------------------------------------------------
def test_a_registry_of_version_5_gains_the_clients_table_and_keeps_its_rows(tmp_path: Path) -> None:
    reg = older_registry(tmp_path, 5)
    assert [a.slug for a in reg.agencies()] == ["health"]
    with reg.connect() as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    found = store.add(reg, "ci", names.script_client("ci"), store.MEMBER, "health", "alice")
    assert store.by_client_id(reg, "console-script-ci") == found and found.as_dict()["agency"] == "health"


def test_a_client_is_an_operators_or_one_agencys_and_goes_with_its_agency(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    with reg.connect() as c:
        c.execute("INSERT INTO agencies VALUES ('health', 'H', 'a@b.cd', 'standard', '[]', 'ready', 'x', 'x')")
    store.add(reg, "ops", "console-script-ops", store.OPERATOR, None, "alice")
    store.add(reg, "ci", "console-script-ci", store.ADMIN, "health", "alice")
    with pytest.raises(ConflictError):
        store.add(reg, "ci", "console-script-ci2", store.MEMBER, "health", "alice")
    for role, agency in ((store.OPERATOR, "health"), (store.MEMBER, None), ("owner", "health")):
        with pytest.raises(sqlite3.IntegrityError), reg.connect() as c:  # the table's own checks
            c.execute("INSERT INTO console_clients VALUES ('x', 'x', ?, ?, 'a', 'b')", (role, agency))
    with pytest.raises(sqlite3.IntegrityError), reg.connect() as c:  # an agency the registry does not know
        c.execute("INSERT INTO console_clients VALUES ('x', 'x', 'member', 'nope', 'a', 'b')")
    assert [c.name for c in store.every(reg)] == ["ci", "ops"]
    assert [c.name for c in store.every(reg, "health")] == ["ci"]
    reg.delete_agency("health")
    assert [c.name for c in store.every(reg)] == ["ops"]
    assert store.delete(reg, "ops") and not store.delete(reg, "ops") and store.by_client_id(reg, "console-script-ops") \
        is None


# --- names and standing ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ci", "ci-report", "a1", "x" * 32])
def test_a_script_clients_id_is_its_own_and_never_an_agencys(name: str) -> None:
    client = names.script_client(name)
    assert names.parse_script_client(client) == name
    assert names.parse_client(client) is None and not client.startswith(("ag-", "platform-"))


@pytest.mark.parametrize("name", ["", "c", "CI", "1ci", "ci-", "ci--x", "x" * 33, "ci report", "ci_x", "ci\n"])
def test_a_bad_script_name_is_refused(name: str) -> None:
    with pytest.raises(InputError):
        names.check_script_name(name)
    assert names.parse_script_client("console-script-" + name) is None


AGENCIES = {"health": "ready", "old": "retired"}


@pytest.mark.parametrize(("operator", "agency", "role", "expected"), [
    (True, None, None, ("operator", None)),
    (False, "health", None, ("member", "health")),
    (False, "health", "admin", ("admin", "health")),
    (True, "health", None, "either --operator or --agency"),
    (False, None, None, "either --operator or --agency"),
    (True, None, "admin", "--role is for an agency's client"),
    (False, "health", "operator", "--role 'operator': member or admin"),
    (False, "nope", None, "unknown agency 'nope'"),
    (False, "old", None, "agency 'old' is retired"),
])
def test_the_standing_an_operator_may_record(operator: bool, agency: str | None, role: str | None,
                                            expected: object) -> None:
    if isinstance(expected, str):
        with pytest.raises(InputError, match=re.escape(expected)):
            decide_standing(operator, agency, role, AGENCIES)
    else:
        assert decide_standing(operator, agency, role, AGENCIES) == expected


@pytest.mark.parametrize(("role", "agency", "operator", "agencies"), [
    ("operator", None, True, set()), ("member", "health", False, {"health"}), ("admin", "health", False, {"health"}),
    ("operator", "health", False, set()), ("member", None, False, set()), ("root", None, False, set()),
])
def test_a_scripts_principal_is_its_recorded_standing(role: str, agency: str | None, operator: bool,
                                                     agencies: set[str]) -> None:
    who = authz.script_principal("ci", role, agency)
    assert (who.subject, who.operator, set(who.agencies)) == ("script:ci", operator, agencies)


# --- bearer tokens on the console's own app (the IdP's JWKS stood in for by a key of the test's) ----------------
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def token(client_id: str, sub: str | None = None, *, aud: object = None, scope: object = "openid", key: Any = KEY,
          ttl: int = 300, **extra: object) -> str:
    claims = {"iss": ISSUER, "aud": [client_id] if aud is None else aud, "client_id": client_id,
              "sub": sub or client_id, "exp": int(time.time()) + ttl, "iat": int(time.time()),
              **({"scope": scope} if scope else {}), **extra}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k"})


@pytest.fixture
def console(tmp_path: Path) -> tuple[FlaskClient, Box]:
    from govcloud_platform.console.app import create_app
    from govcloud_platform.console.settings import Settings

    box = Box(home=tmp_path, spec=load_spec_text(ENABLED))
    app = create_app(Settings(box, "https://localhost:1", ISSUER, CONSOLE, "s", "k" * 32, str(tmp_path / "ca.pem")))
    app.config["SESSION_COOKIE_SECURE"] = False
    verifier = app.extensions["govcloud"]["verifier"]
    verifier._jwks = SimpleNamespace(get_signing_key_from_jwt=lambda _: SimpleNamespace(key=KEY.public_key()))
    reg = Registry(box.home)
    with reg.connect() as c:
        for slug in ("health", "revenue"):
            c.execute("INSERT INTO agencies VALUES (?, 'H', 'a@b.cd', 'standard', '[]', 'ready', 'x', 'x')", (slug,))
    store.add(reg, "ops", "console-script-ops", store.OPERATOR, None, "alice")
    store.add(reg, "ci", "console-script-ci", store.MEMBER, "health", "alice")
    return app.test_client(), box


def slugs(client: FlaskClient, bearer: str) -> object:
    resp = client.get("/api/agencies", headers={"Authorization": f"Bearer {bearer}"})
    return [a["slug"] for a in resp.json["agencies"]] if resp.status_code == 200 else resp.status_code


def test_a_script_sees_what_its_recorded_standing_lets_it(console: tuple[FlaskClient, Box]) -> None:
    client, box = console
    assert slugs(client, token("console-script-ci")) == ["health"]
    assert slugs(client, token("console-script-ops")) == ["health", "revenue"]
    assert slugs(client, token(CONSOLE, "alice", groups=["agency-revenue"])) == ["revenue"]  # a person, as before
    bearer = {"Authorization": f"Bearer {token('console-script-ci')}"}
    assert client.get("/api/agencies/revenue", headers=bearer).status_code == 404
    filed = client.post("/api/requests", headers=bearer, json={"slug": "water", "name": "Water", "email": "a@b.cd"})
    assert filed.status_code == 201 and filed.json["filed_by"] == "script:ci"
    assert Registry(box.home).audit_log(limit=1)[0]["actor"] == "console:script:ci"


@pytest.mark.parametrize(("what", "bearer"), [
    ("another client's (an agency's own)", lambda: token("ag-health")),
    ("a script's signed by another key", lambda: token("console-script-ci",
                                                       key=rsa.generate_private_key(public_exponent=65537,
                                                                                    key_size=2048))),
    ("a script's expired", lambda: token("console-script-ci", ttl=-120)),
    ("a script's without a scope (an id_token)", lambda: token("console-script-ci", scope=None)),
    ("a script's for another audience", lambda: token("console-script-ci", aud=[CONSOLE])),
    ("a script client's with a person's subject", lambda: token("console-script-ci", "alice")),
    ("a script's of another issuer", lambda: token("console-script-ci", iss="https://evil.example")),
    ("a console token naming the script as its client", lambda: token("console-script-ops", aud=[CONSOLE, "x"],
                                                                      sub="alice")),
])
def test_other_tokens_are_refused(console: tuple[FlaskClient, Box], what: str, bearer: Any) -> None:
    client, _ = console
    assert slugs(client, bearer()) == 401, what


def test_a_removed_clients_tokens_are_refused_at_once(console: tuple[FlaskClient, Box]) -> None:
    client, box = console
    live = token("console-script-ci")
    assert slugs(client, live) == ["health"]
    store.delete(Registry(box.home), "ci")
    assert slugs(client, live) == 401


# --- the audit log's pages -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("args", "expected"), [
    ({"before": "17"}, AuditQuery(before=17)),
    ({"before": "0"}, "before:"), ({"before": "-3"}, "before:"), ({"before": "x"}, "before:"),
    ({"before": "٣"}, "before:"), ({"before": str(2**63)}, "before:"),
])
def test_the_before_filter(args: dict[str, str], expected: object) -> None:
    found = auditlog.query(args)
    if isinstance(expected, str):
        assert isinstance(found, str) and found.startswith(expected)
    else:
        assert found == expected


def test_a_page_says_where_the_older_one_starts() -> None:
    entries = [{"id": i} for i in (9, 8, 7)]
    assert auditlog.older_than(entries, 2) == (entries[:2], 8)
    assert auditlog.older_than(entries, 3) == (entries, None)
    q = AuditQuery(actor="alice", limit=2)
    assert q.older_args(8) == {"actor": "alice", "limit": "2", "before": "8"}


def test_the_api_and_the_page_go_back_by_id(console: tuple[FlaskClient, Box]) -> None:
    client, box = console
    reg = Registry(box.home)
    for i in range(5):
        reg.audit("app deploy", "health/portal", f"n{i}", "alice")
    reg.audit("agency add", "revenue", "added", "alice")  # not the script's agency: never on its pages
    bearer = {"Authorization": f"Bearer {token('console-script-ci')}"}
    results, before = [], ""
    for _ in range(4):
        page = client.get(f"/api/audit?limit=2{before}", headers=bearer).json
        results.append([e["result"] for e in page["entries"]])
        if page["next_before"] is None:
            break
        before = f"&before={page['next_before']}"
    assert results == [["n4", "n3"], ["n2", "n1"], ["n0"]]
    assert client.get("/api/audit?before=nope", headers=bearer).status_code == 400
    with client.session_transaction() as sess:
        sess["p"] = {"sub": "op", "groups": ["platform-operators"], "name": "op", "exp": int(time.time()) + 600}
    first = client.get("/en/audit?limit=4&actor=alice")
    older = re.search(r'href="/en/audit\?([^"]+)" rel="next"', first.text)
    assert older and "before=" in older.group(1) and "actor=alice" in older.group(1)
    second = client.get("/en/audit?" + older.group(1).replace("&amp;", "&"))
    assert second.status_code == 200 and "n1" in second.text and "n2" not in second.text
    assert 'rel="next"' not in second.text and 'href="/en/audit?actor=alice"' in second.text  # the newest again


def test_the_idp_client_takes_client_credentials_only_and_has_a_redirect_uri(tmp_path: Path) -> None:
    """A redirect URI because LemonLDAP::NG's manager refuses any later change to a configuration holding a client
    without one (`oidcRPRedirectURINotEmpty`): the console's 404 path, where no code arrives."""
    from govcloud_platform.console_scripts import NO_SIGN_IN, client_body

    box = Box(home=tmp_path, spec=load_spec_text(ENABLED))
    body: Any = client_body(box, "ci", "s" * 40)
    assert body["confKey"] == body["clientId"] == "console-script-ci"
    assert [u.endswith(NO_SIGN_IN) for u in body["redirectUris"]] == [True]
    opts = body["options"]
    assert opts["allowClientCredentialsGrant"] is True and opts["allowPasswordGrant"] is False
    assert opts["public"] is False and opts["accessTokenJWT"] is True and opts["accessTokenSignAlg"] == "RS256"
    assert opts["rule"] == '$_oidc_grant_type eq "clientcredentials"'  # no user's sign-in passes it
