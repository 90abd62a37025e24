"""An agency's members in the console on a real box (the shared `console_session`): an administrator invites by the
page and by the API; the invitation is read from the box's Maildir (Postfix, submitted by the console's own SMTP
login); the link's page creates the IdP user in the agency's group; the new member signs in through the IdP and sees
the agency, cannot invite (403); the administrator makes them an administrator and removes them (their sign-in then
fails); the agency's own administrator is neither demoted nor removed (409); a used, expired or withdrawn link gives
a clear page and creates nothing; every change is in the audit log with the console's actor; in Debian's Chromium
(JavaScript off) the administrator invites through the form and the invitee joins through the link's page in Urdu,
every page without a WCAG 2.2 AA violation (axe-core), reflowing at 320 px, under 150 KB. (Another agency's attempts:
tests/security/test_console.py.)"""

from __future__ import annotations

import re
from email.message import EmailMessage

import pytest
import requests

from govcloud_platform.box import idp_api
from govcloud_platform.mailbox import wait_for
from govcloud_platform.state.registry import Registry
from tests import console_kit as kit
from tests.conftest import BoxHandle
from tests.console_kit import admin
from tests.integration._browser import Chromium, Shots, Visit, follow

pytestmark = pytest.mark.integration
A, B = "mem-alpha", "mem-beta"
PASSWORD = "correct horse battery staple"
PAGE_LIMIT = 150 * 1024
LINK = re.compile(r"https://\S+/(en|ur)/join\?t=[A-Za-z0-9_-]{43}")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(scope="module")
def cbox(console_session: BoxHandle) -> BoxHandle:
    return kit.onboard(console_session, (A, B))


@pytest.fixture(scope="module")
def tokens(cbox: BoxHandle) -> dict[str, str]:
    box = cbox.box()
    return {A: kit.access_token(box, *admin(cbox, A)), "operator": kit.access_token(box, *kit.operator(cbox))}


def _delete(cbox: BoxHandle, path: str, token: str) -> requests.Response:
    box = cbox.box()
    with requests.Session() as s:
        s.trust_env = False
        return s.delete(kit.url(box, path), headers={"Authorization": f"Bearer {token}"}, verify=str(box.ca_file),
                        timeout=30)


def _link(cbox: BoxHandle, to: str, besides: tuple[str, ...] = ()) -> str:
    """The link of an invitation mailed to `to` (read from the box's Maildir): the first one, or the first whose link
    is none of `besides` (an invitation sent again)."""
    def fits(m: EmailMessage) -> bool:
        body = m.get_body(("plain",))
        return "Invitation to" in str(m["Subject"]) and not any(
            old in (body.get_content() if body is not None else "") for old in besides)

    msg: EmailMessage = wait_for(cbox.home, to, fits, timeout=30)
    assert str(msg["From"]).endswith(f"<console@{cbox.box().spec.platform.domain}>")
    body = msg.get_body(("plain",))
    assert body is not None
    found = LINK.search(body.get_content())
    assert found, body.get_content()[:500]
    return found.group(0)


def _invite(cbox: BoxHandle, token: str, email: str, role: str = "member") -> dict[str, object]:
    resp = kit.api_post(cbox.box(), f"/api/agencies/{A}/invitations", token, {"email": email, "role": role})
    assert resp.status_code == 201, resp.text[:300]
    made: dict[str, object] = resp.json()
    return made


def _join(cbox: BoxHandle, link: str, local: str, password: str = PASSWORD) -> requests.Response:
    """The invitee's browser: the link's page, then its form."""
    s = kit.oidc.browser(cbox.box())
    page = s.get(link, timeout=10)
    if page.status_code != 200:
        return page
    token = link.split("?t=", 1)[1]
    found = CSRF.search(page.text)
    assert found
    return s.post(link.split("?")[0], data={"csrf": found.group(1), "t": token, "login": local, "name": "Jane Q",
                                            "password": password, "repeat": password}, timeout=30)


def _members(cbox: BoxHandle, token: str) -> dict[str, str]:
    resp = kit.api(cbox.box(), f"/api/agencies/{A}/members", token)
    assert resp.status_code == 200, resp.text[:300]
    return {m["login"]: m["role"] for m in resp.json()["members"]}


def test_an_invited_member_joins_signs_in_changes_role_and_is_removed(cbox: BoxHandle,
                                                                      tokens: dict[str, str]) -> None:
    box = cbox.box()
    jane = f"jane@{A}"
    # the administrator invites through the page (signed in, with the page's CSRF token)
    session, landed = kit.sign_in(box, *admin(cbox, A), start=f"/en/agencies/{A}/members")
    assert landed.status_code == 200 and "Send the invitation" in landed.text
    csrf = CSRF.search(landed.text)
    assert csrf
    sent = session.post(kit.url(box, f"/en/agencies/{A}/invitations"), allow_redirects=False, timeout=30,
                        data={"csrf": csrf.group(1), "email": "jane@example.org", "role": "member"})
    assert sent.status_code == 303, sent.text[:500]
    listed = session.get(kit.url(box, sent.headers["location"]), timeout=10)
    assert "The invitation is sent." in listed.text and "jane@example.org" in listed.text
    urdu = session.get(kit.url(box, f"/ur/agencies/{A}/members"), timeout=10)
    assert urdu.status_code == 200 and 'dir="rtl"' in urdu.text and "دعوت نامہ بھیجیں" in urdu.text

    link = _link(cbox, "jane@example.org")
    a_bad_password = _join(cbox, link, "jane", "short")
    assert a_bad_password.status_code == 400 and idp_api.get_user(box, jane) is None
    joined = _join(cbox, link, "jane")
    assert joined.status_code == 201 and jane in joined.text, joined.text[:500]
    user = idp_api.get_user(box, jane)
    assert user is not None and user["groups"] == [f"agency-{A}"] and user["mail"] == "jane@example.org"
    again = _join(cbox, link, "jane2")  # the link works once
    assert again.status_code == 410 and "was used already" in again.text
    assert idp_api.get_user(box, f"jane2@{A}") is None

    # the new member signs in through the IdP and sees the agency, and only it; changes nothing
    _, page = kit.sign_in(box, jane, PASSWORD, start=f"/en/agencies/{A}")
    assert page.status_code == 200 and f"Agency {A}" in page.text
    own = kit.access_token(box, jane, PASSWORD)
    assert [a["slug"] for a in kit.api(box, "/api/agencies", own).json()["agencies"]] == [A]
    assert _members(cbox, own) == {f"admin@{A}": "admin", jane: "member"}
    assert kit.api_post(box, f"/api/agencies/{A}/invitations", own, {"email": "x@example.org"}).status_code == 403
    assert kit.api_post(box, f"/api/agencies/{A}/members/admin@{A}/role", own, {"role": "member"}).status_code == 403
    assert _delete(cbox, f"/api/agencies/{A}/members/admin@{A}", own).status_code == 403
    assert kit.api(box, f"/api/agencies/{A}/invitations", own).status_code == 403

    # roles: jane becomes an administrator; the agency's own administrator stays one, and stays
    made = kit.api_post(box, f"/api/agencies/{A}/members/{jane}/role", tokens[A], {"role": "admin"})
    assert made.status_code == 200 and made.json()["role"] == "admin", made.text[:300]
    assert f"agency-{A}--admins" in (idp_api.get_user(box, jane) or {})["groups"]
    own_admin = f"/api/agencies/{A}/members/admin@{A}"
    assert kit.api_post(box, f"{own_admin}/role", tokens[A], {"role": "member"}).status_code == 409
    assert _delete(cbox, own_admin, tokens["operator"]).status_code == 409
    assert kit.api_post(box, f"/api/agencies/{A}/members/{jane}/role", tokens[A], {"role": "boss"}).status_code == 400
    assert kit.api_post(box, f"/api/agencies/{A}/members/nobody@{A}/role", tokens[A],
                        {"role": "admin"}).status_code == 404

    # removal: the user is gone from the IdP, the sign-in fails
    assert _delete(cbox, f"/api/agencies/{A}/members/{jane}", tokens[A]).status_code == 204
    assert idp_api.get_user(box, jane) is None and jane not in _members(cbox, tokens["operator"])
    with pytest.raises(AssertionError):
        kit.access_token(box, jane, PASSWORD)

    entries = kit.api(box, f"/api/audit?agency={A}", tokens["operator"]).json()["entries"]
    done = [(e["command"], e["actor"]) for e in entries if e["command"].startswith("member ")]
    assert ("member invite", f"console:admin@{A}") in done and ("member join", f"console:{jane}") in done
    assert ("member role", f"console:admin@{A}") in done and ("member remove", f"console:admin@{A}") in done
    assert not [p for p in (cbox.home / "logs").glob("*.log") if link.split("?t=")[1] in p.read_text(errors="replace")]


def test_an_expired_or_withdrawn_link_creates_nothing(cbox: BoxHandle, tokens: dict[str, str]) -> None:
    box = cbox.box()
    late = _invite(cbox, tokens["operator"], "late@example.org")
    late_link = _link(cbox, "late@example.org")
    registry = Registry(cbox.home)  # seven days pass
    try:
        with registry.connect() as conn:
            conn.execute("UPDATE invitations SET expires_at = '2000-01-01T00:00:00+00:00' WHERE id = ?", (late["id"],))
    finally:
        registry.close()
    expired = _join(cbox, late_link, "late")
    assert expired.status_code == 410 and "has expired" in expired.text

    gone = _invite(cbox, tokens[A], "gone@example.org", "admin")
    assert kit.api_post(box, f"/api/agencies/{A}/invitations", tokens[A],
                        {"email": "gone@example.org"}).status_code == 409  # one waits for the address
    gone_link = _link(cbox, "gone@example.org")
    assert _delete(cbox, f"/api/agencies/{A}/invitations/{gone['id']}", tokens[A]).status_code == 204
    assert _delete(cbox, f"/api/agencies/{A}/invitations/{gone['id']}", tokens[A]).status_code == 409
    withdrawn = _join(cbox, gone_link, "gone")
    assert withdrawn.status_code == 410 and "was withdrawn" in withdrawn.text

    forged = _join(cbox, gone_link[:-5] + "AAAAA", "forged")
    assert forged.status_code == 404 and "not valid" in forged.text
    assert all(idp_api.get_user(box, f"{x}@{A}") is None for x in ("late", "gone", "forged"))
    states = {i["email"]: i["state"] for i in kit.api(box, f"/api/agencies/{A}/invitations",
                                                      tokens[A]).json()["invitations"]}
    assert states["late@example.org"] == "pending" and states["gone@example.org"] == "revoked"
    assert "token" not in str(kit.api(box, f"/api/agencies/{A}/invitations", tokens[A]).json())


def test_an_invitation_sent_again_has_a_new_link_and_the_old_one_stops(cbox: BoxHandle,
                                                                       tokens: dict[str, str]) -> None:
    box = cbox.box()
    made = _invite(cbox, tokens[A], "again@example.org")
    first = _link(cbox, "again@example.org")
    session, landed = kit.sign_in(box, *admin(cbox, A), start=f"/en/agencies/{A}/members")
    resend = f"/en/agencies/{A}/invitations/{made['id']}/resend"
    csrf = CSRF.search(landed.text)
    assert csrf and f'action="{resend}"' in landed.text and "Send again" in landed.text
    sent = session.post(kit.url(box, resend), data={"csrf": csrf.group(1)}, allow_redirects=False, timeout=30)
    assert sent.status_code == 303 and sent.headers["location"].endswith("members?sent=1"), sent.text[:300]
    second = _link(cbox, "again@example.org", (first,))
    assert _join(cbox, first, "again").status_code == 404  # the old link opens nothing

    again = kit.api_post(box, f"/api/agencies/{A}/invitations/{made['id']}/resend", tokens["operator"],
                         {"lang": "ur"})
    assert again.status_code == 200 and again.json()["id"] == made["id"], again.text[:300]
    third = _link(cbox, "again@example.org", (first, second))
    assert "/ur/join?t=" in third and _join(cbox, second, "again").status_code == 404
    assert _join(cbox, third, "again").status_code == 201
    used = kit.api_post(box, f"/api/agencies/{A}/invitations/{made['id']}/resend", tokens[A])
    assert used.status_code == 409  # used: nothing to send again
    registry = Registry(cbox.home)
    try:
        sent_again = registry.audit_log(target=A, command="member reinvite")
    finally:
        registry.close()
    assert [e["result"] for e in sent_again] == ["mailed", "mailed"]  # the operator's by the API, the page's
    assert sent_again[1]["actor"] == f"console:admin@{A}" and str(made["id"]) in sent_again[1]["detail"]


def test_a_browser_invites_and_the_invitee_joins_in_urdu(cbox: BoxHandle, chromium: Chromium, shots: Shots) -> None:
    box = cbox.box()
    user, password = admin(cbox, A)
    page = chromium.page(javascript=False, locale="en", box_tls=True)
    visit = Visit(chromium, shots, page, "console-members", limit=PAGE_LIMIT)
    members = kit.url(box, f"/en/agencies/{A}/members")
    try:
        page.goto(members)
        page.locator("input[name=user]").fill(user)
        page.locator("input[name=password]").fill(password)
        page.locator("input[name=password]").press("Enter")
        page.wait_for_url(members, timeout=20_000)
        visit.meter.reset()
        page.goto(members)
        visit.seen("list")
        page.locator("#email").fill("not an address")
        follow(page, page.locator('form[action$="/invitations"] button[type=submit]'))
        assert page.locator("[role=alert]").count() == 1
        visit.seen("invite-error")
        page.locator("#email").fill("sam@example.org")
        page.locator("#role").select_option("admin")
        follow(page, page.locator('form[action$="/invitations"] button[type=submit]'))
        assert "sam@example.org" in page.locator("main").inner_text()
        visit.seen("invited")
        page.goto(kit.url(box, f"/ur/agencies/{A}/members"))
        visit.seen("list-ur")
    finally:
        page.context.close()
    link = _link(cbox, "sam@example.org").replace("/en/join", "/ur/join")
    guest = chromium.page(javascript=False, locale="ur", box_tls=True)
    joining = Visit(chromium, shots, guest, "console-join", limit=PAGE_LIMIT)
    try:
        guest.goto(link)
        joining.seen("form-ur")
        guest.locator("#login").fill("sam")
        guest.locator("#password").fill(PASSWORD)
        guest.locator("#repeat").fill(PASSWORD + "!")
        follow(guest, guest.locator("main button[type=submit]"))
        assert guest.locator("[role=alert]").count() == 1 and guest.locator("#login").input_value() == "sam"
        joining.seen("form-error-ur")
        guest.locator("#password").fill(PASSWORD)
        guest.locator("#repeat").fill(PASSWORD)
        follow(guest, guest.locator("main button[type=submit]"))
        assert f"sam@{A}" in guest.locator("main").inner_text()
        joining.seen("joined-ur")
        guest.goto(link)
        assert "استعمال ہو چکا" in guest.locator("main").inner_text()
        joining.seen("used-ur")
    finally:
        guest.context.close()
    visit.check()
    joining.check()
    user_made = idp_api.get_user(box, f"sam@{A}")
    assert user_made is not None and sorted(user_made["groups"]) == [f"agency-{A}", f"agency-{A}--admins"]


def test_purging_an_agency_deletes_the_members_its_invitations_made(cbox: BoxHandle, tokens: dict[str, str]) -> None:
    """`agency remove --purge-data` deletes the agency's IdP users `<local>@<slug>` with its groups: otherwise the
    group would keep members and `agency add` of the slug again would be refused (`taken`)."""
    box = cbox.box()
    made = kit.api_post(box, f"/api/agencies/{B}/invitations", tokens["operator"], {"email": "ben@example.org"})
    assert made.status_code == 201, made.text[:300]
    assert _join(cbox, _link(cbox, "ben@example.org"), "ben").status_code == 201
    assert idp_api.get_user(box, f"ben@{B}") is not None
    assert cbox.cli("agency", "remove", B, "--purge-data", "--yes").rc == 0
    assert idp_api.get_user(box, f"ben@{B}") is None and idp_api.get_user(box, f"admin@{B}") is None
    assert idp_api.group_members(box, f"agency-{B}") == []
    assert kit.api(box, f"/api/agencies/{B}/members", tokens["operator"]).status_code == 404
