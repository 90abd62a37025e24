"""Create the agency's site and its first content once; print "changed" only when something was created, so that
the Ansible task can report changed=0 on a second deploy. Content that exists is never overwritten: staff own it
in Wagtail's admin. A portal of the earlier layout (its home page at the site's root) is moved under the language
root as the English home, with its pages."""

import datetime

from django.conf import settings
from django.core.management.base import BaseCommand
from wagtail.models import Page, Site

from govportal.models import ContactPage, ContentPage, HomePage, LanguageRootPage, NewsIndexPage, NewsPage

FIRST_CONTENT = {
    "en": {"intro": "<p>Welcome to the online services of {name}. Here you find our news, how to reach us, and "
                    "where to send a complaint or a suggestion.</p>",
           "about": ("About us", "Who we are and what we do.",
                     "<p>{name} serves the public. This page is yours to edit in the portal's admin.</p>"),
           "news": ("News", "<p>The latest news from {name}.</p>"),
           "first": ("Our new website", "<p>{name} opens its new website. Tell us what you think through the "
                                        "complaints and suggestions form.</p>"),
           "contact": "Contact"},
    "ur": {"intro": "<p>{name} کی آن لائن خدمات میں خوش آمدید۔ یہاں ہماری خبریں، ہم سے رابطے کا طریقہ، اور شکایت یا "
                    "تجویز بھیجنے کی جگہ موجود ہے۔</p>",
           "about": ("ہمارے بارے میں", "ہم کون ہیں اور کیا کرتے ہیں۔",
                     "<p>{name} عوام کی خدمت کرتا ہے۔</p>"),
           "news": ("خبریں", "<p>{name} کی تازہ ترین خبریں۔</p>"),
           "first": ("ہماری نئی ویب سائٹ", "<p>{name} اپنی نئی ویب سائٹ کا آغاز کر رہا ہے۔</p>"),
           "contact": "رابطہ"},
}


def seed_language(root: Page, lang: str, existing: HomePage | None = None) -> HomePage:
    """The home page of `lang` under `root` with its first content (an about page, a news index with a first news
    page, a contact page); with `existing`, only what that home lacks."""
    name, words = settings.AGENCY_NAME, FIRST_CONTENT[lang]
    home = existing or root.add_child(instance=HomePage(title=name, slug=lang, language=lang,
                                                        intro=words["intro"].format(name=name)))
    if not ContentPage.objects.child_of(home).exists():
        title, summary, body = words["about"]
        home.add_child(instance=ContentPage(title=title, slug="about", summary=summary,
                                            body=body.format(name=name), show_in_menus=True))
    if not NewsIndexPage.objects.child_of(home).exists():
        title, intro = words["news"]
        index = home.add_child(instance=NewsIndexPage(title=title, slug="news", intro=intro.format(name=name)))
        title, body = words["first"]
        index.add_child(instance=NewsPage(title=title, slug="our-new-website", date=datetime.date.today(),
                                          body=body.format(name=name)))
    if not ContactPage.objects.child_of(home).exists():
        home.add_child(instance=ContactPage(title=words["contact"], slug="contact",
                                            email=f"contact@{settings.AGENCY_SLUG}.example"))
    return home


class Command(BaseCommand):
    help = "Create the language root, the English and Urdu home pages with first content, and the site (idempotent)."

    def handle(self, *args, **options):
        changed = False
        root = LanguageRootPage.objects.first()
        if root is None:
            wagtail_root = Page.get_first_root_node()
            old = HomePage.objects.child_of(wagtail_root).first()  # the earlier layout: home at the site's root
            for child in wagtail_root.get_children():  # Wagtail's "Welcome" page
                if child.specific_class is Page:
                    child.delete()
            wagtail_root.refresh_from_db()
            root = wagtail_root.add_child(instance=LanguageRootPage(title=settings.AGENCY_NAME, slug="root"))
            if old is not None:
                old.move(root, pos="last-child")
                old.refresh_from_db()
                old.slug, old.language = "en", "en"
                old.save_revision().publish()
                seed_language(root, "en", HomePage.objects.get(pk=old.pk))
            else:
                seed_language(root, "en")
            seed_language(root, "ur")
            changed = True
        host = settings.ALLOWED_HOSTS[0]
        site = Site.objects.filter(is_default_site=True).first()
        if site is None:
            Site.objects.create(hostname=host, port=443, root_page=root, is_default_site=True,
                                site_name=settings.AGENCY_NAME)
            changed = True
        elif site.root_page_id != root.pk or site.hostname != host or site.site_name != settings.AGENCY_NAME:
            site.root_page, site.hostname, site.site_name = root, host, settings.AGENCY_NAME
            site.save()
            changed = True
        self.stdout.write("changed" if changed else "unchanged")
