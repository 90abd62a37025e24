"""The issue's whole journey through the console in Debian's Chromium (JavaScript off but where a job's page follows
the job live), on the shared console box: an
operator signs in through the IdP and approves an onboarding request (the agency appears, with its services); the
new agency's administrator signs in and invites a colleague as an administrator (the mail is read from the box's
Maildir, where the box's Postfix delivered it); the colleague joins through the link, signs in through the IdP,
deploys an app (a job whose page refreshes itself until it is done), runs a backup and sees it in the list; another
agency's administrator gets the 404 of an unknown agency on every page of the first one. Every page is screenshot
(tests/integration/_browser.py `Shots`), passes axe-core's WCAG 2.2 A/AA rules and is at most 150 KB."""

from __future__ import annotations

import re

import pytest
import requests

from govcloud_platform.mailbox import wait_for
from tests import console_kit as kit
from tests.conftest import BoxHandle
from tests.integration._browser import Chromium, Shots, Visit, follow

pytestmark = pytest.mark.integration
NEW, OTHER = "jr-civic", "jr-other"
PASSWORD = "a long journey passphrase"
PAGE_LIMIT = 150 * 1024
LINK = re.compile(r"https://\S+/(en|ur)/join\?t=[A-Za-z0-9_-]{43}")
JOB_S = 300_000  # ms: a deploy of the lightest app takes ~25 s on the test box


@pytest.fixture(scope="module")
def cbox(console_session: BoxHandle) -> BoxHandle:
    """The shared console box with another agency (the intruder's) and a request for the new one, filed through the
    API by the operator on the agency's behalf."""
    kit.onboard(console_session, (OTHER,))
    box = console_session.box()
    token = kit.access_token(box, *kit.operator(console_session))
    filed = kit.api_post(box, "/api/requests", token, {"slug": NEW, "name": "Civic Journeys Office",
                                                       "email": f"it@{NEW}.example"})
    assert filed.status_code == 201, filed.text[:300]
    return console_session


def _sign_in(page: object, user: str, password: str, url: str) -> None:
    page.goto(url)  # type: ignore[attr-defined]
    page.locator("input[name=user]").fill(user)  # type: ignore[attr-defined]
    page.locator("input[name=password]").fill(password)  # type: ignore[attr-defined]
    page.locator("input[name=password]").press("Enter")  # type: ignore[attr-defined]
    page.wait_for_url(url, timeout=20_000)  # type: ignore[attr-defined]


def _until_done(page: object) -> str:
    """The job's page reloads itself (meta refresh) while the job runs: wait for its final state."""
    status = page.locator("main p[role=status].ok, main p[role=status].bad")  # type: ignore[attr-defined]
    status.wait_for(timeout=JOB_S)
    return str(status.get_attribute("class"))


def test_the_issues_journey_in_a_browser(cbox: BoxHandle, chromium: Chromium, shots: Shots) -> None:
    box = cbox.box()
    # 1. an operator approves the request; the agency appears with its services
    page = chromium.page(javascript=False, locale="en", box_tls=True)
    operator = Visit(chromium, shots, page, "console-journey-operator", limit=PAGE_LIMIT)
    try:
        _sign_in(page, *kit.operator(cbox), kit.url(box, "/en/requests"))
        operator.meter.reset()
        page.goto(kit.url(box, "/en/requests"))
        operator.seen("requests")
        follow(page, page.locator("main tr", has_text=NEW).locator("a"))
        operator.seen("request")
        follow(page, page.locator('form[action$="/approve"] button'))  # its page follows the approval's job
        operator.seen("approving")
        kit.until_approved(page)
        operator.seen("approved")
        follow(page, page.locator(f'main a[href="/en/agencies/{NEW}"]'))
        assert page.locator("h1").inner_text() == "Civic Journeys Office"
        assert "backups, database, identity, storage" in page.locator("main dl").inner_text()
        operator.seen("agency")
    finally:
        page.context.close()
    operator.check()

    # 2. its administrator invites a colleague as an administrator; the mail comes through the box's Postfix
    page = chromium.page(javascript=False, locale="en", box_tls=True)
    admin = Visit(chromium, shots, page, "console-journey-admin", limit=PAGE_LIMIT)
    members = kit.url(box, f"/en/agencies/{NEW}/members")
    try:
        _sign_in(page, *kit.admin(cbox, NEW), members)
        admin.meter.reset()
        page.goto(members)
        admin.seen("members")
        page.locator("#email").fill("rana@example.org")
        page.locator("#role").select_option("admin")
        follow(page, page.locator('form[action$="/invitations"] button[type=submit]'))
        assert "rana@example.org" in page.locator("main").inner_text()
        admin.seen("invited")
    finally:
        page.context.close()
    admin.check()
    mail = wait_for(cbox.home, "rana@example.org", lambda m: "Invitation to" in str(m["Subject"]), timeout=30)
    body = mail.get_body(("plain",))
    assert body is not None
    link = LINK.search(body.get_content())
    assert link, body.get_content()[:500]

    # 3. the colleague joins, signs in through the IdP, deploys an app and runs a backup; JavaScript on, so the job's
    # page follows it live (its own script; without it, a link checks again: tests/integration/test_console_jobs.py)
    page = chromium.page(javascript=True, locale="en", box_tls=True)
    member = Visit(chromium, shots, page, "console-journey-member", limit=PAGE_LIMIT)
    try:
        page.goto(link.group(0))
        member.seen("join")
        page.locator("#login").fill("rana")
        page.locator("#password").fill(PASSWORD)
        page.locator("#repeat").fill(PASSWORD)
        follow(page, page.locator("main button[type=submit]"))
        assert f"rana@{NEW}" in page.locator("main").inner_text()
        member.seen("joined")
        apps = kit.url(box, f"/en/agencies/{NEW}/apps")
        _sign_in(page, f"rana@{NEW}", PASSWORD, apps)
        member.meter.reset()
        page.goto(apps)
        member.seen("apps")
        follow(page, page.locator(f'form[action="/en/agencies/{NEW}/apps/opendata/deploy"] button'))
        assert "/en/jobs/" in page.url
        member.seen("deploy-job")
        assert _until_done(page) == "ok", page.locator("main").inner_text()[:800]
        member.meter.reset()  # the script's fetches of the page while it waited are not the page's weight
        member.seen("deploy-done")
        page.goto(apps)
        row = page.locator("main tr", has_text="opendata")
        assert row.locator("td.ok").count() == 1  # deployed and healthy, with its address
        member.seen("apps-deployed")
        page.goto(kit.url(box, f"/en/agencies/{NEW}/backups"))
        member.seen("backups-none")
        follow(page, page.locator(f'form[action="/en/agencies/{NEW}/backups"] button'))
        assert _until_done(page) == "ok", page.locator("main").inner_text()[:800]
        member.meter.reset()
        member.seen("backup-done")
        page.goto(kit.url(box, f"/en/agencies/{NEW}/backups"))
        assert page.locator("main table tbody tr").count() >= 1  # the backup is in the list
        member.seen("backups")
    finally:
        page.context.close()
    member.check()
    done = {e["command"] for e in kit.api(box, f"/api/audit?agency={NEW}",
                                           kit.access_token(box, *kit.operator(cbox))).json()["entries"]}
    assert {"request approve", "agency add", "member invite", "member join", "app deploy", "backup run"} <= done

    # 4. another agency's administrator: every page of the first agency answers as an unknown agency does
    session, _ = kit.sign_in(box, *kit.admin(cbox, OTHER))
    unknown = session.get(kit.url(box, "/en/agencies/no-such-agency"), timeout=10)
    assert unknown.status_code == 404
    for tail in ("", "/usage", "/apps", "/backups", "/members"):
        resp = session.get(kit.url(box, f"/en/agencies/{NEW}{tail}"), timeout=10)
        shown = re.sub(rf"/(en|ur)/agencies/{NEW}[^\"]*", "", resp.text)  # the page's own links to itself aside
        assert resp.status_code == 404 and NEW not in shown, tail
    token = kit.access_token(box, *kit.admin(cbox, OTHER))
    for tail in ("", "/usage", "/apps", "/backups", "/members", "/jobs"):
        resp: requests.Response = kit.api(box, f"/api/agencies/{NEW}{tail}", token)
        assert resp.status_code == 404, (tail, resp.status_code)
