"""Sending a text message through a provider: the contract every adapter meets, and the one the centre ships,
a generic HTTP JSON provider.

The contract (`SmsProvider`): `send(to, text)` with `to` in E.164 and `text` as `texts_sms` chose it returns the
provider's message id, or raises `SmsError` saying whether trying again later may help (`permanent=False`: the
provider down, slow, overloaded, or refusing the centre's key, which an operator fixes) or never will
(`permanent=True`: this message or number is refused). Its `str` is what the outbox records: a status code or an
exception's class, never the number, the text or the key. An adapter for a real provider (an aggregator's REST
API, an operator's SMPP gateway behind a small bridge) is a class with this one method; `provider_of` picks it.

`HttpJsonProvider`: `POST <url>` with `Authorization: Bearer <key>`, `Idempotency-Key: <agency>-<outbox row>` (a
send retried after a lost answer is not sent twice by a provider that honours it) and the JSON body
`{"to": "+92...", "text": "...", "encoding": "GSM-7" | "UCS-2", "parts": n, "sender": "<sender id>"}`; a 2xx
answer with `{"id": "..."}` is sent. 400, 413 and 422 refuse the message (permanent); anything else (401/403: a
wrong key; 404; 429; 5xx; no answer in the timeout; TLS failing) is tried again. HTTPS only, verified against the
box CA or the CA file configured for the provider; no proxy from the environment."""

from __future__ import annotations

import http.client
import json
import ssl
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from centre_core.sms import segments

PERMANENT_STATUSES = frozenset({400, 413, 422})
TIMEOUT_S = 10.0


class SmsError(Exception):
    """A send that failed: `permanent` says whether trying again can help; `str` is safe to record."""

    def __init__(self, what: str, permanent: bool) -> None:
        super().__init__(what)
        self.permanent = permanent


class SmsProvider(Protocol):
    def send(self, to: str, text: str, idempotency_key: str = "") -> str:
        """The provider's message id; raises SmsError."""
        ...


@dataclass(frozen=True)
class SmsSettings:
    url: str
    key: str
    ca_file: str
    sender: str = ""
    timeout_s: float = TIMEOUT_S

    def __repr__(self) -> str:  # never the key
        return f"SmsSettings(url={self.url!r}, sender={self.sender!r})"


def settings_of(conf: dict[str, Any]) -> SmsSettings:
    return SmsSettings(str(conf["url"]), str(conf["key"]), str(conf["ca_file"]), str(conf.get("sender") or ""),
                       float(conf.get("timeout_s") or TIMEOUT_S))


def classify(status: int) -> SmsError | None:
    """Pure: None for a 2xx answer, else the error it is (permanent for a refused message)."""
    if 200 <= status < 300:
        return None
    return SmsError(f"http {status}", status in PERMANENT_STATUSES)


def request_body(to: str, text: str, sender: str) -> bytes:
    """Pure: the JSON the provider gets."""
    cost = segments(text)
    body: dict[str, Any] = {"to": to, "text": text, "encoding": cost.encoding, "parts": cost.parts}
    if sender:
        body["sender"] = sender
    return json.dumps(body, ensure_ascii=False).encode()


class HttpJsonProvider:
    """The generic HTTP JSON provider (one HTTPS connection a message: a round sends a few)."""

    def __init__(self, conf: SmsSettings) -> None:
        parts = urlsplit(conf.url)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError("the SMS provider's URL must be https://host[:port]/path")
        self.conf = conf
        self.host, self.port = parts.hostname, parts.port or 443
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.context = ssl.create_default_context(cafile=conf.ca_file)

    def __repr__(self) -> str:
        return f"HttpJsonProvider({self.conf!r})"

    def send(self, to: str, text: str, idempotency_key: str = "") -> str:
        headers = {"Authorization": f"Bearer {self.conf.key}", "Content-Type": "application/json; charset=utf-8",
                   "Accept": "application/json"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.conf.timeout_s, context=self.context)
        try:
            conn.request("POST", self.path, body=request_body(to, text, self.conf.sender), headers=headers)
            response = conn.getresponse()
            raw = response.read(65536)
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            raise SmsError(type(exc).__name__, False) from None  # `from None`: no chained text with the request
        finally:
            conn.close()
        error = classify(status)
        if error is not None:
            raise error
        try:
            found = json.loads(raw or b"{}").get("id")
        except (ValueError, AttributeError):
            found = None
        return str(found) if found else ""


def provider_of(conf: dict[str, Any]) -> SmsProvider:
    """The adapter the settings name (`kind`; `http-json`, the default, is the only one shipped)."""
    kind = str(conf.get("kind") or "http-json")
    if kind != "http-json":
        raise ValueError(f"no SMS adapter {kind!r}: the centre ships http-json")
    return HttpJsonProvider(settings_of(conf))
