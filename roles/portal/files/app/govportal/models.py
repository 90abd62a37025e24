"""The portal's content types (Wagtail pages) and what citizens file through it.

Tree: the site's root is a LanguageRootPage (`/` sends the browser to `/en/` or `/ur/` by Accept-Language); under
it one HomePage per language (slug = language code), and under each home ContentPages, a NewsIndexPage with its
NewsPages, and a ContactPage. A page's language is its home's: the base template gets `lang`/`dir` from it."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.http import HttpResponseRedirect
from django.utils import translation
from django.utils.cache import patch_vary_headers
from wagtail.fields import RichTextField
from wagtail.models import Page

from govportal.i18n import LANGUAGE_NAMES, LANGUAGES, STRINGS, pick_language


class LocalisedPage(Page):
    """A page served in its home's language (request.LANGUAGE_CODE, Django's active language, the UI strings)."""

    class Meta:
        abstract = True

    def home(self) -> HomePage | None:
        return HomePage.objects.ancestor_of(self, inclusive=True).first()

    def get_context(self, request: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context(request, *args, **kwargs)
        lang = getattr(request, "LANGUAGE_CODE", "en")
        home = self.home()
        context.update(t=STRINGS.get(lang, STRINGS["en"]), portal_home=home,
                       news_index=(NewsIndexPage.objects.child_of(home).live().first() if home else None),
                       contact_page=(ContactPage.objects.child_of(home).live().first() if home else None),
                       other_languages=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES if code != lang])
        return context

    def serve(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        home = self.home()
        lang = home.language if home is not None else "en"
        request.LANGUAGE_CODE = lang
        with translation.override(lang):
            response = super().serve(request, *args, **kwargs)
            if hasattr(response, "render"):
                response.render()
        response.headers["Content-Language"] = lang
        return response


class LanguageRootPage(Page):
    """The site's root: no content of its own; `/` answers with the home page of the browser's language (the
    same page as `/en/` or `/ur/`, `Vary: Accept-Language`), so `/` keeps answering 200 as it always did."""

    subpage_types = ["govportal.HomePage"]
    max_count = 1

    def serve(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        lang = pick_language(request.headers.get("Accept-Language", ""))
        homes = HomePage.objects.child_of(self).live()
        home = homes.filter(language=lang).first() or homes.first()
        if home is None:
            return HttpResponseRedirect("/admin/")
        response = home.serve(request, *args, **kwargs)
        patch_vary_headers(response, ["Accept-Language"])
        return response


class HomePage(LocalisedPage):
    LANGUAGE_CHOICES = [("en", "English"), ("ur", "Urdu (اردو)")]
    language = models.CharField(max_length=8, choices=LANGUAGE_CHOICES, default="en",
                                help_text="the language of this home page and every page under it")
    intro = RichTextField(blank=True)
    content_panels = [*Page.content_panels, "language", "intro"]
    subpage_types = ["govportal.ContentPage", "govportal.NewsIndexPage", "govportal.NewsPage",
                     "govportal.ContactPage"]

    def get_context(self, request: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context(request, *args, **kwargs)
        index = context["news_index"]
        context["latest_news"] = (NewsPage.objects.child_of(index).live().order_by("-date", "-first_published_at")[:3]
                                  if index is not None else [])
        context["pages"] = ContentPage.objects.child_of(self).live().in_menu()
        return context


class ContentPage(LocalisedPage):
    """A page of plain content (about us, services, opening hours...)."""

    summary = models.CharField(max_length=300, blank=True, help_text="one sentence under the title")
    body = RichTextField(blank=True)
    content_panels = [*Page.content_panels, "summary", "body"]
    parent_page_types = ["govportal.HomePage", "govportal.ContentPage"]
    subpage_types = ["govportal.ContentPage"]


class NewsIndexPage(LocalisedPage):
    intro = RichTextField(blank=True)
    content_panels = [*Page.content_panels, "intro"]
    parent_page_types = ["govportal.HomePage"]
    subpage_types = ["govportal.NewsPage"]

    def get_context(self, request: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context(request, *args, **kwargs)
        context["news"] = NewsPage.objects.child_of(self).live().order_by("-date", "-first_published_at")[:50]
        return context


class NewsPage(LocalisedPage):
    date = models.DateField("published on", null=True, blank=True)
    body = RichTextField(blank=True)
    content_panels = [*Page.content_panels, "date", "body"]
    parent_page_types = ["govportal.HomePage", "govportal.NewsIndexPage"]
    subpage_types: list[str] = []


class ContactPage(LocalisedPage):
    address = models.TextField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    content_panels = [*Page.content_panels, "address", "phone", "email"]
    parent_page_types = ["govportal.HomePage"]
    subpage_types: list[str] = []


class Complaint(models.Model):
    KINDS = [("complaint", "Complaint"), ("suggestion", "Suggestion")]
    kind = models.CharField(max_length=20, choices=KINDS, default="complaint")
    name = models.CharField(max_length=200)
    email = models.EmailField()
    subject = models.CharField(max_length=200)
    message = models.TextField()
    attachment = models.FileField(upload_to="complaints/%Y/%m/", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]


class Subscriber(models.Model):
    """A newsletter subscription: pending until the citizen follows the confirmation link (double opt-in)."""

    email = models.EmailField(unique=True)
    language = models.CharField(max_length=8, default="en")
    token_hash = models.CharField(max_length=64, unique=True)  # SHA-256 of the token in the citizen's link
    requested_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)


class NewsletterIssue(models.Model):
    """A news page sent as the newsletter (once)."""

    page = models.OneToOneField(NewsPage, on_delete=models.CASCADE)
    sent_at = models.DateTimeField(auto_now_add=True)
    recipients = models.IntegerField(default=0)
