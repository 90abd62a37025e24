"""E-participation among the staff pages (`/<lang>/staff/participation/`): moderation of comments and proposals,
and setting up consultations and polls. For the catalogue's managers (the IdP group `<desk prefix>catalogue`): they
already decide what the centre publishes, and no new group or token claim is needed. Anyone else signed in gets
403. Every decision is an audit entry (subject `participation`) with the member's subject."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import path, reverse

from centre_core import participation, participation_store
from centre_core.errors import ActionError, NotFound

from . import runtime
from .desk import Me, _message, _render, page
from .texts import t

FORM_FIELDS = ("slug", "title_en", "title_ur", "text_en", "text_ur", "question_en", "question_ur", "options_en",
               "options_ur", "opens", "closes")


def _moderator(view: Any) -> Any:
    def run(request: HttpRequest, me: Me, *args: Any, **kwargs: Any) -> HttpResponse:
        if not me.manager:
            return _message(request, "staff_forbidden", "ps_not_manager", 403, here=reverse("staff-inbox"))
        return view(request, me, *args, **kwargs)
    run.__name__ = view.__name__
    return run


def _page(request: HttpRequest, status: int = 200, note: str = "", errors: list[tuple[str, str]] | None = None,
          typed: dict[str, str] | None = None, form: str = "") -> HttpResponse:
    conn = runtime.connection()
    return _render(request, "centre_web/staff/participation.html", {
        "title": t("ps_title"), "note": note, "errors": errors or [], "typed": typed or {}, "form": form,
        "pending": participation_store.pending(conn), "consultations": participation_store.consultations(conn),
        "polls": participation_store.polls(conn)}, status, here=reverse("staff-participation"))


@page("GET")
@_moderator
def overview(request: HttpRequest, me: Me) -> HttpResponse:
    return _page(request)


@page("POST")
@_moderator
def moderate(request: HttpRequest, me: Me) -> HttpResponse:
    state = participation.moderation(str(request.POST.get("action", "")))
    kind = str(request.POST.get("kind", ""))
    try:
        item = int(str(request.POST.get("id", "")))
        if state is None:
            raise NotFound(kind)
        participation_store.moderate(runtime.connection(), kind, item, state, me.actor, runtime.now())
    except (ValueError, NotFound):
        return _page(request, 404, t("ps_gone"))
    return _page(request, 200, t("ps_done"))


def _typed(request: HttpRequest) -> dict[str, str]:
    return {k: str(request.POST.get(k, ""))[:participation.MAX_DRAFT] for k in FORM_FIELDS}


@page("POST")
@_moderator
def new_consultation(request: HttpRequest, me: Me) -> HttpResponse:
    typed = _typed(request)
    draft = participation.check_draft(typed["slug"], typed["title_en"], typed["title_ur"], typed["text_en"],
                                      typed["text_ur"], typed["opens"], typed["closes"])
    return _create(request, me, typed, draft, "consultation")


@page("POST")
@_moderator
def new_poll(request: HttpRequest, me: Me) -> HttpResponse:
    typed = _typed(request)
    draft = participation.check_poll(typed["slug"], typed["question_en"], typed["question_ur"], typed["options_en"],
                                     typed["options_ur"], typed["opens"], typed["closes"])
    return _create(request, me, typed, draft, "poll")


FIELD_OF = {"p_err_title": "title-en", "p_err_draft": "text-en", "p_err_paragraphs": "text-ur",
            "p_err_too_many": "text-en", "p_err_too_long": "text-en", "p_err_empty": "text-en", "p_err_dates": "opens",
            "p_err_dates_order": "closes", "p_err_options": "options-en"}  # the field a refusal's summary links to


def _create(request: HttpRequest, me: Me, typed: dict[str, str], draft: Any, form: str) -> HttpResponse:
    if isinstance(draft, participation.Refusal):
        field = FIELD_OF.get(draft.key, "slug")
        if form == "poll" and field in ("title-en", "text-en", "text-ur"):
            field = "question-en"
        return _page(request, 400, errors=[(f"#{form}-{field}", t(draft.key, **dict(draft.values)))], typed=typed,
                     form=form)
    try:
        if form == "consultation":
            participation_store.create_consultation(runtime.connection(), draft, me.actor, runtime.now())
        else:
            participation_store.create_poll(runtime.connection(), draft, me.actor, runtime.now())
    except ActionError as refused:
        return _page(request, 409, errors=[(f"#{form}-slug", t(str(refused)))], typed=typed, form=form)
    return _page(request, 200, t("ps_created"))


def patterns() -> list[Any]:
    return [path("staff/participation/", overview, name="staff-participation"),
            path("staff/participation/moderate/", moderate, name="staff-participation-moderate"),
            path("staff/participation/consultations/", new_consultation, name="staff-participation-consultation"),
            path("staff/participation/polls/", new_poll, name="staff-participation-poll")]
