"""What the views share: the loaded catalogue (read once per process), one database connection per thread,
the tracking key and the clock (the core never reads the clock; the web side passes it in)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from django.conf import settings

from centre_core import catalogue, installed
from centre_core.objects import Bucket, BucketSettings
from centre_core.timers import Calendar

_local = threading.local()


def loaded() -> catalogue.Loaded:
    """The catalogue in use: the installed version `current` points at (read again only when an import or a
    deploy switched it: one readlink per call), else CATALOGUE, else the samples."""
    root = settings.CENTRE_CATALOGUE_ROOT
    version = installed.current(Path(root)) if root else None
    if version is not None:
        return _load(str(version / "catalogue.yaml"))
    return _load(settings.CENTRE_CATALOGUE or "")


@lru_cache(maxsize=2)
def _load(path: str) -> catalogue.Loaded:
    return catalogue.load(Path(path)) if path else catalogue.load_samples()


@lru_cache(maxsize=1)
def calendar() -> Calendar:
    """The agency's holidays and time zone, in which SLA working days are counted."""
    holidays = frozenset(date.fromisoformat(d.strip()) for d in settings.CENTRE_HOLIDAYS.split(",") if d.strip())
    return Calendar(holidays, ZoneInfo(settings.TIME_ZONE))


def connection() -> psycopg.Connection[Any]:
    """The thread's connection (autocommit: each store function is its own transaction); reopened when lost."""
    conn: psycopg.Connection[Any] | None = getattr(_local, "conn", None)
    if conn is None or conn.closed or conn.broken:
        conn = psycopg.connect(**settings.CENTRE_DB, autocommit=True)
        _local.conn = conn
    return conn


def has_bucket() -> bool:
    """Whether the centre has the agency's bucket (without making its client: boto3's costs ~35 MiB, so a
    process makes it at its first use of the bucket)."""
    return bool(getattr(settings, "CENTRE_BUCKET", None))


def bucket() -> Bucket | None:
    """The agency's bucket (one client per process: boto3's clients are thread-safe), or None without one."""
    conf = getattr(settings, "CENTRE_BUCKET", None)
    if not conf:
        return None
    key = tuple(sorted(conf.items()))
    cached: tuple[Any, Bucket] | None = getattr(bucket, "cached", None)
    if cached is None or cached[0] != key:
        cached = (key, Bucket(BucketSettings(**conf)))
        bucket.cached = cached  # type: ignore[attr-defined]
    return cached[1]


def mail() -> dict[str, Any] | None:
    """The agency's SMTP login (`settings.CENTRE_MAIL`), or None: notifications are off."""
    conf: dict[str, Any] | None = getattr(settings, "CENTRE_MAIL", None)
    return conf or None


def sms() -> dict[str, Any] | None:
    """The agency's SMS provider (`settings.CENTRE_SMS`), or None: no text messages."""
    conf: dict[str, Any] | None = getattr(settings, "CENTRE_SMS", None)
    return conf or None


def channels() -> tuple[str, ...]:
    """The channels the agency sends codes and notices on (`email` with a mail service, `sms` with a provider)."""
    return tuple(c for c, on in (("email", mail() is not None), ("sms", sms() is not None)) if on)


def tracking_key() -> bytes:
    key: bytes = settings.CENTRE_TRACKING_KEY
    return key


def now() -> datetime:
    return datetime.now(UTC)


def client_address(request: Any) -> str:
    """The client's address: what the proxy says (`X-Forwarded-For`, which nginx sets to one address: the
    connection's, or the citizen's from an edge's PROXY header) when the request comes from the proxy on this
    host's loopback; else the connection's own."""
    remote = str(request.META.get("REMOTE_ADDR", ""))
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")[0].strip()
    if forwarded and remote in ("127.0.0.1", "::1"):
        return forwarded[:64]
    return remote


def payments() -> dict[str, Any]:
    """The e-payments settings (`settings.CENTRE_PAYMENTS`): receipt key file, provider URL and secret."""
    conf: dict[str, Any] = getattr(settings, "CENTRE_PAYMENTS", None) or {"receipt_key_file": "", "url": ""}
    return conf
