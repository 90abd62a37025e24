"""Pure decisions of the interface for integrations (`/api/...`): what a request's headers and body are worth
before anything is looked up. The views (`api.py`) only fetch, call these, and answer; each refusal is a
`Problem` that becomes one JSON error body (`{"error", "message", "field"?}`) with its status."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_BODY = 64 * 1024  # the samples' longest application is ~2 KB; a page's own limit is 1000 chars an answer
MAX_FIELDS = 20  # a task action's text fields (the engine's own limit)
ACCESS_CODE_HEADER = "X-Access-Code"


@dataclass(eq=False)  # compared and hashed by identity, as exceptions are
class Problem(Exception):
    """A refusal: the HTTP status, a stable machine code, a sentence, and the field of the body it concerns."""

    status: int
    error: str
    message: str
    field: str | None = None
    messages: dict[str, str] | None = None  # the message in each language, where the citizen pages have one

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.error, "message": self.message}
        if self.messages is not None:
            out["messages"] = self.messages
        if self.field is not None:
            out["field"] = self.field
        return out


NOT_FOUND = Problem(404, "not_found", "No application matches this reference and access code. A code works once "
                                      "and for 30 minutes; ask for a new one if yours is used or expired.")
NO_TOKEN = "A staff bearer token (OIDC, from the agency's identity provider) is needed."


def unauthorised(message: str = NO_TOKEN) -> Problem:
    """401 (a fresh exception each time: a raised one carries its traceback)."""
    return Problem(401, "unauthorised", message)


def content_length(header: str | None) -> int | None:
    """The declared body size, None when absent or not a number (then the body read is bounded instead)."""
    if header is None or not header.strip().isdigit():
        return None
    return int(header.strip())


def check_json_request(content_type: str | None, length: int | None) -> None:
    """415 unless the body is declared JSON; 413 when it is declared larger than MAX_BODY (before reading it)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise Problem(415, "unsupported_media_type", "Send the body as application/json.")
    if length is not None and length > MAX_BODY:
        raise Problem(413, "too_large", f"The body is larger than {MAX_BODY} bytes.")


def json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object (UTF-8), or 413 (too long) / 400 (not JSON, not an object)."""
    if len(raw) > MAX_BODY:
        raise Problem(413, "too_large", f"The body is larger than {MAX_BODY} bytes.")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Problem(400, "malformed_json", "The body is not valid JSON (UTF-8).") from None
    if not isinstance(data, dict):
        raise Problem(400, "malformed_json", "The body must be a JSON object.")
    return data


def application_request(data: dict[str, Any], services: set[str],
                        questions: dict[str, set[str]]) -> tuple[str, dict[str, str]]:
    """(service id, answers as text) of `POST /api/applications`, its shape checked: `serviceKey` one of the
    catalogue's, `answers` an object of the service's questions (text; a number may come as a JSON integer).
    The answers' values are checked afterwards by the citizen pages' own `answers.check`."""
    unknown = sorted(set(data) - {"serviceKey", "answers"})
    if unknown:
        raise Problem(400, "unknown_field", f"Unknown field {unknown[0]!r}.", unknown[0])
    service = data.get("serviceKey")
    if not isinstance(service, str) or service not in services:
        raise Problem(400, "invalid", "Give the id of a service of GET /api/services.", "serviceKey")
    answers = data.get("answers", {})
    if not isinstance(answers, dict):
        raise Problem(400, "invalid", "answers must be an object: question id -> answer.", "answers")
    out: dict[str, str] = {}
    for key, value in answers.items():
        if key not in questions[service]:
            raise Problem(400, "unknown_field", f"The service asks no question {key!r}.", f"answers.{key}")
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise Problem(400, "invalid", "An answer is a string (or an integer for a number).", f"answers.{key}")
        out[key] = str(value)
    return service, out


def task_fields(data: dict[str, Any]) -> dict[str, str]:
    """The optional `fields` of a task action (`reason`, `comment`...): at most MAX_FIELDS short texts."""
    unknown = sorted(set(data) - {"fields"})
    if unknown:
        raise Problem(400, "unknown_field", f"Unknown field {unknown[0]!r}.", unknown[0])
    fields = data.get("fields", {})
    if not isinstance(fields, dict) or len(fields) > MAX_FIELDS:
        raise Problem(400, "invalid", f"fields must be an object of at most {MAX_FIELDS} texts.", "fields")
    for key, value in fields.items():
        if not isinstance(value, str) or len(value) > 1000 or key == "decision" or not key.isidentifier():
            raise Problem(400, "invalid", "Each field is a text of at most 1000 characters (not decision).",
                          f"fields.{key}")
    return dict(fields)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None when there is no such header."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or len(token) > 8192:
        return None
    return token.strip()


CATALOGUE_MANAGER = "catalogue"  # the group `<desk prefix>catalogue`: the catalogue's managers (never a desk)


def is_catalogue_manager(groups: Any, prefix: str) -> bool:
    """Whether the token's groups make its holder a manager of the catalogue: the group named `<prefix>catalogue`
    (`agency-<slug>--desk-catalogue` on the platform; `catalogue` is therefore never a desk: `desks_of`)."""
    return isinstance(groups, list) and f"{prefix}{CATALOGUE_MANAGER}" in groups


def desks_of(groups: Any, prefix: str, known: set[str]) -> frozenset[str]:
    """The desks a staff member works at: the groups of the token's groups claim named `<prefix><desk>` where
    the desk is a lane of a process of the catalogue (other groups are the IdP's business)."""
    if not isinstance(groups, list):
        return frozenset()
    return frozenset(g[len(prefix):] for g in groups
                     if isinstance(g, str) and g.startswith(prefix) and g[len(prefix):] in known
                     and g[len(prefix):] != CATALOGUE_MANAGER)
