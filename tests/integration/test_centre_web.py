"""The citizen's side of the centre (Django, in-process test client) on a real PostgreSQL 15: the whole journey
in English and Urdu (apply one question per page, check, send, reference, tracking with a one-time code, the
flow of steps with "you are here"), refusals (wrong code, unknown reference: the same answer; the attempt
limit), server-side validation with an error summary, CSRF enforced, every page under 100 KB, RTL in Urdu."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from centre_core import references, store
from govcloud_platform.box.context import Box
from tests.integration._centre import centre_database, setup_django

pytestmark = [pytest.mark.integration]
PAGE_LIMIT = 100 * 1024
_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_REFERENCE = re.compile(r'class="reference" dir="ltr">([0-9A-Z-]{14})<')


@pytest.fixture(scope="module")
def site() -> Iterator[Box]:
    """PostgreSQL with the centre's database, and Django configured from an env file as the role writes it."""
    with centre_database("centreweb") as (box, root):
        setup_django(box, root)
        yield box
        from centre_web import runtime

        runtime.connection().close()


class Browser:
    """Django's test client with CSRF enforced, following the forms' tokens like a browser without JavaScript,
    and checking the size of every page."""

    made = 0

    def __init__(self, language: str, address: str | None = None) -> None:
        from django.test import Client

        Browser.made += 1  # each browser its own client address, as the proxy reports it (the tracking throttle)
        self.address = address or f"198.51.100.{Browser.made % 250 + 1}"
        self.client = Client(enforce_csrf_checks=True, HTTP_HOST="centre.test", HTTP_ACCEPT_LANGUAGE=language,
                             HTTP_X_FORWARDED_FOR=self.address)
        self.token = ""

    def get(self, url: str, status: int = 200) -> str:
        return self._seen(self.client.get(url), status)

    def post(self, url: str, data: dict[str, str], status: int = 302) -> Any:
        response = self.client.post(url, {**data, "csrfmiddlewaretoken": self.token})
        self._seen(response, status)
        return response

    def _seen(self, response: Any, status: int) -> str:
        assert response.status_code == status, (response.status_code, response.content[:2000])
        assert len(response.content) < PAGE_LIMIT
        text: str = response.content.decode()
        if (keep := os.environ.get("CENTRE_PAGES_DIR")) and text:  # to look at the pages (or keep them as artifacts)
            name = re.sub(r"[^a-z0-9]+", "_", response.wsgi_request.path.lower()).strip("_") or "root"
            (Path(keep) / f"{name}-{response.status_code}.html").write_text(text)
        if match := _TOKEN.search(text):
            self.token = match.group(1)
        return text


def _apply(browser: Browser, lang: str, service: str, answers: list[tuple[str, str]]) -> str:
    """Every question page in turn, the check page, send: returns the reference shown."""
    page = browser.get(f"/{lang}/services/{service}/")
    assert f'href="/{lang}/services/{service}/apply/{answers[0][0]}/"' in page
    for i, (qid, value) in enumerate(answers):
        browser.get(f"/{lang}/services/{service}/apply/{qid}/")
        response = browser.post(f"/{lang}/services/{service}/apply/{qid}/", {"answer": value})
        following = answers[i + 1][0] if i + 1 < len(answers) else None
        assert response["Location"] == (f"/{lang}/services/{service}/apply/{following}/" if following
                                        else f"/{lang}/services/{service}/check/")
    check = browser.get(f"/{lang}/services/{service}/check/")
    assert answers[0][1] in check and answers[-1][1] in check  # a choice is shown by its label
    response = browser.post(f"/{lang}/services/{service}/check/", {})
    assert response["Location"] == f"/{lang}/services/{service}/sent/"
    done = browser.get(response["Location"])
    match = _REFERENCE.search(done)
    assert match, done
    return match.group(1)


def _track(browser: Browser, lang: str, reference: str, code: str) -> str:
    browser.get(f"/{lang}/track/")
    response = browser.post(f"/{lang}/track/", {"reference": reference.lower(), "code": code})
    assert response["Location"] == f"/{lang}/track/status/"
    return browser.get(response["Location"])


def _code(reference: str) -> str:
    from django.core.management import call_command

    out = io.StringIO()
    call_command("centre_issue_code", reference, stdout=out)
    return out.getvalue().strip()


@pytest.mark.parametrize(("lang", "service", "answers", "first_step", "words"), [
    ("en", "trade_licence", [("business_name", "Ali Traders"), ("business_kind", "shop"),
                             ("email", "ali@example.pk")], "Review of the application",
     ["Trade licence", "You are here"]),
    ("ur", "birth_certificate", [("child_name", "عائشہ خان"), ("date_of_birth", "2024-03-31"),
                                 ("email", "khan@example.pk")], "اندراج کی تصدیق",
     ["پیدائش کا سرٹیفکیٹ", "آپ یہاں ہیں"]),
])
def test_the_whole_journey(site: Box, lang: str, service: str, answers: list[tuple[str, str]],
                           first_step: str, words: list[str]) -> None:
    browser = Browser(lang)
    home = browser.client.get("/")
    assert home.status_code == 302 and home["Location"] == f"/{lang}/"
    listing = browser.get(f"/{lang}/")
    assert f'<html lang="{lang}" dir="{"rtl" if lang == "ur" else "ltr"}" class="govuk-template">' in listing
    assert words[0] in listing and "<main" in listing and "<nav" in listing and "<header" in listing
    page = browser.get(f"/{lang}/services/{service}/")
    ld = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S).group(1))  # type: ignore[union-attr]
    assert ld["@type"] == "GovernmentService" and ld["name"] == words[0] and ld["offers"]["priceCurrency"] == "PKR"
    reference = _apply(browser, lang, service, answers)
    canonical = references.normalise(reference)
    assert canonical is not None
    with site.pg_admin("centre") as conn:
        row = conn.execute("SELECT service_id, status, answers, email FROM applications WHERE reference = %s",
                           (canonical,)).fetchone()
    assert row is not None and row[0] == service and row[1] == "in_progress"
    assert row[2] == dict(answers) and row[3] == answers[-1][1]
    status = _track(browser, lang, reference, _code(reference))
    assert f'dir="{"rtl" if lang == "ur" else "ltr"}"' in status and reference in status
    here = re.search(r'<li class="here" aria-current="step">([^<]+)', status)
    assert here and here.group(1).strip() == first_step
    assert all(w in status for w in words[1:])
    response = browser.client.get(f"/{lang}/track/status/")
    assert response["Cache-Control"] == "no-store" and "script-src" not in response["Content-Security-Policy"]
    assert "default-src 'none'" in response["Content-Security-Policy"]
    css = browser.client.get("/centre.css")  # what the shared design does not cover
    assert css.status_code == 200 and len(css.content) < 10 * 1024
    # the shared design (docs/design.md): its stylesheet, byte for byte the one in roles/app_common, and the
    # agency's colour; both linked from every page
    design = browser.client.get("/static/design/govcloud.min.css")
    shared = Path(__file__).resolve().parents[2] / "roles/app_common/files/design/static/design/govcloud.min.css"
    assert design.status_code == 200 and design.content == shared.read_bytes() and "Content-Encoding" not in design
    packed = browser.client.get("/static/design/govcloud.min.css", headers={"Accept-Encoding": "gzip, br"})
    assert packed["Content-Encoding"] == "gzip" and gzip.decompress(packed.content) == shared.read_bytes()
    assert len(packed.content) < 12 * 1024 and "Accept-Encoding" in packed["Vary"]
    brand = browser.client.get("/brand.css")
    assert brand.status_code == 200 and brand.content.decode() == ":root{--govuk-brand-colour:#1d70b8}\n"
    assert '<link rel="stylesheet" href="/static/design/govcloud.min.css">' in status
    assert '<link rel="stylesheet" href="/brand.css">' in status


def test_the_status_follows_the_desks(site: Box) -> None:
    """A desk returns the application: the citizen's step is where the citizen is; approved: the outcome."""
    browser = Browser("ur")
    reference = _apply(browser, "ur", "trade_licence", [("business_name", "D"), ("business_kind", "shop"),
                                                       ("email", "d@example.pk")])
    canonical = references.normalise(reference) or ""
    now = datetime.now(UTC)
    with site.pg_admin("centre") as conn:
        task = next(r for r in store.inbox(conn, "clerk", 1000) if r[0] == canonical)
        store.act(conn, canonical, task[1], "return", "clerk", "staff:clerk", {"reason": "lease"}, now)
    page = _track(browser, "ur", reference, _code(reference))
    here = re.findall(r'<li class="here" aria-current="step">([^<]+)', page)
    assert [h.strip() for h in here] == ["نامکمل دستاویز فراہم کریں"] and "آپ کا انتظار ہے" in page
    assert "نگران" not in page  # the escalation step is shown only while the application is there (or was)
    assert re.search(r'<li>درخواست کا جائزہ <span class="govuk-tag govuk-tag--green">مکمل</span></li>', page)
    with site.pg_admin("centre") as conn:
        citizen = next(t for t in store.view(conn, canonical).ready if t.desk == "citizen")
        store.act(conn, canonical, citizen.id, "done", "citizen", "citizen", {}, now)
        task = next(r for r in store.inbox(conn, "clerk", 1000) if r[0] == canonical)
        store.act(conn, canonical, task[1], "accept", "clerk", "staff:clerk", {}, now)
        task = next(r for r in store.inbox(conn, "licensing_officer", 1000) if r[0] == canonical)
        store.act(conn, canonical, task[1], "approve", "licensing_officer", "staff:officer", {}, now)
    page = _track(browser, "ur", reference, _code(reference))
    assert "لائسنس جاری کر دیا گیا" in page and "بند" in page and 'aria-current="step"' not in page


def test_wrong_code_and_unknown_reference_get_the_same_answer(site: Box) -> None:
    browser = Browser("en")
    reference = _apply(browser, "en", "trade_licence", [("business_name", "B"), ("business_kind", "workshop"),
                                                       ("email", "b@example.pk")])
    code = _code(reference)
    answers = []
    for ref, typed in ((reference, "WRONGCDE"), (references.display(references.new_reference()), code)):
        browser.get("/en/track/")
        page = browser.post("/en/track/", {"reference": ref, "code": typed}, status=400).content.decode()
        summary = re.search(r'<div class="govuk-error-summary".*?</div>', page, re.S)
        assert summary and 'href="#reference"' in summary.group(0)
        answers.append(summary.group(0))
    assert answers[0] == answers[1]
    for _ in range(4):  # 5 wrong tries in all lock the code: the right one is then refused too
        browser.post("/en/track/", {"reference": reference, "code": "WRONGCDE"}, status=400)
    browser.post("/en/track/", {"reference": reference, "code": code}, status=400)
    assert browser.client.get("/en/track/status/")["Location"] == "/en/track/"
    _track(browser, "en", reference, _code(reference))  # a new code works


@pytest.mark.parametrize("lang", ["en", "ur"])
def test_missing_answers_give_an_error_summary(site: Box, lang: str) -> None:
    """The answers check speaks the page's language: the title's prefix, the summary's heading, each field's
    message and the check page's list, with none of the other language's words."""
    from centre_web.texts import TEXTS

    said = {key: texts[lang] for key, texts in TEXTS.items()}
    other = {key: texts["ur" if lang == "en" else "en"] for key, texts in TEXTS.items()}
    browser = Browser(lang)
    base = f"/{lang}/services/building_permit"
    browser.get(f"{base}/apply/floors/")
    page = browser.post(f"{base}/apply/floors/", {"answer": "many"}, status=400)
    text = page.content.decode()
    assert f"<title>{said['error_prefix']} " in text and 'href="#answer"' in text and said["err_number"] in text
    assert said["error_title"] in text and other["err_number"] not in text
    assert re.search(r'<input id="answer"[^>]*aria-describedby="error"', text)
    for kind, typed, key in [("email", "not an address", "err_email"), ("floors", "3" * 8, "err_too_long")]:
        text = browser.post(f"{base}/apply/{kind}/", {"answer": typed}, status=400).content.decode()
        expected = said[key] if key != "err_too_long" else said[key].split("{")[-1].split("}")[-1].strip()
        assert expected in text and (key == "err_too_long" or other[key] not in text), (kind, text[:3000])
    check = browser.post(f"{base}/check/", {}, status=400).content.decode()
    required = said["err_required"].split("{")[0]  # "Answer the question: " / "سوال کا جواب دیں: "
    assert check.count(f'?change=1">{required}') == 3  # plot address, floors, e-mail
    assert other["err_required"].split("{")[0] not in check and said["error_title"] in check
    with site.pg_admin("centre") as conn:
        assert conn.execute("SELECT count(*) FROM applications WHERE service_id = 'building_permit'").fetchone() \
            == (0,)


def test_malformed_reference_is_told_apart_without_a_query(site: Box) -> None:
    browser = Browser("ur")
    browser.get("/ur/track/")
    page = browser.post("/ur/track/", {"reference": "1234", "code": ""}, status=400).content.decode()
    assert 'href="#reference"' in page and 'href="#code"' in page and 'dir="rtl"' in page


def test_csrf_is_enforced(site: Box) -> None:
    browser = Browser("en")
    browser.get("/en/services/trade_licence/apply/business_name/")
    response = browser.client.post("/en/services/trade_licence/apply/business_name/", {"answer": "X"})
    assert response.status_code == 403
    response = browser.client.post("/en/track/", {"reference": "x", "code": "y"})
    assert response.status_code == 403


def test_unknown_pages_are_not_found(site: Box) -> None:
    browser = Browser("en")
    browser.get("/en/services/no_such_service/", status=404)
    browser.get("/en/services/trade_licence/apply/no_such_question/", status=404)
    browser.get("/en/services/trade_licence/sent/", status=302)  # nothing sent in this session


def test_issue_code_refuses_bad_references(site: Box) -> None:
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="not a reference number") as bad:
        call_command("centre_issue_code", "1234")
    assert bad.value.returncode == 2
    with pytest.raises(CommandError, match="no application"):
        call_command("centre_issue_code", references.new_reference())


def test_store_holds_only_the_code_digest(site: Box) -> None:
    reference = _apply(Browser("en"), "en", "trade_licence", [("business_name", "C"), ("business_kind", "shop"),
                                                             ("email", "c@example.pk")])
    code = _code(reference)
    with site.pg_admin("centre") as conn:
        rows = conn.execute("SELECT digest FROM tracking_codes").fetchall()
        assert rows and all(code not in r[0] for r in rows)
        assert store.view(conn, references.normalise(reference) or "").status == "in_progress"


def test_health_and_the_deploys_converge_command(site: Box) -> None:
    """What the role waits for and runs: /healthz answers from the database; centre_converge says what it did."""
    from django.core.management import call_command

    response = Browser("en").client.get("/healthz")
    assert response.status_code == 200 and response.content == b"ok\n"
    assert response["Cache-Control"] == "no-store"
    out = io.StringIO()
    call_command("centre_converge", stdout=out)  # the schema exists (the fixture migrated); the processes that
    # no earlier test's application recorded yet are new
    assert re.fullmatch(r"changed: processes( [a-z_]+)+|unchanged", out.getvalue().strip()), out.getvalue()
    out = io.StringIO()
    call_command("centre_converge", stdout=out)
    assert out.getvalue().strip() == "unchanged"


def test_the_audit_verify_command_says_intact_or_names_the_break(site: Box) -> None:
    """`manage.py centre_audit_verify`: intact (exit 0) with the head to record; a row deleted and its successor
    altered behind the trigger's back (a superuser) is named by sequence number (exit 1); a trail cut short
    after a recorded head is found with --head; the row put back, intact again."""
    from django.core.management import CommandError, call_command

    _apply(Browser("en"), "en", "trade_licence", [("business_name", "D"), ("business_kind", "shop"),
                                                  ("email", "d@example.pk")])
    out = io.StringIO()
    call_command("centre_audit_verify", "--json", stdout=out)
    doc = json.loads(out.getvalue())
    assert doc["ok"] and doc["entries"] >= 2 and doc["breaks"] == [], doc
    head = f"{doc['head']['seq']}:{doc['head']['hash']}"
    human = io.StringIO()
    call_command("centre_audit_verify", "--head", head, stdout=human)
    assert human.getvalue().startswith(f"audit trail intact: {doc['entries']} entries; head {head}")
    with pytest.raises(CommandError) as bad:
        call_command("centre_audit_verify", "--head", "12:nothex")
    assert bad.value.returncode == 2

    victim = doc["head"]["seq"] - 1
    with site.pg_admin("centre", autocommit=False) as conn:
        row = conn.execute("SELECT * FROM audit WHERE seq = %s", (victim,)).fetchone()
        assert row is not None
        conn.execute("ALTER TABLE audit DISABLE TRIGGER audit_append_only")
        conn.execute("DELETE FROM audit WHERE seq = %s", (victim,))
        conn.execute("ALTER TABLE audit ENABLE TRIGGER audit_append_only")
        conn.commit()
    try:
        with pytest.raises(CommandError, match=f"audit trail broken at entry {victim + 1}") as broken:
            call_command("centre_audit_verify")
        assert broken.value.returncode == 1
        out = io.StringIO()
        with pytest.raises(CommandError):
            call_command("centre_audit_verify", "--json", stdout=out)
        assert not json.loads(out.getvalue())["ok"]
    finally:  # put it back as it was: the chain is whole again
        with site.pg_admin("centre", autocommit=False) as conn:
            conn.execute("ALTER TABLE audit DISABLE TRIGGER audit_append_only")
            conn.execute("INSERT INTO audit VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", row)
            conn.execute("ALTER TABLE audit ENABLE TRIGGER audit_append_only")
            conn.commit()
    call_command("centre_audit_verify", "--head", head, stdout=io.StringIO())
    # a tail cut off after the recorded head is found: the head says where the trail must reach
    with pytest.raises(CommandError, match="entries after it are gone"):
        call_command("centre_audit_verify", "--head", f"{doc['head']['seq'] + 5}:{'0' * 64}",
                     stdout=io.StringIO())


def test_the_timers_job_moves_an_application_past_its_sla(site: Box) -> None:
    """`manage.py centre_run_timers` (once; the role runs it `--every 60` under supervisord): a building permit
    submitted three weeks ago is past its 5 working days, and moves to the supervisor's desk."""
    from django.core.management import call_command

    from centre_core import catalogue
    from centre_web import runtime

    conn = runtime.connection()
    then = datetime.now(UTC).replace(microsecond=0) - timedelta(days=21)
    ref = store.submit(conn, catalogue.load_samples(), "building_permit", {"plot_address": "Plot 9"}, None, then)
    assert not any(r[0] == ref for r in store.inbox(conn, "supervisor"))
    out = io.StringIO()
    call_command("centre_run_timers", stdout=out)
    # (then, without a mail service, the outbox's count of messages not sent: test_centre_notify.py)
    moved = re.fullmatch(r"timers fired: (\d+) applications moved", out.getvalue().strip().splitlines()[0])
    assert moved and int(moved.group(1)) >= 1, out.getvalue()
    assert any(r[0] == ref for r in store.inbox(conn, "supervisor"))
    assert ref not in out.getvalue()  # the log says how many, never which
    again = io.StringIO()
    call_command("centre_run_timers", stdout=again)
    assert again.getvalue().strip() == "timers fired: 0 applications moved"


_SAVED_LINK = re.compile(r'class="saved-link" href="([^"]+)"')


def test_save_and_come_back_later_with_a_link(site: Box) -> None:
    """"Save and come back later" on a question page: a link (shown once; only its digest stored) brings the answers
    back in another browser, in the other language too, at the next question; saving again keeps the same
    link; sending the application deletes the saved answers, and the link then says it is gone; an expired or
    mangled link is gone as well, and the timers' job deletes expired drafts."""
    import hashlib
    from urllib.parse import urlsplit

    from django.conf import settings
    from django.core.management import call_command

    from centre_web import runtime

    first = Browser("en")
    first.get("/en/services/trade_licence/apply/business_name/")
    saved = first.post("/en/services/trade_licence/apply/business_name/", {"answer": "Zara Foods", "save": "1"})
    assert saved["Location"] == "/en/services/trade_licence/saved/"
    page = first.get(saved["Location"])
    match = _SAVED_LINK.search(page)
    assert match and match.group(1).startswith(settings.PUBLIC_URL.rstrip("/") + "/en/resume/"), page
    path = urlsplit(match.group(1)).path
    token = path.rstrip("/").rsplit("/", 1)[-1]
    assert "Anyone who has the link" in page
    with site.pg_admin("centre") as conn:
        rows = conn.execute("SELECT token_digest, answers::text FROM drafts").fetchall()
    assert (hashlib.sha256(token.encode()).hexdigest(), '{"business_name": "Zara Foods"}') in rows
    assert not any(token in str(row) for row in rows)  # the link itself is never stored

    other = Browser("ur")  # another browser, no cookie: the link alone brings the answers back
    back = other.client.get(path.replace("/en/", "/ur/", 1))
    assert back.status_code == 302 and back["Location"] == "/ur/services/trade_licence/apply/business_kind/"
    other.get(back["Location"])
    other.post(back["Location"], {"answer": "shop"})
    other.get("/ur/services/trade_licence/apply/email/")
    again = other.post("/ur/services/trade_licence/apply/email/", {"answer": "", "save": "1"})  # nothing typed
    assert again["Location"] == "/ur/services/trade_licence/saved/"
    assert _SAVED_LINK.search(other.get(again["Location"])).group(1).endswith(f"/resume/{token}/")  # the same link
    with site.pg_admin("centre") as conn:
        kept = conn.execute("SELECT answers FROM drafts WHERE token_digest = %s",
                            (hashlib.sha256(token.encode()).hexdigest(),)).fetchone()
    assert kept == ({"business_name": "Zara Foods", "business_kind": "shop"},)
    other.post("/ur/services/trade_licence/apply/email/", {"answer": "zara@example.pk"})
    check = other.get("/ur/services/trade_licence/check/")
    assert "Zara Foods" in check
    sent = other.post("/ur/services/trade_licence/check/", {})
    assert sent["Location"] == "/ur/services/trade_licence/sent/"
    with site.pg_admin("centre") as conn:
        assert conn.execute("SELECT count(*) FROM drafts WHERE token_digest = %s",
                            (hashlib.sha256(token.encode()).hexdigest(),)).fetchone() == (0,)
    gone = Browser("en").get(path, status=404)
    assert "expired or is not valid" in gone
    assert "یہ لنک" in Browser("ur").get(path.replace("/en/", "/ur/", 1), status=404)
    Browser("en").get("/en/resume/not-a-token/", status=404)

    # an expired draft cannot be resumed, and the timers' job deletes it
    conn = runtime.connection()
    old, _ = store.save_draft(conn, "trade_licence", {"business_name": "Old"}, datetime.now(UTC) - timedelta(days=30))
    Browser("en").get(f"/en/resume/{old}/", status=404)
    out = io.StringIO()
    call_command("centre_run_timers", stdout=out)
    assert re.search(r"drafts: [1-9]\d* expired deleted", out.getvalue()), out.getvalue()
    assert store.load_draft(conn, old, datetime.now(UTC) - timedelta(days=29)) is None  # deleted, not just expired


def test_the_status_shows_the_flow_of_the_version_the_application_started_on(site: Box) -> None:
    """The catalogue's BPMN may change while applications are under way: the tracking page draws each one's flow
    from the process version it started on (kept in `process_versions`), not from today's file."""
    import hashlib

    from centre_web import runtime

    conn = runtime.connection()
    loaded = runtime.loaded()
    service = loaded.catalogue.service("building_permit")
    assert service is not None
    ref = store.submit(conn, loaded, "building_permit", {"plot_address": "Plot 12"}, None, datetime.now(UTC))
    current = (loaded.folder / service.process).read_bytes()
    # an older version of the process, with one more step on the way, recorded as the one it started on
    older = re.sub(rb'(<bpmn:startEvent id="(\w+)"[^>]*/>)',
                   rb'\1<bpmn:userTask id="counter_intake" name="Intake at the old counter"/>'
                   rb'<bpmn:sequenceFlow id="to_counter" sourceRef="\2" targetRef="counter_intake"/>', current, count=1)
    assert older != current
    with site.pg_admin("centre") as admin:
        version = admin.execute(
            "INSERT INTO process_versions (service_id, process_id, digest, bpmn) VALUES (%s, %s, %s, %s) RETURNING id",
            ("building_permit", "building_permit", hashlib.sha256(older).hexdigest(), older)).fetchone()
        assert version is not None
        admin.execute("UPDATE applications SET process_version_id = %s WHERE reference = %s", (version[0], ref))
    page = _track(Browser("en"), "en", ref, _code(ref))
    assert "Intake at the old counter" in page
    today = store.submit(conn, loaded, "building_permit", {"plot_address": "Plot 13"}, None, datetime.now(UTC))
    assert "Intake at the old counter" not in _track(Browser("en"), "en", today, _code(today))


def test_each_client_may_look_up_20_times_in_15_minutes(site: Box) -> None:
    """The per-client tracking throttle: 20 lookups from one address, then 429 with Retry-After and the reason in
    the page's language; another address is not held up; the address is stored only as an HMAC; once the window
    has passed the client may try again."""
    import hashlib
    import hmac

    from centre_web import runtime

    guesser = Browser("en", address="203.0.113.77")
    for _ in range(20):
        guesser.get("/en/track/")
        guesser.post("/en/track/", {"reference": references.display(references.new_reference()),
                                    "code": "ABCD2345"}, status=400)
    guesser.get("/en/track/")
    held = guesser.post("/en/track/", {"reference": references.display(references.new_reference()),
                                       "code": "ABCD2345"}, status=429)
    assert 0 < int(held["Retry-After"]) <= 900 and "Too many tries from this connection" in held.content.decode()
    other = Browser("ur", address="203.0.113.78")
    other.get("/ur/track/")
    other.post("/ur/track/", {"reference": references.display(references.new_reference()), "code": "ABCD2345"},
               status=400)
    keyed = hmac.new(runtime.tracking_key(), b"client:203.0.113.77", hashlib.sha256).hexdigest()
    with site.pg_admin("centre") as conn:
        stored = [r[0] for r in conn.execute("SELECT client FROM tracking_clients").fetchall()]
        assert keyed in stored and not any("203.0.113" in c for c in stored)
        conn.execute("UPDATE tracking_clients SET window_start = window_start - interval '16 minutes' "
                     "WHERE client = %s", (keyed,))
    guesser.get("/en/track/")
    guesser.post("/en/track/", {"reference": references.display(references.new_reference()), "code": "ABCD2345"},
                 status=400)
