"""Text messages, pure parts: a mobile number in E.164 (what a provider takes), the two digits a page may show of
it, and what a text costs: its encoding and how many parts (billed messages) it takes.

A text of GSM 03.38 characters (Latin letters, digits, common signs) goes as GSM-7: 160 characters in one part,
153 a part when it needs several (the rest carries the join header); `^{}\\[~]|€` take two. Any other character
(Urdu among them) makes the whole text UCS-2: 70 UTF-16 units in one part, 67 a part when several. An Urdu text of
71 characters thus costs two messages: the centre's Urdu texts are written to fit one where they can, and
`segments` says what each costs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

GSM7_BASIC = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
              "¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENDED = "^{}\\[~]|€\f"
_BASIC = frozenset(GSM7_BASIC)
_EXTENDED = frozenset(GSM7_EXTENDED)
_E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
_SEPARATORS = re.compile(r"[\s().-]")


@dataclass(frozen=True)
class Segments:
    encoding: Literal["GSM-7", "UCS-2"]
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    parts: int  # messages the provider sends (and bills)


def e164(raw: str) -> str | None:
    """The number as E.164 (`+` and 8 to 15 digits, no leading 0 after it), or None. Spaces, dashes, dots and
    brackets are dropped and a leading `00` is read as `+`; a national number (0300 ...) is not one: the
    country code is needed, as a provider needs it."""
    text = _SEPARATORS.sub("", raw.strip())
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text.isascii() or not _E164.match(text):
        return None
    return text


def last_digits(number: str, n: int = 2) -> str:
    """What a page may show of a number: its last `n` digits only."""
    digits = [c for c in number if c.isdigit()]
    return "".join(digits[-n:]) if len(digits) > n else ""


def _split(weights: list[int], single: int, multi: int) -> int:
    total = sum(weights)
    if total <= single:
        return 1 if total else 0
    parts, used = 1, 0
    for w in weights:  # an escape pair or a surrogate pair is never split between parts
        if used + w > multi:
            parts, used = parts + 1, 0
        used += w
    return parts


def segments(text: str) -> Segments:
    """The encoding a text needs and its parts (0 for an empty text)."""
    if all(c in _BASIC or c in _EXTENDED for c in text):
        weights = [2 if c in _EXTENDED else 1 for c in text]
        return Segments("GSM-7", sum(weights), _split(weights, 160, 153))
    weights = [2 if ord(c) > 0xFFFF else 1 for c in text]
    return Segments("UCS-2", sum(weights), _split(weights, 70, 67))
