"""The centre's staff pages (`/en/staff/`, `/ur/staff/`) through Django's test client on a real PostgreSQL 15,
signed in with the authorization code flow against a test OIDC provider on loopback (`_oidc_issuer.Issuer`, a
real HTTP server: its JWKS, discovery document, token endpoint, which checks the client's secret, the redirect URI
and the PKCE verifier and answers RS256 id and access tokens, and end-session endpoint); then in a real browser
(Chromium, JavaScript off) against the centre under gunicorn, in English and in Urdu (right to left): axe WCAG 2.2
AA, reflow at 320 px, no browser error on every page, the language switch, and the sign-out that ends the IdP's
session too (RP-initiated logout). The deployed centre with the box's real LemonLDAP::NG is `test_apps_centre.py`."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from govcloud_platform.box.context import Box
from tests.integration._browser import Chromium, Shots, Visit, follow
from tests.integration._centre import centre_database, setup_django
from tests.integration._centre_server import centre_server, free_port
from tests.integration._oidc_issuer import ISSUER, Issuer

pytestmark = [pytest.mark.integration]
CLIENT = "ag-health--centre"
SECRET = secrets.token_urlsafe(24)
TRADE = {"business_name": "Ali Traders", "business_kind": "shop", "email": "ali@example.pk"}


@pytest.fixture(scope="module")
def centre() -> Iterator[tuple[Box, Issuer, Any]]:
    with centre_database("centrestaff") as (box, root):
        setup_django(box, root)
        from django.conf import settings

        provider = Issuer(ISSUER, CLIENT, SECRET)
        before = settings.CENTRE_OIDC
        settings.CENTRE_OIDC = {**before, **provider.settings("agency-health--desk-")}
        yield box, provider, root
        settings.CENTRE_OIDC = before
        provider.close()
        from centre_web import runtime

        runtime.connection().close()


@pytest.fixture(scope="module")
def site(centre: tuple[Box, Issuer, Any]) -> tuple[Box, Issuer]:
    return centre[0], centre[1]


@pytest.fixture(scope="module")
def served(centre: tuple[Box, Issuer, Any]) -> Iterator[tuple[str, Issuer]]:
    """The same centre (database, keys) under gunicorn at its own address, which is its PUBLIC_URL: the IdP sends
    the browser back there (the callback, the signed-out page in each language, registered as the
    post-logout redirect URIs of the client)."""
    _, provider, root = centre
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = root / "web"
    web.mkdir()
    env = (root / "centre.env").read_text() + "\n".join([
        f"PUBLIC_URL={base}", "PUBLIC_HOST=127.0.0.1", f"OIDC_ISSUER={ISSUER}", f"OIDC_AUDIENCE={CLIENT}",
        f"OIDC_JWKS_URL={provider.url}", "OIDC_DESK_PREFIX=agency-health--desk-", f"OIDC_CLIENT_SECRET={SECRET}",
        f"OIDC_AUTHORIZE_URL={provider.base}/oauth2/authorize", f"OIDC_TOKEN_URL={provider.base}/token",
        f"OIDC_DISCOVERY_URL={provider.base}/.well-known/openid-configuration", ""])
    (web / "centre.env").write_text(env)
    (web / "centre.env").chmod(0o600)
    provider.post_logout_redirect_uris = [f"{base}/en/staff/signed-out/", f"{base}/ur/staff/signed-out/"]
    with centre_server(web, port=port) as served_at:
        yield served_at, provider


def browser() -> Any:
    from django.test import Client

    return Client(enforce_csrf_checks=True, HTTP_HOST="centre.test", HTTP_X_FORWARDED_FOR="192.0.2.9")


def sign_in(provider: Issuer, sub: str, groups: list[str], lang: str = "en", **grant: Any) -> tuple[Any, Any]:
    """A browser through the code flow: /<lang>/staff/ -> sign-in -> the IdP (played here: it checks what the
    centre asks for and hands a code out) -> /oidc/callback/. Returns (browser, the callback's answer)."""
    b = browser()
    first = b.get(f"/{lang}/staff/")
    assert first.status_code == 302 and first["Location"] == f"/{lang}/staff/signin/?next=%2F{lang}%2Fstaff%2F"
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
    assert answer.status_code == 302 and answer["Location"] == "/en/staff/"
    cookie = ayesha.cookies["centre_health_session"]
    assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Lax"
    inbox = ayesha.get("/en/staff/")
    page = inbox.content.decode()
    assert inbox.status_code == 200 and "Ayesha" in page and "Overdue" not in page
    assert "Content-Security-Policy" in inbox and "script" not in page.lower()
    from centre_core import references

    assert page.index(references.display(older)) < page.index(references.display(newer))  # oldest first
    assert len(inbox.content) < 100_000
    bilal, _ = sign_in(provider, "bilal", CLERK)  # a colleague at the same desk
    task = tasks_of(box, older)[0][0]

    # claim; the colleague can neither act on it nor release it; then it is assigned to the colleague
    assert post(ayesha, f"/en/staff/tasks/{task}/claim/").status_code == 302
    assert tasks_of(box, older)[0][3] == "ayesha"
    assert post(bilal, f"/en/staff/tasks/{task}/act/", {"action": "accept"}).status_code == 409
    assert post(bilal, f"/en/staff/tasks/{task}/release/").status_code == 409
    assert post(ayesha, f"/en/staff/tasks/{task}/assign/", {"to": "nobody-known"}).status_code == 400
    assert post(ayesha, f"/en/staff/tasks/{task}/assign/", {"to": "bilal", "back": "file"})["Location"] == \
        f"/en/staff/applications/{older}/"
    assert tasks_of(box, older)[0][3] == "bilal"
    assert post(bilal, f"/en/staff/tasks/{task}/release/").status_code == 302
    assert tasks_of(box, older)[0][3] is None

    # the application page: answers, the actions, a place for documents; a return needs a reason
    file = ayesha.get(f"/en/staff/applications/{older}/")
    text = file.content.decode()
    assert file.status_code == 200 and "Ali Traders" in text and 'id="documents"' in text
    assert all(f'value="{a}"' in text for a in ("accept", "return", "reject"))
    before = audit_of(box, older)
    refused = post(ayesha, f"/en/staff/tasks/{task}/act/", {"action": "return", "reason": " "})
    assert refused.status_code == 400 and "Give the reason" in refused.content.decode()
    assert audit_of(box, older) == before and tasks_of(box, older)[0][2] == "ready"
    assert post(ayesha, f"/en/staff/tasks/{task}/act/", {"action": "approve"}).status_code == 409  # not offered
    assert post(ayesha, f"/en/staff/applications/{older}/comment/",
                {"text": "Lease seen at the counter."}).status_code == 302
    done = post(ayesha, f"/en/staff/tasks/{task}/act/", {"action": "accept", "comment": "ok"})
    assert done.status_code == 302 and done["Location"] == f"/en/staff/applications/{older}/"
    assert [(d, s) for _, d, s, _ in tasks_of(box, older)] == [("clerk", "done"), ("licensing_officer", "ready")]
    trail = audit_of(box, older)
    assert [a for _, a, _ in trail] == ["submitted", "task:review:claim", "task:review:assign", "task:review:release",
                                        "comment", "task:review:accept"]
    assert trail[4][0] == "staff:ayesha" and json.loads(trail[4][2]) == {"text": "Lease seen at the counter."}
    history = ayesha.get(f"/en/staff/applications/{older}/").content.decode()
    print(f"staff pages: inbox {len(inbox.content)} B, application {len(history.encode())} B")
    assert len(history.encode()) < 100_000
    assert "Lease seen at the counter." in history and "This task waits at another desk." in history

    # the licensing officer approves: the same store.act as the API, closed issued
    officer, _ = sign_in(provider, "omar", OFFICER)
    following = tasks_of(box, older)[1][0]
    assert post(officer, f"/en/staff/tasks/{following}/act/", {"action": "approve"}).status_code == 302
    with box.pg_admin("centre") as conn:
        assert conn.execute("SELECT status, outcome FROM applications WHERE reference = %s",
                            (older,)).fetchone() == ("closed", "issued")
    from django.core.management import call_command

    call_command("centre_audit_verify")  # the chain is intact with the staff pages' entries (exits 1 otherwise)

    # sign out: the session is gone, the pages ask for a sign-in again (the IdP's part: the browser test below)
    out = post(ayesha, "/en/staff/signout/")
    assert out.status_code == 303 and out["Location"].startswith(provider.base + "/oauth2/logout?")
    assert ayesha.get("/en/staff/").status_code == 302
    assert ayesha.post(f"/en/staff/tasks/{tasks_of(box, newer)[0][0]}/claim/",
                       {"csrfmiddlewaretoken": csrf(ayesha)}).status_code == 403


def test_isolation_and_refusals(site: tuple[Box, Issuer]) -> None:
    box, provider = site
    reference = send()
    task = tasks_of(box, reference)[0][0]
    # no desk group: 403, no session
    nodesk, answer = sign_in(provider, "nadia", ["agency-health"])
    assert answer.status_code == 403 and "not at any desk" in answer.content.decode()
    assert nodesk.get("/en/staff/").status_code == 302
    # another agency's desk groups, or a token of another agency's client: nothing
    for groups, grant in ((["agency-other", "agency-other--desk-clerk"], {}),
                          (CLERK, {"aud": "ag-other--centre"}), (CLERK, {"iss": "https://auth.other.test"})):
        stranger, answer = sign_in(provider, "stranger", groups, **grant)
        assert answer.status_code in (400, 403), grant
        assert stranger.get(f"/en/staff/applications/{reference}/").status_code == 302  # sign in first
        assert "staff" not in stranger.session
    # a forged callback: another state, no pending sign-in, a code replayed
    b = browser()
    assert b.get("/oidc/callback/", {"code": "x", "state": "y"}).status_code == 400
    # desk X on desk Y's task: the same 404 as an unknown or malformed id
    officer, _ = sign_in(provider, "omar", OFFICER)
    gone = [post(officer, f"/en/staff/tasks/{task}/act/", {"action": "accept"}),
            post(officer, f"/en/staff/tasks/{task}/claim/"),
            post(officer, "/en/staff/tasks/00000000-0000-0000-0000-000000000000/claim/"),
            post(officer, "/en/staff/tasks/not-a-task/act/", {"action": "accept"}),
            officer.get(f"/en/staff/applications/{reference}/"),
            officer.get("/en/staff/applications/ABCD-EFGH-JK12/"),
            officer.get("/en/staff/applications/nonsense/"),
            post(officer, f"/en/staff/applications/{reference}/comment/", {"text": "peek"})]
    assert [r.status_code for r in gone] == [404] * len(gone)
    # one answer (but for the sign-out form's masked CSRF token): nothing tells whether the id exists
    assert len({re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", r.content) for r in gone}) == 1
    assert tasks_of(box, reference)[0][2:] == ("ready", None) and len(audit_of(box, reference)) == 1
    # CSRF on every form
    clerk, _ = sign_in(provider, "ayesha", CLERK)
    assert clerk.post(f"/en/staff/tasks/{task}/claim/").status_code == 403
    assert clerk.post("/en/staff/signout/").status_code == 403
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
    assert b.get("/en/staff/")["Location"] == "/en/staff/signin/?next=%2Fen%2Fstaff%2F"
    assert b.post(f"/en/staff/tasks/{task}/claim/", {"csrfmiddlewaretoken": token}).status_code == 403
    assert tasks_of(box, reference)[0][3] is None


def test_sign_out_clears_the_session_even_when_the_idp_does_not_answer(site: tuple[Box, Issuer]) -> None:
    """Sign-out is a POST with the CSRF token (a GET is refused); the session is cleared first: with the IdP's
    discovery document out of reach, the page says the IdP's sign-in may still be open, and the staff pages ask
    for a sign-in again. The IdP's end-session endpoint is asked for nothing."""
    from django.conf import settings

    box, provider = site
    b, _ = sign_in(provider, "ayesha", CLERK)
    assert b.get("/en/staff/signout/").status_code == 405  # no GET logout
    assert b.get("/en/staff/").status_code == 200  # still signed in
    before, calls = settings.CENTRE_OIDC, len(provider.logouts)
    settings.CENTRE_OIDC = {**before, "discovery_url": f"http://127.0.0.1:{free_port()}/.well-known/openid-configuration"}
    try:
        out = post(b, "/ur/staff/signout/")
    finally:
        settings.CENTRE_OIDC = before
    text = out.content.decode()
    from centre_web.texts import TEXTS

    assert out.status_code == 200 and TEXTS["staff_signed_out_here"]["ur"] in text and 'dir="rtl"' in text
    assert "staff" not in b.session and b.get("/en/staff/").status_code == 302
    assert len(provider.logouts) == calls


def test_the_signed_out_page_sends_a_signed_in_member_to_the_inbox(site: tuple[Box, Issuer]) -> None:
    """The signed-out page in each language is where the manifest says (the IdP's registered post-logout
    redirect URIs, apps/layout.app_oidc_client); a member signed in meanwhile goes to the inbox."""
    from django.urls import reverse
    from django.utils import translation

    from govcloud_platform.apps.manifests import manifest

    pages = []
    for lang in ("en", "ur"):
        with translation.override(lang):
            pages.append(reverse("staff-signed-out"))
    assert tuple(pages) == manifest("centre").oidc_post_logout
    box, provider = site
    b, _ = sign_in(provider, "ayesha", CLERK, lang="ur")
    assert b.get("/ur/staff/signed-out/")["Location"] == "/ur/staff/"
    assert browser().get("/ur/staff/signed-out/").status_code == 200


WORDS = {  # a few of the pages' own words in each language (centre_web/texts_staff.py)
    "en": {"inbox": "Your desks' tasks", "do_it": "Do it", "reason": "Give the reason", "add": "Add comment",
           "signed_out": "You are signed out of the staff pages and of the agency's sign-in."},
    "ur": {"inbox": "آپ کے ڈیسکوں کے کام", "do_it": "کارروائی کریں", "reason": "کی وجہ لکھیں", "add": "تبصرہ شامل کریں",
           "signed_out": "آپ عملے کے صفحات اور ادارے کے سائن اِن دونوں سے سائن آؤٹ ہو گئے ہیں۔"},
}


@pytest.mark.parametrize("lang", ["en", "ur"])
def test_the_staff_pages_in_a_browser_and_the_sign_out_ends_the_idp_session(
        served: tuple[str, Issuer], chromium: Chromium, shots: Shots, lang: str) -> None:
    """Chromium without JavaScript, its language `lang`: `/staff/` follows it, signs in through the IdP (a session
    there already), the inbox, a claim, the application, a refused action (the error in the page's language), a
    comment, the language switch both ways, and the sign-out: the IdP's end-session endpoint gets the sign-in's
    id_token as `id_token_hint` and sends the browser back to the signed-out page in the same language; the staff
    pages then ask for a sign-in again (the IdP's sign-in page: its session is over too)."""
    base, provider = served
    other = "en" if lang == "ur" else "ur"
    sent = requests.post(f"{base}/api/applications", json={"serviceKey": "trade_licence", "answers": TRADE},
                         timeout=30)
    assert sent.status_code == 201, sent.text[:300]
    reference = sent.json()["reference"]
    subject = f"sana-{lang}"
    provider.signed_in = {"sub": subject, "groups": CLERK, "name": "Sana"}
    page = chromium.page(javascript=False, locale=lang)
    visit = Visit(chromium, shots, page, f"staff-{lang}")
    words = WORDS[lang]
    try:
        page.goto(f"{base}/staff/", wait_until="load")
        assert page.url == f"{base}/{lang}/staff/", page.url
        assert page.locator("html").get_attribute("lang") == lang
        assert page.locator("html").get_attribute("dir") == ("rtl" if lang == "ur" else "ltr")
        assert words["inbox"] in page.locator("h1").inner_text()
        visit.seen("inbox")
        row = page.locator("tr", has=page.locator(f'a[href="/{lang}/staff/applications/{reference}/"]'))
        follow(page, row.locator("button[type=submit]"))
        visit.seen("inbox-claimed")
        follow(page, page.locator(f'a[href="/{lang}/staff/applications/{reference}/"]'))
        assert page.url == f"{base}/{lang}/staff/applications/{reference}/"
        visit.seen("application")
        page.locator('input[name=action][value="return"]').check()
        follow(page, page.locator("button", has_text=words["do_it"]))
        assert words["reason"] in page.locator(".govuk-error-message").inner_text()
        visit.seen("application-refused")
        page.goto(f"{base}/{lang}/staff/applications/{reference}/")
        page.locator("#comment-text").fill("Lease seen at the counter.")
        follow(page, page.locator("button", has_text=words["add"]))
        assert "Lease seen at the counter." in page.locator("ol.staff-history").inner_text()
        visit.seen("application-commented")

        # the language switch: the same page in the other language, and back
        follow(page, page.locator(f'a[hreflang="{other}"]'))
        assert page.url == f"{base}/{other}/staff/applications/{reference}/"
        assert page.locator("html").get_attribute("lang") == other
        visit.seen(f"application-{other}")
        follow(page, page.locator(f'a[hreflang="{lang}"]'))
        assert page.url == f"{base}/{lang}/staff/applications/{reference}/"

        # sign out: a POST form; the IdP ends its session and sends the browser back
        calls = len(provider.logouts)
        follow(page, page.locator(".staff-bar form button[type=submit]"))
        assert page.url == f"{base}/{lang}/staff/signed-out/", page.url
        assert words["signed_out"] in page.locator("main").inner_text()
        [logout] = provider.logouts[calls:]
        assert logout["id_token_hint"] in provider.id_tokens and logout["client_id"] == CLIENT
        assert logout["post_logout_redirect_uri"] == f"{base}/{lang}/staff/signed-out/"
        hint = jwt.decode(logout["id_token_hint"], options={"verify_signature": False})
        assert hint["sub"] == subject and hint["aud"] == CLIENT
        assert provider.signed_in is None
        visit.seen("signed-out")

        # the staff pages ask for a sign-in again: the IdP's own sign-in page, its session being over too
        asked = provider.asked_to_sign_in
        page.goto(f"{base}/{lang}/staff/applications/{reference}/")
        assert provider.asked_to_sign_in == asked + 1 and page.url.startswith(provider.base + "/oauth2/authorize?")
        assert "Sign in to the agency" in page.content()
        visit.meter.reset()  # the IdP's page is not the centre's
    finally:
        page.context.close()
    visit.check()
