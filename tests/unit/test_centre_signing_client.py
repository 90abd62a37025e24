"""The centre's one client of the platform's signing service (`centre_core.signing.HttpSigner`), its pure parts:
the URLs derived from `SIGNING_URL` and the rule they obey (the strictest of the three clients it replaced), the
checks of each answer, the secret's file; and that it follows no redirect (the secret would go with it)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from centre_core import signing
from centre_core.signing import HttpSigner, SigningError, service_urls


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _token(header: dict[str, object]) -> bytes:
    return json.dumps({"jws": f"{_b64(json.dumps(header).encode())}.{_b64(b'{}')}.{_b64(b'sig')}"}).encode()


@pytest.mark.parametrize(("url", "jws", "certificate"), [
    ("https://localhost:18018/sign/health", "https://localhost:18018/jws/health",
     "https://localhost:18018/certificate/health"),
    ("https://box.example.pk/signing/sign/trade-office", "https://box.example.pk/signing/jws/trade-office",
     "https://box.example.pk/signing/certificate/trade-office"),
    ("http://127.0.0.1:9/sign/health", "http://127.0.0.1:9/jws/health", "http://127.0.0.1:9/certificate/health"),
    ("http://[::1]:9/sign/health", "http://[::1]:9/jws/health", "http://[::1]:9/certificate/health"),
])
def test_the_urls_derive_from_the_sign_url(url: str, jws: str, certificate: str) -> None:
    urls = service_urls(url)
    assert (urls.sign, urls.jws, urls.certificate) == (url, jws, certificate)
    assert urls.agency == url.rsplit("/", 1)[1]


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "ftp://box/sign/health", "http://signing.example/sign/health",
    "http://localhost:18018/sign/health",  # a name may resolve elsewhere: plain http to loopback addresses only
    "http://10.0.0.1:18018/sign/health", "https://user:pw@box/sign/health", "https://box/sign/health?x=1",
    "https://box/sign/health#f", "https://box/jws/health", "https://box/sign/", "https://box/sign/Health",
    "https://box/sign/h", "https://box/sign/health/", "https://box:99999/sign/health", "https:///sign/health", "",
])
def test_any_other_url_is_refused(url: str) -> None:
    with pytest.raises(SigningError, match="SIGNING_URL"):
        service_urls(url)


def test_the_answers_are_checked() -> None:
    good = {"alg": "RS256", "kid": "health", "x5c": ["MIIB"]}
    assert signing.check_jws_answer("health", _token(good)).count(".") == 2
    for header in ({**good, "kid": "trade"}, {**good, "alg": "HS256"}, {**good, "x5c": []},
                   {"alg": "RS256", "kid": "health"}):
        with pytest.raises(SigningError, match="not health's"):
            signing.check_jws_answer("health", _token(header))
    for body in (b"not json", b"[]", b'{"jws": 1}', b'{"jws": "a.b"}', b'{"jws": "a.b.c d"}', b'{"jws": "!!.e30.c"}'):
        with pytest.raises(SigningError, match="no compact JWS"):
            signing.check_jws_answer("health", body)
    pdf = b"%PDF-1.7 unsigned"
    assert signing.check_signed_pdf(pdf, pdf + b" signed") == pdf + b" signed"
    for answer in (pdf, b"<html>" * 10, b""):
        with pytest.raises(SigningError, match="not the signed PDF"):
            signing.check_signed_pdf(pdf, answer)
    for body in (b"", b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"):
        with pytest.raises(SigningError, match="no certificate"):
            signing.check_certificate_answer(body)


def test_the_secret_comes_from_a_file_only_its_owner_reads(tmp_path: Path) -> None:
    path = tmp_path / "signing.secret"
    path.write_text("s3cret-" + "x" * 30 + "\n")
    path.chmod(0o644)
    with pytest.raises(SigningError, match="chmod 600") as caught:
        signing.read_secret(str(path))
    path.chmod(0o600)
    assert signing.read_secret(str(path)) == "s3cret-" + "x" * 30
    for text in ("", "\n", "two words\n", "bad\x07byte\n"):
        path.write_text(text)
        with pytest.raises(SigningError, match="holds no secret") as caught:
            signing.read_secret(str(path))
    assert "x" * 30 not in str(caught.value)
    with pytest.raises(SigningError, match="cannot be read"):
        signing.read_secret(str(tmp_path / "missing"))


@pytest.fixture
def redirecting() -> Iterator[tuple[str, list[str]]]:
    """A server that answers every request with a redirect to itself (`/elsewhere`), recording what it was sent."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _redirect(self) -> None:
            seen.append(f"{self.command} {self.path} {self.headers.get('Authorization', '')}")
            self.send_response(307)
            self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_GET = _redirect  # noqa: N815 - http.server's names

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/sign/health", seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_redirect_is_not_followed_and_no_error_quotes_the_secret(tmp_path: Path,
                                                                   redirecting: tuple[str, list[str]]) -> None:
    url, seen = redirecting
    secret = tmp_path / "signing.secret"
    secret.write_text("s3cret-" + "y" * 30 + "\n")
    secret.chmod(0o600)
    client = HttpSigner(url, str(secret), timeout=5)
    for call in (lambda: client.sign(b"%PDF-1.7"), lambda: client.jws({"a": 1}), client.certificate):
        with pytest.raises(SigningError, match="HTTP 307") as caught:
            call()
        assert "y" * 30 not in str(caught.value) and "y" * 30 not in repr(client)
    assert [s.rsplit(" ", 1)[0] if s.endswith("y" * 30) else s for s in seen] == [
        "POST /sign/health Bearer", "POST /jws/health Bearer", "GET /certificate/health "]
    assert seen[0].endswith("y" * 30)  # the secret only in the Authorization header, and only to the service
