"""Headers every citizen page gets. The pages run no script and load nothing from elsewhere, so the content
security policy allows only the centre's own stylesheet (the JSON-LD block is data, not script). Pages are not
stored by browsers or proxies (`no-store`): answers and application status are read on shared computers too;
the stylesheet keeps its own cache header."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")


class CitizenHeaders:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CSP)
        response.setdefault("Cache-Control", "no-store")
        return response
