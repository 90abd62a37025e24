"""The centre's citizen pages in a real browser (Debian's Chromium, JavaScript off), served by gunicorn over HTTP
on 127.0.0.1 from a real PostgreSQL: applying for the trade licence in English and the birth certificate in Urdu
(right to left, the layout mirrored), the reference shown, tracking with a one-time code, the status page with
"you are here". On every page visited: no WCAG 2.2 AA violation found by axe-core, at most 100 KB received (the
page and its stylesheet, the browser's cache off), no error in the browser's log (a content-security-policy
refusal, a missing resource), reflow at 320 CSS px, and a screenshot kept (the directory is printed); the skip
link is the first Tab stop. Timings on a
slow link are measured by benchmarks/bench_centre_pages.py, not asserted here."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration._browser import Chromium, Shots, Visit, follow, reflow_width, say
from tests.integration._centre import centre_database, setup_django
from tests.integration._centre_server import centre_server

pytestmark = [pytest.mark.integration]
PAGE_LIMIT = 100 * 1024
WEIGHTS: list[tuple[str, int]] = []


@pytest.fixture(scope="module")
def site(request: pytest.FixtureRequest) -> Iterator[str]:
    """The centre's base URL: PostgreSQL with its database, Django set up in this process (to issue tracking
    codes) and gunicorn serving the pages from the same env file."""
    with centre_database("centrebrowser") as (box, root):
        # an SMTP login (its server never reached: nothing here runs the outbox) shows "send me a code"'s form
        setup_django(box, root, {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": "9", "SMTP_USERNAME": "ag-health",
                                 "SMTP_PASSWORD": "unused", "SMTP_FROM": "noreply@health.gov.example"})
        try:
            with centre_server(root) as base:
                yield base
        finally:
            from centre_web import runtime

            runtime.connection().close()
            if WEIGHTS:
                say(request.config, "\npage weights (bytes received, cache off): "
                    + ", ".join(f"{name} {size}" for name, size in WEIGHTS))


def _code(reference: str) -> str:
    from django.core.management import call_command

    out = io.StringIO()
    call_command("centre_issue_code", reference, stdout=out)
    return out.getvalue().strip()


def _submit(page: Any) -> None:
    """The form's first button (Continue, Accept and send, Show the status), as a keyboard user would press it."""
    follow(page, page.locator("main form button[type=submit]").first)


def _layout(page: Any) -> dict[str, Any]:
    """Where the header's agency name, the menu's first link and the heading's text are (synchronous DOM reads:
    no page script runs)."""
    return page.evaluate("""() => {
        const box = e => { const r = e.getBoundingClientRect(); return {left: r.left, right: r.right}; };
        const h1 = document.querySelector('main h1'), range = document.createRange();
        range.selectNodeContents(h1);
        const main = document.querySelector('main'), style = getComputedStyle(main);
        return {dir: getComputedStyle(document.body).direction,
                brand: box(document.querySelector('.govuk-header__homepage-link')),
                nav: box(document.querySelector('.govuk-service-navigation__link')),
                text: box(range), start: main.getBoundingClientRect().left + parseFloat(style.paddingLeft),
                end: main.getBoundingClientRect().right - parseFloat(style.paddingRight)};
    }""")


def _mirrored(page: Any, rtl: bool) -> None:
    at = _layout(page)
    assert at["dir"] == ("rtl" if rtl else "ltr"), at
    # the shared design: the agency's name above the menu (service navigation), both starting where the page's
    # text starts: at the right edge in Urdu, the left in English
    if rtl:
        assert abs(at["brand"]["right"] - at["end"]) < 16 and abs(at["nav"]["right"] - at["end"]) < 16, at
        assert abs(at["text"]["right"] - at["end"]) < 2 and at["text"]["left"] > at["start"] + 8, at
    else:
        assert abs(at["brand"]["left"] - at["start"]) < 16 and abs(at["nav"]["left"] - at["start"]) < 16, at
        assert abs(at["text"]["left"] - at["start"]) < 2 and at["text"]["right"] < at["end"] - 8, at


JOURNEYS = [
    ("en", "trade_licence", "Trade licence",
     [("business_name", "Ali Traders"), ("business_kind", "shop"), ("email", "ali@example.pk")],
     "Review of the application", "You are here"),
    ("ur", "birth_certificate", "پیدائش کا سرٹیفکیٹ",
     [("child_name", "عائشہ خان"), ("date_of_birth", "2024-03-31"), ("email", "khan@example.pk")],
     "اندراج کی تصدیق", "آپ یہاں ہیں"),
]


@pytest.mark.parametrize(("lang", "service", "name", "answers", "first_step", "here_words"), JOURNEYS,
                         ids=["en-trade-licence", "ur-birth-certificate"])
def test_apply_and_track_without_javascript(site: str, chromium: Chromium, shots: Shots, lang: str, service: str,
                                            name: str, answers: list[tuple[str, str]], first_step: str,
                                            here_words: str) -> None:
    page = chromium.page(javascript=False, locale=lang)
    visit = Visit(chromium, shots, page, lang, limit=PAGE_LIMIT, weights=WEIGHTS)
    rtl = lang == "ur"
    try:
        page.goto(f"{site}/")  # the browser's language chooses
        assert page.url == f"{site}/{lang}/"
        assert page.locator("html").get_attribute("dir") == ("rtl" if rtl else "ltr")
        assert page.locator("html").get_attribute("lang") == lang
        visit.seen("services")
        _mirrored(page, rtl)
        page.keyboard.press("Tab")  # the first stop: the skip link, shown when focused, to the main content
        skip = page.locator("a.govuk-skip-link")
        assert skip.evaluate("e => e === document.activeElement") and skip.is_visible()
        box = skip.bounding_box()
        assert box is not None and 0 <= box["x"] and box["x"] + box["width"] <= 1024, box
        page.keyboard.press("Enter")  # a same-page jump: on a loaded machine the URL may change a moment later
        deadline = time.monotonic() + 5
        while not page.url.endswith("#main-content") and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        assert page.url.endswith("#main-content"), page.url

        follow(page, page.get_by_role("link", name=name, exact=True))
        visit.seen("service")
        follow(page, page.locator("main a.start"))
        visit.seen(f"question-{answers[0][0]}")
        _submit(page)  # nothing typed: the error summary, then the same question again
        assert page.locator(".govuk-error-summary").count() == 1
        visit.seen("question-error")
        for i, (qid, value) in enumerate(answers):
            assert page.url.endswith(f"/{lang}/services/{service}/apply/{qid}/"), page.url
            if i:
                visit.seen(f"question-{qid}")
            if (radio := page.locator(f'input[type=radio][value="{value}"]')).count():
                radio.check()
            else:
                page.locator("#answer").fill(value)
            _submit(page)
        assert page.url.endswith(f"/{lang}/services/{service}/check/")
        assert answers[0][1] in page.locator("dl.summary").inner_text()
        visit.seen("check")
        _mirrored(page, rtl)
        _submit(page)

        assert page.url.endswith(f"/{lang}/services/{service}/sent/")
        reference = page.locator(".reference").inner_text().strip()
        assert len(reference) == 14 and page.locator(".reference").get_attribute("dir") == "ltr"
        visit.seen("sent")

        follow(page, page.locator(".govuk-service-navigation nav a").nth(1))  # the menu's "track" link
        assert page.url.endswith(f"/{lang}/track/")
        visit.seen("track")
        page.locator("#reference").fill(reference.lower())
        page.locator("#code").fill(_code(reference))
        _submit(page)

        assert page.url.endswith(f"/{lang}/track/status/")
        here = page.locator('ol.steps li[aria-current="step"]')
        assert here.count() == 1 and first_step in here.inner_text() and here_words in here.inner_text()
        assert reference in page.locator("main").inner_text()
        visit.seen("status")
        _mirrored(page, rtl)
    finally:
        page.context.close()
    visit.check()


def test_the_pages_context_runs_no_javascript(site: str, chromium: Chromium) -> None:
    """The helper's JavaScript-off page really runs no page script (the journey above relies on it)."""
    page = chromium.page(javascript=False)
    try:
        page.goto("data:text/html,<title>before</title><script>document.title='after'</script>")
        assert page.title() == "before"
    finally:
        page.context.close()


def test_axe_finds_what_it_should(site: str, chromium: Chromium) -> None:
    """The axe check is not vacuous: the services page with its language taken away, an image without a text,
    a field without a label and grey text too faint on white is refused, each by its WCAG rule."""
    page = chromium.page(javascript=False)
    try:
        page.goto(f"{site}/en/")
        html = page.content()
    finally:
        page.context.close()
    assert chromium.axe_html(f"{site}/en/", html) == []
    spoilt = (html.replace('<html lang="en" dir="ltr" class="govuk-template">', '<html class="govuk-template">')
              .replace("</main>", '<img src="/centre.css"><input name="x"><p style="color:#bbb">faint</p></main>'))
    found = {v["id"] for v in chromium.axe_html(f"{site}/en/", spoilt)}
    assert {"html-has-lang", "image-alt", "label", "color-contrast"} <= found, found


def test_reflow_is_measured(chromium: Chromium) -> None:
    """`reflow_width` sees a page that would scroll sideways at 320 px, and puts the window back."""
    page = chromium.page(javascript=False)
    try:
        page.goto("data:text/html,<meta name=viewport content='width=device-width'><p>fits</p>")
        assert reflow_width(page) == 320
        page.goto("data:text/html,<meta name=viewport content='width=device-width'><div style='width:600px'>x</div>")
        assert reflow_width(page) >= 600 and page.viewport_size == {"width": 1024, "height": 768}
    finally:
        page.context.close()


@pytest.mark.parametrize("lang", ["en", "ur"])
def test_save_resume_and_the_not_found_pages(site: str, chromium: Chromium, shots: Shots, lang: str) -> None:
    """"Save and come back later": the saved page with its link, the link opened in another browser (a fresh
    context) going on at the next question; an unknown link and an unknown page: the same checks on each."""
    page = chromium.page(javascript=False, locale=lang)
    other = chromium.page(javascript=False, locale=lang)
    visit, later = (Visit(chromium, shots, p, f"{lang}-{n}", limit=PAGE_LIMIT, weights=WEIGHTS)
                    for p, n in ((page, "save"), (other, "resume")))
    try:
        page.goto(f"{site}/{lang}/services/trade_licence/apply/business_name/")
        visit.meter.reset()
        page.locator("#answer").fill("Ali Traders")
        follow(page, page.locator("main form button[name=save]"))
        assert page.url.endswith(f"/{lang}/services/trade_licence/saved/")
        link = page.locator("a.saved-link").inner_text().strip()
        assert link.startswith(f"https://centre.test/{lang}/resume/"), link
        visit.seen("saved")
        other.goto(site + link.removeprefix("https://centre.test"))
        assert other.url.endswith(f"/{lang}/services/trade_licence/apply/business_kind/"), other.url
        later.seen("question")
        other.goto(f"{site}/{lang}/resume/{'x' * 43}/")
        assert other.locator("h1").count() == 1
        later.seen("gone")
        other.goto(f"{site}/{lang}/no-such-page/")
        later.seen("not-found")
    finally:
        page.context.close()
        other.context.close()
    visit.check()
    later.check()


@pytest.mark.parametrize("lang", ["en", "ur"])
def test_send_me_a_code(site: str, chromium: Chromium, shots: Shots, lang: str) -> None:
    """"Send me a code" (notify.py), reached from the tracking page's link: the form, a mistyped reference
    (the error summary), then the answer that is the same for every reference; the same checks on each."""
    page = chromium.page(javascript=False, locale=lang)
    visit = Visit(chromium, shots, page, f"{lang}-code", limit=PAGE_LIMIT, weights=WEIGHTS)
    try:
        page.goto(f"{site}/{lang}/track/")
        visit.meter.reset()
        follow(page, page.locator('main a[href$="/track/code/"]'))
        assert page.url.endswith(f"/{lang}/track/code/")
        visit.seen("send-code")
        page.locator("#reference").fill("not a reference")
        _submit(page)
        assert page.locator(".govuk-error-summary").count() == 1 and page.locator("#reference-error").count() == 1
        visit.seen("send-code-error")
        page.locator("#reference").fill("2H9N-DNJ3-DBWV")
        _submit(page)
        assert page.url.endswith(f"/{lang}/track/code/") and page.locator('[role="status"]').count() == 1
        visit.seen("send-code-sent")
    finally:
        page.context.close()
    visit.check()
