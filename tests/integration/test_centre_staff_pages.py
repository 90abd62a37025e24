"""The centre's staff pages (`/staff/`) through Django's test client on a real PostgreSQL 15, signed in with the
authorization code flow against a test OIDC provider on loopback (a real HTTP server: its JWKS and its token
endpoint, which checks the client's secret, the redirect URI and the PKCE verifier and answers RS256 id and
access tokens). The deployed centre with the box's real LemonLDAP::NG is `test_apps_centre.py`."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from govcloud_platform.box.context import Box
from tests.integration._centre import centre_database, setup_django
from tests.integration._oidc_issuer import ISSUER, Issuer

pytestmark = [pytest.mark.integration]
CLIENT = "ag-health--centre"
SECRET = secrets.token_urlsafe(24)
TRADE = {"business_name": "Ali Traders", "business_kind": "shop", "email": "ali@example.pk"}


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[Box, Issuer]]:
    with centre_database("centrestaff") as (box, root):
        setup_django(box, root)
        from django.conf import settings

        provider = Issuer(ISSUER, CLIENT, SECRET)
        before = settings.CENTRE_OIDC
        settings.CENTRE_OIDC = {**before, **provider.settings("agency-health--desk-")}
        yield box, provider
        settings.CENTRE_OIDC = before
        provider.close()
        from centre_web import runtime

        runtime.connection().close()


def browser() -> Any:
    from django.test import Client

    return Client(enforce_csrf_checks=True, HTTP_HOST="centre.test", HTTP_X_FORWARDED_FOR="192.0.2.9")


def sign_in(provider: Issuer, sub: str, groups: list[str], **grant: Any) -> tuple[Any, Any]:
    """A browser through the code flow: /staff/ -> sign-in -> the IdP (played here: it checks what the centre
    asks for and hands a code out) -> /oidc/callback/. Returns (browser, the callback's answer)."""
    b = browser()
    first = b.get("/staff/")
    assert first.status_code == 302 and first["Location"] == "/staff/signin/?next=%2Fstaff%2F"
    out = b.get(first["Location"])
    assert out.status_code == 302
    url = urlsplit(out["Location"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == ISSUER + "/oauth2/authorize"
    q = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert q["client_id"] == CLIENT and q["response_type"] == "code" and q["code_challenge_method"] == "S256"
    assert q["redirect_uri"] == "https://centre.test/oidc/callback/" and "groups" in q["scope"].split()
    assert len(q["state"]) >= 40 and len(q["nonce"]) >= 40 and len(q["code_challenge"]) == 43
    code = provider.grant(sub=sub, groups=groups, name=sub.title(), nonce=q["nonce"], challenge=q["code_challenge"],
                          redirect_uri=q["redirect_uri"], **grant)
    answer = b.get("/oidc/callback/", {"code": code, "state": q["state"]})
    if answer.status_code == 302:
        b.get(answer["Location"])  # the inbox (and the CSRF cookie of its forms)
    return b, answer


def send(service: str = "trade_licence", answers: dict[str, Any] | None = None) -> str:
    from django.test import Client

    response = Client(HTTP_HOST="centre.test").post(
        "/api/applications", json.dumps({"serviceKey": service, "answers": answers or TRADE}),
        content_type="application/json")
    assert response.status_code == 201
    return str(response.json()["reference"])


def csrf(b: Any) -> str:
    return str(b.cookies["centre_health_csrf"].value)


def post(b: Any, path: str, data: dict[str, str] | None = None) -> Any:
    return b.post(path, {**(data or {}), "csrfmiddlewaretoken": csrf(b)})


def tasks_of(box: Box, reference: str) -> list[tuple[str, str, str, str | None]]:
    with box.pg_admin("centre") as conn:
        return [(str(r[0]), r[1], r[2], r[3]) for r in conn.execute(
            "SELECT t.id, t.desk, t.state, t.assigned_to FROM tasks t JOIN applications a ON a.id = t.application_id "
            "WHERE a.reference = %s ORDER BY t.created_at", (reference,))]


def audit_of(box: Box, reference: str) -> list[tuple[str, str, str]]:
    with box.pg_admin("centre") as conn:
        return [(r[0], r[1], r[2]) for r in conn.execute(
            "SELECT actor, action, details FROM audit WHERE subject = %s ORDER BY seq", (reference,))]


CLERK = ["agency-health", "agency-health--desk-clerk"]
OFFICER = ["agency-health", "agency-health--desk-licensing_officer"]


def test_sign_in_inbox_claim_act_comment_and_sign_out(site: tuple[Box, Issuer]) -> None:
    box, provider = site
    older, newer = send(), send()
    ayesha, answer = sign_in(provider, "ayesha", CLERK)
    assert answer.status_code == 302 and answer["Location"] == "/staff/"
    cookie = ayesha.cookies["centre_health_session"]
    assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Lax"
    inbox = ayesha.get("/staff/")
    page = inbox.content.decode()
    assert inbox.status_code == 200 and "Ayesha" in page and "Overdue" not in page
    assert "Content-Security-Policy" in inbox and "script" not in page.lower()
    from centre_core import references

    assert page.index(references.display(older)) < page.index(references.display(newer))  # oldest first
    assert len(inbox.content) < 100_000
    bilal, _ = sign_in(provider, "bilal", CLERK)  # a colleague at the same desk
    task = tasks_of(box, older)[0][0]

    # claim; the colleague can neither act on it nor release it; then it is assigned to the colleague
    assert post(ayesha, f"/staff/tasks/{task}/claim/").status_code == 302
    assert tasks_of(box, older)[0][3] == "ayesha"
    assert post(bilal, f"/staff/tasks/{task}/act/", {"action": "accept"}).status_code == 409
    assert post(bilal, f"/staff/tasks/{task}/release/").status_code == 409
    assert post(ayesha, f"/staff/tasks/{task}/assign/", {"to": "nobody-known"}).status_code == 400
    assert post(ayesha, f"/staff/tasks/{task}/assign/", {"to": "bilal", "back": "file"})["Location"] == \
        f"/staff/applications/{older}/"
    assert tasks_of(box, older)[0][3] == "bilal"
    assert post(bilal, f"/staff/tasks/{task}/release/").status_code == 302
    assert tasks_of(box, older)[0][3] is None

    # the application page: answers, the actions, a place for documents; a return needs a reason
    file = ayesha.get(f"/staff/applications/{older}/")
    text = file.content.decode()
    assert file.status_code == 200 and "Ali Traders" in text and 'id="documents"' in text
    assert all(f'value="{a}"' in text for a in ("accept", "return", "reject"))
    before = audit_of(box, older)
    refused = post(ayesha, f"/staff/tasks/{task}/act/", {"action": "return", "reason": " "})
    assert refused.status_code == 400 and "Give the reason" in refused.content.decode()
    assert audit_of(box, older) == before and tasks_of(box, older)[0][2] == "ready"
    assert post(ayesha, f"/staff/tasks/{task}/act/", {"action": "approve"}).status_code == 409  # not offered
    assert post(ayesha, f"/staff/applications/{older}/comment/", {"text": "Lease seen at the counter."}).status_code \
        == 302
    done = post(ayesha, f"/staff/tasks/{task}/act/", {"action": "accept", "comment": "ok"})
    assert done.status_code == 302 and done["Location"] == f"/staff/applications/{older}/"
    assert [(d, s) for _, d, s, _ in tasks_of(box, older)] == [("clerk", "done"), ("licensing_officer", "ready")]
    trail = audit_of(box, older)
    assert [a for _, a, _ in trail] == ["submitted", "task:review:claim", "task:review:assign", "task:review:release",
                                        "comment", "task:review:accept"]
    assert trail[4][0] == "staff:ayesha" and json.loads(trail[4][2]) == {"text": "Lease seen at the counter."}
    history = ayesha.get(f"/staff/applications/{older}/").content.decode()
    print(f"staff pages: inbox {len(inbox.content)} B, application {len(history.encode())} B")
    assert len(history.encode()) < 100_000
    assert "Lease seen at the counter." in history and "This task waits at another desk." in history

    # the licensing officer approves: the same store.act as the API, closed issued
    officer, _ = sign_in(provider, "omar", OFFICER)
    following = tasks_of(box, older)[1][0]
    assert post(officer, f"/staff/tasks/{following}/act/", {"action": "approve"}).status_code == 302
    with box.pg_admin("centre") as conn:
        assert conn.execute("SELECT status, outcome FROM applications WHERE reference = %s",
                            (older,)).fetchone() == ("closed", "issued")
    from django.core.management import call_command

    call_command("centre_audit_verify")  # the chain is intact with the staff pages' entries (exits 1 otherwise)

    # sign out: the session is gone, the pages ask for a sign-in again
    assert post(ayesha, "/staff/signout/").status_code == 200
    assert ayesha.get("/staff/").status_code == 302
    assert ayesha.post(f"/staff/tasks/{tasks_of(box, newer)[0][0]}/claim/",
                       {"csrfmiddlewaretoken": csrf(ayesha)}).status_code == 403


def test_isolation_and_refusals(site: tuple[Box, Issuer]) -> None:
    box, provider = site
    reference = send()
    task = tasks_of(box, reference)[0][0]
    # no desk group: 403, no session
    nodesk, answer = sign_in(provider, "nadia", ["agency-health"])
    assert answer.status_code == 403 and "not at any desk" in answer.content.decode()
    assert nodesk.get("/staff/").status_code == 302
    # another agency's desk groups, or a token of another agency's client: nothing
    for groups, grant in ((["agency-other", "agency-other--desk-clerk"], {}),
                          (CLERK, {"aud": "ag-other--centre"}), (CLERK, {"iss": "https://auth.other.test"})):
        stranger, answer = sign_in(provider, "stranger", groups, **grant)
        assert answer.status_code in (400, 403), grant
        assert stranger.get(f"/staff/applications/{reference}/").status_code == 302  # sign in first
        assert "staff" not in stranger.session
    # a forged callback: another state, no pending sign-in, a code replayed
    b = browser()
    assert b.get("/oidc/callback/", {"code": "x", "state": "y"}).status_code == 400
    # desk X on desk Y's task: the same 404 as an unknown or malformed id
    officer, _ = sign_in(provider, "omar", OFFICER)
    gone = [post(officer, f"/staff/tasks/{task}/act/", {"action": "accept"}),
            post(officer, f"/staff/tasks/{task}/claim/"),
            post(officer, "/staff/tasks/00000000-0000-0000-0000-000000000000/claim/"),
            post(officer, "/staff/tasks/not-a-task/act/", {"action": "accept"}),
            officer.get(f"/staff/applications/{reference}/"),
            officer.get("/staff/applications/ABCD-EFGH-JK12/"),
            officer.get("/staff/applications/nonsense/"),
            post(officer, f"/staff/applications/{reference}/comment/", {"text": "peek"})]
    assert [r.status_code for r in gone] == [404] * len(gone)
    # one answer (but for the sign-out form's masked CSRF token): nothing tells whether the id exists
    assert len({re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", r.content) for r in gone}) == 1
    assert tasks_of(box, reference)[0][2:] == ("ready", None) and len(audit_of(box, reference)) == 1
    # CSRF on every form
    clerk, _ = sign_in(provider, "ayesha", CLERK)
    assert clerk.post(f"/staff/tasks/{task}/claim/").status_code == 403
    assert clerk.post("/staff/signout/").status_code == 403
    assert tasks_of(box, reference)[0][3] is None


def test_a_session_past_its_end_is_signed_out(site: tuple[Box, Issuer]) -> None:
    """The session ends with the access token: past its end, pages ask for a sign-in and forms are refused."""
    from django.contrib.sessions.backends.signed_cookies import SessionStore

    box, provider = site
    reference = send()
    task = tasks_of(box, reference)[0][0]
    b, _ = sign_in(provider, "ayesha", CLERK)
    token = csrf(b)
    session = SessionStore()
    session["staff"] = {"sub": "ayesha", "name": "Ayesha", "desks": ["clerk"], "end": int(time.time()) - 1}
    session.save()
    b.cookies["centre_health_session"] = session.session_key
    assert b.get("/staff/")["Location"] == "/staff/signin/?next=%2Fstaff%2F"
    assert b.post(f"/staff/tasks/{task}/claim/", {"csrfmiddlewaretoken": token}).status_code == 403
    assert tasks_of(box, reference)[0][3] is None
