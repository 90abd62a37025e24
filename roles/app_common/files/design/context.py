"""Template context of the shared design: the agency's brand, from the app's settings (which read its env file).

Settings: DESIGN_AGENCY_NAME (required), DESIGN_BRAND_COLOUR ("#rrggbb", validated by the spec), DESIGN_LOGO_URL
("" for none). The page's language and direction: `design_lang` / `design_dir` from the request's LANGUAGE_CODE
(Urdu, Arabic, Persian, Pashto, Sindhi: right to left)."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings

RTL_LANGUAGES = frozenset({"ur", "ar", "fa", "ps", "sd", "he"})
DEFAULT_COLOUR = "#1d70b8"
_HEX = re.compile(r"#[0-9a-fA-F]{6}")


def text_direction(lang: str) -> str:
    """Pure: 'rtl' for a right-to-left language code (e.g. 'ur', 'ur-PK'), else 'ltr'."""
    return "rtl" if lang.split("-")[0].lower() in RTL_LANGUAGES else "ltr"


def brand(request: Any) -> dict[str, str]:
    colour = getattr(settings, "DESIGN_BRAND_COLOUR", "") or DEFAULT_COLOUR
    if not _HEX.fullmatch(colour):  # never into a <style> unchecked
        colour = DEFAULT_COLOUR
    lang = getattr(request, "LANGUAGE_CODE", "") or settings.LANGUAGE_CODE
    return {"design_agency_name": settings.DESIGN_AGENCY_NAME, "design_brand_colour": colour.lower(),
            "design_logo_url": getattr(settings, "DESIGN_LOGO_URL", ""), "design_lang": lang,
            "design_dir": text_direction(lang)}
