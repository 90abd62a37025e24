"""A limit on tracking lookups per client (per address, as the proxy saw it), on top of the per-code attempt limit:
one client cannot try references and codes at speed, and one client's tries do not lock anyone else out.

Every lookup that reaches the database counts (a right code too: a citizen needs one or two), LIMIT per WINDOW;
past it the client is told when to come back (429). The address is never stored: only an HMAC of it under the
centre's tracking key, so the table says nothing about who tracked what. The store counts under a row lock, so
concurrent requests cannot overrun the limit. Pure decisions here; `store.client_attempt` does the I/O."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

LIMIT = 20
WINDOW = timedelta(minutes=15)


def client_key(key: bytes, address: str) -> str:
    return hmac.new(key, f"client:{address}".encode(), hashlib.sha256).hexdigest()


def counted(window_start: datetime | None, attempts: int, now: datetime,
            window: timedelta = WINDOW) -> tuple[datetime, int]:
    """Pure: the window and its count once this attempt is counted (a window past its end starts anew)."""
    if window_start is None or now - window_start >= window:
        return now, 1
    return window_start, attempts + 1


def allowed(attempts: int) -> bool:
    return attempts <= LIMIT


def retry_after(window_start: datetime, now: datetime, window: timedelta = WINDOW) -> int:
    """Pure: whole seconds until the window ends (at least 1)."""
    return max(1, int((window_start + window - now).total_seconds() + 0.999))
