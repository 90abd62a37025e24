"""E-participation's citizen pages (`/<lang>/participate/...`): consultations with a comment form per paragraph,
polls, proposals and their supports. Server-rendered, no script, English and Urdu like every citizen page. Every
POST is counted by a per-client throttle (the tracking page's rules, in `participation_clients`: 20 in 15 minutes,
then 429 with Retry-After); comments and proposals wait for moderation; a vote or a support is once per browser (a
voter token in a signed cookie, only its HMAC stored: `centre_core.participation`)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods

from centre_core import participation, participation_store, throttle
from centre_core.errors import NotFound

from . import runtime
from .texts import lang, t

SALT = "centre.participation.voter"
VOTER_AGE = 365 * 24 * 3600


def _today() -> date:
    return runtime.now().astimezone(runtime.calendar().zone).date()


def _cookie() -> str:
    return f"centre_{settings.AGENCY_SLUG.replace('-', '_')}_voter"


def _voter(request: HttpRequest) -> tuple[str, bool]:
    """(this browser's voter token, whether it is new and must be set)."""
    token = request.get_signed_cookie(_cookie(), default=None, salt=SALT)
    if participation.valid_voter(token):
        return str(token), False
    return participation.new_voter(), True


def _keep_voter(response: HttpResponse, token: str, new: bool) -> HttpResponse:
    if new:
        response.set_signed_cookie(_cookie(), token, salt=SALT, max_age=VOTER_AGE, secure=True, httponly=True,
                                   samesite="Lax", path="/")
    return response


def _throttled(request: HttpRequest) -> HttpResponse | None:
    client = throttle.client_key(runtime.tracking_key(), "participation:" + runtime.client_address(request))
    allowed, wait = participation_store.client_attempt(runtime.connection(), client, runtime.now())
    if allowed:
        return None
    response = _message(request, t("p_title"), t("p_err_too_many_tries", minutes=(wait + 59) // 60), 429)
    response["Retry-After"] = str(wait)
    return response


def _message(request: HttpRequest, title: str, text: str, status: int = 200, back: str = "") -> HttpResponse:
    return render(request, "centre_web/participate/message.html",
                  {"title": title, "text": text, "back_to": back or reverse("participate")}, status=status)


def _dates(opens_on: date, closes_on: date) -> dict[str, Any]:
    today = _today()
    return {"open": participation.is_open(opens_on, closes_on, today), "upcoming": today < opens_on,
            "opens_on": opens_on.isoformat(), "closes_on": closes_on.isoformat()}


def _shown(en: str, ur: str) -> dict[str, str]:
    text, language = participation.in_language(en, ur, lang())
    return {"text": text, "lang": language, "dir": "rtl" if language == "ur" else "ltr"}


@require_http_methods(["GET"])
def index(request: HttpRequest) -> HttpResponse:
    conn = runtime.connection()
    today = _today()
    consultations = [{"slug": c.slug, "title": _shown(c.title_en, c.title_ur), **_dates(c.opens_on, c.closes_on)}
                     for c in participation_store.consultations(conn) if c.opens_on <= today]
    polls = [{"slug": p.slug, "question": _shown(p.question_en, p.question_ur), **_dates(p.opens_on, p.closes_on)}
             for p in participation_store.polls(conn) if p.opens_on <= today]
    return render(request, "centre_web/participate/index.html", {
        "title": t("p_title"), "consultations": consultations, "polls": polls})


def _consultation(slug: str, comments: bool = False) -> tuple[participation_store.Consultation,
                                                               list[participation_store.Paragraph]]:
    try:
        found, paragraphs = participation_store.consultation(runtime.connection(), slug, comments)
    except NotFound:
        raise Http404 from None
    if _today() < found.opens_on:
        raise Http404
    return found, paragraphs


@require_http_methods(["GET"])
def consultation(request: HttpRequest, slug: str) -> HttpResponse:
    """The draft paragraph by paragraph with each one's count of comments (their texts are on the paragraph's own
    page, ten at a time, so that no page grows past the 100 KB the pages are held to)."""
    found, paragraphs = _consultation(slug, comments=False)
    shown = [{"n": p.n, "body": _shown(p.text_en, p.text_ur), "approved": p.approved} for p in paragraphs]
    return render(request, "centre_web/participate/consultation.html", {
        "title": _shown(found.title_en, found.title_ur)["text"], "heading": _shown(found.title_en, found.title_ur),
        "slug": slug, "paragraphs": shown, **_dates(found.opens_on, found.closes_on),
        "back": reverse("participate")})


@require_http_methods(["GET", "POST"])
def comment(request: HttpRequest, slug: str, n: int) -> HttpResponse:
    found, paragraphs = _consultation(slug)
    paragraph = next((p for p in paragraphs if p.n == n), None)
    if paragraph is None:
        raise Http404
    dates = _dates(found.opens_on, found.closes_on)
    try:
        page = max(1, min(int(str(request.GET.get("page", "1"))), 10_000))
    except ValueError:
        page = 1
    pages = max(1, -(-paragraph.approved // participation.COMMENTS_PER_PAGE))
    comments = [{"text": c[0], "lang": c[1], "dir": "rtl" if c[1] == "ur" else "ltr"}
                for c in participation_store.paragraph_comments(runtime.connection(), found.id, n, page)]
    context: dict[str, Any] = {"title": t("p_paragraph", n=n), "slug": slug, "n": n, "comments": comments,
                               "approved": paragraph.approved, "page": page, "pages": pages,
                               "previous": page - 1 if page > 1 else None, "next": page + 1 if page < pages else None,
                               "heading": _shown(found.title_en, found.title_ur),
                               "body": _shown(paragraph.text_en, paragraph.text_ur), "typed": "", "errors": [],
                               "back": reverse("consultation", args=[slug]), **dates}
    if request.method == "POST":
        if not dates["open"]:
            return _message(request, t("p_title"), t("p_closed"), 409, reverse("consultation", args=[slug]))
        typed = str(request.POST.get("comment", ""))[:participation.MAX_COMMENT * 2]
        cleaned = participation.clean_text(typed, participation.MAX_COMMENT)
        if isinstance(cleaned, participation.Refusal):
            context.update(typed=typed, errors=[("#comment", t(cleaned.key, **dict(cleaned.values)))])
            return render(request, "centre_web/participate/comment.html", context, status=400)
        refused = _throttled(request)
        if refused is not None:
            return refused
        participation_store.comment(runtime.connection(), found.id, n, cleaned, lang(), runtime.now())
        return _message(request, t("p_thanks"), t("p_thanks_comment"), 200, reverse("consultation", args=[slug]))
    return render(request, "centre_web/participate/comment.html", context)


def _poll_page(request: HttpRequest, poll: participation_store.Poll, voted: bool, status: int = 200,
               note: str = "", errors: list[tuple[str, str]] | None = None) -> HttpResponse:
    counts = participation_store.votes(runtime.connection(), poll.id)
    total = sum(counts.values())
    options = [{"n": n, "label": _shown(en, ur), "votes": counts.get((poll.id, n), 0),
                "pct": participation.share(counts.get((poll.id, n), 0), total) or "0.0"} for n, en, ur in poll.options]
    dates = _dates(poll.opens_on, poll.closes_on)
    return render(request, "centre_web/participate/poll.html", {
        "title": _shown(poll.question_en, poll.question_ur)["text"], "question": _shown(poll.question_en,
                                                                                         poll.question_ur),
        "slug": poll.slug, "options": options, "total": total, "voted": voted, "note": note, "errors": errors or [],
        "show_results": voted or not dates["open"], "back": reverse("participate"), **dates}, status=status)


@require_http_methods(["GET", "POST"])
def poll(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        found = participation_store.poll(runtime.connection(), slug)
    except NotFound:
        raise Http404 from None
    if _today() < found.opens_on:
        raise Http404
    token, new = _voter(request)
    voter = participation.voter_key(runtime.tracking_key(), token)
    voted = not new and participation_store.has_voted(runtime.connection(), found.id, voter)
    if request.method == "GET":
        return _poll_page(request, found, voted)
    if not participation.is_open(found.opens_on, found.closes_on, _today()):
        return _poll_page(request, found, voted, 409, t("p_closed"))
    if voted:
        return _poll_page(request, found, True, 409, t("p_already_voted"))
    choice = str(request.POST.get("option", ""))
    if choice not in {str(n) for n, _, _ in found.options}:
        return _poll_page(request, found, False, 400, errors=[("#option-1", t("p_err_choose"))])
    refused = _throttled(request)
    if refused is not None:
        return refused
    counted = participation_store.vote(runtime.connection(), found.id, voter, int(choice), runtime.now())
    response = _poll_page(request, found, True, 200 if counted else 409,
                          t("p_voted") if counted else t("p_already_voted"))
    return _keep_voter(response, token, new)


@require_http_methods(["GET"])
def proposals(request: HttpRequest) -> HttpResponse:
    return _proposals_page(request)


PROPOSALS_PER_PAGE = 10  # each cut to 500 characters on the list (its own page has it whole): well under 100 KB


def _proposals_page(request: HttpRequest, status: int = 200, note: str = "", only: int | None = None) -> HttpResponse:
    conn = runtime.connection()
    try:
        page = max(1, min(int(str(request.GET.get("page", "1"))), 10_000))
    except ValueError:
        page = 1
    found = participation_store.proposals(conn, PROPOSALS_PER_PAGE, (page - 1) * PROPOSALS_PER_PAGE, only)
    if only is not None and not found:
        raise Http404
    pages = max(1, -(-participation_store.approved_proposals(conn) // PROPOSALS_PER_PAGE))
    shown = [{"id": i, "title": title, "text": text, "lang": language, "dir": "rtl" if language == "ur" else "ltr",
              "received": at.astimezone(runtime.calendar().zone).date().isoformat(), "supports": n}
             for i, title, text, language, at, n in found]
    return render(request, "centre_web/participate/proposals.html", {
        "title": shown[0]["title"] if only is not None else t("p_proposals"), "proposals": shown, "note": note,
        "whole": only is not None, "page": page, "pages": pages, "previous": page - 1 if page > 1 else None,
        "next": page + 1 if page < pages and only is None else None,
        "back": reverse("proposals") if only is not None else reverse("participate")}, status=status)


@require_http_methods(["GET"])
def proposal(request: HttpRequest, proposal: int) -> HttpResponse:
    return _proposals_page(request, only=proposal)


@require_http_methods(["POST"])
def support(request: HttpRequest, proposal: int) -> HttpResponse:
    token, new = _voter(request)
    refused = _throttled(request)
    if refused is not None:
        return refused
    try:
        counted = participation_store.support(runtime.connection(), proposal,
                                              participation.voter_key(runtime.tracking_key(), token), runtime.now())
    except NotFound:
        raise Http404 from None
    response = _proposals_page(request, 200 if counted else 409,
                               t("p_supported") if counted else t("p_already_supported"), proposal)
    return _keep_voter(response, token, new)


@require_http_methods(["GET", "POST"])
def propose(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {"title": t("p_new_proposal"), "typed": {"title": "", "text": ""}, "errors": [],
                               "back": reverse("proposals")}
    if request.method == "POST":
        typed = {k: str(request.POST.get(k, ""))[:participation.MAX_PROPOSAL * 2] for k in ("title", "text")}
        title = participation.clean_text(typed["title"], participation.MAX_PROPOSAL_TITLE)
        text = participation.clean_text(typed["text"], participation.MAX_PROPOSAL)
        errors = [(f"#{k}", t(v.key, **dict(v.values))) for k, v in (("title", title), ("text", text))
                  if isinstance(v, participation.Refusal)]
        if errors:
            context.update(typed=typed, errors=errors, errors_by={h[1:]: m for h, m in errors})
            return render(request, "centre_web/participate/propose.html", context, status=400)
        refused = _throttled(request)
        if refused is not None:
            return refused
        participation_store.propose(runtime.connection(), str(title).replace("\n", " "), str(text), lang(),
                                    runtime.now())
        return _message(request, t("p_thanks"), t("p_thanks_proposal"), 200, reverse("proposals"))
    return render(request, "centre_web/participate/propose.html", context)


def patterns() -> list[Any]:
    """The citizen pages' routes (under the language prefixes, as every citizen page)."""
    return [path("participate/", index, name="participate"),
            path("participate/consultations/<slug:slug>/", consultation, name="consultation"),
            path("participate/consultations/<slug:slug>/<int:n>/", comment, name="consultation-comment"),
            path("participate/polls/<slug:slug>/", poll, name="poll"),
            path("participate/proposals/", proposals, name="proposals"),
            path("participate/proposals/new/", propose, name="propose"),
            path("participate/proposals/<int:proposal>/", proposal, name="proposal"),
            path("participate/proposals/<int:proposal>/support/", support, name="proposal-support")]

