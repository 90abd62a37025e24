"""The web console on a real box (storage, database, identity, backups, mail and the console, `govcloud up`): the
service in `status` with its HTTPS URL; the JSON API refuses a missing or bad token with 401 and WWW-Authenticate;
an operator's token lists every agency, an agency member's only their own, and another agency's slug answers 404
exactly as an unknown one does, in the API and in the pages; a browser session signs in through the IdP (code flow
with PKCE) and reads the pages in English and Urdu, each under 150 KB. (The attacker's rows: tests/security/
test_console.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from tests import console_kit as kit
from tests.conftest import BoxHandle
from tests.console_kit import admin, operator
from tests.integration._browser import Chromium, Shots, Visit, follow

pytestmark = pytest.mark.integration
A, B = "con-alpha", "con-beta"
PAGE_LIMIT = 150 * 1024


@pytest.fixture(scope="module")
def cbox(console_session: BoxHandle) -> BoxHandle:
    return kit.onboard(console_session, (A, B), {A: ["database", "storage", "identity"]})


@pytest.fixture(scope="module")
def tokens(cbox: BoxHandle) -> dict[str, str]:
    box = cbox.box()
    return {"operator": kit.access_token(box, *operator(cbox)), A: kit.access_token(box, *admin(cbox, A)),
            B: kit.access_token(box, *admin(cbox, B))}


def test_status_lists_the_console_with_its_https_url(cbox: BoxHandle) -> None:
    result = cbox.cli("--json", "status")
    assert result.rc == 0, result.stderr
    services = {s["name"]: s for s in result.json()["services"]}
    assert services["console"]["healthy"] is True
    assert services["console"]["endpoint"] == kit.url(cbox.box(), "/")
    assert kit.api(cbox.box(), "/healthz").json() == {"status": "ok"}


@pytest.mark.parametrize("token", [None, "", "not-a-jwt", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."])
def test_the_api_answers_401_without_a_valid_token(cbox: BoxHandle, token: str | None) -> None:
    resp = kit.api(cbox.box(), "/api/agencies", token)
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert set(resp.json()) == {"error", "message"}


def test_a_token_for_another_client_is_refused(cbox: BoxHandle) -> None:
    """An agency's own client gets tokens from the same IdP (client credentials): not for the console."""
    box = cbox.box()
    identity = kit.identity(cbox, A)
    s = kit.oidc.browser(box)
    resp = s.post(f"{box.issuer}/oauth2/token", auth=(identity["client_id"], identity["client_secret"]),
                  data={"grant_type": "client_credentials", "scope": "openid"}, timeout=10)
    assert resp.status_code == 200, resp.text[:200]
    refused = kit.api(box, "/api/agencies", resp.json()["access_token"])
    assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers["WWW-Authenticate"]


def test_an_operator_sees_every_agency(cbox: BoxHandle, tokens: dict[str, str]) -> None:
    resp = kit.api(cbox.box(), "/api/agencies", tokens["operator"])
    assert resp.status_code == 200, resp.text[:300]
    listed = {a["slug"]: a for a in resp.json()["agencies"]}
    assert {A, B} <= set(listed)
    assert listed[A] == {"slug": A, "name": f"Agency {A}", "state": "ready", "quota_class": "standard",
                         "services": ["database", "identity", "storage"]}
    one = kit.api(cbox.box(), f"/api/agencies/{B}", tokens["operator"])
    assert one.status_code == 200 and one.json()["email"] == f"it@{B}.example"


def test_a_member_sees_only_their_agency_and_404_for_another(cbox: BoxHandle, tokens: dict[str, str]) -> None:
    box = cbox.box()
    listed = kit.api(box, "/api/agencies", tokens[A])
    assert listed.status_code == 200 and [a["slug"] for a in listed.json()["agencies"]] == [A]
    assert kit.api(box, f"/api/agencies/{A}", tokens[A]).status_code == 200
    other = kit.api(box, f"/api/agencies/{B}", tokens[A])
    unknown = kit.api(box, "/api/agencies/no-such-agency", tokens[A])
    assert other.status_code == unknown.status_code == 404 and other.json() == unknown.json()


def test_usage_is_the_agencys_and_its_members(cbox: BoxHandle, tokens: dict[str, str]) -> None:
    """`GET /api/agencies/{slug}/usage`: what `agency usage --json` measures, for the agency's member and the
    operators; another agency's member gets the unknown agency's 404."""
    box = cbox.box()
    mine = kit.api(box, f"/api/agencies/{A}/usage", tokens[A])
    assert mine.status_code == 200, mine.text[:300]
    doc = mine.json()
    cli = cbox.cli("--json", "agency", "usage", A).json()["usage"][0]
    assert doc["slug"] == A and set(doc) == set(cli) | {"measured_at", "age_s"}  # the background measurement's
    assert doc["database"]["connection_limit"] == cli["database"]["connection_limit"] > 0
    assert doc["storage"]["limit_bytes"] == cli["storage"]["limit_bytes"] > 0
    assert kit.api(box, f"/api/agencies/{A}/usage", tokens["operator"]).status_code == 200
    other, unknown = (kit.api(box, f"/api/agencies/{s}/usage", tokens[B]) for s in (A, "no-such-agency"))
    assert other.status_code == unknown.status_code == 404 and other.json() == unknown.json()


def test_the_openapi_document_is_served(cbox: BoxHandle) -> None:
    doc = kit.api(cbox.box(), "/api/openapi.json").json()
    assert doc["openapi"] == "3.1.0" and "/api/agencies/{slug}" in doc["paths"]


def _page(s: Any, box: Any, path: str) -> Any:
    return s.get(kit.url(box, path), allow_redirects=False, timeout=20)


def test_an_operator_signs_in_and_reads_every_page_in_both_languages(cbox: BoxHandle) -> None:
    box = cbox.box()
    s, landed = kit.sign_in(box, *operator(cbox))
    assert landed.status_code == 200 and landed.url.endswith("/en/agencies"), (landed.status_code, landed.url)
    assert f'href="/en/agencies/{A}"' in landed.text and f'href="/en/agencies/{B}"' in landed.text
    for lang, direction in (("en", "ltr"), ("ur", "rtl")):
        for path in ("/", "/agencies", f"/agencies/{A}", f"/agencies/{A}/usage"):
            resp = _page(s, box, f"/{lang}{path}")
            assert resp.status_code == 200, (lang, path, resp.status_code)
            assert f'<html lang="{lang}" dir="{direction}">' in resp.text
            assert len(resp.content) <= PAGE_LIMIT
    overview = _page(s, box, "/en/")
    assert "console" in overview.text and kit.url(box, "/") in overview.text and 'href="/ca.pem"' in overview.text
    assert _page(s, box, "/ca.pem").content == box.ca_file.read_bytes()


def test_a_member_signs_in_and_another_agencys_page_is_404(cbox: BoxHandle) -> None:
    box = cbox.box()
    s, landed = kit.sign_in(box, *admin(cbox, A))
    assert landed.status_code == 200 and f"/en/agencies/{A}" in landed.text and f"/en/agencies/{B}" not in landed.text
    assert _page(s, box, f"/en/agencies/{A}").status_code == 200
    other, unknown = _page(s, box, f"/en/agencies/{B}"), _page(s, box, "/ur/agencies/no-such-agency")
    assert other.status_code == unknown.status_code == 404
    # the same page but for the address itself (the language link names it)
    assert _page(s, box, "/ur/agencies/no-such-agency").text == \
        _page(s, box, f"/ur/agencies/{B}").text.replace(B, "no-such-agency")


def test_sign_out_ends_the_session(cbox: BoxHandle) -> None:
    box = cbox.box()
    s, landed = kit.sign_in(box, *admin(cbox, B))
    assert landed.status_code == 200
    out = s.post(kit.url(box, "/auth/signout"), data={"lang": "ur"}, allow_redirects=False, timeout=10)
    assert out.status_code == 302 and out.headers["location"] == "/ur/signed-out"
    again = _page(s, box, f"/en/agencies/{B}")
    assert again.status_code == 302 and again.headers["location"].startswith("/auth/signin")


def test_a_page_without_a_session_starts_the_sign_in(cbox: BoxHandle) -> None:
    box = cbox.box()
    s = kit.oidc.browser(box)
    first = _page(s, box, f"/en/agencies/{A}")
    assert first.status_code == 302 and first.headers["location"].startswith("/auth/signin?lang=en")
    start = s.get(kit.url(box, first.headers["location"]), allow_redirects=False, timeout=10)
    assert start.status_code == 302 and start.headers["location"].startswith(f"{box.issuer}/oauth2/authorize?")
    assert "code_challenge_method=S256" in start.headers["location"]


@pytest.mark.parametrize("lang", ["en", "ur"])
def test_a_browser_signs_in_through_the_idp_and_every_page_passes_axe(cbox: BoxHandle, chromium: Chromium,
                                                                     shots: Shots, lang: str) -> None:
    """Debian's Chromium, JavaScript off: an agency member opens the console, signs in on the IdP's form, and reads
    the overview, the agencies, their agency's page, its usage, apps and backups: no WCAG 2.2 AA violation
    (axe-core), each page at most 150 KB received, reflow at 320 px, a screenshot each; another agency's page is the
    not-found page."""
    box = cbox.box()
    user, password = admin(cbox, A)
    page = chromium.page(javascript=False, locale=lang, box_tls=True)
    visit = Visit(chromium, shots, page, f"console-{lang}", limit=PAGE_LIMIT)
    try:
        page.goto(kit.url(box, f"/{lang}/"))
        assert page.url.startswith(f"{box.issuer}/"), page.url  # the IdP's login form
        page.locator("input[name=user]").fill(user)
        page.locator("input[name=password]").fill(password)
        page.locator("input[name=password]").press("Enter")
        page.wait_for_url(kit.url(box, f"/{lang}/"), timeout=20_000)
        visit.meter.reset()  # the IdP's own pages are not the console's
        page.goto(kit.url(box, f"/{lang}/"))
        assert page.locator("html").get_attribute("dir") == ("rtl" if lang == "ur" else "ltr")
        visit.seen("overview")
        follow(page, page.locator(f'header a[href="/{lang}/agencies"]'))
        visit.seen("agencies")
        follow(page, page.locator(f'main a[href="/{lang}/agencies/{A}"]'))
        assert page.locator("h1").inner_text() == f"Agency {A}"
        visit.seen("agency")
        follow(page, page.locator(f'main a[href="/{lang}/agencies/{A}/usage"]'))
        assert page.locator("meter").count() == 2  # the connections and the bucket against their limits
        visit.seen("usage")
        for part in ("apps", "backups"):  # linked from the agency's page (console/apps_backups.py)
            page.goto(kit.url(box, f"/{lang}/agencies/{A}"))
            follow(page, page.locator(f'main a[href="/{lang}/agencies/{A}/{part}"]'))
            visit.seen(part)
        response = page.goto(kit.url(box, f"/{lang}/agencies/{B}"))
        assert response is not None and response.status == 404
        visit.seen("other-agency")
    finally:
        page.context.close()
    visit.check()


def test_a_second_up_changes_nothing_and_logs_show_the_console(cbox: BoxHandle) -> None:
    """`up` on a running box with the console: the fast path (nothing restarted: the same pids), and `logs console`
    reads gunicorn's log (its access lines)."""
    before = {s["name"]: s["pid"] for s in cbox.cli("--json", "status").json()["services"]}
    again = cbox.cli("--json", "up", timeout=300)
    assert again.rc == 0, again.stderr
    assert again.json()["changed"] is False
    after = {s["name"]: s["pid"] for s in cbox.cli("--json", "status").json()["services"]}
    assert after["console"] == before["console"] and after["identity"] == before["identity"]
    logs = cbox.cli("--json", "logs", "console", "--lines", "200")
    assert logs.rc == 0 and any("/healthz" in line for line in logs.json()["lines"])


def test_a_token_without_standing_is_403_everywhere(cbox: BoxHandle) -> None:
    """A user whose only group is an agency's administrators' (the IdP's rule admits any `agency-` group through the
    console's client) is no member: the API answers 403 for the list and for that agency alike."""
    from govcloud_platform.box import idp_api

    box = cbox.box()
    login, password = "stray@" + A, "Stray-password-1234"
    idp_api.add_user(box, login, password, "stray@example.org", "Stray", [f"agency-{A}--admins"])
    token = kit.access_token(box, login, password)
    for path in ("/api/agencies", f"/api/agencies/{A}"):
        resp = kit.api(box, path, token)
        assert resp.status_code == 403 and resp.json()["error"] == "forbidden", (path, resp.status_code)


def test_onboarding_works_while_the_console_is_down_and_up_heals_it(cbox: BoxHandle) -> None:
    """The brokers never need the console: with its program stopped, `status` says so (exit 1), an agency is still
    onboarded, and `up` starts the console again."""
    from govcloud_platform.box.supervisor import Supervisor
    from govcloud_platform.onboarding import AgencyRequest, Onboarding

    box = cbox.box()
    Supervisor(box).stop("console")
    status = cbox.cli("--json", "status")
    assert status.rc == 1 and "console" in status.stderr
    Onboarding(box, actor="test").add(AgencyRequest("con-gamma", "Agency con-gamma", "it@con-gamma.example",
                                                    "standard", ["identity"]))
    up = cbox.cli("--json", "up", timeout=300)
    assert up.rc == 0, up.stderr
    assert {s["name"]: s["healthy"] for s in up.json()["services"]}["console"] is True


def test_turning_the_console_off_and_on_again(cbox: BoxHandle) -> None:
    """`enabled: false` then `up`: the console's program is stopped and forgotten, nginx serves its port no more,
    `status` does not list it; `enabled: true` then `up`: it is back, healthy, and signs in."""
    from govcloud_platform.box.ports import port_in_use
    from govcloud_platform.box.supervisor import Supervisor

    original = cbox.spec_path.read_text()
    cbox.spec_path.write_text(original.replace("      enabled: true\n", "      enabled: false\n"))
    try:
        off = cbox.cli("--json", "up", timeout=300)
        assert off.rc == 0, off.stderr
        assert "console" not in {s["name"] for s in off.json()["services"]}
        box = cbox.box()
        assert "console" not in Supervisor(box).info()
        assert not port_in_use(box.ports.console_https) and not port_in_use(box.ports.console_app)
    finally:
        cbox.spec_path.write_text(original)
    on = cbox.cli("--json", "up", timeout=300)
    assert on.rc == 0, on.stderr
    assert {s["name"]: s["healthy"] for s in on.json()["services"]}["console"] is True
    s, landed = kit.sign_in(cbox.box(), *admin(cbox, A))
    assert landed.status_code == 200
