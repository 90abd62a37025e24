from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render

from govportal.forms import ComplaintForm
from govportal.i18n import STRINGS
from govportal.models import Complaint


def agency(request):
    """Template context: which agency this portal belongs to."""
    return {"agency_name": settings.AGENCY_NAME, "agency_slug": settings.AGENCY_SLUG, "t": STRINGS["en"]}


def healthz(request):
    connection.ensure_connection()
    return HttpResponse("ok\n", content_type="text/plain")


def complaint(request):
    if request.method == "POST":
        form = ComplaintForm(request.POST, request.FILES)
        if form.is_valid():
            saved = form.save()
            return redirect(f"/complaints/thanks/?ref={saved.pk}")
    else:
        form = ComplaintForm()
    return render(request, "govportal/complaint_form.html", {"form": form})


def complaint_thanks(request):
    return render(request, "govportal/complaint_thanks.html", {"ref": request.GET.get("ref", "")})


@login_required
def complaints(request):
    return render(request, "govportal/complaints.html", {"complaints": Complaint.objects.all()[:200]})


def refused(request):
    return HttpResponse(f"Sign-in refused: only members of {settings.AGENCY_NAME} may sign in here.\n",
                        status=403, content_type="text/plain")


# --- newsletter (govportal/newsletter.py) -------------------------------------------------------------------------

def _language_page(request, lang: str, template: str, extra: dict) -> HttpResponse:
    """A portal page outside Wagtail in `lang` (en/ur): the same header, menu and language switch."""
    from govportal.i18n import LANGUAGE_NAMES, LANGUAGES
    from govportal.models import ContactPage, HomePage, NewsIndexPage

    if lang not in LANGUAGES:
        raise Http404
    request.LANGUAGE_CODE = lang
    home = HomePage.objects.live().filter(language=lang).first()
    context = {"t": STRINGS[lang], "portal_home": home, "lang": lang,
               "news_index": NewsIndexPage.objects.child_of(home).live().first() if home else None,
               "contact_page": ContactPage.objects.child_of(home).live().first() if home else None,
               "other_languages": [(c, LANGUAGE_NAMES[c]) for c in LANGUAGES if c != lang], **extra}
    response = render(request, template, context)
    response["Content-Language"] = lang
    return response


def newsletter(request, lang: str) -> HttpResponse:
    from django import forms as djforms

    from govportal import newsletter as nl

    words = STRINGS.get(lang, STRINGS["en"])
    if not nl.enabled():
        return _language_page(request, lang, "govportal/newsletter.html", {"unavailable": True})
    error, value = "", ""
    if request.method == "POST":
        value = request.POST.get("email", "")[:254]
        try:
            email = djforms.EmailField().clean(value)
        except djforms.ValidationError:
            error = words["nl_bad_email"]
        else:
            nl.subscribe(email, lang, words)
            return _language_page(request, lang, "govportal/newsletter_done.html",
                                  {"heading": words["nl_check"], "body": words["nl_check_body"]})
    return _language_page(request, lang, "govportal/newsletter.html", {"error": error, "value": value})


def newsletter_link(request, lang: str, action: str, token: str) -> HttpResponse:
    """confirm / unsubscribe: GET shows a button (mail scanners that open links change nothing), POST acts."""
    from govportal import newsletter as nl

    words = STRINGS.get(lang, STRINGS["en"])
    if request.method == "POST":
        ok = nl.confirm(token) if action == "confirm" else nl.unsubscribe(token)
        if not ok:
            heading, body = words["nl_bad_link"], words["nl_bad_link_body"]
        elif action == "confirm":
            heading, body = words["nl_confirmed"], words["nl_confirmed_body"]
        else:
            heading, body = words["nl_unsubscribed"], words["nl_unsubscribed_body"]
        return _language_page(request, lang, "govportal/newsletter_done.html", {"heading": heading, "body": body})
    label = words["nl_subscribe"] if action == "confirm" else words["nl_unsubscribed"].split()[0]
    return _language_page(request, lang, "govportal/newsletter_link.html", {"action": action, "label": label})


@login_required
def staff_newsletter(request) -> HttpResponse:
    from govportal import newsletter as nl
    from govportal.models import NewsletterIssue, NewsPage, Subscriber

    message = ""
    if request.method == "POST":
        page = NewsPage.objects.live().filter(pk=request.POST.get("page", "")).first()
        if page is None:
            message = "No such published news page."
        elif not nl.enabled():
            message = "The newsletter has no mail server configured (SMTP_HOST)."
        else:
            home = page.home()
            sent = nl.send_issue(page, STRINGS[home.language if home else "en"])
            message = f"Sent “{page.title}” to {sent} subscriber(s)." if sent else f"“{page.title}” was sent before."
    sent_ids = set(NewsletterIssue.objects.values_list("page_id", flat=True))
    pages = NewsPage.objects.live().order_by("-date")[:50]
    return render(request, "govportal/staff_newsletter.html", {
        "pages": [(p, p.pk in sent_ids) for p in pages], "message": message, "enabled": nl.enabled(),
        "confirmed": Subscriber.objects.filter(confirmed_at__isnull=False).count()})
