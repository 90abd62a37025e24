"""The agency's colour as a one-rule stylesheet (`/brand.css`): GOV.UK Frontend 6 reads its brand colour from
`--govuk-brand-colour`, so one compiled stylesheet serves every agency, and pages need no inline style (a
Content-Security-Policy of `style-src 'self'` holds)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse

from design.context import brand


def brand_css(request: Any) -> HttpResponse:
    colour = brand(request)["design_brand_colour"]  # checked '#rrggbb' (the default otherwise)
    response = HttpResponse(f":root{{--govuk-brand-colour:{colour}}}\n", content_type="text/css; charset=utf-8")
    response["Cache-Control"] = "public, max-age=3600"
    return response
