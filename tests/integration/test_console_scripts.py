"""The console's API for scripts on a real box (the shared console box): an operator makes script clients with the CLI
(`govcloud console client add`), a script gets an access token from the box's IdP (LemonLDAP::NG) by the
client-credentials grant, and the console's API answers with the standing the registry records for the client: an
agency's script sees that agency only (another agency's slug 404 as an unknown one), the operators' every agency.
A removed client's token is refused at once, before it expires, and the IdP gives it no new one; so are an
agency's clients when the agency is removed. An agency's own
OIDC client (client credentials too) is no script client: its token is refused. Bad input is one line, exit 2,
nothing changed; the secret is shown once or written to a 0600 file, and is in no log. The audit log pages back by
id. (Pure parts: tests/unit/test_console_scripts.py.)"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
import requests

from tests import console_kit as kit
from tests.conftest import BoxHandle, assert_one_error

pytestmark = pytest.mark.integration
A, B = "scr-alpha", "scr-beta"


@pytest.fixture(scope="module")
def cbox(console_session: BoxHandle) -> BoxHandle:
    return kit.onboard(console_session, (A, B))


def add(cbox: BoxHandle, name: str, *args: str) -> dict[str, Any]:
    result = cbox.cli("--json", "--actor", "test", "console", "client", "add", name, *args)
    assert result.rc == 0, result.stderr
    found: dict[str, Any] = result.json()
    return found


def token_response(cbox: BoxHandle, client_id: str, secret: str) -> requests.Response:
    box = cbox.box()
    with requests.Session() as s:
        s.trust_env = False
        return s.post(f"{box.issuer}/oauth2/token", auth=(client_id, secret), verify=str(box.ca_file), timeout=10,
                      data={"grant_type": "client_credentials", "scope": "openid"})


def token(cbox: BoxHandle, client: dict[str, Any]) -> str:
    resp = token_response(cbox, client["client_id"], client["client_secret"])
    assert resp.status_code == 200, resp.text[:300]
    found: str = resp.json()["access_token"]
    return found


@pytest.fixture(scope="module")
def clients(cbox: BoxHandle) -> dict[str, dict[str, Any]]:
    return {"agency": add(cbox, "scr-alpha-ci", "--agency", A), "operator": add(cbox, "scr-ops", "--operator")}


def slugs(cbox: BoxHandle, bearer: str) -> list[str]:
    resp = kit.api(cbox.box(), "/api/agencies", bearer)
    assert resp.status_code == 200, resp.text[:300]
    return [a["slug"] for a in resp.json()["agencies"]]


def test_an_agencys_script_sees_its_agency_only(cbox: BoxHandle, clients: dict[str, dict[str, Any]]) -> None:
    box = cbox.box()
    client = clients["agency"]
    assert (client["client_id"], client["role"], client["agency"]) == ("console-script-scr-alpha-ci", "member", A)
    assert client["token_endpoint"] == f"{box.issuer}/oauth2/token" and "client_secret" in client
    bearer = token(cbox, client)
    assert slugs(cbox, bearer) == [A]
    assert kit.api(box, f"/api/agencies/{A}", bearer).json()["slug"] == A
    other, unknown = kit.api(box, f"/api/agencies/{B}", bearer), kit.api(box, "/api/agencies/scr-nothing", bearer)
    assert other.status_code == unknown.status_code == 404 and other.json() == unknown.json()
    entries = kit.api(box, "/api/audit?command=console+client+add", bearer).json()["entries"]
    assert [(e["target"], e["actor"]) for e in entries] == [(A, "test")]  # the operators' client is not A's


def test_the_operators_script_sees_every_agency(cbox: BoxHandle, clients: dict[str, dict[str, Any]]) -> None:
    assert {A, B} <= set(slugs(cbox, token(cbox, clients["operator"])))


def test_agencies_are_still_onboarded_beside_script_clients(cbox: BoxHandle,
                                                           clients: dict[str, dict[str, Any]]) -> None:
    """The IdP's manager validates the whole configuration at each change: a script client it would refuse (one
    without a redirect URI) made every later `agency add` fail."""
    kit.onboard(cbox, ("scr-gamma",))
    assert slugs(cbox, token(cbox, clients["agency"])) == [A]


def test_an_agencys_removal_removes_its_script_clients(cbox: BoxHandle, clients: dict[str, dict[str, Any]]) -> None:
    kit.onboard(cbox, ("scr-delta",))
    client = add(cbox, "scr-delta-ci", "--agency", "scr-delta")
    bearer = token(cbox, client)
    assert slugs(cbox, bearer) == ["scr-delta"]
    removed = cbox.cli("--actor", "test", "agency", "remove", "scr-delta", "--yes")
    assert removed.rc == 0, removed.stderr
    assert "scr-delta-ci" not in [c["name"] for c in cbox.cli("--json", "console", "client", "list").json()["clients"]]
    assert kit.api(cbox.box(), "/api/agencies", bearer).status_code == 401
    assert token_response(cbox, client["client_id"], client["client_secret"]).status_code in (400, 401)


def test_an_agencys_own_client_is_no_script_client(cbox: BoxHandle) -> None:
    ident = kit.identity(cbox, A)
    resp = token_response(cbox, ident["client_id"], ident["client_secret"])
    assert resp.status_code == 200, resp.text[:200]
    refused = kit.api(cbox.box(), "/api/agencies", resp.json()["access_token"])
    assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers["WWW-Authenticate"]


def test_a_removed_clients_token_is_refused_at_once(cbox: BoxHandle, tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    client = add(cbox, "scr-beta-job", "--agency", B, "--role", "admin", "--secret-file", str(secret_file))
    assert "client_secret" not in client and client["secret_file"] == str(secret_file)
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    secret = secret_file.read_text().strip()
    bearer = token(cbox, {**client, "client_secret": secret})
    assert slugs(cbox, bearer) == [B]
    listed = cbox.cli("--json", "console", "client", "list")
    assert listed.rc == 0 and secret not in listed.stdout
    assert {"name": "scr-beta-job", "role": "admin", "agency": B}.items() <= \
        next(c for c in listed.json()["clients"] if c["name"] == "scr-beta-job").items()

    removed = cbox.cli("--json", "--actor", "test", "console", "client", "remove", "scr-beta-job")
    assert removed.rc == 0 and removed.json()["removed"] is True, removed.stderr
    refused = kit.api(cbox.box(), "/api/agencies", bearer)  # the token has not expired: the registry says no
    assert refused.status_code == 401
    assert token_response(cbox, client["client_id"], secret).status_code in (400, 401)  # no new token either
    logs = [p for p in (cbox.home / "logs").rglob("*") if p.is_file()]
    assert logs and not [p for p in logs if secret in p.read_text(errors="replace")]


@pytest.mark.parametrize(("args", "said"), [
    (["Bad_Name", "--operator"], "invalid script client name"),
    (["scr-x"], "give either --operator or --agency SLUG"),
    (["scr-x", "--operator", "--agency", A], "give either --operator or --agency SLUG"),
    (["scr-x", "--agency", "scr-nothing"], "unknown agency 'scr-nothing'"),
    (["scr-x", "--agency", A, "--role", "owner"], "--role 'owner': member or admin"),
    (["scr-x", "--operator", "--secret-file", "/etc/passwd"], "--secret-file /etc/passwd exists"),
    (["scr-x", "--operator", "--secret-file", "/nonexistent/dir/s"], "is not a directory"),
])
def test_bad_input_is_one_line_and_changes_nothing(cbox: BoxHandle, clients: dict[str, dict[str, Any]],
                                                   args: list[str], said: str) -> None:
    before = cbox.cli("--json", "console", "client", "list").json()
    result = cbox.cli("console", "client", "add", *args)
    assert result.rc == 2 and said in result.stderr, result.stderr
    assert_one_error(result)
    assert cbox.cli("--json", "console", "client", "list").json() == before


def test_a_taken_name_is_a_conflict_and_an_unknown_one_cannot_be_removed(cbox: BoxHandle,
                                                                        clients: dict[str, dict[str, Any]]) -> None:
    taken = cbox.cli("console", "client", "add", "scr-ops", "--operator")
    assert taken.rc == 4 and "exists" in taken.stderr
    unknown = cbox.cli("console", "client", "remove", "scr-nothing")
    assert unknown.rc == 2 and "unknown script client" in unknown.stderr


def test_the_audit_log_pages_back_by_id(cbox: BoxHandle, clients: dict[str, dict[str, Any]]) -> None:
    box = cbox.box()
    bearer = token(cbox, clients["operator"])
    first = kit.api(box, "/api/audit?limit=2", bearer).json()
    older = kit.api(box, f"/api/audit?limit=2&before={first['next_before']}", bearer).json()
    ids = [e["id"] for e in first["entries"] + older["entries"]]
    assert len(ids) == 4 and ids == sorted(ids, reverse=True) and first["next_before"] == ids[1]
