"""Real-browser checks, for any test of citizen pages (and the benchmark of the centre's pages): Debian's Chromium
driven by Playwright over the DevTools protocol, started once per pytest process and shared.

- `Chromium.page(javascript=False)`: a page in a fresh context (its own cookies), JavaScript off by default, the
  browser's cache off (every page is weighed as a first view) and a `Meter` counting the bytes received.
- `Chromium.axe(page)`: axe-core's WCAG 2.2 AA rules (`WCAG_TAGS`) on the page as it is, returns the violations.
  axe cannot run in a page without JavaScript (its timers never fire), so the page's HTML is served again, at the
  same address, to a page of a second context with JavaScript on and the content security policy bypassed: the
  same document and stylesheet (fetched from the server), the colours and layout computed by the same browser.
- `Meter.total()`: bytes received (headers and bodies, as the network saw them: `encodedDataLength`, redirects
  included) since the last `reset()`; `Meter.requests` the URLs asked for, `Meter.errors` what went wrong
  meanwhile (the browser's error log, e.g. a content-security-policy refusal; a sub-resource answered >= 400 or
  failed).
- `Chromium.slow_link(page)`: CDP `Network.emulateNetworkConditions` at `SLOW_LINK` (400 kbit/s each way, 400 ms
  round trip); `first_view_seconds(page, url)` loads a URL and returns the time until the load event (the
  document and its stylesheet arrived and laid out) and the first contentful paint.
- `Visit(chromium, shots, page, label)`: all of the above on each page a test reaches (`seen(name)`), and the
  page's reflow at 320 CSS px (`reflow_width`: WCAG 1.4.10, which axe does not check), asserted together at the
  end (`check()`).
- `follow(page, locator)`: a click that leads to another page, waiting for that page to load.
- `Shots`: screenshots (full page) kept as test artifacts in `$CENTRE_SHOTS`, or a fresh temporary directory;
  the directory is printed.

Nothing is downloaded: the browser is `/usr/bin/chromium` (scripts/install-system.sh), axe-core is the copy
`make install` put in `.cache/` (not committed). Playwright starts Chromium with a fresh, temporary profile
(its own user-data-dir, removed at the end)."""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE_VERSION = "4.14.1"  # keep in step with the Makefile's AXE_VERSION
AXE_JS = REPO / ".cache" / f"axe-core-{AXE_VERSION}" / "node_modules" / "axe-core" / "axe.min.js"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")
SLOW_LINK = {"offline": False, "latency": 400, "downloadThroughput": 400_000 / 8, "uploadThroughput": 400_000 / 8}
VIEWPORT: ViewportSize = {"width": 1024, "height": 768}
NARROW: ViewportSize = {"width": 320, "height": 640}


def missing() -> str | None:
    """What is missing to run a browser test, in one line; None when all is there."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: run `make install` (Debian's chromium, scripts/install-system.sh)"
    if not AXE_JS.exists():
        return f"{AXE_JS.relative_to(REPO)} is missing: run `make install` (axe-core {AXE_VERSION} from npm)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is missing: run `make install`"
    return None


class Meter:
    """Bytes received by one page, from the DevTools protocol's network events."""

    def __init__(self, page: Any) -> None:
        self.cdp = page.context.new_cdp_session(page)
        self.received = 0
        self.requests: list[str] = []
        self.errors: list[str] = []  # the browser's errors and failed or refused sub-resources (see `_answered`)
        self.cdp.on("Network.requestWillBeSent", self._sent)
        self.cdp.on("Network.loadingFinished", self._finished)
        self.cdp.on("Network.responseReceived", self._answered)
        self.cdp.on("Network.loadingFailed", self._failed)
        self.cdp.on("Log.entryAdded", self._logged)
        self.cdp.send("Network.enable")
        self.cdp.send("Log.enable")
        self.cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})

    def _sent(self, event: dict[str, Any]) -> None:
        self.requests.append(event["request"]["url"])
        if redirect := event.get("redirectResponse"):  # a 302 after a form: its bytes count too
            self.received += int(redirect.get("encodedDataLength", 0))

    def _finished(self, event: dict[str, Any]) -> None:
        self.received += int(event["encodedDataLength"])

    def _answered(self, event: dict[str, Any]) -> None:
        if event["type"] != "Document" and int(event["response"]["status"]) >= 400:  # a missing stylesheet, icon
            self.errors.append(f"{event['response']['status']} {event['response']['url']}")

    def _failed(self, event: dict[str, Any]) -> None:
        self.errors.append(f"failed: {event.get('errorText')} {event.get('blockedReason', '')}".strip())

    def _logged(self, event: dict[str, Any]) -> None:  # the browser's own errors: a CSP violation, a bad request
        if event["entry"]["level"] == "error" and event["entry"]["source"] != "network":  # those: `_answered`
            self.errors.append(f"{event['entry']['source']}: {event['entry']['text']}")

    def reset(self) -> None:
        self.cdp.send("Runtime.evaluate", {"expression": "0"})  # a round trip: earlier events are in
        self.received = 0
        self.requests = []
        self.errors = []

    def total(self) -> int:
        self.cdp.send("Runtime.evaluate", {"expression": "0"})
        return self.received


def follow(page: Any, target: Any) -> None:
    """Click a link or a form's button and wait for the page it leads to to load. Playwright's click returns once
    the navigation has committed: the address is the new one, but on a loaded machine the document may not be
    parsed yet (CI, stop 31: a status page's steps not there yet right after the address had changed)."""
    with page.expect_navigation(wait_until="load"):
        target.click()


class Chromium:
    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self.browser = self._playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        self.version = self.browser.version
        self._axe_source = AXE_JS.read_text()
        # (a box's HTTPS page's stylesheet comes from a server the box CA vouches for, which this browser does not know)
        self._axe_context = self.browser.new_context(java_script_enabled=True, bypass_csp=True, viewport=VIEWPORT,
                                                     ignore_https_errors=True)
        self._axe_page = self._axe_context.new_page()
        self.meters: dict[int, Meter] = {}

    def page(self, *, javascript: bool = False, locale: str = "en", box_tls: bool = False) -> Any:
        """A page in a context of its own (fresh cookies), JavaScript off unless asked, its bytes metered. `box_tls`:
        the page visits a box's HTTPS servers, whose CA this browser does not hold (the tests' HTTP clients check
        it; here certificate errors are ignored)."""
        context = self.browser.new_context(java_script_enabled=javascript, viewport=VIEWPORT, locale=locale,
                                           extra_http_headers={"Accept-Language": locale},
                                           ignore_https_errors=box_tls)
        context.set_default_timeout(20_000)
        page = context.new_page()
        self.meters[id(page)] = Meter(page)
        return page

    def meter(self, page: Any) -> Meter:
        return self.meters[id(page)]

    def axe(self, page: Any) -> list[dict[str, Any]]:
        """axe-core's violations of WCAG 2.2 AA on the page's current document (see the module's note)."""
        return self.axe_html(page.url, page.content())

    def axe_html(self, url: str, html: str) -> list[dict[str, Any]]:
        """axe-core's violations of WCAG 2.2 AA on `html` served at `url` (its stylesheet from the server)."""
        axe_page = self._axe_page
        axe_page.route(url, lambda route: route.fulfill(status=200, content_type="text/html; charset=utf-8",
                                                         body=html))
        try:
            axe_page.goto(url, wait_until="load")
        finally:
            axe_page.unroute(url)
        axe_page.evaluate(self._axe_source)
        result: dict[str, Any] = axe_page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
            list(WCAG_TAGS))
        return list(result["violations"])

    def slow_link(self, page: Any) -> None:
        self.meter(page).cdp.send("Network.emulateNetworkConditions", SLOW_LINK)

    def first_view_seconds(self, page: Any, url: str) -> tuple[float, float]:
        """`first_view` of a fresh load of `url`."""
        page.goto(url, wait_until="load")
        return self.first_view(page)

    def first_view(self, page: Any) -> tuple[float, float]:
        """(seconds to the load event, seconds to the first contentful paint) of the page's current document,
        from its navigation start (a form's POST and its redirect included), read from the page's own navigation
        and paint timings after the load (reading them runs no script of the page: it works with JavaScript
        off)."""
        page.wait_for_load_state("load")
        read = """() => {
            const nav = performance.getEntriesByType('navigation')[0];
            const fcp = performance.getEntriesByName('first-contentful-paint')[0];
            return [nav ? nav.loadEventStart : -1, fcp ? fcp.startTime : -1];
        }"""
        load, paint = page.evaluate(read)
        deadline = time.monotonic() + 10
        while (load <= 0 or paint < 0) and time.monotonic() < deadline:  # painted (or ended) after the read
            time.sleep(0.05)
            load, paint = page.evaluate(read)
        return load / 1000, paint / 1000

    def close(self) -> None:
        try:
            self.browser.close()
        finally:
            self._playwright.stop()


def describe(violations: list[dict[str, Any]]) -> str:
    """axe's violations in a few lines: rule, impact, help and the first offending elements."""
    lines = []
    for v in violations:
        targets = ", ".join(" ".join(n["target"]) if isinstance(n["target"], list) else str(n["target"])
                            for n in v["nodes"][:3])
        lines.append(f"{v['id']} ({v.get('impact')}): {v['help']} [{len(v['nodes'])}x: {targets}]")
    return "\n".join(lines)


class Shots:
    """Numbered full-page screenshots in one directory: $CENTRE_SHOTS if set, else a new temporary one."""

    def __init__(self) -> None:
        given = os.environ.get("CENTRE_SHOTS")
        self.folder = Path(given) if given else Path(tempfile.mkdtemp(prefix="centre-shots-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.taken = 0

    def take(self, page: Any, name: str) -> Path:
        self.taken += 1
        path = self.folder / f"{self.taken:02d}-{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


def reflow_width(page: Any) -> int:
    """The page's width, in CSS pixels, in a window `NARROW` wide (WCAG 1.4.10: content reflows at 320 px without
    scrolling sideways); the viewport is put back after. A screenshot of the narrow page is not kept."""
    size = page.viewport_size
    page.set_viewport_size(NARROW)
    try:
        return int(page.evaluate("document.documentElement.scrollWidth"))
    finally:
        page.set_viewport_size(size)


class Visit:
    """The checks of every page a test reaches: axe (no WCAG 2.2 AA violation), the bytes received (at most
    `limit`), no error in the browser's log, a screenshot. `seen(name)` after each page; problems are gathered and
    asserted by `check()` at the end (every page is looked at and photographed even when an early one fails)."""

    def __init__(self, chromium: Chromium, shots: Shots, page: Any, label: str, limit: int = 100 * 1024,
                 weights: list[tuple[str, int]] | None = None) -> None:
        self.chromium, self.shots, self.page, self.label, self.limit = chromium, shots, page, label, limit
        self.weights = weights if weights is not None else []
        self.problems: list[str] = []
        self.meter = chromium.meter(page)

    def seen(self, name: str) -> None:
        self.page.wait_for_load_state("load")
        size = self.meter.total()
        name = f"{self.label}-{name}"
        self.weights.append((name, size))
        self.shots.take(self.page, name)
        if size > self.limit:
            self.problems.append(f"{name}: {size} bytes received, over {self.limit}: {self.meter.requests}")
        if self.meter.errors:
            self.problems.append(f"{name}: the browser reported {self.meter.errors}")
        if (wide := reflow_width(self.page)) > NARROW["width"]:
            self.problems.append(f"{name}: {wide} CSS px wide at {NARROW['width']} (WCAG 1.4.10 reflow)")
        if violations := self.chromium.axe(self.page):
            self.problems.append(f"{name} ({self.page.url}):\n{describe(violations)}")
        self.meter.reset()

    def check(self) -> None:
        assert not self.problems, "\n".join(self.problems)


_SHARED: Chromium | None = None


def shared_chromium(config: pytest.Config | None = None) -> Chromium:
    """The process's one Chromium, started on first use; stopped when pytest ends (given its config)."""
    global _SHARED
    if _SHARED is None:
        if problem := missing():
            pytest.fail(problem, pytrace=False)
        _SHARED = Chromium()
        if config is not None:
            config.add_cleanup(_close_shared)
    return _SHARED


def _close_shared() -> None:
    global _SHARED
    if _SHARED is not None:
        _SHARED.close()
        _SHARED = None


def say(config: pytest.Config, line: str) -> None:
    """A line on pytest's terminal even without -s (the directory of the artifacts)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:  # a pytest-xdist worker: its controller shows the captured output
        print(line, file=sys.stderr)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)


@pytest.fixture(scope="session")
def chromium(request: pytest.FixtureRequest) -> Chromium:
    """One Chromium for the whole pytest process (each test module importing this fixture shares it)."""
    return shared_chromium(request.config)


@pytest.fixture(scope="session")
def shots(request: pytest.FixtureRequest) -> Shots:
    kept = Shots()
    say(request.config, f"\nbrowser screenshots: {kept.folder}")
    return kept
