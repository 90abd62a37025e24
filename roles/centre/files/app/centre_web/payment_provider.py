"""The client of the agency's payment provider (`centre_core.payments.PaymentProvider`): the shipped adapter
`paydemo` speaks the demo provider's API (`govcloud_platform.box.services.paydemo`), which is also the shape the
adapter of a real provider takes: `POST <PAY_URL>/v1/checkouts` with the bill, signed as its notifications are
(`X-Pay-Timestamp`, `X-Pay-Nonce`, `X-Pay-Signature` over the raw body with the shared secret), answered 201
`{"id", "url"}`: the page the citizen is sent to. HTTPS verified against PAY_CA_FILE (else the box CA); plain HTTP
only to a loopback address (tests and demos on one machine). The secret is never logged nor in `repr`."""

from __future__ import annotations

import http.client
import json
import ssl
from typing import Any
from urllib.parse import urlsplit

from centre_core import payments
from centre_core.payments import Checkout, Refused

from . import runtime

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


class DemoProvider:
    def __init__(self, url: str, secret: str, ca_file: str, timeout_s: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname or \
                (parts.scheme == "http" and parts.hostname not in LOOPBACK):
            raise ValueError("PAY_URL must be https://host[:port][/path] (http only on loopback)")
        self._parts = parts
        self._secret = secret.encode()
        self._ca_file = ca_file
        self._timeout = timeout_s

    def __repr__(self) -> str:
        return f"DemoProvider({self._parts.geturl()!r})"

    def request(self, checkout: Checkout) -> tuple[str, bytes, dict[str, str]]:
        """(path, body, headers) of the checkout request (pure: the unit test asserts on it)."""
        body = json.dumps({"bill": checkout.bill, "amount": payments.amount_text(checkout.amount_minor,
                                                                                 checkout.currency),
                           "currency": checkout.currency, "description": checkout.description[:200],
                           "returnUrl": checkout.return_url, "notifyUrl": checkout.notify_url},
                          sort_keys=True).encode()
        headers = {"Content-Type": "application/json",
                   **payments.signed_headers(self._secret, body, runtime.now())}
        return self._parts.path.rstrip("/") + "/v1/checkouts", body, headers

    def start(self, checkout: Checkout) -> str:
        path, body, headers = self.request(checkout)
        port = self._parts.port
        conn: http.client.HTTPConnection = http.client.HTTPConnection(self._parts.hostname or "", port,
                                                                      timeout=self._timeout)
        try:
            if self._parts.scheme == "https":  # a missing or unreadable CA file is the provider unreachable too
                conn = http.client.HTTPSConnection(self._parts.hostname or "", port, timeout=self._timeout,
                                                   context=ssl.create_default_context(cafile=self._ca_file))
            conn.request("POST", path, body, headers)
            answer = conn.getresponse()
            raw = answer.read(16 * 1024)
        except (OSError, http.client.HTTPException) as exc:
            raise Refused("provider", f"the payment provider did not answer ({type(exc).__name__})") from None
        finally:
            conn.close()
        if answer.status != 201:
            raise Refused("provider", f"the payment provider answered {answer.status}")
        try:
            url = json.loads(raw)["url"]
        except (ValueError, KeyError, TypeError):
            raise Refused("provider", "the payment provider's answer has no url") from None
        if not isinstance(url, str) or urlsplit(url).scheme not in ("https", "http"):
            raise Refused("provider", "the payment provider's url is not a web address")
        return url


def provider_of(conf: dict[str, Any]) -> payments.PaymentProvider:
    if conf["kind"] != "paydemo":
        raise ValueError(f"unknown PAY_KIND {conf['kind']!r}")
    return DemoProvider(conf["url"], conf["secret"], conf["ca_file"], conf["timeout_s"])
