"""A demo payment provider for tests and demos (issue 16): a small WSGI app that stands where a real provider's
hosted payment page would. Not a box service yet: tests run it on 127.0.0.1 (`serve`), and an operator may run
`python -m govcloud_platform.box.services.paydemo --port N --merchants FILE` (FILE: JSON {agency: secret}, 0600).

The protocol is the centre's (`centre_core.payments`, `centre_web.payment_provider`): the centre creates a checkout
with `POST /m/<agency>/v1/checkouts` (signed with the agency's secret like the notifications), the citizen is sent
to `GET /pay/<id>`, presses Pay (a form, no JavaScript), the provider POSTs a signed notification
(`X-Pay-Timestamp`, `X-Pay-Nonce`, `X-Pay-Signature: v1=HMAC-SHA256(secret, "<ts>.<nonce>." + body)`) to the
centre's `notifyUrl`, then redirects the citizen to `returnUrl`. Secrets are never logged."""

from __future__ import annotations

import argparse
import hashlib
import hmac
import html
import json
import os
import secrets
import ssl
import stat
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

StartResponse = Callable[..., Any]
TOLERANCE_S = 300


def sign(secret: bytes, body: bytes, now: float | None = None, nonce: str | None = None) -> dict[str, str]:
    timestamp = str(int(now if now is not None else time.time()))
    nonce = nonce or secrets.token_urlsafe(18)
    mac = hmac.new(secret, f"{timestamp}.{nonce}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Pay-Timestamp": timestamp, "X-Pay-Nonce": nonce, "X-Pay-Signature": f"v1={mac}"}


def _valid(secret: bytes, body: bytes, headers: dict[str, str]) -> bool:
    timestamp, nonce, given = (headers.get(k, "") for k in ("timestamp", "nonce", "signature"))
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE_S:
        return False
    mac = hmac.new(secret, f"{timestamp}.{nonce}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"v1={mac}".encode(), given.encode())


@dataclass
class Checkout:
    id: str
    agency: str
    bill: str
    amount: str
    currency: str
    description: str
    return_url: str
    notify_url: str
    paid: str = ""  # the transaction id once paid
    notified: list[int] = field(default_factory=list)  # the centre's answers to the notifications
    sent: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)  # what was sent (tests replay it)


class PayDemo:
    """The WSGI app. `merchants`: agency slug -> its webhook secret."""

    def __init__(self, merchants: dict[str, bytes], ca_file: str | None = None) -> None:
        self._merchants = merchants
        self._ca_file = ca_file
        self.checkouts: dict[str, Checkout] = {}
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        parts = [p for p in path.split("/") if p]
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(min(length, 16 * 1024)) if length else b""
        if path == "/favicon.ico":  # browsers ask on a first visit: no icon, no error in their log
            start_response("204 No Content", [("Cache-Control", "max-age=604800")])
            return [b""]
        if method == "POST" and len(parts) == 4 and parts[0] == "m" and parts[2:] == ["v1", "checkouts"]:
            return self._create(parts[1], body, environ, start_response)
        if len(parts) == 2 and parts[0] == "pay" and parts[1] in self.checkouts:
            checkout = self.checkouts[parts[1]]
            if method == "POST":
                return self._pay(checkout, start_response)
            return _answer(start_response, "200 OK", "text/html; charset=utf-8", _page(checkout).encode())
        return _answer(start_response, "404 Not Found", "text/plain", b"not found")

    def _create(self, agency: str, body: bytes, environ: dict[str, Any], start_response: StartResponse
                ) -> Iterable[bytes]:
        secret = self._merchants.get(agency)
        headers = {"timestamp": environ.get("HTTP_X_PAY_TIMESTAMP", ""), "nonce": environ.get("HTTP_X_PAY_NONCE", ""),
                   "signature": environ.get("HTTP_X_PAY_SIGNATURE", "")}
        if secret is None or not _valid(secret, body, headers):
            return _answer(start_response, "401 Unauthorized", "application/json", b'{"error": "signature"}')
        try:
            data = json.loads(body)
            checkout = Checkout(secrets.token_urlsafe(12), agency, str(data["bill"]), str(data["amount"]),
                                str(data["currency"]), str(data.get("description", ""))[:200],
                                str(data["returnUrl"]), str(data["notifyUrl"]))
        except (ValueError, KeyError, TypeError):
            return _answer(start_response, "400 Bad Request", "application/json", b'{"error": "body"}')
        with self._lock:
            self.checkouts[checkout.id] = checkout
        host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
        url = f"{environ.get('wsgi.url_scheme', 'http')}://{host}/pay/{checkout.id}"
        return _answer(start_response, "201 Created", "application/json",
                       json.dumps({"id": checkout.id, "url": url}).encode())

    def _pay(self, checkout: Checkout, start_response: StartResponse) -> Iterable[bytes]:
        with self._lock:
            if not checkout.paid:
                checkout.paid = "pd-" + secrets.token_hex(8)
        self.notify(checkout)
        start_response("303 See Other", [("Location", checkout.return_url), ("Content-Length", "0")])
        return [b""]

    def notify(self, checkout: Checkout, nonce: str | None = None) -> int:
        """Send the signed notification of a paid checkout to the centre; its HTTP status (0: no answer)."""
        body = json.dumps({"bill": checkout.bill, "transaction": checkout.paid, "amount": checkout.amount,
                           "currency": checkout.currency, "status": "paid"}, sort_keys=True).encode()
        headers = {"Content-Type": "application/json", **sign(self._merchants[checkout.agency], body, nonce=nonce)}
        checkout.sent.append((body, headers))
        if urlsplit(checkout.notify_url).scheme not in ("https", "http"):
            checkout.notified.append(0)
            return 0
        request = urllib.request.Request(checkout.notify_url, data=body, headers=headers,  # noqa: S310 - checked
                                         method="POST")
        try:
            context = ssl.create_default_context(cafile=self._ca_file)  # the centre's TLS: the box CA
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                                 urllib.request.HTTPSHandler(context=context))
            with opener.open(request, timeout=10) as answer:
                status = int(answer.status)
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError:
            status = 0
        checkout.notified.append(status)
        return status


def _page(checkout: Checkout) -> str:
    """The provider's payment page: no script, one form (Pay), a link back (Cancel)."""
    e = html.escape
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Pay {e(checkout.bill)} – PayDemo</title>
<style>body{{font-family:sans-serif;max-width:36em;margin:2em auto;padding:0 1em;color:#0b0c0c}}
button{{font-size:1.2em;padding:.5em 1.5em;background:#00703c;color:#fff;border:0}}
a{{color:#1d70b8}}dt{{font-weight:bold}}</style></head>
<body><main><h1>PayDemo: payment</h1><p>A demonstration payment provider: no money moves.</p>
<dl><dt>Paying</dt><dd>{e(checkout.agency)}: {e(checkout.description)}</dd><dt>Bill</dt><dd>{e(checkout.bill)}</dd>
<dt>Amount</dt><dd>{e(checkout.currency)} {e(checkout.amount)}</dd></dl>
<form method="post" action="/pay/{e(checkout.id)}"><button type="submit" id="pay">Pay {e(checkout.currency)}
{e(checkout.amount)}</button></form><p><a href="{e(checkout.return_url)}">Cancel and go back</a></p></main>
</body></html>"""


def _answer(start_response: StartResponse, status: str, content_type: str, body: bytes) -> Iterable[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body))),
                            ("Cache-Control", "no-store")])
    return [body]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass


def serve(app: PayDemo, host: str = "127.0.0.1", port: int = 0, cert: Path | None = None,
          key: Path | None = None) -> tuple[WSGIServer, str]:
    """The app served in a thread (over TLS with `cert` and `key`, e.g. from the box CA); (the server, its base
    URL). Stop with `server.shutdown()`."""
    server = make_server(host, port, app, server_class=_Server, handler_class=_Quiet)
    scheme = "http"
    if cert is not None and key is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        server.base_environ["HTTPS"] = "on"  # wsgiref's wsgi.url_scheme: the page's address is https
        scheme = "https"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"{scheme}://{host}:{server.server_address[1]}"


def read_merchants(path: Path) -> dict[str, bytes]:
    """{agency: secret} from a JSON file only its owner may read."""
    mode = os.stat(path).st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SystemExit(f"{path}: may be read by others: chmod 600 it")
    return {str(k): str(v).encode() for k, v in json.loads(path.read_text()).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description="The demo payment provider (no money moves).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--merchants", type=Path, required=True)
    parser.add_argument("--cert", type=Path, help="TLS certificate (PEM); with --key, serve HTTPS")
    parser.add_argument("--key", type=Path, help="TLS private key (PEM)")
    parser.add_argument("--ca-file", default=None, help="CA that verifies the centres' TLS (the box CA)")
    args = parser.parse_args()
    server, _ = serve(PayDemo(read_merchants(args.merchants), args.ca_file), args.host, args.port, args.cert,
                      args.key)
    threading.Event().wait()


if __name__ == "__main__":
    main()

