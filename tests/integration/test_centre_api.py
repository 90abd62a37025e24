"""The centre's interface for integrations (`/api/`, JSON) through Django's test client on a real PostgreSQL 15:
the catalogue, an application sent by the API and tracked by the API and by the tracking page, every refusal of
a bad request (and nothing written), one answer for a wrong code, another application's code, a missing code and
an unknown reference, the tracking throttle shared with the page, the staff side with real OIDC tokens (RS256,
verified against a JWKS served over HTTP on loopback: signature, issuer, audience, expiry), and the OpenAPI
document matching the routes."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from centre_core import references
from govcloud_platform.box.context import Box
from tests.integration._centre import centre_database, setup_django
from tests.integration._oidc_issuer import ISSUER, Issuer

pytestmark = [pytest.mark.integration]
AUDIENCE = "health-centre"
TRADE = {"business_name": "Ali Traders", "business_kind": "shop", "email": "ali@example.pk"}


@pytest.fixture(scope="module")
def site() -> Iterator[Box]:
    """PostgreSQL with the centre's database, Django configured as the role writes it (one database for the
    module, as in test_centre_web.py)."""
    with centre_database("centreapi") as (box, root):
        setup_django(box, root)
        yield box
        from centre_web import runtime

        runtime.connection().close()


@pytest.fixture
def issuer(site: Box) -> Iterator[Issuer]:
    """The agency's OIDC provider as the centre's settings name it (issuer, audience, JWKS URL, desk groups)."""
    from django.conf import settings

    found = Issuer(ISSUER, AUDIENCE)
    before = settings.CENTRE_OIDC
    settings.CENTRE_OIDC = {**before, "issuer": ISSUER, "audience": AUDIENCE, "jwks_url": found.url,
                            "desk_prefix": "centre-"}
    yield found
    settings.CENTRE_OIDC = before
    found.close()


_address = iter(range(1, 250))


def client(address: str | None = None) -> Any:
    """An integration: no cookies of its own, its own address as the proxy reports it (the throttle's client)."""
    from django.test import Client

    return Client(enforce_csrf_checks=True, HTTP_HOST="centre.test",
                  HTTP_X_FORWARDED_FOR=address or f"192.0.2.{next(_address)}")


def post_json(c: Any, path: str, body: Any, **extra: Any) -> Any:
    return c.post(path, json.dumps(body), content_type="application/json", **extra)


def send(c: Any, service: str = "trade_licence", answers: dict[str, Any] | None = None) -> dict[str, Any]:
    response = post_json(c, "/api/applications", {"serviceKey": service, "answers": answers or TRADE})
    assert response.status_code == 201, response.content
    doc: dict[str, Any] = response.json()
    assert response["Location"] == f"/api/applications/{doc['reference']}"
    return doc


def act(c: Any, path: str, **extra: Any) -> Any:
    """A task action without a body (as `curl -X POST` sends it)."""
    return c.post(path, b"", content_type="", **extra)


def look(c: Any, reference: str, code: str | None) -> Any:
    return c.get(f"/api/applications/{reference}", **({"HTTP_X_ACCESS_CODE": code} if code is not None else {}))


def counts(box: Box) -> tuple[int, ...]:
    with box.pg_admin("centre") as conn:
        row = conn.execute("SELECT (SELECT count(*) FROM applications), (SELECT count(*) FROM tracking_codes), "
                           "(SELECT count(*) FROM audit), (SELECT count(*) FROM tasks)").fetchone()
    assert row is not None
    return tuple(row)


def test_the_catalogue_lists_the_samples(site: Box) -> None:
    response = client().get("/api/services")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert "Set-Cookie" not in response and not response.cookies
    services = {s["id"]: s for s in response.json()}
    assert set(services) == {"birth_certificate", "trade_licence", "building_permit", "grievance"}
    trade = services["trade_licence"]
    assert trade["name"] == {"en": "Trade licence", "ur": "تجارتی لائسنس"}
    assert trade["fee"]["currency"] == "PKR" and trade["slaWorkingDays"] > 0 and trade["office"]["name"]["en"]
    assert [d["id"] for d in trade["documents"]] == ["owner_cnic", "premises_proof"] and trade["eligibility"]
    assert [q["id"] for q in trade["questions"]] == ["business_name", "business_kind", "email"]
    kind = trade["questions"][1]
    assert kind["kind"] == "choice" and {c["id"] for c in kind["choices"]} >= {"shop", "workshop"}
    steps = [(s["id"], s["escalation"]) for s in trade["steps"]]
    assert steps == [("review", False), ("escalated_review", True), ("provide_document", False),
                     ("approve", False)]
    assert trade["steps"][0]["name"]["en"] == "Review of the application"
    assert {o["id"] for o in trade["outcomes"]} == {"issued", "rejected"}


def test_an_application_sent_by_the_api_is_tracked_by_the_api_and_the_page(site: Box) -> None:
    from django.test import Client

    integration = client()
    sent = send(integration, "building_permit", {"plot_address": "Plot 4", "floors": 3, "email": "p@example.pk"})
    assert sent["display"] == references.display(sent["reference"]) and sent["status"] == "in_progress"
    with site.pg_admin("centre") as conn:
        row = conn.execute("SELECT service_id, answers, email FROM applications WHERE reference = %s",
                           (sent["reference"],)).fetchone()
    # stored as the check page stores it: numbers as int for the process, the first e-mail the application's
    assert row == ("building_permit", {"plot_address": "Plot 4", "floors": 3, "email": "p@example.pk"},
                   "p@example.pk")

    first = look(integration, sent["reference"].lower(), sent["accessCode"]["code"])
    assert first.status_code == 200, first.content
    doc = first.json()
    assert doc["serviceKey"] == "building_permit" and doc["status"] == "in_progress"
    assert doc["statusText"]["en"] == "Being processed" and doc["office"]["name"]["en"]
    here = [s for s in doc["steps"] if s["state"] == "here"]
    assert [s["id"] for s in here] == ["intake_review"], doc["steps"]
    assert all(s["state"] == "pending" for s in doc["steps"][1:])
    assert look(integration, sent["reference"], sent["accessCode"]["code"]).status_code == 404  # used up
    following = doc["nextAccessCode"]["code"]
    assert look(integration, sent["reference"], following).status_code == 200

    assert look(integration, sent["reference"], following).status_code == 404  # used in its turn

    # the tracking page: another application sent through the API, tracked there with the code the API gave
    again = send(integration)
    browser = Client(HTTP_HOST="centre.test", HTTP_X_FORWARDED_FOR="192.0.2.250")
    moved = browser.post("/en/track/", {"reference": again["display"], "code": again["accessCode"]["code"]})
    assert moved.status_code == 302 and moved["Location"] == "/en/track/status/"
    page = browser.get("/en/track/status/").content.decode()
    assert again["display"] in page and "You are here" in page and "Review of the application" in page
    assert browser.get(f"/api/applications/{again['reference']}").status_code == 404  # the page's session: nothing


@pytest.mark.parametrize(("content_type", "body", "extra", "status", "error", "field"), [
    ("text/plain", b'{"serviceKey": "trade_licence"}', {}, 415, "unsupported_media_type", None),
    ("application/x-www-form-urlencoded", b"serviceKey=trade_licence", {}, 415, "unsupported_media_type", None),
    ("application/json", b"{}", {"CONTENT_LENGTH": str(10 * 1024 * 1024)}, 413, "too_large", None),
    ("application/json", b'{"serviceKey": "' + b"x" * 70_000 + b'"}', {}, 413, "too_large", None),
    ("application/json", b"{not json", {}, 400, "malformed_json", None),
    ("application/json", b"\xff\xfe", {}, 400, "malformed_json", None),
    ("application/json", b"[1, 2]", {}, 400, "malformed_json", None),
    ("application/json", b'{"serviceKey": "trade_licence", "answers": {}, "extra": 1}', {}, 400, "unknown_field",
     "extra"),
    ("application/json", b'{"answers": {}}', {}, 400, "invalid", "serviceKey"),
    ("application/json", b'{"serviceKey": "no_such_service"}', {}, 400, "invalid", "serviceKey"),
    ("application/json", b'{"serviceKey": "trade_licence", "answers": ["Ali"]}', {}, 400, "invalid", "answers"),
    ("application/json", b'{"serviceKey": "trade_licence", "answers": {"age": "3"}}', {}, 400, "unknown_field",
     "answers.age"),
    ("application/json", b'{"serviceKey": "trade_licence", "answers": {"business_name": true}}', {}, 400,
     "invalid", "answers.business_name"),
    ("application/json", b'{"serviceKey": "trade_licence", "answers": {"business_name": "A", "business_kind": '
                         b'"castle", "email": "a@example.pk"}}', {}, 400, "invalid", "answers.business_kind"),
    ("application/json", b'{"serviceKey": "trade_licence", "answers": {"business_name": "A", "business_kind": '
                         b'"shop", "email": "not-mail"}}', {}, 400, "invalid", "answers.email"),
    ("application/json", b'{"serviceKey": "building_permit", "answers": {"plot_address": "P", "floors": "many", '
                         b'"email": "a@example.pk"}}', {}, 400, "invalid", "answers.floors"),
    ("application/json", b'{"serviceKey": "building_permit", "answers": {"floors": 2, "email": "a@example.pk"}}',
     {}, 400, "invalid", "answers.plot_address"),
])
def test_bad_input_is_refused_and_changes_nothing(site: Box, content_type: str, body: bytes, extra: dict[str, str],
                                                  status: int, error: str, field: str | None) -> None:
    before = counts(site)
    response = client().post("/api/applications", body, content_type=content_type, **extra)
    assert response.status_code == status, response.content
    doc = response.json()
    assert doc["error"] == error and doc.get("field") == field and doc["message"]
    assert set(doc.get("messages", {"en": 1, "ur": 2})) == {"en", "ur"}
    assert counts(site) == before


def test_the_answers_messages_are_the_pages(site: Box) -> None:
    response = post_json(client(), "/api/applications", {"serviceKey": "building_permit", "answers": {
        "plot_address": "P", "floors": "many", "email": "a@example.pk"}})
    """An answer that does not pass gets the citizen pages' own message (answers.check), in both languages."""
    from centre_web.texts import TEXTS

    doc = response.json()
    assert response.status_code == 400 and doc["field"] == "answers.floors"
    assert doc["messages"] == {"en": TEXTS["err_number"]["en"], "ur": TEXTS["err_number"]["ur"]}
    assert doc["message"] == doc["messages"]["en"] and "Enter a whole number" in doc["message"]


def test_wrong_codes_and_unknown_references_get_one_answer(site: Box) -> None:
    """A wrong code, another application's code, no code and an unknown reference: the same status, headers and
    body, each counted by the throttle; the right code still works after them (fewer than 5 wrong tries)."""
    from centre_web import runtime

    integration = client("192.0.2.251")
    a, b = send(integration), send(integration)
    keyed = hmac.new(runtime.tracking_key(), b"client:192.0.2.251", hashlib.sha256).hexdigest()

    def attempts() -> int:
        with site.pg_admin("centre") as conn:
            row = conn.execute("SELECT attempts FROM tracking_clients WHERE client = %s", (keyed,)).fetchone()
        return int(row[0]) if row else 0

    answers = []
    for reference, code in ((a["reference"], "WRONGCDE"), (a["reference"], b["accessCode"]["code"]),
                            (a["reference"], None), (a["reference"], ""),
                            (references.new_reference(), a["accessCode"]["code"])):
        counted = attempts()
        response = look(integration, reference, code)
        assert attempts() == counted + 1
        answers.append((response.status_code, response["Content-Type"], response.content))
    assert len(set(answers)) == 1 and answers[0][0] == 404, answers
    assert look(integration, a["reference"], a["accessCode"]["code"]).status_code == 200
    assert look(integration, b["reference"], b["accessCode"]["code"]).status_code == 200
    malformed = look(integration, "1234", "WRONGCDE")  # not a reference at all: told apart, not counted
    assert malformed.status_code == 400 and malformed.json()["error"] == "malformed_reference"


def test_the_tracking_throttle_applies_to_the_api(site: Box) -> None:
    """20 lookups in 15 minutes per client, counted together on the page and the API; then 429 with
    Retry-After on both; another client is not held up."""
    from django.test import Client

    address = "203.0.113.90"
    integration = client(address)
    browser = Client(HTTP_HOST="centre.test", HTTP_X_FORWARDED_FOR=address)
    for i in range(20):
        if i % 2:
            assert look(integration, references.new_reference(), "ABCD2345").status_code == 404
        else:
            page = browser.post("/en/track/", {"reference": references.display(references.new_reference()),
                                               "code": "ABCD2345"})
            assert page.status_code == 400
    held = look(integration, references.new_reference(), "ABCD2345")
    assert held.status_code == 429 and 0 < int(held["Retry-After"]) <= 900
    assert held.json()["error"] == "too_many_requests" and "Too many tries" in held.json()["message"]
    assert browser.post("/en/track/", {"reference": references.display(references.new_reference()),
                                       "code": "ABCD2345"}).status_code == 429
    assert look(client(), references.new_reference(), "ABCD2345").status_code == 404


def test_no_cookie_opens_anything_and_csrf_does_not_apply(site: Box) -> None:
    """JSON posts need no CSRF token (no cookie is used); the citizen forms still do; a tracked browser session
    reads nothing through the API; nothing sets a cookie."""
    from django.test import Client

    integration = client()
    sent = send(integration)  # enforce_csrf_checks is on: no token, still 201
    assert "Set-Cookie" not in integration.get(f"/api/applications/{sent['reference']}")
    browser = Client(enforce_csrf_checks=True, HTTP_HOST="centre.test")
    assert browser.post("/en/track/", {"reference": sent["display"], "code": "x"}).status_code == 403
    assert browser.post("/api/applications", "{}", content_type="application/json").status_code == 400


def test_staff_tokens_are_verified_and_give_their_desks(site: Box, issuer: Issuer) -> None:
    """GET /api/tasks and POST /api/tasks/<id>/<action> with real RS256 tokens: no token, an expired one, another
    audience or issuer, another key, a shared-secret token: 401 with WWW-Authenticate: Bearer. A clerk sees the
    review task of an application sent through the API, accepts it, and it moves to the licensing officer."""
    integration = client()
    sent = send(integration)
    anonymous = integration.get("/api/tasks")
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Bearer")
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad = {
        "expired": issuer.token(["centre-clerk"], exp=int(time.time()) - 120),
        "audience": issuer.token(["centre-clerk"], aud="another-client"),
        "issuer": issuer.token(["centre-clerk"], iss="https://evil.test"),
        "key": issuer.token(["centre-clerk"], key=other_key),
        "kid": issuer.token(["centre-clerk"], key=other_key, kid="k2"),
        "hs256": jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60},
                            "secret" * 8, algorithm="HS256", headers={"kid": "k1"}),
        "garbage": "not.a.token",
    }
    for name, token in bad.items():
        response = integration.get("/api/tasks", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 401, name
        assert response["WWW-Authenticate"] == 'Bearer realm="centre", error="invalid_token"', name
    assert integration.get("/api/tasks", HTTP_AUTHORIZATION="Basic dXNlcjpwdw==").status_code == 401

    clerk = {"HTTP_AUTHORIZATION": f"Bearer {issuer.token(['centre-clerk', 'staff', 'centre-nowhere'])}"}
    listed = integration.get("/api/tasks", **clerk)
    assert listed.status_code == 200
    task = next(t for t in listed.json() if t["reference"] == sent["reference"])
    assert task["desk"] == "clerk" and set(task["actions"]) == {"accept", "return", "reject"}
    officer = {"HTTP_AUTHORIZATION": f"Bearer {issuer.token(['centre-licensing_officer'])}"}
    assert act(integration, f"/api/tasks/{task['id']}/accept", **officer).status_code == 404  # not at its desk
    assert act(integration, f"/api/tasks/{task['id']}/approve", **clerk).status_code == 409  # not offered
    assert act(integration, "/api/tasks/not-a-task/accept", **clerk).status_code == 404
    before = counts(site)
    assert post_json(integration, f"/api/tasks/{task['id']}/accept", {"fields": {"decision": "x"}},
                     **clerk).status_code == 400
    assert integration.post(f"/api/tasks/{task['id']}/accept", {"comment": "x"}, **clerk).status_code == 415
    assert counts(site) == before
    done = post_json(integration, f"/api/tasks/{task['id']}/accept", {"fields": {"comment": "lease seen"}}, **clerk)
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "in_progress" and [t["desk"] for t in done.json()["next"]] == ["licensing_officer"]
    assert act(integration, f"/api/tasks/{task['id']}/accept", **clerk).status_code == 404  # done already
    view = integration.get(f"/api/applications/{sent['reference']}", **officer)
    assert view.status_code == 200 and "nextAccessCode" not in view.json()
    assert [s["id"] for s in view.json()["steps"] if s["state"] == "here"] == ["approve"]
    assert [s["id"] for s in view.json()["steps"] if s["state"] == "done"] == ["review"]
    nobody = {"HTTP_AUTHORIZATION": f"Bearer {issuer.token(['staff'])}"}
    assert integration.get(f"/api/applications/{sent['reference']}", **nobody).status_code == 403
    assert integration.get("/api/tasks", **nobody).status_code == 403
    assert act(integration, f"/api/tasks/{done.json()['next'][0]['id']}/approve", **nobody).status_code == 403
    approved = act(integration, f"/api/tasks/{done.json()['next'][0]['id']}/approve", **officer)
    assert approved.json()["status"] == "closed" and approved.json()["outcome"] == "issued"
    with site.pg_admin("centre") as conn:
        actors = [r[0] for r in conn.execute("SELECT actor FROM audit WHERE subject = %s ORDER BY seq",
                                             (sent["reference"],))]
    assert actors == ["citizen", "staff:staff-7", "staff:staff-7"]


def test_without_oidc_settings_staff_tokens_are_refused(site: Box) -> None:
    """A centre without an OIDC provider (as the role wrote it before it had one): every token is refused, none
    is trusted unverified."""
    from django.conf import settings

    assert not settings.CENTRE_OIDC["issuer"]
    token = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60,
                        "groups": ["centre-clerk"]}, rsa.generate_private_key(public_exponent=65537, key_size=2048),
                       algorithm="RS256")
    response = client().get("/api/tasks", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")


def test_the_openapi_document_matches_the_routes(site: Box) -> None:
    """Every /api/ route is in /api/openapi.json and every path there is a route; each path answers its
    documented methods only (405 otherwise, with Allow); every $ref resolves; an unknown /api/ path is JSON."""
    import re

    from centre_web.urls import api_patterns

    response = client().get("/api/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"] == "3.1.0" and doc["servers"] == [{"url": "https://centre.test"}]
    routes = {"/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(p.pattern)) for p in api_patterns}
    assert routes == set(doc["paths"])
    names = {"reference": references.new_reference(), "taskId": "x", "action": "y",
             "billReference": references.new_reference()}
    for path, operations in doc["paths"].items():
        url = re.sub(r"\{(\w+)\}", lambda m: names[m.group(1)], path)
        documented = {m.upper() for m in operations}
        for method in {"GET", "POST", "PUT", "DELETE"} - documented:
            answer = client().generic(method, url)
            assert answer.status_code == 405 and set(answer["Allow"].split(", ")) == documented, (path, method)
    text = json.dumps(doc)
    for ref in set(re.findall(r'"\$ref": "#/components/schemas/(\w+)"', text)):
        assert ref in doc["components"]["schemas"], ref
    unknown = client().get("/api/nothing/here")
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
