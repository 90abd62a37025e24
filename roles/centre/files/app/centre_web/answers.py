"""Server-side checks of the citizen's answers: pure functions over a catalogue question and the text typed,
returning the value to keep or the message to show (in the page's language). The browser's own checks (input
types, `required`) are a convenience only; these are the ones that count."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

from centre_core.catalogue import Question, Service
from centre_core.sms import e164

from .texts import lang, t

MAX_CHARS = {"text": 200, "long_text": 1000, "email": 200, "phone": 30, "mobile": 30, "date": 10, "number": 7,
             "choice": 40}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[0-9 ()-]{7,20}$")


def label(question: Question) -> str:
    return question.label.ur if lang() == "ur" else question.label.en


def check(question: Question, raw: str | None) -> tuple[str, str | None]:
    """(the cleaned value, None) or (what was typed, the error message)."""
    value = (raw or "").strip() if question.kind != "long_text" else (raw or "").strip().replace("\r\n", "\n")
    if not value:
        return "", (t("err_required", label=label(question)) if question.required else None)
    limit = MAX_CHARS[question.kind]
    if len(value) > limit:
        return value[:limit * 2], t("err_too_long", label=label(question), n=limit)
    if question.kind == "email" and not _EMAIL.match(value):
        return value, t("err_email")
    if question.kind == "phone" and not _PHONE.match(value):
        return value, t("err_phone")
    if question.kind == "mobile":  # kept as E.164: what the SMS provider takes
        number = e164(value)
        return (number, None) if number else (value, t("err_mobile"))
    if question.kind == "date":
        try:
            date.fromisoformat(value)
        except ValueError:
            return value, t("err_date")
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return value, t("err_date")
    if question.kind == "number" and not (value.isascii() and value.isdigit() and int(value) <= 1_000_000):
        return value, t("err_number")
    if question.kind == "choice" and value not in question.choices:
        return "", t("err_choice")
    return value, None


def asked(service: Service, sms_on: bool) -> Service:
    """The service as the pages ask it: without its `mobile` questions when the agency has no SMS provider (a number
    nothing would be sent to is not asked for). The API takes them either way."""
    if sms_on or not any(q.kind == "mobile" for q in service.questions):
        return service
    return service.model_copy(update={"questions": tuple(q for q in service.questions if q.kind != "mobile")})


def missing(service: Service, answers: Mapping[str, str]) -> list[tuple[Question, str]]:
    """Every question whose stored answer does not pass (unanswered or changed catalogue), in order."""
    out = []
    for question in service.questions:
        _, error = check(question, answers.get(question.id))
        if error:
            out.append((question, error))
    return out


def shown(question: Question, value: str) -> str:
    """An answer as the check page shows it (a choice by its label)."""
    if question.kind == "choice" and value in question.choice_labels:
        text = question.choice_labels[value]
        return text.ur if lang() == "ur" else text.en
    return value


def for_workflow(service: Service, answers: Mapping[str, str]) -> dict[str, object]:
    """The answers as the process gets them: numbers as int (conditions compare them), the rest as text."""
    out: dict[str, object] = {}
    for question in service.questions:
        value = answers.get(question.id, "")
        if value:
            out[question.id] = int(value) if question.kind == "number" else value
    return out
