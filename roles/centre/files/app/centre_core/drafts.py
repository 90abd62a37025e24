"""Save and come back later: an application being filled in, kept in the agency's database under a link only
the citizen holds.

The link carries a 32-byte random token (256 bits: unguessable, so no account and no attempt limit are needed);
the table keeps only its SHA-256, so a leaked table gives no link. A draft lasts DRAFT_TTL after it was last
saved, then it is gone (the SLA timers' job purges them); sending the application deletes it. The decisions
here are pure; `store` does the I/O."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

DRAFT_TTL = timedelta(days=28)
TOKEN_BYTES = 32
MAX_ANSWERS_BYTES = 64 * 1024  # a draft's answers as JSON: the questions' own limits keep it far below
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # base64url of 32 bytes, unpadded


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def well_formed(token: str) -> bool:
    """Whether `token` can be one of ours (checked before any query: a mangled link is told apart cheaply)."""
    return bool(_TOKEN.match(token))


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def expires(saved_at: datetime) -> datetime:
    return saved_at + DRAFT_TTL
