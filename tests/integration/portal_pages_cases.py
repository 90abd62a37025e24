"""The cases of tests/integration/test_portal_pages.py, which runs this file in a pytest of its own (Django takes
one project's settings per process, and the centre's in-process tests may have taken it in the same worker; the
file is not named test_*.py, so that only that runner collects it).

The portal's citizen pages on the shared design, in-process (a throwaway PostgreSQL, Django's test client):
the agency's name and colour, English and Urdu (right to left), the news index, the page budget (<= 100 KB with
its stylesheet and images), no script, and first content that a re-deploy leaves alone."""

from __future__ import annotations

import datetime
import re
import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest

from tests.integration._portal import DESIGN_PARENT, portal_database, setup_django

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NAME, COLOUR = "Health Department", "#00703C"
BUDGET = 100 * 1024


class Mailbox:
    """aiosmtpd handler: every message the local SMTP server receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        self.messages.append(message_from_bytes(envelope.content, policy=default_policy))  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture(scope="module")
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:  # a free port (aiosmtpd checks its server by connecting to the port given)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def portal(mailbox: tuple[Mailbox, int]) -> Iterator[Path]:
    with portal_database("portal-pages") as (box, root):
        setup_django(box, root, NAME, COLOUR, smtp_port=mailbox[1])
        yield root


def client(**headers: str) -> Any:
    from django.test import Client

    return Client(HTTP_HOST="portal.test", headers=headers)


def get(path: str, **headers: str) -> Any:
    return client(**headers).get(path, secure=True)


def test_root_follows_the_browsers_language(portal: Path) -> None:
    plain = get("/")
    assert plain.status_code == 200 and '<html lang="en" dir="ltr"' in plain.content.decode()
    assert "Accept-Language" in plain.headers["Vary"]
    resp = get("/", **{"Accept-Language": "ur-PK,ur;q=0.9,en;q=0.8"})
    assert resp.status_code == 200 and '<html lang="ur" dir="rtl"' in resp.content.decode()
    assert resp.headers["Content-Language"] == "ur"
    assert get("/", **{"Accept-Language": "fr, en;q=0.5, ur;q=0.7"}).headers["Content-Language"] == "ur"
    assert get("/", **{"Accept-Language": "fr"}).headers["Content-Language"] == "en"


def test_english_home_has_the_agency_name_colour_and_first_content(portal: Path) -> None:
    resp = get("/en/")
    html = resp.content.decode()
    assert resp.status_code == 200 and resp.headers["Content-Language"] == "en"
    assert '<html lang="en" dir="ltr"' in html
    assert f"<h1>{NAME}</h1>" in html
    assert '<link rel="stylesheet" href="/brand.css">' in html and "<style" not in html
    brand = get("/brand.css")
    assert brand.headers["Content-Type"].startswith("text/css")
    assert brand.content.decode().strip() == f":root{{--govuk-brand-colour:{COLOUR.lower()}}}"
    assert "Welcome to the online services of Health Department" in html
    assert "Our new website" in html  # the first news item
    assert 'href="/ur/"' in html and 'lang="ur"' in html  # the language switch


def test_urdu_pages_are_right_to_left(portal: Path) -> None:
    for path in ("/ur/", "/ur/news/", "/ur/news/our-new-website/", "/ur/contact/"):
        resp = get(path)
        html = resp.content.decode()
        assert resp.status_code == 200, path
        assert '<html lang="ur" dir="rtl"' in html, path
        assert NAME in html and 'href="/brand.css"' in html
    assert "خوش آمدید" in get("/ur/").content.decode()
    assert "مرکزی مواد پر جائیں" in get("/ur/news/").content.decode()  # the skip link in Urdu


def test_news_index_lists_published_news_only(portal: Path) -> None:
    from govportal.models import NewsIndexPage, NewsPage

    index = NewsIndexPage.objects.get(slug="news", url_path__startswith="/root/en/")
    published = index.add_child(instance=NewsPage(title="Clinic hours extended", slug="clinic-hours",
                                                  date=datetime.date(2026, 12, 1), body="<p>Until 8 pm.</p>"))
    published.save_revision().publish()
    draft = NewsPage(title="Secret draft", slug="draft", live=False, date=datetime.date(2026, 12, 2))
    index.add_child(instance=draft)
    html = get("/en/news/").content.decode()
    assert "Clinic hours extended" in html and 'href="/en/news/clinic-hours/"' in html
    assert "Secret draft" not in html
    assert get("/en/news/draft/").status_code == 404
    page = get("/en/news/clinic-hours/").content.decode()
    assert "Until 8 pm." in page and "2026-12-01" in page


def _weight(path: str, static_root: Path) -> tuple[int, dict[str, int]]:
    """Bytes of the page and of every stylesheet and image it links (what a first view transfers, uncompressed)."""
    html = get(path).content
    parts = {path: len(html)}
    parts["/brand.css"] = len(get("/brand.css").content)
    for ref in re.findall(rb'(?:href|src)="(/static/[^"]+)"', html):
        rel = ref.decode().removeprefix("/static/")
        if rel.startswith("brand/"):  # the agency's logo: the role writes it (size-limited by the spec check)
            continue
        parts[ref.decode()] = (static_root / rel).stat().st_size
    return sum(parts.values()), parts


@pytest.mark.parametrize("path", ["/en/", "/ur/", "/en/news/", "/en/news/our-new-website/", "/en/about/",
                                  "/en/contact/", "/complaints/", "/en/newsletter/", "/ur/newsletter/"])
def test_every_citizen_page_is_within_budget_and_needs_no_script(portal: Path, path: str) -> None:
    total, parts = _weight(path, portal / "static")
    logo_limit = 16 * 1024  # the spec refuses a larger logo (govcloud_platform.spec.models.Brand)
    assert total + logo_limit <= BUDGET, parts
    html = get(path).content.decode()
    assert "<script" not in html.lower(), path
    assert "design/govcloud.min.css" in html


def test_the_stylesheet_is_the_shared_one_and_fetches_nothing(portal: Path) -> None:
    css = (DESIGN_PARENT / "design" / "static" / "design" / "govcloud.min.css").read_text()
    assert (portal / "static" / "design" / "govcloud.min.css").read_text() == css
    assert "url(" not in css  # no font, image or crown fetched by browsers
    assert "GDS Transport" not in css and "system-ui" in css
    assert '[dir="rtl"]' in css or "[dir=rtl]" in css


def test_redeploy_keeps_staff_edits(portal: Path) -> None:
    from django.core.management import call_command
    from govportal.models import HomePage

    home = HomePage.objects.get(slug="en")
    home.intro = "<p>Edited by staff.</p>"
    home.save_revision().publish()
    out = __import__("io").StringIO()
    call_command("portal_converge", stdout=out)
    assert out.getvalue().strip() == "unchanged"
    assert "Edited by staff." in get("/en/").content.decode()


def test_forms_and_health_still_answer(portal: Path) -> None:
    assert get("/healthz").content == b"ok\n"
    html = get("/complaints/").content.decode()
    assert 'class="govuk-input"' in html and 'class="govuk-button"' in html
    assert get("/contact/").headers["location"] == "/en/contact/"


def _link(message: EmailMessage, kind: str) -> str:
    body = message.get_content()
    found = re.search(rf"https://portal\.test(/(?:en|ur)/newsletter/{kind}/[A-Za-z0-9_-]+/)", body)
    assert found, body
    return found.group(1)


def test_newsletter_double_opt_in_then_an_issue_with_unsubscribe(portal: Path, mailbox: tuple[Any, int]) -> None:
    from govportal.models import NewsPage, Subscriber

    box, _ = mailbox
    box.messages.clear()
    c = client()
    page = c.get("/ur/newsletter/", secure=True).content.decode()
    assert '<html lang="ur" dir="rtl"' in page and "خبرنامہ" in page
    bad = c.post("/ur/newsletter/", {"email": "not-an-address"}, secure=True).content.decode()
    assert "govuk-error-summary" in bad and not box.messages
    resp = c.post("/ur/newsletter/", {"email": "Citizen@Example.org"}, secure=True)
    assert resp.status_code == 200 and "اپنی ای میل دیکھیں" in resp.content.decode()
    assert len(box.messages) == 1 and box.messages[0]["To"] == "citizen@example.org"
    sub = Subscriber.objects.get(email="citizen@example.org")
    assert sub.confirmed_at is None and sub.language == "ur"
    # Asking again at once sends nothing more and answers the same (no mail bombing, no enumeration).
    again = c.post("/ur/newsletter/", {"email": "citizen@example.org"}, secure=True)
    assert again.content == resp.content and len(box.messages) == 1
    link = _link(box.messages[0], "confirm")
    assert c.get(link, secure=True).status_code == 200  # a GET (a mail scanner) confirms nothing
    assert Subscriber.objects.get(pk=sub.pk).confirmed_at is None
    assert "آپ کی رکنیت ہو گئی" in c.post(link, secure=True).content.decode()
    assert Subscriber.objects.get(pk=sub.pk).confirmed_at is not None
    # A pending subscriber in English gets nothing from an Urdu issue, nor from the English one (not confirmed).
    c.post("/en/newsletter/", {"email": "pending@example.org"}, secure=True)
    box.messages.clear()

    from govportal import newsletter
    from govportal.i18n import STRINGS

    news = NewsPage.objects.get(slug="our-new-website", url_path__startswith="/root/ur/")
    assert newsletter.send_issue(news, STRINGS["ur"]) == 1
    assert newsletter.send_issue(news, STRINGS["ur"]) == 0  # once only
    assert [m["To"] for m in box.messages] == ["citizen@example.org"]
    assert news.title in box.messages[0]["Subject"]
    unsubscribe = _link(box.messages[0], "unsubscribe")
    forged = re.sub(r"-[0-9a-f]{8}", "-00000000", unsubscribe, count=1)
    assert "یہ لنک کام نہیں کرتا" in c.post(forged, secure=True).content.decode()
    assert Subscriber.objects.filter(email="citizen@example.org").exists()
    c.post(unsubscribe, secure=True)
    assert not Subscriber.objects.filter(email="citizen@example.org").exists()
    assert "یہ لنک کام نہیں کرتا" in c.post(unsubscribe, secure=True).content.decode()


def test_staff_newsletter_page_needs_a_sign_in(portal: Path) -> None:
    resp = get("/staff/newsletter/")
    assert resp.status_code == 302 and "/oidc/authenticate/" in resp.headers["location"]


def test_a_portal_of_the_earlier_layout_is_moved_under_the_language_root(portal: Path) -> None:
    """Last of the module: it replaces the tree. An earlier portal had its home page at the site's root (no
    languages); the bootstrap keeps that home and its pages as the English tree and adds the Urdu one."""
    from django.core.management import call_command
    from govportal.models import ContactPage, HomePage, LanguageRootPage
    from wagtail.models import Page, Site

    LanguageRootPage.objects.get().delete()
    wagtail_root = Page.get_first_root_node()
    old = wagtail_root.add_child(instance=HomePage(title=NAME, slug="home", intro="<p>Our old welcome.</p>"))
    old.add_child(instance=ContactPage(title="Contact", slug="contact", phone="+1 555 0100"))
    Site.objects.update(root_page=old)
    out = __import__("io").StringIO()
    call_command("portal_bootstrap", stdout=out)
    assert out.getvalue().strip() == "changed"
    en = get("/en/").content.decode()
    assert "Our old welcome." in en and "Our new website" in en  # kept, and what it lacked added
    assert "+1 555 0100" in get("/en/contact/").content.decode()
    assert get("/contact/").headers["location"] == "/en/contact/"
    assert '<html lang="ur" dir="rtl"' in get("/ur/").content.decode()
    assert HomePage.objects.get(pk=old.pk).slug == "en"
