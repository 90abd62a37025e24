"""The portal's newsletter deployed on the session box, through the box's own mail service: an agency with `mail`
gets its portal wired to Postfix with its own SMTP login; a citizen subscribes through the TLS proxy, the
confirmation mail lands in the box's Maildir from the agency's own sender domain, the link confirms (POST only),
staff signed in through the IdP send a published news page, the issue arrives with an unsubscribe link that works,
and the same page is never sent twice. (The newsletter's logic against a local SMTP server, and its pages in both
languages: tests/integration/portal_pages_cases.py.)"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
import requests

from govcloud_platform.apps.layout import instance_dir
from govcloud_platform.mailbox import delivered as _all
from govcloud_platform.mailbox import wait_for
from govcloud_platform.onboarding import AgencyRequest, Onboarding
from govcloud_platform.spec import DEFAULT_SERVICES
from tests.apps_helpers import agency_users, apply_spec, deploy, resolve_to_loopback, sso_login
from tests.conftest import BoxHandle
from tests.oidc import browser

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SLUG, NAME, APP = "gazette", "Gazette Office", "portal"
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture(scope="module")
def portal(box: BoxHandle) -> Iterator[dict[str, Any]]:
    """An agency with the mail service and its portal (one deploy); both go at the end."""
    apply_spec(box)
    Onboarding(box.box(), actor="test").add(AgencyRequest(SLUG, NAME, f"it@{SLUG}.example", "standard",
                                                          [*DEFAULT_SERVICES, "mail"]))
    try:
        doc = deploy(box, SLUG, APP)
        with resolve_to_loopback(box.box().spec.platform.domain):
            yield doc
    finally:
        box.cli("app", "remove", SLUG, APP, "--purge-data", timeout=600)
        box.cli("agency", "remove", SLUG, "--purge-data", "--yes", timeout=600)


def _form_post(s: requests.Session, url: str, data: dict[str, str]) -> requests.Response:
    """A Django form's POST as a browser sends it: the page's CSRF token and the Referer."""
    page = s.get(url, timeout=30)
    token = _CSRF.search(page.text)
    assert page.status_code == 200 and token, (page.status_code, page.text[:300])
    return s.post(url, data={**data, "csrfmiddlewaretoken": token.group(1)}, headers={"Referer": url},
                  allow_redirects=False, timeout=60)


def _link(message: EmailMessage, kind: str) -> str:
    body = str(message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    found = re.search(rf"(https://\S+/(?:en|ur)/newsletter/{kind}/[A-Za-z0-9_-]+/)", body)
    assert found, body[:500]
    return found.group(1)


def test_the_portal_mails_through_the_agencys_own_login(box: BoxHandle, portal: dict[str, Any]) -> None:
    creds = box.cli("--json", "agency", "credentials", SLUG, "--show-secrets").json()["mail"]
    env_file = instance_dir(box.box(), SLUG, APP) / "portal.env"
    env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line and line[0] != "#")
    assert (env["SMTP_USER"], env["SMTP_PASSWORD"]) == (creds["username"], creds["password"])
    assert env["MAIL_FROM"].endswith("@" + creds["sender_domain"])
    assert env_file.stat().st_mode & 0o077 == 0  # the SMTP password's file is the app's alone


def test_double_opt_in_an_issue_and_unsubscribe_through_the_box_mail_service(
    box: BoxHandle, portal: dict[str, Any]
) -> None:
    b, base = box.box(), str(portal["url"])
    creds = box.cli("--json", "agency", "credentials", SLUG).json()["mail"]
    sender = f"@{creds['sender_domain']}"
    to = f"reader-{uuid.uuid4().hex[:10]}@example.org"
    citizen = browser(b)
    asked = _form_post(citizen, base + "/en/newsletter/", {"email": to})
    assert asked.status_code == 200 and "Check your email" in asked.text, asked.text[:300]
    confirm = wait_for(b.home, to, lambda m: "confirm" in str(m["Subject"]).lower(), timeout=60)
    assert confirm["From"].addresses[0].addr_spec.endswith(sender)
    link = _link(confirm, "confirm")
    assert link.startswith(base)
    shown = citizen.get(link, timeout=30)  # a mail scanner's GET confirms nothing: a button
    assert shown.status_code == 200 and 'method="post"' in shown.text
    done = _form_post(citizen, link, {})
    assert done.status_code == 200 and "You are subscribed" in done.text, done.text[:300]

    with agency_users(box, (SLUG,), "editor") as users:
        staff, page = sso_login(b, base + "/staff/newsletter/", *users[SLUG])
        assert page.status_code == 200 and "1 confirmed subscriber(s)" in page.text, page.text[:500]
        pk = re.search(r'Our new website</td>.*?name="page" value="(\d+)"', page.text)  # the English news page
        assert pk, page.text[:500]
        sent = _form_post(staff, base + "/staff/newsletter/", {"page": pk.group(1)})
        assert sent.status_code == 200 and "to 1 subscriber(s)" in sent.text, sent.text[:500]
        issue = wait_for(b.home, to, lambda m: "confirm" not in str(m["Subject"]).lower(), timeout=60)
        # sent once: the page lists it as sent, and a replayed POST sends nothing
        listed = staff.get(base + "/staff/newsletter/", timeout=30).text
        assert f'name="page" value="{pk.group(1)}"' not in listed
        again = staff.post(base + "/staff/newsletter/", data={"page": pk.group(1), "csrfmiddlewaretoken":
                           _CSRF.findall(listed)[0]}, headers={"Referer": base + "/staff/newsletter/"}, timeout=60)
        assert "was sent before" in again.text, again.text[:500]

    assert issue["From"].addresses[0].addr_spec.endswith(sender)
    gone = _form_post(citizen, _link(issue, "unsubscribe"), {})
    assert gone.status_code == 200 and "You are unsubscribed" in gone.text
    assert len([m for m in _all(b.home, to)]) == 2  # the confirmation and the issue: nothing else, nothing twice
    logs = "".join(p.read_text(errors="replace") for p in b.log_dir.glob(f"*{SLUG}*.log"))
    assert logs and to not in logs  # a citizen's address is in no log of the app
