"""The demo's decisions (`govcloud_platform.centre_demo`, issue 16 item 6) and its HTTP transport against a fake
centre on loopback answering as the centre's API does (the real API drives it in test_centre_certificates.py)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from govcloud_platform import centre_demo
from govcloud_platform.errors import ServiceError

SERVICES: list[dict[str, Any]] = [
    {"id": "grievance", "questions": [], "outcomes": [{"id": "resolved"}]},
    {"id": "building_permit", "outcomes": [{"id": "granted"}, {"id": "rejected"}],
     "questions": [{"id": "floors", "kind": "number"}, {"id": "plot", "kind": "text", "maxLength": 2},
                   {"id": "kind", "kind": "choice", "choices": [{"id": "house"}, {"id": "shop"}]},
                   {"id": "mail", "kind": "email"}, {"id": "born", "kind": "date"}]},
    {"id": "trade_licence", "questions": [], "outcomes": [{"id": "issued"}, {"id": "rejected"}]},
]


def test_the_trade_licence_is_picked_first_and_a_centre_without_certificates_is_said() -> None:
    assert centre_demo.pick_service(SERVICES)["id"] == "trade_licence"
    assert centre_demo.pick_service(SERVICES[:2])["id"] == "building_permit"
    with pytest.raises(ServiceError, match="ends with a certificate"):
        centre_demo.pick_service(SERVICES[:1])


def test_sample_answers_fit_each_kind() -> None:
    assert centre_demo.sample_answers(SERVICES[1]) == {"floors": 1, "plot": "De", "kind": "house",
                                                       "mail": "demo@example.invalid", "born": "2000-01-01"}


@pytest.mark.parametrize(("actions", "picked"), [
    (["accept", "return", "reject"], "accept"), (["approve", "reject"], "approve"), (["done"], "done"),
    (["issue", "return"], "issue")])
def test_the_forward_action_is_picked_never_reject_or_return(actions: list[str], picked: str) -> None:
    assert centre_demo.pick_action(actions) == picked


def test_a_task_offering_only_backward_actions_stops_the_demo() -> None:
    with pytest.raises(ServiceError, match="reject, return"):
        centre_demo.pick_action(["reject", "return"])


class FakeCentre(BaseHTTPRequestHandler):
    """Just enough of the centre's API: one trade licence, two desks' tasks, then its certificate."""

    state: dict[str, Any] = {}

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: Any) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        s = self.state
        if self.path == "/api/services":
            return self._answer(200, SERVICES)
        if self.path == "/api/tasks":
            if self.headers.get("Authorization") != "Bearer T":
                return self._answer(401, {"error": "unauthorised", "message": "no token"})
            step = s.get("step", 0)
            return self._answer(200, [] if step >= 2 else [
                {"id": f"t{step}", "reference": "REF", "desk": ["clerk", "licensing_officer"][step],
                 "actions": [["accept", "reject"], ["approve", "reject"]][step]}])
        if self.path == "/api/applications/REF":
            s.setdefault("codes", []).append(self.headers.get("X-Access-Code"))
            n = len(s["codes"])
            certificate = {"id": "x" * 20, "verifyUrl": "https://centre.test/en/verify/" + "x" * 20,
                           "path": "/en/certificate/REF"}
            return self._answer(200, {"nextAccessCode": {"code": f"C{n}"}, "certificate": certificate})
        return self._answer(404, {"error": "not_found", "message": "no"})

    def do_POST(self) -> None:  # noqa: N802
        s = self.state
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        if self.path == "/api/applications":
            s["sent"] = body
            return self._answer(201, {"reference": "REF", "accessCode": {"code": "C0"}})
        step = s.get("step", 0)
        s["step"] = step + 1
        s.setdefault("acted", []).append(self.path)
        return self._answer(200, {"status": "closed" if step == 1 else "in_progress",
                                  "outcome": "issued" if step == 1 else None})


@pytest.fixture
def centre() -> Iterator[str]:
    FakeCentre.state = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeCentre)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_demo_over_http_prints_the_four_fields_with_an_unused_code(centre: str) -> None:
    result = centre_demo.run(centre_demo.HttpTransport(centre), "T", "https://centre.test", wait_s=0)
    assert json.loads(centre_demo.dumps(result)) == {
        "reference": "REF", "access_code": "C1", "certificate_url": "https://centre.test/en/certificate/REF?code=C1",
        "verify_url": "https://centre.test/en/verify/" + "x" * 20}
    assert FakeCentre.state["sent"] == {"serviceKey": "trade_licence", "answers": {}}
    assert FakeCentre.state["acted"] == ["/api/tasks/t0/accept", "/api/tasks/t1/approve"]
    assert FakeCentre.state["codes"] == ["C0"]  # the printed code C1 was never used


def test_a_refusal_and_an_address_that_is_not_https_are_said(centre: str) -> None:
    with pytest.raises(ServiceError, match="HTTP 401"):
        centre_demo.run(centre_demo.HttpTransport(centre), "wrong", "https://centre.test", wait_s=0)
    with pytest.raises(ServiceError, match="must be https"):
        centre_demo.HttpTransport("http://centre.example").request("GET", "/api/services")


# --- on the box: the demo staff member and its sign-in ---------------------------------------------------------
def test_the_demo_member_is_the_agencys_at_every_desk_under_a_fresh_login() -> None:
    assert centre_demo.demo_login("civic", "0a1b2c3d") == "demo-0a1b2c3d@civic"
    assert centre_demo.demo_groups("civic", ["licensing_officer", "clerk", "clerk"]) == [
        "agency-civic", "agency-civic--desk-clerk", "agency-civic--desk-licensing_officer"]
    assert centre_demo.demo_groups("civic", []) == ["agency-civic"]


def test_the_login_form_keeps_its_hidden_fields_and_takes_the_credentials() -> None:
    page = ('<form><input type="hidden" name="token" value="a&amp;b"><input name="user" value="">'
            '<input type="password" name="password" value=""><input type="hidden" name="skin" value="bootstrap">')
    assert centre_demo.login_fields(page, "demo-1@civic", "pw") == {
        "token": "a&b", "user": "demo-1@civic", "password": "pw", "skin": "bootstrap"}


class FakeIdp(BaseHTTPRequestHandler):
    """LemonLDAP::NG's side of the code flow: the login form (a form token), the redirect with the code and the
    request's state, the token endpoint checking the client's secret and the PKCE verifier (S256)."""

    seen: dict[str, Any] = {}

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        from urllib.parse import parse_qs, urlsplit

        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        self.seen["authorize"] = query
        form = '<form method="post"><input type="hidden" name="token" value="F1"><input name="password" value="">'
        self._send(200, form.encode(), {"Content-Type": "text/html"})

    def do_POST(self) -> None:  # noqa: N802
        import base64
        import hashlib
        from urllib.parse import parse_qs

        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        asked = self.seen["authorize"]
        if self.path.startswith("/oauth2/authorize"):
            if (form.get("token"), form.get("user"), form.get("password")) != ("F1", "demo-1@civic", "right"):
                return self._send(200, b"<form>bad password</form>", {"Content-Type": "text/html"})
            state = self.seen.get("state_sent", asked["state"])
            return self._send(302, b"", {"Location": f"{asked['redirect_uri']}?code=K&state={state}"})
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        good = (self.headers.get("Authorization") == "Basic " + base64.b64encode(b"ag-civic--centre:S").decode()
                and form.get("code") == "K" and challenge == asked["code_challenge"]
                and asked["code_challenge_method"] == "S256")
        body = json.dumps({"access_token": "AT"} if good else {"error": "invalid_grant"}).encode()
        self._send(200 if good else 400, body, {"Content-Type": "application/json"})


@pytest.fixture
def idp() -> Iterator[str]:
    FakeIdp.seen = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeIdp)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


REDIRECT = "https://centre.civic.gov.example:18443/oidc/callback/"


def test_the_staff_token_comes_from_the_code_flow_with_pkce(idp: str) -> None:
    token = centre_demo.staff_token(idp, "", "ag-civic--centre", "S", REDIRECT, "demo-1@civic", "right")
    assert token == "AT"
    asked = FakeIdp.seen["authorize"]
    assert asked["client_id"] == "ag-civic--centre" and asked["redirect_uri"] == REDIRECT
    assert "groups" in asked["scope"].split() and asked["nonce"] and asked["state"]


def test_a_refused_sign_in_a_forged_state_and_a_wrong_secret_are_said_without_the_password(idp: str) -> None:
    with pytest.raises(ServiceError, match="did not sign the demo staff member in") as refused:
        centre_demo.staff_token(idp, "", "ag-civic--centre", "S", REDIRECT, "demo-1@civic", "wrong-pw-1234")
    assert "wrong-pw-1234" not in str(refused.value)
    FakeIdp.seen["state_sent"] = "another"  # a redirect answering another sign-in: its code is not used
    with pytest.raises(ServiceError, match="did not sign the demo staff member in"):
        centre_demo.staff_token(idp, "", "ag-civic--centre", "S", REDIRECT, "demo-1@civic", "right")
    del FakeIdp.seen["state_sent"]
    with pytest.raises(ServiceError, match="without an access token"):
        centre_demo.staff_token(idp, "", "ag-civic--centre", "other-secret", REDIRECT, "demo-1@civic", "right")


def test_an_app_without_a_demo_is_bad_input() -> None:
    from tests.conftest import assert_one_error, run_cli

    result = run_cli("--json", "app", "demo", "civic", "portal")
    assert result.rc == 2 and result.stdout == "", result.stderr
    assert_one_error(result)
    assert "app 'portal' has no demo" in result.stderr


@pytest.mark.parametrize("signing", [{"sign_url": "https://localhost:18018/sign/civic", "secret": "s"}, {}])
def test_the_roles_signing_tasks_have_boolean_conditions(signing: dict[str, str]) -> None:
    """ansible-core 2.19 fails a task whose `when` gives a string (every deploy with signing credentials failed at
    "Write the signing secret", hidden by no_log): each of the two tasks' conditions evaluates to a boolean, and
    exactly one of them runs, with and without the agency's signing credentials."""
    from pathlib import Path

    import yaml
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    tasks = yaml.safe_load((Path(__file__).resolve().parents[2] / "roles/centre/tasks/deploy.yml").read_text())
    conditions = [t["when"] for t in tasks if "centre_signing" in str(t.get("when", ""))]
    templar = Templar(loader=DataLoader(), variables={"centre_signing": signing})
    runs = [templar.evaluate_conditional(trust_as_template(c)) for c in conditions]
    assert len(runs) == 2 and all(isinstance(r, bool) for r in runs) and runs.count(True) == 1
    assert runs[0] is bool(signing)  # the first writes the secret, the second removes it
