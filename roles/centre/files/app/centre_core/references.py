"""Reference numbers: unguessable, short enough to read over the phone and type on one, with a check character.

Eleven random Crockford base32 symbols (55 bits from `secrets`: with a million applications a guess hits one
in 3.6·10^10) and one check symbol, shown as `XXXX-XXXX-XXXX`. The check is Damm's algorithm over GF(32)
(x∘y = 2x + y in the field of 32 elements, a totally anti-symmetric quasigroup): it catches every single
wrong symbol and every swap of two neighbours. Crockford's own mod-37 check would add the symbols `*~$=U`,
which are awkward to type and to put in a URL. Reading is forgiving as Crockford intends: case, spaces and
hyphens do not matter, I and L read as 1, O as 0."""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
BODY = 11
LENGTH = BODY + 1
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_VALUE.update({"I": 1, "L": 1, "O": 0})
_POLY = 0b100101  # x^5 + x^2 + 1, irreducible over GF(2)


def _times2(x: int) -> int:
    x <<= 1
    return x ^ _POLY if x & 0b100000 else x


def check_symbol(body: str) -> str:
    interim = 0
    for ch in body:
        interim = _times2(interim) ^ _VALUE[ch]
    return ALPHABET[_times2(interim)]


def new_reference() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY))
    return body + check_symbol(body)


def normalise(text: str) -> str | None:
    """The canonical 12 symbols of a typed reference, or None when it is not one (wrong length, symbol or
    check): a mistyped reference is told apart from an unknown one without touching the database."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    cleaned = text.upper().replace("-", "").replace(" ", "")
    if len(cleaned) != LENGTH or any(c not in _VALUE for c in cleaned):
        return None
    canonical = "".join(ALPHABET[_VALUE[c]] for c in cleaned)
    return canonical if check_symbol(canonical[:BODY]) == canonical[BODY] else None


def display(reference: str) -> str:
    return "-".join(reference[i:i + 4] for i in range(0, LENGTH, 4))
