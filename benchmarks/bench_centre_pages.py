"""The centre's citizen pages on a slow link (issue 14, point 6: "good on a slow link: at 400 kbit/s, first view
<= 3 s"), measured in a real browser: Debian's Chromium (JavaScript off, its cache off: every page fetches its
stylesheet again, as on a first visit) with the DevTools protocol's network emulation at 400 kbit/s each way and
a 400 ms round trip (`tests/integration/_browser.SLOW_LINK`), the pages served by gunicorn (as the role runs
them) from a real PostgreSQL 15.

A citizen's whole journey, in English (the trade licence) and in Urdu (the birth certificate): the services, the
service, each question, the check page, the reference (sent), the tracking form and the status page. For each
page: the bytes received (the page, its redirect after a form, its stylesheet) and the first view: from the
navigation's start (the click: a form's POST and its redirect included) to the load event (the document and
its stylesheet arrived and laid out), and to the first contentful paint; the first view is the later of the two
(Chromium paints just after the load event here); medians over the runs. Goal: first view <= 3 s; ratio = first
view / goal.

Run: .venv/bin/python benchmarks/bench_centre_pages.py [--runs N]"""

from __future__ import annotations

import argparse
import io
import statistics
import sys

from _common import ROOT  # also puts the checkout on sys.path (tests.conftest)

# the centre's code as the role ships it and the shared design beside it, as pyproject.toml gives them to pytest
sys.path[:0] = [str(ROOT / "roles" / "centre" / "files" / "app"), str(ROOT / "roles" / "app_common" / "files")]

from tests.integration._browser import SLOW_LINK, Chromium, missing  # noqa: E402
from tests.integration._centre import centre_database, setup_django  # noqa: E402
from tests.integration._centre_server import centre_server  # noqa: E402

GOAL_S = 3.0
PAGE_BUDGET = 100 * 1024
JOURNEYS = [
    ("en", "trade_licence", "Trade licence",
     [("business_name", "Ali Traders"), ("business_kind", "shop"), ("email", "ali@example.pk")]),
    ("ur", "birth_certificate", "پیدائش کا سرٹیفکیٹ",
     [("child_name", "عائشہ خان"), ("date_of_birth", "2024-03-31"), ("email", "khan@example.pk")]),
]


def _code(reference: str) -> str:
    from django.core.management import call_command

    out = io.StringIO()
    call_command("centre_issue_code", reference, stdout=out)
    return out.getvalue().strip()


def journey(chromium: Chromium, site: str, lang: str, service: str, name: str,
            answers: list[tuple[str, str]]) -> list[tuple[str, int, float, float]]:
    """One citizen's journey on the slow link: [(page, bytes, seconds to load, seconds to first paint)]."""
    page = chromium.page(javascript=False, locale=lang)
    meter = chromium.meter(page)
    chromium.slow_link(page)
    out: list[tuple[str, int, float, float]] = []

    def seen(label: str) -> None:
        load, paint = chromium.first_view(page)
        out.append((label, meter.total(), load, paint))
        meter.reset()

    def submit() -> None:
        page.locator("main form button[type=submit]").first.click()

    try:
        page.goto(f"{site}/{lang}/")
        seen("services")
        page.get_by_role("link", name=name, exact=True).click()
        seen("service")
        page.locator("main a.start").click()
        for qid, value in answers:
            seen(f"question {qid}")
            if (radio := page.locator(f'input[type=radio][value="{value}"]')).count():
                radio.check()
            else:
                page.locator("#answer").fill(value)
            submit()
        seen("check")
        submit()
        seen("sent")
        reference = page.locator(".reference").inner_text().strip()
        page.locator(".govuk-service-navigation nav a").nth(1).click()
        seen("track")
        page.locator("#reference").fill(reference)
        page.locator("#code").fill(_code(reference))
        submit()
        assert page.url.endswith(f"/{lang}/track/status/"), page.url
        seen("status")
    finally:
        page.context.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if problem := missing():
        sys.exit(f"error: {problem}")
    print(f"link: {SLOW_LINK['downloadThroughput'] * 8 / 1000:.0f} kbit/s down, "
          f"{SLOW_LINK['uploadThroughput'] * 8 / 1000:.0f} kbit/s up, {SLOW_LINK['latency']} ms round trip; "
          f"JavaScript off, cache off; median of {args.runs} runs")
    with centre_database("benchpages") as (box, root):
        setup_django(box, root)
        chromium = Chromium()
        try:
            print(f"browser: Chromium {chromium.version}")
            with centre_server(root) as site:
                for lang, service, name, answers in JOURNEYS:
                    runs = [journey(chromium, site, lang, service, name, answers) for _ in range(args.runs)]
                    print(f"\n{lang}: {service}")
                    print(f"  {'page':<24} {'bytes':>7} {'load s':>7} {'paint s':>8} {'view s':>7}  "
                          f"goal <= {GOAL_S:.0f} s, ratio")
                    for i, (label, *_rest) in enumerate(runs[0]):
                        size = int(statistics.median(r[i][1] for r in runs))
                        load = statistics.median(r[i][2] for r in runs)
                        paint = statistics.median(r[i][3] for r in runs)
                        view = statistics.median(max(r[i][2], r[i][3]) for r in runs)
                        flag = "" if view <= GOAL_S and size <= PAGE_BUDGET else "  OVER"
                        print(f"  {label:<24} {size:>7} {load:>7.2f} {paint:>8.2f} {view:>7.2f}  "
                              f"{view / GOAL_S:.2f}{flag}")
        finally:
            chromium.close()
            from centre_web import runtime

            runtime.connection().close()


if __name__ == "__main__":
    main()
