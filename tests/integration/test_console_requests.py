"""The console's onboarding requests and audit log on a real box (`govcloud up` with the console): an agency's
member files a request through the API, cannot approve it (403); an operator approves it while another command holds
the box's lock (held here as the product holds it, `state.lock.box_lock`): the approval answers 202 with its job at
once, the request is `approving` (a second approval and a decline are 409), the job waits for the lock and then
onboards the agency exactly as `agency add` onboards (`agency list --json` shows it ready with its services; the audit
log has `agency add` with the operator as actor); an onboarding that fails (`agency add` refuses) puts the request
back to pending with the job's error, and a second approval once the cause is gone succeeds; a decline carries its
reason; hostile fields are 400 with nothing stored; the audit API filters and exports CSV, a member's only their
agency's, another agency's filter 404; a browser with JavaScript off files a request through the form and reads the
pages in English and Urdu (axe, ≤ 150 KB), and an operator approves one there (the request's page following its job)
or declines one. (The attacker's rows: tests/security/test_console.py.)"""

from __future__ import annotations

import csv
import io
import time

import pytest

from govcloud_platform.mailbox import wait_for
from govcloud_platform.state.lock import box_lock
from tests import console_kit as kit
from tests.conftest import BoxHandle
from tests.console_kit import admin, operator
from tests.integration._browser import Chromium, Shots, Visit, follow

pytestmark = pytest.mark.integration
A, B = "cr-alpha", "cr-beta"
NEW, DECLINED, BROWSER = "cr-new", "cr-declined", "cr-browser"
PAGE_LIMIT = 150 * 1024


@pytest.fixture(scope="module")
def cbox(console_session: BoxHandle) -> BoxHandle:
    return kit.onboard(console_session, (A, B))


@pytest.fixture(scope="module")
def tokens(cbox: BoxHandle) -> dict[str, str]:
    box = cbox.box()
    return {"operator": kit.access_token(box, *operator(cbox)), A: kit.access_token(box, *admin(cbox, A)),
            B: kit.access_token(box, *admin(cbox, B))}


def _file(cbox: BoxHandle, token: str, slug: str, **extra: object) -> dict[str, object]:
    resp = kit.api_post(cbox.box(), "/api/requests", token, {"slug": slug, "name": f"Agency {slug}",
                                                             "email": f"it@{slug}.example", **extra})
    assert resp.status_code == 201, resp.text[:300]
    filed: dict[str, object] = resp.json()
    return filed


def _ended(cbox: BoxHandle, token: str, url: str, timeout: float = 300) -> dict[str, object]:
    """The job at `url` once it has ended (polled as its page does)."""
    t0 = time.monotonic()
    while (job := kit.api(cbox.box(), url, token).json())["state"] in ("queued", "running"):
        assert time.monotonic() - t0 < timeout, job["steps"][-5:]
        time.sleep(0.5)
    found: dict[str, object] = job
    return found


def test_an_approval_waits_for_the_box_lock_then_onboards_the_agency(cbox: BoxHandle, tokens: dict[str, str]
                                                                     ) -> None:
    box = cbox.box()
    filed = _file(cbox, tokens[A], NEW, quota_class="standard", apps=["opendata"])
    assert filed["state"] == "pending" and filed["apps"] == ["opendata"] and filed["lang"] == "en"
    path = f"/api/requests/{filed['id']}"
    listed = kit.api(box, "/api/requests", tokens["operator"]).json()["requests"]
    assert [r["slug"] for r in listed if r["slug"].startswith("cr-")] == [NEW]  # the box is shared: others' aside
    assert kit.api(box, "/api/requests", tokens[B]).json()["requests"] == []  # another agency's member
    refused = kit.api_post(box, f"{path}/approve", tokens[A])
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert kit.api(box, path, tokens[A]).json()["state"] == "pending"

    with box_lock(cbox.home, "a test holding the box (as a deploy does)"):  # another command holds the box
        t0 = time.monotonic()
        approved = kit.api_post(box, f"{path}/approve", tokens["operator"])
        answered = time.monotonic() - t0
        assert approved.status_code == 202, approved.text[:500]
        started = approved.json()
        url = started["url"]
        assert approved.headers["Location"].endswith(url) and started["job"]["kind"] == "onboard"
        assert started["request"]["state"] == "approving" and started["request"]["approval_job"] == started["job"]["id"]
        again = kit.api_post(box, f"{path}/approve", tokens["operator"])
        assert again.status_code == 409 and "being approved" in again.json()["message"], again.text[:300]
        assert kit.api_post(box, f"{path}/decline", tokens["operator"], {"reason": "late"}).status_code == 409
        assert kit.api(box, path, tokens[A]).json()["state"] == "approving"
        while not any(str(s["message"]).startswith("waiting: ") for s in kit.api(box, url, tokens["operator"]
                                                                                  ).json()["steps"]):
            assert time.monotonic() - t0 < 60, "the approval's job never waited for the lock"
            time.sleep(0.3)
        assert NEW not in {a["slug"] for a in cbox.cli("--json", "agency", "list").json()["agencies"]}
        released = time.monotonic()
    job = _ended(cbox, tokens["operator"], url)
    print(f"the approval answered in {answered:.2f} s; its job ended {time.monotonic() - released:.1f} s after the "
          "lock was released")
    assert job["state"] == "succeeded", (job["error"], job["steps"])
    result = job["result"]
    assert isinstance(result, dict) and result["agency"]["state"] == "ready"
    doc = {"request": kit.api(box, path, tokens["operator"]).json()}
    assert doc["request"]["state"] == "approved"
    listed = {a["slug"]: a for a in cbox.cli("--json", "agency", "list").json()["agencies"]}
    assert listed[NEW]["state"] == "ready" and listed[NEW]["quota"] == "standard"
    assert sorted(listed[NEW]["services"]) == ["backups", "database", "identity", "storage"]  # agency add's
    creds = cbox.cli("--json", "agency", "credentials", NEW)
    assert creds.rc == 0 and {"database", "storage", "identity"} <= set(creds.json())

    again = kit.api_post(box, f"{path}/approve", tokens["operator"])
    assert again.status_code == 409 and again.json()["error"] == "conflict"
    assert kit.api_post(box, f"{path}/decline", tokens["operator"], {"reason": "late"}).status_code == 409
    actor = doc["request"]["decided_by"]
    audited = [(e["command"], e["result"]) for e in reversed(
        kit.api(box, f"/api/audit?agency={NEW}", tokens["operator"]).json()["entries"]) if e["actor"] == actor]
    assert audited[:4] == [("request approve", "approved"), ("job onboard", "queued"), ("job onboard", "running"),
                           ("agency add", "added")], audited
    assert audited.index(("job deploy", "queued")) < audited.index(("request mail", "mailed")) < audited.index(
        ("job onboard", "succeeded")), audited
    assert actor.startswith("console:")
    added = kit.api(box, f"/api/audit?agency={NEW}&command=agency+add", tokens["operator"]).json()["entries"]
    assert [(e["actor"], e["result"]) for e in added] == [(actor, "added")]
    # the new agency's request stays visible to the member who filed it; a second one for it is refused
    assert kit.api(box, path, tokens[A]).json()["state"] == "approved"
    dup = kit.api_post(box, "/api/requests", tokens[A], {"slug": NEW, "name": "x y", "email": "a@b.cd"})
    assert dup.status_code == 409


def test_an_approved_requests_apps_are_deployed_and_its_contact_mailed(cbox: BoxHandle,
                                                                        tokens: dict[str, str]) -> None:
    """After the approval above: one deploy job per requested app (the console's runner, as a Deploy button starts
    one), linked from the request's page and audited; the contact got the decision by e-mail (English)."""
    box = cbox.box()
    req = next(r for r in kit.api(box, "/api/requests", tokens["operator"]).json()["requests"] if r["slug"] == NEW)
    assert len(req["jobs"]) == 1
    url = f"/api/jobs/{req['jobs'][0]}"
    t0 = time.monotonic()
    while (job := kit.api(box, url, tokens["operator"]).json())["state"] in ("queued", "running"):
        assert time.monotonic() - t0 < 600, job["steps"][-5:]
        time.sleep(0.5)
    assert (job["kind"], job["agency"], job["target"], job["actor"]) == ("deploy", NEW, "opendata",
                                                                          req["decided_by"])
    assert job["state"] == "succeeded", (job["error"], job["steps"][-6:])
    assert [a["app"] for a in cbox.cli("--json", "app", "list", "--agency", NEW).json()["apps"]] == ["opendata"]
    entries = kit.api(box, f"/api/audit?agency={NEW}", tokens["operator"]).json()["entries"]
    audited = {(e["command"], e["result"]) for e in entries if e["actor"] == req["decided_by"]}
    assert {("job deploy", "queued"), ("job deploy", "succeeded"), ("app deploy", "changed"),
            ("request mail", "mailed")} <= audited, audited
    s, page = kit.sign_in(box, *operator(cbox), start=f"/en/requests/{req['id']}")
    assert page.status_code == 200 and f'href="/en/jobs/{job["id"]}"' in page.text
    msg = wait_for(cbox.home, f"it@{NEW}.example", lambda m: "approved" in str(m["Subject"]), timeout=30)
    assert str(msg["From"]).endswith(f"<console@{box.spec.platform.domain}>")
    body = msg.get_body(("plain",))
    assert body is not None and f"/en/requests/{req['id']}" in body.get_content()
    print(f"the approved request's deploy: {time.monotonic() - t0:.1f} s after the approval's test")


def test_a_decline_carries_its_reason_and_is_final(cbox: BoxHandle, tokens: dict[str, str]) -> None:
    box = cbox.box()
    filed = _file(cbox, tokens[B], DECLINED, lang="ur")
    assert filed["lang"] == "ur"
    path = f"/api/requests/{filed['id']}"
    assert kit.api_post(box, f"{path}/decline", tokens["operator"], {}).status_code == 400
    declined = kit.api_post(box, f"{path}/decline", tokens["operator"], {"reason": "ask through the ministry"})
    assert declined.status_code == 200 and declined.json()["request"]["reason"] == "ask through the ministry"
    assert kit.api(box, path, tokens[B]).json()["state"] == "declined"
    assert kit.api_post(box, f"{path}/approve", tokens["operator"]).status_code == 409
    assert DECLINED not in {a["slug"] for a in cbox.cli("--json", "agency", "list").json()["agencies"]}
    # its contact is told, in the language it was filed in (Urdu), with the reason
    msg = wait_for(cbox.home, f"it@{DECLINED}.example", lambda m: DECLINED in str(m["Subject"]), timeout=30)
    body = msg.get_body(("plain",))
    assert body is not None and "نامنظور" in str(msg["Subject"]) and "ask through the ministry" in body.get_content()


def test_a_failing_onboarding_puts_the_request_back_to_pending(cbox: BoxHandle, tokens: dict[str, str]) -> None:
    """`agency add` (the CLI) made the agency with another name after the request was filed: the approval's job fails
    with `agency add`'s own refusal (the settings that differ), the request is pending again (audited), its page shows
    the failure and the job; nothing is mailed. Once the cause is gone (the CLI's agency removed), a second approval
    onboards it."""
    box = cbox.box()
    filed = _file(cbox, tokens[A], "cr-late")
    path = f"/api/requests/{filed['id']}"
    added = cbox.cli("--json", "agency", "add", "cr-late", "--name", "Made by the CLI", timeout=300)
    assert added.rc == 0, added.stderr[-500:]
    resp = kit.api_post(box, f"{path}/approve", tokens["operator"])
    assert resp.status_code == 202, resp.text[:300]
    job = _ended(cbox, tokens["operator"], resp.json()["url"])
    assert job["state"] == "failed" and "exists with different" in str(job["error"]), job
    req = kit.api(box, path, tokens[A]).json()
    assert (req["state"], req["decided_by"], req["approval_job"]) == ("pending", None, job["id"])
    entries = kit.api(box, "/api/audit?agency=cr-late&command=request+approve", tokens["operator"]).json()["entries"]
    assert [e["result"] for e in entries][:2] == ["failed, pending again", "approved"]
    s, page = kit.sign_in(box, *operator(cbox), start=f"/en/requests/{filed['id']}")
    assert page.status_code == 200 and 'id="approval-failed"' in page.text and "exists with different" in page.text
    assert f'href="/en/jobs/{job["id"]}"' in page.text and 'action="/en/requests/' in page.text  # approvable again
    assert "request mail" not in {e["command"] for e in kit.api(box, "/api/audit?agency=cr-late",
                                                                    tokens["operator"]).json()["entries"]}
    removed = cbox.cli("agency", "remove", "cr-late", "--yes", timeout=300)
    assert removed.rc == 0, removed.stderr[-500:]
    again = kit.api_post(box, f"{path}/approve", tokens["operator"])
    assert again.status_code == 202, again.text[:300]
    job = _ended(cbox, tokens["operator"], again.json()["url"])
    assert job["state"] == "succeeded", (job["error"], job["steps"])
    assert kit.api(box, path, tokens[A]).json()["state"] == "approved"
    listed = {a["slug"]: a for a in cbox.cli("--json", "agency", "list").json()["agencies"]}
    assert (listed["cr-late"]["state"], listed["cr-late"]["name"]) == ("ready", "Agency cr-late")


@pytest.mark.parametrize(("body", "said"), [
    ({"slug": "Bad Slug", "name": "x y", "email": "a@b.cd"}, "agency 'Bad Slug'"),
    ({"slug": "cr-x", "name": "x y", "email": "a@b.cd", "quota_class": "unlimited"}, "unknown quota class"),
    ({"slug": "cr-x", "name": "<b>x</b>", "email": "a@b.cd"}, "display name"),
    ({"slug": "cr-x", "name": "x y", "email": "a@b.cd", "apps": ["miner"]}, "unknown app"),
    (["not", "an", "object"], "a JSON object is needed"),
])
def test_hostile_fields_are_400_and_nothing_is_stored(cbox: BoxHandle, tokens: dict[str, str], body: object,
                                                      said: str) -> None:
    box = cbox.box()
    before = kit.api(box, "/api/requests", tokens["operator"]).json()["requests"]
    resp = kit.api_post(box, "/api/requests", tokens[A], body)
    assert resp.status_code == 400 and said in resp.json()["message"], resp.text[:300]
    assert kit.api(box, "/api/requests", tokens["operator"]).json()["requests"] == before


def test_a_request_for_an_existing_agency_is_409(cbox: BoxHandle, tokens: dict[str, str]) -> None:
    resp = kit.api_post(cbox.box(), "/api/requests", tokens["operator"], {"slug": A, "name": "x y",
                                                                         "email": "a@b.cd"})
    assert resp.status_code == 409 and "exists" in resp.json()["message"]


def test_the_audit_api_filters_and_keeps_members_to_their_agency(cbox: BoxHandle, tokens: dict[str, str]) -> None:
    box = cbox.box()
    everything = kit.api(box, "/api/audit", tokens["operator"]).json()["entries"]
    assert {A, B} <= {e["target"] for e in everything}
    mine = kit.api(box, "/api/audit", tokens[A]).json()["entries"]
    assert mine and {e["target"].split("/")[0] for e in mine} == {A}
    other, unknown = (kit.api(box, f"/api/audit?agency={s}", tokens[A]) for s in (B, "no-such-agency"))
    assert other.status_code == unknown.status_code == 404 and other.json() == unknown.json()
    assert kit.api(box, "/api/audit?since=2999-01-01", tokens["operator"]).json()["entries"] == []
    assert kit.api(box, "/api/audit?until=soon", tokens["operator"]).status_code == 400
    by_test = kit.api(box, f"/api/audit?actor=test&agency={A}", tokens["operator"]).json()["entries"]
    assert [e["command"] for e in by_test] == ["agency add"]  # console_box onboarded it as actor `test`
    exported = kit.api(box, f"/api/audit.csv?agency={A}", tokens[A])
    assert exported.status_code == 200 and exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0] == ["id", "at", "actor", "command", "target", "result", "detail"]
    assert {r[4].split("/")[0] for r in rows[1:]} == {A} and len(rows) - 1 == len(
        kit.api(box, f"/api/audit?agency={A}", tokens[A]).json()["entries"])


@pytest.mark.parametrize("lang", ["en", "ur"])
def test_a_browser_files_a_request_and_reads_the_pages(cbox: BoxHandle, chromium: Chromium, shots: Shots,
                                                       lang: str) -> None:
    """Debian's Chromium, JavaScript off: an agency member signs in, fills the request form (an invalid slug first:
    the error is shown with the values kept), files it, and reads the request, the list and their agency's audit
    log with its filter and CSV link: no WCAG 2.2 AA violation (axe-core), each page at most 150 KB."""
    box = cbox.box()
    user, password = admin(cbox, A)
    page = chromium.page(javascript=False, locale=lang, box_tls=True)
    visit = Visit(chromium, shots, page, f"console-requests-{lang}", limit=PAGE_LIMIT)
    slug = f"{BROWSER}-{lang}"
    try:
        page.goto(kit.url(box, f"/{lang}/requests/new"))
        page.locator("input[name=user]").fill(user)
        page.locator("input[name=password]").fill(password)
        page.locator("input[name=password]").press("Enter")
        page.wait_for_url(kit.url(box, f"/{lang}/requests/new"), timeout=20_000)
        visit.meter.reset()
        page.goto(kit.url(box, f"/{lang}/requests/new"))
        visit.seen("form")
        page.locator("#name").fill(f"Agency {slug}")
        page.locator("#slug").fill("Not A Slug")
        page.locator("#email").fill(f"it@{slug}.example")
        if lang == "ur":  # declined below: an approved request's apps are deployed (the English one asks none)
            page.locator("#app-portal").check()
        follow(page, page.locator("main button[type=submit]"))
        assert page.locator("[role=alert]").count() == 1 and page.locator("#name").input_value() == f"Agency {slug}"
        visit.seen("form-error")
        page.locator("#slug").fill(slug)
        follow(page, page.locator("main button[type=submit]"))
        assert "/requests/" in page.url and slug in page.locator("main").inner_text()
        visit.seen("request")
        follow(page, page.locator(f'header a[href="/{lang}/requests"]'))
        visit.seen("requests")
        follow(page, page.locator(f'header a[href="/{lang}/audit"]'))
        visit.seen("audit")
        page.locator("#f-command").fill("agency add")
        follow(page, page.locator("main button[type=submit]"))
        assert A in page.locator("main table").inner_text()  # the member's own agency's entries only
        assert page.locator('a[href^="/api/audit.csv?command=agency+add"]').count() == 1
        visit.seen("audit-filtered")
    finally:
        page.context.close()
    visit.check()


@pytest.mark.parametrize("lang", ["en", "ur"])
def test_an_operator_decides_in_the_browser(cbox: BoxHandle, chromium: Chromium, shots: Shots, lang: str) -> None:
    """The issue's journey's first step, JavaScript off: an operator signs in through the IdP, opens the request the
    member filed in the browser (the test above), and approves it (English: the agency is onboarded, its page
    opens) or declines it with a reason (Urdu); the request pages with the operator's forms pass axe."""
    box = cbox.box()
    user, password = operator(cbox)
    slug = f"{BROWSER}-{lang}"
    page = chromium.page(javascript=False, locale=lang, box_tls=True)
    visit = Visit(chromium, shots, page, f"console-decide-{lang}", limit=PAGE_LIMIT)
    try:
        page.goto(kit.url(box, f"/{lang}/requests"))
        page.locator("input[name=user]").fill(user)
        page.locator("input[name=password]").fill(password)
        page.locator("input[name=password]").press("Enter")
        page.wait_for_url(kit.url(box, f"/{lang}/requests"), timeout=20_000)
        visit.meter.reset()
        page.goto(kit.url(box, f"/{lang}/requests"))
        visit.seen("requests")
        follow(page, page.locator("main tr", has_text=slug).locator("a"))
        assert page.locator("textarea#reason").count() == 1
        visit.seen("request")
        if lang == "en":
            follow(page, page.locator('form[action$="/approve"] button'))
            assert "/requests/" in page.url and page.locator("#approval-state").count() == 1  # its job, followed
            visit.seen("approving")
            kit.until_approved(page)
            visit.seen("approved")
            follow(page, page.locator(f'main a[href="/{lang}/agencies/{slug}"]'))
            assert page.locator("h1").inner_text() == f"Agency {slug}"
            listed = {a["slug"]: a for a in cbox.cli("--json", "agency", "list").json()["agencies"]}
            assert listed[slug]["state"] == "ready"
        else:
            page.locator("#reason").fill("نام وزارت کے ذریعے بھیجیں")
            follow(page, page.locator('form[action$="/decline"] button'))
            assert "نام وزارت کے ذریعے بھیجیں" in page.locator("main").inner_text()
            assert page.locator("main form").count() == 0  # decided: no approve or decline any more
            visit.seen("declined")
    finally:
        page.context.close()
    visit.check()
