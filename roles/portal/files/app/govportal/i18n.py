"""The portal's own words in English and Urdu (page content is the staff's, per language tree: /en/, /ur/).
A small table rather than gettext catalogues: a dozen strings, no compile step."""

from __future__ import annotations

LANGUAGES = ("en", "ur")
LANGUAGE_NAMES = {"en": "English", "ur": "اردو"}

STRINGS: dict[str, dict[str, str]] = {
    "en": {"skip": "Skip to main content", "menu": "Menu", "home": "Home", "news": "News",
           "complaints": "Complaints and suggestions", "contact": "Contact", "no_news": "No news yet.",
           "published": "Published", "languages": "Languages", "served_by": "Served by GovCloud"},
    "ur": {"skip": "مرکزی مواد پر جائیں", "menu": "فہرست", "home": "سرورق", "news": "خبریں",
           "complaints": "شکایات اور تجاویز", "contact": "رابطہ", "no_news": "ابھی کوئی خبر نہیں۔",
           "published": "شائع شدہ", "languages": "زبانیں", "served_by": "GovCloud کی خدمت"},
}


def pick_language(accept_language: str) -> str:
    """Pure: the first of our languages named in an Accept-Language header (q-values honoured), else English."""
    best, best_q = "en", -1.0
    for i, part in enumerate(accept_language.split(",")):
        fields = part.strip().split(";")
        tag = fields[0].strip().lower().split("-")[0]
        q = 1.0
        for f in fields[1:]:
            name, _, value = f.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if tag in LANGUAGES and q > 0 and (q > best_q):
            best, best_q = tag, q - i * 1e-6
    return best
