"""E-participation and transparency (issue 16, items 4 and 5) on a real PostgreSQL 15 and a real SeaweedFS, through
Django's test client with CSRF checks on, the staff signed in through the code flow against the test OIDC provider:
a manager sets up a consultation (English and Urdu) and a poll; a citizen comments in Urdu on a paragraph; the
comment waits (not shown, not published) until the manager approves it (a clerk may not); a proposal is approved
and supported once per browser; a poll is voted once per browser (the second vote refused, the count unchanged);
the throttle stops a connection after 20 answers; `centre_publish_open_data` puts the results and the transparency
figures (SLA per service and office, complaint categories, satisfaction) in the bucket's `opendata/`. Then the
citizen pages in Chromium with JavaScript off (axe WCAG 2.2 AA, at most 100 KB, reflow), in Urdu and English."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.integration._browser import Chromium, Shots, Visit, describe
from tests.integration._centre import centre_database, setup_django
from tests.integration._centre_server import centre_server
from tests.integration._oidc_issuer import ISSUER, Issuer
from tests.integration._s3 import client, running_s3
from tests.integration.test_centre_staff_pages import CLERK, CLIENT, SECRET, csrf, sign_in

pytestmark = [pytest.mark.integration]
MANAGER = ["agency-health", "agency-health--desk-catalogue"]
PREFIX = "agency-health--desk-"
URDU = "اس پیراگراف میں فیس کی شرح بہت زیادہ ہے، اسے کم کیا جائے۔"


@pytest.fixture(scope="module")
def centre() -> Iterator[dict[str, Any]]:
    with centre_database("centrepart") as (box, root), running_s3(root) as s3:
        own = s3["health"]
        setup_django(box, root, {"S3_ENDPOINT": s3["endpoint"], "S3_BUCKET": own["bucket"],
                                 "S3_ACCESS_KEY": own["access_key"], "S3_SECRET_KEY": own["secret_key"]})
        from django.conf import settings

        provider = Issuer(ISSUER, CLIENT, SECRET)
        before = settings.CENTRE_OIDC
        settings.CENTRE_OIDC = {**before, **provider.settings(PREFIX)}
        yield {"box": box, "root": root, "provider": provider,
               "s3": client(s3["endpoint"], own["access_key"], own["secret_key"]), "bucket": own["bucket"]}
        settings.CENTRE_OIDC = before
        provider.close()
        from centre_web import runtime

        runtime.connection().close()


def citizen(lang: str = "en", address: str = "198.51.100.7") -> Any:
    from django.test import Client

    return Client(enforce_csrf_checks=True, HTTP_HOST="centre.test", HTTP_ACCEPT_LANGUAGE=lang,
                  HTTP_X_FORWARDED_FOR=address)


def form(b: Any, url: str, data: dict[str, str]) -> Any:
    """GET the page (its CSRF cookie), then POST the form with the token."""
    b.get(url)
    return b.post(url, {**data, "csrfmiddlewaretoken": csrf(b)})


def today() -> str:
    from centre_web import runtime

    return runtime.now().astimezone(runtime.calendar().zone).date().isoformat()


def manager(provider: Issuer) -> Any:
    b, answer = sign_in(provider, "farah", MANAGER)
    assert answer.status_code == 302
    assert b.get("/en/staff/participation/").status_code == 200
    return b


def staff_post(b: Any, path: str, data: dict[str, str]) -> Any:
    return b.post(path, {**data, "csrfmiddlewaretoken": csrf(b)})


def published(site: dict[str, Any], key: str) -> list[dict[str, str]]:
    body = site["s3"].get_object(Bucket=site["bucket"], Key=key)["Body"].read().decode("utf-8")
    return list(csv.DictReader(io.StringIO(body)))


def publish() -> str:
    from django.core.management import call_command

    out = io.StringIO()
    call_command("centre_publish_open_data", stdout=out)
    return out.getvalue()


def consultation(b: Any, slug: str, closes: str | None = None) -> Any:
    return staff_post(b, "/en/staff/participation/consultations/", {
        "slug": slug, "title_en": "Draft water tariff", "title_ur": "پانی کے نرخ کا مسودہ",
        "text_en": "Who pays.\n\nHow much: 500 rupees a month.\n\nWhen it starts.",
        "text_ur": "کون ادا کرے گا۔\n\nکتنا: 500 روپے ماہانہ۔\n\nکب شروع ہوگا۔", "opens": today(),
        "closes": closes or today()})


def test_a_consultation_commented_in_urdu_moderated_and_published(centre: dict[str, Any]) -> None:
    farah = manager(centre["provider"])
    assert consultation(farah, "water-tariff").status_code == 200
    assert consultation(farah, "water-tariff").status_code == 409  # the short address is taken
    refused = staff_post(farah, "/en/staff/participation/consultations/", {
        "slug": "mismatch", "title_en": "T", "text_en": "a\n\nb", "text_ur": "ا", "opens": today(), "closes": today()})
    assert refused.status_code == 400 and "The English text has 2 paragraphs and the Urdu one 1" in \
        refused.content.decode()

    ali = citizen("ur")
    page = ali.get("/ur/participate/consultations/water-tariff/").content.decode()
    assert 'lang="ur" dir="rtl"' in page and "کتنا: 500 روپے ماہانہ۔" in page and "0 تبصرے" in page
    empty = form(ali, "/ur/participate/consultations/water-tariff/2/", {"comment": "  \u202e "})
    assert empty.status_code == 400 and "پہلے کچھ لکھیں" in empty.content.decode()
    sent = form(ali, "/ur/participate/consultations/water-tariff/2/", {"comment": URDU})
    assert sent.status_code == 200 and "آپ کا تبصرہ موصول ہو گیا" in sent.content.decode()
    assert URDU not in ali.get("/ur/participate/consultations/water-tariff/2/").content.decode()  # pending
    assert "not found" in ali.get("/en/participate/consultations/water-tariff/9/").content.decode().lower() or \
        ali.get("/en/participate/consultations/water-tariff/9/").status_code == 404
    publish()
    rows = published(centre, "opendata/centre-consultations.csv")
    second = next(r for r in rows if r["consultation"] == "water-tariff" and r["paragraph"] == "2")
    assert (second["comments_approved"], second["comments_pending"]) == ("0", "1")
    assert URDU not in json.dumps(published(centre, "opendata/centre-consultation-comments.csv"), ensure_ascii=False)

    clerk, _ = sign_in(centre["provider"], "bilal", CLERK)
    assert clerk.get("/en/staff/participation/").status_code == 403
    overview = farah.get("/en/staff/participation/").content.decode()
    item = re.search(r'name="kind" value="comment"><input type="hidden" name="id" value="(\d+)"', overview)
    assert item is not None and URDU in overview
    assert staff_post(clerk, "/en/staff/participation/moderate/",
                      {"kind": "comment", "id": item[1], "action": "approve"}).status_code == 403
    assert staff_post(farah, "/en/staff/participation/moderate/",
                      {"kind": "comment", "id": item[1], "action": "approve"}).status_code == 200
    assert staff_post(farah, "/en/staff/participation/moderate/",
                      {"kind": "comment", "id": item[1], "action": "reject"}).status_code == 404  # decided already
    assert "1 تبصرے" in ali.get("/ur/participate/consultations/water-tariff/").content.decode()
    assert URDU in ali.get("/ur/participate/consultations/water-tariff/2/").content.decode()
    with centre["box"].pg_admin("centre") as conn:  # a paragraph's comments come ten a page
        conn.execute("INSERT INTO consultation_comments (consultation_id, paragraph, text, language, state, "
                     "created_at) SELECT id, 3, 'comment ' || n, 'en', 'approved', now() FROM consultations, "
                     "generate_series(1, 11) n WHERE slug = 'water-tariff'")
    first_page = ali.get("/en/participate/consultations/water-tariff/3/").content.decode()
    second_page = ali.get("/en/participate/consultations/water-tariff/3/?page=2").content.decode()
    assert "comment 10<" in first_page and "comment 11<" not in first_page and "Page 1 of 2" in first_page
    assert "comment 11<" in second_page and "comment 1<" not in second_page and "?page=1" in second_page

    assert "centre-consultations.csv" in publish()
    second = next(r for r in published(centre, "opendata/centre-consultations.csv")
                  if r["consultation"] == "water-tariff" and r["paragraph"] == "2")
    assert (second["comments_approved"], second["comments_pending"], second["text_ur"]) == \
        ("1", "0", "کتنا: 500 روپے ماہانہ۔")
    comments = published(centre, "opendata/centre-consultation-comments.csv")
    assert [(c["consultation"], c["paragraph"], c["language"], c["text"]) for c in comments][0] == \
        ("water-tariff", "2", "ur", URDU)
    assert len(comments) == 12
    assert publish() == "unchanged\n"  # the same bytes are not written again
    with centre["box"].pg_admin("centre") as conn:
        actions = [r[0] for r in conn.execute("SELECT action FROM audit WHERE subject = 'participation' ORDER BY seq")]
    assert actions == ["consultation", "comment:approved"]

    # a proposal: moderated, then supported once per browser
    sent = form(ali, "/ur/participate/proposals/new/", {"title": "بسوں کے نئے راستے", "text": "شہر میں نئی بسیں۔"})
    assert sent.status_code == 200
    assert "بسوں کے نئے راستے" not in ali.get("/ur/participate/proposals/").content.decode()
    overview = farah.get("/en/staff/participation/").content.decode()
    proposal = re.search(r'name="kind" value="proposal"><input type="hidden" name="id" value="(\d+)"', overview)
    assert proposal is not None
    staff_post(farah, "/en/staff/participation/moderate/", {"kind": "proposal", "id": proposal[1], "action": "approve"})
    ali.get("/ur/participate/proposals/")
    first = ali.post(f"/ur/participate/proposals/{proposal[1]}/support/", {"csrfmiddlewaretoken": csrf(ali)})
    again = ali.post(f"/ur/participate/proposals/{proposal[1]}/support/", {"csrfmiddlewaretoken": csrf(ali)})
    assert (first.status_code, again.status_code) == (200, 409)
    assert "1 حامی" in again.content.decode() and "شہر میں نئی بسیں۔" in again.content.decode()
    listed = ali.get("/ur/participate/proposals/").content.decode()
    assert f'href="/ur/participate/proposals/{proposal[1]}/"' in listed and "1 حامی" in listed
    assert ali.get(f"/ur/participate/proposals/{proposal[1]}/").status_code == 200
    assert ali.get("/ur/participate/proposals/999999/").status_code == 404
    publish()
    assert [(p["title"], p["supports"]) for p in published(centre, "opendata/centre-proposals.csv")] == \
        [("بسوں کے نئے راستے", "1")]
    assert ali.post("/en/participate/proposals/999999/support/",
                    {"csrfmiddlewaretoken": csrf(ali)}).status_code == 404
    assert citizen().post("/en/participate/proposals/new/", {"title": "x", "text": "y"}).status_code == 403  # CSRF


def test_a_poll_voted_once_per_browser_and_the_throttle(centre: dict[str, Any]) -> None:
    farah = manager(centre["provider"])
    made = staff_post(farah, "/en/staff/participation/polls/", {
        "slug": "bus-routes", "question_en": "Which route first?", "question_ur": "پہلے کون سا راستہ؟",
        "options_en": "North\nSouth", "options_ur": "شمال\nجنوب", "opens": today(), "closes": today()})
    assert made.status_code == 200
    voter = citizen("en", "198.51.100.20")
    page = voter.get("/en/participate/polls/bus-routes/").content.decode()
    assert 'name="option"' in page and "One vote per browser" in page
    none = voter.post("/en/participate/polls/bus-routes/", {"csrfmiddlewaretoken": csrf(voter)})
    assert none.status_code == 400 and "Select one of the options" in none.content.decode()
    first = voter.post("/en/participate/polls/bus-routes/", {"option": "1", "csrfmiddlewaretoken": csrf(voter)})
    assert first.status_code == 200 and "Your vote was counted" in first.content.decode()
    cookie = voter.cookies["centre_health_voter"]
    assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Lax"
    second = voter.post("/en/participate/polls/bus-routes/", {"option": "2", "csrfmiddlewaretoken": csrf(voter)})
    assert second.status_code == 409 and "already voted" in second.content.decode()
    assert "1 votes (100.0%)" in second.content.decode() and "0 votes (0.0%)" in second.content.decode()
    other = citizen("ur", "198.51.100.21")
    other.get("/ur/participate/polls/bus-routes/")
    assert other.post("/ur/participate/polls/bus-routes/", {"option": "2", "csrfmiddlewaretoken": csrf(other)}) \
        .status_code == 200
    with centre["box"].pg_admin("centre") as conn:
        stored = [r[0] for r in conn.execute("SELECT voter FROM poll_votes")]
    assert len(stored) == 2 and all(re.fullmatch(r"[0-9a-f]{64}", v) for v in stored)
    assert cookie.value.split(":")[0] not in stored  # only an HMAC of the token
    publish()
    polls = published(centre, "opendata/centre-polls.csv")
    assert [(p["poll"], p["label_ur"], p["votes"], p["share_pct"]) for p in polls] == \
        [("bus-routes", "شمال", "1", "50.0"), ("bus-routes", "جنوب", "1", "50.0")]

    # one connection, many fresh browsers (no cookie): the throttle stops it after 20 answers in 15 minutes
    flood = [citizen("en", "198.51.100.99") for _ in range(21)]
    answers = []
    for b in flood:
        b.get("/en/participate/polls/bus-routes/")
        answers.append(b.post("/en/participate/polls/bus-routes/", {"option": "1", "csrfmiddlewaretoken": csrf(b)}))
    assert [a.status_code for a in answers] == [200] * 20 + [429]
    assert int(answers[-1]["Retry-After"]) > 0
    assert citizen("en", "198.51.100.100").get("/en/participate/polls/bus-routes/").status_code == 200


def test_transparency_figures_published(centre: dict[str, Any]) -> None:
    """A complaint sent, resolved within its SLA and rated 4, a trade licence overdue: yesterday's rows say so."""
    from django.test import Client

    from centre_core import store
    from centre_web import runtime

    def send(service: str, answers: dict[str, str]) -> str:
        answer = Client(HTTP_HOST="centre.test").post("/api/applications", json.dumps(
            {"serviceKey": service, "answers": answers}), content_type="application/json")
        assert answer.status_code == 201
        return str(answer.json()["reference"])

    complaint = send("grievance", {"details": "The counter was closed at 11.", "kind": "complaint",
                                   "email": "a@example.pk"})
    late = send("trade_licence", {"business_name": "Ali Traders", "business_kind": "shop", "email": "b@example.pk"})
    conn = runtime.connection()
    task = conn.execute("SELECT t.id FROM tasks t JOIN applications a ON a.id = t.application_id WHERE a.reference = "
                        "%s AND t.state = 'ready'", (complaint,)).fetchone()
    store.act(conn, complaint, str(task[0]), "resolve", "grievance_officer", "staff:test", {}, runtime.now(),
              runtime.calendar())
    store.rate(conn, runtime.loaded(), complaint, 4, runtime.now())
    with centre["box"].pg_admin("centre") as admin:  # move both into yesterday (the figures cover complete days)
        admin.execute("UPDATE applications SET submitted_at = submitted_at - interval '1 day', updated_at = "
                      "updated_at - interval '1 day' WHERE reference = %s", (complaint,))
        admin.execute("UPDATE ratings SET rated_at = rated_at - interval '1 day'")
        admin.execute("UPDATE applications SET submitted_at = submitted_at - interval '60 days' WHERE reference = %s",
                      (late,))
    publish()
    yesterday = (runtime.now().astimezone(runtime.calendar().zone).date() - timedelta(days=1)).isoformat()
    sla = {r["service"]: r for r in published(centre, "opendata/centre-sla.csv") if r["day"] == yesterday}
    assert (sla["grievance"]["closed"], sla["grievance"]["closed_within_sla"], sla["grievance"]["compliance_pct"]) \
        == ("1", "1", "100.0")
    assert sla["trade_licence"]["overdue_at_end"] == "1" and sla["trade_licence"]["office_en"]
    offices = [r for r in published(centre, "opendata/centre-sla-offices.csv") if r["day"] == yesterday]
    assert {r["office_en"] for r in offices} >= {"Grievance cell"}
    complaints = {r["category"]: r for r in published(centre, "opendata/centre-complaints.csv")
                  if r["day"] == yesterday}
    assert (complaints["complaint"]["received"], complaints["complaint"]["closed"]) == ("1", "1")
    assert complaints["complaint"]["category_ur"] == "شکایت"
    rated = next(r for r in published(centre, "opendata/centre-satisfaction.csv") if r["day"] == yesterday)
    assert (rated["service"], rated["ratings"], rated["average"], rated["rated_4"]) == ("grievance", "1", "4.00", "1")
    body = json.loads(centre["s3"].get_object(Bucket=centre["bucket"], Key="opendata/centre-transparency.json")
                      ["Body"].read())
    assert body["days"][1] == yesterday
    assert complaint not in json.dumps(body) and "a@example.pk" not in json.dumps(body)
    # the timers' job publishes on its own schedule: transparency once a day, so not again today
    from centre_web import publishing

    assert publishing.round(conn, runtime.bucket(), runtime.loaded(), runtime.now(), runtime.calendar()) == []


@pytest.fixture(scope="module")
def served(centre: dict[str, Any]) -> Iterator[str]:
    with centre_server(centre["root"]) as base:
        yield base


@pytest.mark.parametrize("lang", ["ur", "en"])
def test_the_participation_pages_in_a_browser(centre: dict[str, Any], served: str, chromium: Chromium,
                                              shots: Shots, lang: str) -> None:
    """Chromium with JavaScript off: the participation page, a consultation, a comment refused then sent, a poll
    voted and its results, the proposals and the proposal form; each axe-clean (WCAG 2.2 AA), at most 100 KB,
    reflowing at 320 px; and the staff's participation page (pending items, a refused form) checked by axe."""
    farah = manager(centre["provider"])
    slug = f"browser-{lang}"
    consultation(farah, slug, closes=today())
    staff_post(farah, "/en/staff/participation/polls/", {
        "slug": f"poll-{lang}", "question_en": "Which day?", "question_ur": "کون سا دن؟",
        "options_en": "Monday\nFriday", "options_ur": "پیر\nجمعہ", "opens": today(), "closes": today()})
    page = chromium.page(javascript=False, locale=lang)
    visit = Visit(chromium, shots, page, f"participate-{lang}")
    try:
        page.goto(f"{served}/{lang}/participate/", wait_until="load")
        assert page.locator("html").get_attribute("dir") == ("rtl" if lang == "ur" else "ltr")
        visit.seen("index")
        page.goto(f"{served}/{lang}/participate/consultations/{slug}/", wait_until="load")
        visit.seen("consultation")
        page.locator("a[href$='/2/']").click()
        visit.seen("comment")
        page.locator("button.govuk-button").click()
        assert page.locator(".govuk-error-summary").count() == 1
        visit.seen("comment-refused")
        page.locator("#comment").fill(URDU)
        page.locator("button.govuk-button").click()
        visit.seen("comment-sent")
        page.goto(f"{served}/{lang}/participate/polls/poll-{lang}/", wait_until="load")
        visit.seen("poll")
        page.locator("#option-2").check()
        page.locator("button.govuk-button").click()
        assert page.locator("dl.govuk-summary-list").count() == 1
        visit.seen("poll-results")
        page.goto(f"{served}/{lang}/participate/proposals/", wait_until="load")
        visit.seen("proposals")
        page.goto(f"{served}/{lang}/participate/proposals/new/", wait_until="load")
        visit.seen("propose")
        visit.check()
        # the staff page (the comment above pending, a refused form) as the manager's browser gets it, laid out
        # by Chromium with the server's stylesheets and checked by axe (its sign-in is the staff pages' tests')
        for shown in (farah.get(f"/{lang}/staff/participation/"),
                      staff_post(farah, f"/{lang}/staff/participation/polls/", {"slug": "x", "opens": today()})):
            html = shown.content.decode()
            assert len(shown.content) < 100 * 1024 and f'lang="{lang}"' in html
            violations = chromium.axe_html(f"{served}/{lang}/staff/participation/", html)
            assert not violations, describe(violations)
    finally:
        page.context.close()
