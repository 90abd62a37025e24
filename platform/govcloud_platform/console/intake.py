"""Onboarding requests in the console, as pure decisions (no I/O): who may file, see and decide a request, what a
submitted form or JSON body says, and what answers a decision gets. The adapter (`data.Platform`) validates the
fields with the platform's own validator (`onboarding.validate_request`, what `agency add` runs) and onboards an
approved request through `Onboarding.add`, as `agency add` does.

Who may file: anyone the console admits (a directorate operator, or a member of some agency: for instance a
ministry's IT filing for a new directorate). Someone in no group cannot sign in at all (the IdP's access rule for
the console's client), so a new agency asks through an operator, who may file on its behalf.
Who sees a request: an operator every one; anyone else the requests they filed themselves and those for an agency
they are a member of. Another's request answers 404, as an unknown id does.
Who decides: operators only (a member who sees a request gets 403); a decided request, or one being approved (its
onboarding job runs: console/approval.py), cannot be decided again (409)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from govcloud_platform.console.authz import Principal
from govcloud_platform.spec import APP_NAMES
from govcloud_platform.text import text_problem

PENDING, APPROVING = "pending", "approving"  # a request being approved (its job runs) is decided
REASON_MAX = 500
LANGS = ("en", "ur")


@dataclass(frozen=True)
class Fields:
    slug: str
    name: str
    email: str
    quota: str
    apps: tuple[str, ...]
    lang: str = "en"  # the language its decision is mailed in (the form's page; the API's optional `lang`)


def may_file(who: Principal) -> bool:
    return who.has_standing


def may_see(who: Principal, filed_by: str, slug: str) -> bool:
    return who.operator or filed_by == who.subject or slug in who.agencies


def decision_status(who: Principal, state: str) -> int:
    """The answer to approving or declining a request the principal may see: 403 unless an operator, 409 once
    decided or while being approved, else 200 (then the adapter decides it)."""
    if not who.operator:
        return 403
    if state != PENDING:
        return 409
    return 200


def decided_text(state: str, approval_job: int) -> str:
    """What a 409 on a decision says (pure): a request being approved names its job (wait for it), a decided one
    its decision."""
    if state == APPROVING:
        return f"The request is being approved (job {approval_job}): wait for the job to finish."
    return f"The request was {state} already."


def fields(data: Mapping[str, object], quota_default: str = "standard", lang: str = "en") -> Fields | str:
    """The request's fields from a form or a JSON object, or why not (one line). Only their shapes: their values are
    the platform validator's (`validate_request`). `apps` is a list of names in JSON, repeated fields in a form;
    `lang` (en or ur, default the page's) is the language its decision is mailed in."""
    values: dict[str, str] = {}
    for key in ("slug", "name", "email", "quota_class"):
        value = data.get(key, quota_default if key == "quota_class" else None)
        if not isinstance(value, str):
            return f"{key}: a text is needed"
        values[key] = value if key == "name" else value.strip()
    apps = data.get("apps", [])
    if isinstance(apps, str):
        apps = [apps] if apps else []
    if not isinstance(apps, list) or not all(isinstance(a, str) for a in apps):
        return "apps: a list of app names is needed"
    unknown = sorted(set(apps) - set(APP_NAMES))
    if unknown:
        return f"apps: unknown app {unknown[0][:40]!r} (known: {', '.join(APP_NAMES)})"
    chosen = data.get("lang", lang)
    if chosen not in LANGS:
        return "lang: en or ur"
    return Fields(values["slug"], values["name"], values["email"], values["quota_class"], tuple(sorted(set(apps))),
                  str(chosen))


def filing_conflict(slug: str, agencies: Iterable[str], pending: Iterable[str]) -> str | None:
    """Why a request for `slug` cannot be filed now (409), or None: the agency exists, or a request for it waits."""
    if slug in set(agencies):
        return f"agency {slug!r} exists already"
    if slug in set(pending):
        return f"a request for agency {slug!r} is waiting for a decision"
    return None


def reason_problem(reason: object) -> str | None:
    """Why a decline's reason is not acceptable, or None (it is shown to the agency: plain text, at most 500)."""
    if not isinstance(reason, str):
        return "reason: a text is needed"
    problem = text_problem(reason, max_length=REASON_MAX)
    return f"reason {problem}" if problem else None


def request_id(raw: str) -> int | None:
    """A request's id from a URL, or None (then 404): digits only, as the registry gives them."""
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 12 else None


def decision_mail(state: str, lang: str, name: str, slug: str, reason: str, link: str) -> tuple[str, str]:
    """The e-mail to a request's contact once it is decided (approved or declined), in the request's language
    (English unless it was filed in Urdu): its subject and plain-text body. The reason of a decline is the
    operator's own text (plain, at most 500 characters: `reason_problem`)."""
    approved = state == "approved"
    if lang == "ur":
        if approved:
            return (f"govcloud: {name} ({slug}) کی درخواست منظور ہو گئی",
                    f"{name} ({slug}) کی سرکاری کلاؤڈ پر شمولیت کی درخواست منظور ہو گئی ہے۔ ایجنسی بنا دی گئی ہے؛ "
                    f"درخواست کردہ ایپس انسٹال کی جا رہی ہیں۔\n\nدرخواست:\n\n{link}\n")
        return (f"govcloud: {name} ({slug}) کی درخواست نامنظور",
                f"{name} ({slug}) کی سرکاری کلاؤڈ پر شمولیت کی درخواست نامنظور کر دی گئی ہے۔\n\nوجہ:\n{reason}\n\n"
                f"درخواست:\n\n{link}\n")
    if approved:
        return (f"govcloud: the request for {name} ({slug}) is approved",
                f"The request to onboard {name} ({slug}) on the government cloud is approved. The agency is made; "
                f"the apps it asked for are being deployed.\n\nThe request:\n\n{link}\n")
    return (f"govcloud: the request for {name} ({slug}) is declined",
            f"The request to onboard {name} ({slug}) on the government cloud is declined.\n\nThe reason:\n{reason}\n\n"
            f"The request:\n\n{link}\n")
