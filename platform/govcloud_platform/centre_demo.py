"""`govcloud app demo AGENCY centre` (issue 16, item 6): one application driven through every step to an issued,
signed certificate, through the centre's interface for integrations (`/api/`, docs/centre.md) exactly as a client
would: the catalogue (`GET /api/services`), the application (`POST /api/applications`), each desk's task
(`GET /api/tasks`, `POST /api/tasks/<id>/<action>` with a staff token of that desk), then the application with its
access code (`GET /api/applications/<ref>`, `X-Access-Code`), whose `certificate` names the verification page.

The driver is transport-neutral (`Transport`: an HTTP client against the deployed centre, or Django's test client
in the tests) and acts with one staff bearer token that holds every desk of the process (on the box: a demo staff
member put at each desk with `govcloud agency desk`). Decisions are pure (`pick_service`,
`sample_answers`, `pick_action`)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from govcloud_platform.errors import ServiceError

ISSUING = ("issued", "granted")
# The action that moves a task towards issuing, in order of preference (never reject or return).
FORWARD = ("accept", "approve", "issue", "grant", "done", "complete", "resolve")
PREFERRED_SERVICES = ("trade_licence", "birth_certificate", "building_permit")
MAX_STEPS = 20


class Transport(Protocol):
    def request(self, method: str, path: str, body: Any | None = None,
                headers: Mapping[str, str] | None = None) -> tuple[int, Any]:
        """(status, parsed JSON body) of one request to the centre."""
        ...


@dataclass(frozen=True)
class DemoResult:
    reference: str
    access_code: str
    certificate_url: str
    verify_url: str

    def as_dict(self) -> dict[str, str]:
        return {"reference": self.reference, "access_code": self.access_code,
                "certificate_url": self.certificate_url, "verify_url": self.verify_url}


@dataclass(frozen=True)
class HttpTransport:
    """The demo's transport to a deployed centre: JSON over HTTPS verified with the box CA (plain http only on
    loopback, for tests). Answers that are not JSON come back as None."""

    base_url: str
    ca_file: str | None = None
    timeout: float = 30.0

    def request(self, method: str, path: str, body: Any | None = None,
                headers: Mapping[str, str] | None = None) -> tuple[int, Any]:
        import ssl
        import urllib.error
        import urllib.request
        from urllib.parse import urlsplit

        url = self.base_url.rstrip("/") + path
        parts = urlsplit(url)
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost")):
            raise ServiceError(f"the centre's address must be https: {self.base_url}")
        data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
        sent = {"Accept": "application/json", **({"Content-Type": "application/json"} if body is not None else {}),
                **(headers or {})}
        request = urllib.request.Request(url, data=data, method=method, headers=sent)  # noqa: S310 - checked above
        context = ssl.create_default_context(cafile=self.ca_file) if parts.scheme == "https" else None
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=context) as answer:  # noqa: S310
                status, raw = answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except OSError as exc:
            raise ServiceError(f"the centre at {self.base_url} cannot be reached ({type(exc).__name__})") from None
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, None


def pick_service(services: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """A service whose process can end issuing a certificate, the samples' trade licence first."""
    issuing = [s for s in services if any(o.get("id") in ISSUING for o in s.get("outcomes", ()))]
    for wanted in PREFERRED_SERVICES:
        for s in issuing:
            if s["id"] == wanted:
                return s
    if not issuing:
        raise ServiceError("no service of this centre's catalogue ends with a certificate",
                           hint="the sample catalogue's trade licence does; deploy the centre with the samples")
    return issuing[0]


def sample_answers(service: Mapping[str, Any]) -> dict[str, Any]:
    """A valid answer to every question, by its kind."""
    by_kind: dict[str, Any] = {"email": "demo@example.invalid", "phone": "+92 51 0000000", "mobile": "03001234567",
                               "date": "2000-01-01", "number": 1, "long_text": "Demonstration application.",
                               "text": "Demo"}
    out: dict[str, Any] = {}
    for q in service.get("questions", ()):
        if q.get("choices"):
            out[q["id"]] = q["choices"][0]["id"]
        else:
            value = by_kind.get(q.get("kind", "text"), "Demo")
            limit = q.get("maxLength")
            out[q["id"]] = value[:limit] if isinstance(value, str) and isinstance(limit, int) else value
    return out


def pick_action(actions: Sequence[str]) -> str:
    for wanted in FORWARD:
        if wanted in actions:
            return wanted
    raise ServiceError(f"the demo cannot move a task offering only {', '.join(actions) or 'nothing'}")


def _ok(answer: tuple[int, Any], what: str, expected: int = 200) -> Any:
    status, body = answer
    if status != expected:
        detail = body.get("message", "") if isinstance(body, dict) else ""
        raise ServiceError(f"the centre refused {what}: HTTP {status} {detail}".strip())
    return body


def run(api: Transport, token: str, public_url: str, wait_s: float = 60.0,
        sleep: Callable[[float], None] = time.sleep) -> DemoResult:
    """Drive one application to its signed certificate; the certificate's URL carries an unused access code."""
    service = pick_service(_ok(api.request("GET", "/api/services"), "the catalogue"))
    sent = _ok(api.request("POST", "/api/applications", {"serviceKey": service["id"],
                                                         "answers": sample_answers(service)}),
               "the application", 201)
    reference, code = sent["reference"], sent["accessCode"]["code"]
    auth = {"Authorization": f"Bearer {token}"}
    for _ in range(MAX_STEPS):
        waiting = [t for t in _ok(api.request("GET", "/api/tasks", headers=auth), "the task list")
                   if t["reference"] == reference]
        if not waiting:
            raise ServiceError("the application waits at no desk the demo can act at", hint=f"reference {reference}")
        task = waiting[0]
        done = _ok(api.request("POST", f"/api/tasks/{task['id']}/{pick_action(task['actions'])}", headers=auth),
                   "a task's action")
        if done["status"] == "closed":
            if done.get("outcome") not in ISSUING:
                raise ServiceError(f"the application closed as {done.get('outcome')!r}, not issued")
            return _finish(api, public_url, reference, code, wait_s, sleep)
    raise ServiceError(f"the application did not close within {MAX_STEPS} steps")


def _finish(api: Transport, public_url: str, reference: str, code: str, wait_s: float,
            sleep: Callable[[float], None]) -> DemoResult:
    """Look the application up with its code until its certificate is there (issued when it closed, or by the
    timers' job); the last lookup's next code goes into the certificate's URL, unused."""
    deadline = time.monotonic() + wait_s
    while True:
        seen = _ok(api.request("GET", f"/api/applications/{reference}", headers={"X-Access-Code": code}),
                   "the application's lookup")
        code = seen["nextAccessCode"]["code"]
        certificate = seen.get("certificate")
        if certificate:
            base = public_url.rstrip("/")
            return DemoResult(reference, code, f"{base}{certificate['path']}?code={code}", certificate["verifyUrl"])
        if time.monotonic() > deadline:
            raise ServiceError("the application is issued but its certificate was not signed in time",
                               hint="is the signing service up? `govcloud status`")
        sleep(2.0)


def dumps(result: DemoResult) -> str:
    return json.dumps(result.as_dict())
