"""A demo payment provider for tests and demos (issue 16): a small WSGI app that stands where a real provider's
hosted payment page would. Not a box service yet: tests run it on 127.0.0.1 (`serve`), and an operator may run
`python -m govcloud_platform.box.services.paydemo --port N --merchants FILE` (FILE: JSON {agency: secret}, 0600).

The protocol is the centre's (`centre_core.payments`, `centre_web.payment_provider`): the centre creates a checkout
with `POST /m/<agency>/v1/checkouts` (signed with the agency's secret like the notifications), the citizen is sent
to `GET /pay/<id>`, presses Pay (a form, no JavaScript), the provider POSTs a signed notification
(`X-Pay-Timestamp`, `X-Pay-Nonce`, `X-Pay-Signature: v1=HMAC-SHA256(secret, "<ts>.<nonce>." + body)`) to the
centre's `notifyUrl`, then redirects the citizen to `returnUrl`. Secrets are never logged.

On a box whose spec enables it (`platform.services.paydemo.enabled`) it runs as the box service `paydemo`
(paydemo_service.py): HTTPS on the box's address, the merchants file written by the paydemo broker (each agency's
secret and the notification URL of its centre, which then wins over a checkout's `notifyUrl`: the provider posts only
where the platform says), re-read when it changes; `--connect` the address of the box's proxy, where the centres'
public names are reached without DNS (SNI and Host the name, the certificate checked against the box CA)."""

from __future__ import annotations

import argparse
import hashlib
import hmac
import html
import http.client
import json
import os
import secrets
import ssl
import stat
import threading
import time
from collections.abc import Callable, Iterable, Mapping
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


@dataclass(frozen=True)
class Merchant:
    """An agency as the provider knows it: its webhook secret and, on the box, where its notifications go."""

    secret: bytes = field(repr=False)
    notify_url: str = ""


class MerchantsFile:
    """The merchants file (JSON `{agency: secret}` or `{agency: {"secret", "notify_url"}}`, 0600), read again when it
    changes: the broker adds an agency while the provider runs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None
        self._merchants: dict[str, Merchant] = {}
        self._lock = threading.Lock()

    def get(self) -> dict[str, Merchant]:
        try:
            st = os.stat(self.path)
        except OSError:
            return {}
        with self._lock:
            if (st.st_mtime_ns, st.st_size) != self._seen:
                self._merchants, self._seen = read_merchants(self.path), (st.st_mtime_ns, st.st_size)
            return self._merchants


class PayDemo:
    """The WSGI app. `merchants`: agency slug -> its webhook secret (or its Merchant), or the box's merchants file.
    `connect`: the address where the centres' names are reached (the box's proxy), else DNS."""

    def __init__(self, merchants: Mapping[str, bytes | Merchant] | MerchantsFile, ca_file: str | None = None,
                 connect: str | None = None) -> None:
        self._source = merchants
        self._ca_file = ca_file
        self._connect = connect
        self.checkouts: dict[str, Checkout] = {}
        self._lock = threading.Lock()

    def merchant(self, agency: str) -> Merchant | None:
        found = self._source.get().get(agency) if isinstance(self._source, MerchantsFile) else \
            self._source.get(agency)
        return Merchant(found) if isinstance(found, bytes) else found

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        parts = [p for p in path.split("/") if p]
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(min(length, 16 * 1024)) if length else b""
        if path == "/healthz":
            return _answer(start_response, "200 OK", "text/plain", b"ok")
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
        merchant = self.merchant(agency)
        headers = {"timestamp": environ.get("HTTP_X_PAY_TIMESTAMP", ""), "nonce": environ.get("HTTP_X_PAY_NONCE", ""),
                   "signature": environ.get("HTTP_X_PAY_SIGNATURE", "")}
        if merchant is None or not _valid(merchant.secret, body, headers):
            return _answer(start_response, "401 Unauthorized", "application/json", b'{"error": "signature"}')
        try:
            data = json.loads(body)
            checkout = Checkout(secrets.token_urlsafe(12), agency, str(data["bill"]), str(data["amount"]),
                                str(data["currency"]), str(data.get("description", ""))[:200],
                                str(data["returnUrl"]), merchant.notify_url or str(data["notifyUrl"]))
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
        merchant = self.merchant(checkout.agency)
        if merchant is None:  # removed from the merchants file since the checkout
            checkout.notified.append(0)
            return 0
        headers = {"Content-Type": "application/json", **sign(merchant.secret, body, nonce=nonce)}
        checkout.sent.append((body, headers))
        status = post(checkout.notify_url, body, headers, self._ca_file, self._connect)
        checkout.notified.append(status)
        return status


class _Connection(http.client.HTTPSConnection):
    """HTTPS to `connect` (the box's proxy) for a name DNS may not know: SNI and Host stay the URL's name."""

    def __init__(self, host: str, port: int | None, connect: str, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__(host, port, context=context, timeout=timeout)
        self._connect_to = connect
        self._tls = context

    def connect(self) -> None:
        import socket

        raw = socket.create_connection((self._connect_to, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str], ca_file: str | None, connect: str | None = None) -> int:
    """POST a notification; the answer's HTTP status, 0 when there is none (unreachable, TLS refused, not a web
    address). https is checked against `ca_file` (the box CA); `connect`: where to reach the URL's host."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return 0
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn: http.client.HTTPConnection
    try:
        if parts.scheme == "https":
            context = ssl.create_default_context(cafile=ca_file)  # the centre's TLS: the box CA
            conn = (_Connection(parts.hostname, parts.port, connect, context, 10) if connect else
                    http.client.HTTPSConnection(parts.hostname, parts.port, context=context, timeout=10))
        else:
            conn = http.client.HTTPConnection(connect or parts.hostname, parts.port, timeout=10)
        try:
            conn.request("POST", path, body, {**headers, "Host": parts.netloc})
            answer = conn.getresponse()
            answer.read(16 * 1024)
            return int(answer.status)
        finally:
            conn.close()
    except (OSError, http.client.HTTPException):
        return 0


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


def read_merchants(path: Path) -> dict[str, Merchant]:
    """{agency: Merchant} from a JSON file only its owner may read (`{agency: secret}` or `{agency: {"secret",
    "notify_url"}}`)."""
    mode = os.stat(path).st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SystemExit(f"{path}: may be read by others: chmod 600 it")
    out: dict[str, Merchant] = {}
    for agency, value in json.loads(path.read_text()).items():
        if isinstance(value, dict):
            out[str(agency)] = Merchant(str(value["secret"]).encode(), str(value.get("notify_url", "")))
        else:
            out[str(agency)] = Merchant(str(value).encode())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="The demo payment provider (no money moves).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--merchants", type=Path, required=True)
    parser.add_argument("--cert", type=Path, help="TLS certificate (PEM); with --key, serve HTTPS")
    parser.add_argument("--key", type=Path, help="TLS private key (PEM)")
    parser.add_argument("--ca-file", default=None, help="CA that verifies the centres' TLS (the box CA)")
    parser.add_argument("--connect", default=None, help="address where the centres' names are reached (the proxy)")
    args = parser.parse_args()
    read_merchants(args.merchants)  # refused at start unless 0600
    server, _ = serve(PayDemo(MerchantsFile(args.merchants), args.ca_file, args.connect), args.host, args.port,
                      args.cert, args.key)
    threading.Event().wait()


if __name__ == "__main__":
    main()

