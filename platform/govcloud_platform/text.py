"""Human text from users (display names, the audit actor) and how it is shown back.

A display name ends up in tables, the audit log, IdP pages and the terminal of whoever reads them later. Text
that is empty to the eye (only spaces), that moves the cursor or rewrites the screen (C0/C1 control characters,
ANSI escape sequences start with ESC, U+001B) or that reorders what is displayed (bidi overrides and isolates,
the "Trojan Source" characters) can make one agency look like another or hide a line of the audit log. Such
text is refused on the way in (`check_text`) and neutralised on the way out (`printable`), wherever it came
from (an old registry, an error message quoting a file). Right-to-left scripts (Urdu, Arabic) and the bidi
*marks* LRM/RLM/ALM stay allowed: they do not override anything."""

from __future__ import annotations

import unicodedata

# Explicit embeddings, overrides (U+202A-U+202E) and isolates (U+2066-U+2069).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Control (C0, DEL, C1), surrogate (undecodable bytes of argv), line and paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def hostile_char(ch: str) -> bool:
    """Whether a character may not appear in a name: it controls the terminal or the text's direction."""
    return ch in BIDI_CONTROLS or unicodedata.category(ch) in _REFUSED_CATEGORIES


def _describe(ch: str) -> str:
    name = unicodedata.name(ch, "")
    code = f"U+{ord(ch):04X}"
    return f"{code} {name}" if name else code


def text_problem(value: str, *, max_length: int = 200) -> str | None:
    """Why `value` is not acceptable as a display name or actor, or None. Pure; see `check_text`."""
    if not value.strip():
        return "is empty" if not value else "is only spaces"
    for ch in value:
        if hostile_char(ch):
            kind = "a bidi override" if ch in BIDI_CONTROLS else "a control character"
            return f"contains {kind} ({_describe(ch)})"
    if len(value) > max_length:
        return f"is longer than {max_length} characters"
    return None


def check_text(value: str, what: str, *, max_length: int = 200) -> str:
    """Return `value` unchanged if it is acceptable, else raise ValueError naming `what` and the reason (the
    value itself is shown escaped, so the message is safe to print)."""
    problem = text_problem(value, max_length=max_length)
    if problem:
        raise ValueError(f"{what} '{printable(value, 60)}' {problem}")
    return value


def printable(value: str, limit: int | None = None) -> str:
    """`value` made safe to show on a terminal or in a log line: every control, surrogate, separator or bidi
    override becomes a visible escape (`\\x1b`, `\\u202e`), so nothing is executed or reordered and nothing
    is hidden either. Optionally cut to `limit` characters (with an ellipsis)."""
    out = []
    for ch in value:
        if hostile_char(ch):
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    text = "".join(out)
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)] + "…"
    return text


def one_line(value: str, limit: int = 500) -> str:
    """A message as one printable line: line breaks and runs of whitespace become one space."""
    return printable(" ".join(value.split()), limit)
