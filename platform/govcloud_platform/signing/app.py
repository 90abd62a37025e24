"""The signing service's WSGI app (docs/signing.md for the interface): `POST /sign/<agency>`, `POST /jws/<agency>`,
`POST /tsa`, `GET /certificate/<agency>`, `GET /healthz`. Run by gunicorn over TLS (box/services/signing.py).

Every agency's secret is checked against the SHA-256 the platform wrote (`store.SigningHome.secret_file`), read at
each request: a removed agency's secret stops working at once. A secret of another agency is a 403, logged with
both slugs (never the secret)."""

from __future__ import annotations

import hmac
import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from flask import Flask, Response, request

from govcloud_platform.signing import jws, pades, tsa
from govcloud_platform.signing.keys import TSA_KEY, KeyBackend, KeyUnavailable, key_name
from govcloud_platform.signing.store import SigningHome, secret_digest, to_asn1

MAX_PDF = 20 * 1024 * 1024
MAX_JSON = 64 * 1024
MAX_TSQ = 16 * 1024
_FIELD_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
log = logging.getLogger("govcloud.signing")


@dataclass(frozen=True)
class _Signer:
    mtime: float
    cert: x509.Certificate
    pades: pades.BackendSigner
    chain: list[x509.Certificate]


class Signing:
    """What the workers share: the key backend, the trust anchor, the TSA identity, each agency's signer."""

    def __init__(self, home: SigningHome, ca_file: Path) -> None:
        self.home = home
        self.ca = x509.load_pem_x509_certificate(ca_file.read_bytes())
        self.backend: KeyBackend = home.backend()
        self._signers: dict[str, _Signer] = {}
        self._lock = threading.Lock()
        tsa_cert = home.certificate(TSA_KEY)
        if tsa_cert is None:
            raise RuntimeError(f"no TSA certificate in {home.certs}: run `govcloud up`")
        self.tsa = tsa.TsaIdentity((to_asn1(tsa_cert), to_asn1(self.ca)),
                                   lambda data: self.backend.sign(TSA_KEY, data))
        self.timestamper = pades.LocalTimeStamper(self.tsa)

    def signer(self, slug: str) -> _Signer | None:
        path = self.home.cert_file(key_name(slug))
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            return None
        with self._lock:
            cached = self._signers.get(slug)
        if cached is not None and cached.mtime == mtime:
            return cached
        cert = self.home.certificate(key_name(slug))
        if cert is None:
            return None
        chain = self.home.chain(key_name(slug), self.ca)  # the platform CA, or an agency's or national CA's chain
        made = _Signer(mtime, cert, pades.BackendSigner(self.backend, key_name(slug), to_asn1(cert),
                                                        [to_asn1(c) for c in chain]), chain)
        with self._lock:
            self._signers[slug] = made
        return made

    def holder(self, secret: str) -> str | None:
        """The agency whose secret this is (None: no agency's)."""
        digest = secret_digest(secret)
        for path in sorted(self.home.secrets.glob("*.sha256")):
            try:
                stored = path.read_text().strip()
            except OSError:
                continue
            if hmac.compare_digest(stored, digest):
                return path.name.removesuffix(".sha256")
        return None

    def allowed(self, slug: str, secret: str) -> bool:
        try:
            stored = self.home.secret_file(slug).read_text().strip()
        except OSError:
            return False
        return hmac.compare_digest(stored, secret_digest(secret))


def _error(status: int, message: str) -> Response:
    return Response(json.dumps({"error": message}) + "\n", status=status, mimetype="application/json")


def _bearer() -> str | None:
    value = request.headers.get("Authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def create_app(root: Path, ca_file: Path) -> Flask:
    """`root`: the box's `signing/` directory (`store.SigningHome`)."""
    app = Flask("govcloud-signing")
    app.config["MAX_CONTENT_LENGTH"] = MAX_PDF
    state: dict[str, Signing] = {}

    def signing() -> Signing:
        if "s" not in state:
            state["s"] = Signing(SigningHome(root), ca_file)
        return state["s"]

    def authorise(slug: str, what: str) -> Response | _Signer:
        """The agency's signer when the request carries its secret; else the error response (logged)."""
        if not _SLUG_RE.fullmatch(slug):
            return _error(404, f"unknown agency {slug[:40]!r}")
        secret = _bearer()
        if secret is None:
            log.warning("refused %s %s: no bearer secret (401) from %s", what, slug, request.remote_addr)
            return _error(401, "missing `Authorization: Bearer <signing secret>`")
        s = signing()
        if not s.allowed(slug, secret):
            other = s.holder(secret)
            if other is not None:
                log.warning("refused %s %s: the secret of agency %s (403) from %s", what, slug, other,
                            request.remote_addr)
                return _error(403, f"this secret may not sign for agency {slug}")
            log.warning("refused %s %s: a secret no agency holds (401) from %s", what, slug, request.remote_addr)
            return _error(401, "unknown signing secret")
        signer = s.signer(slug)
        if signer is None:
            return _error(404, f"agency {slug} has no signing key")
        return signer

    @app.errorhandler(413)
    def too_large(_: Any) -> Response:
        return _error(413, "request body too large")

    @app.errorhandler(404)
    def not_found(_: Any) -> Response:
        return _error(404, "no such endpoint")

    @app.errorhandler(405)
    def not_allowed(_: Any) -> Response:
        return _error(405, "method not allowed")

    @app.get("/healthz")
    def healthz() -> Response:
        try:
            signing()
        except (OSError, RuntimeError, ValueError, KeyUnavailable) as exc:
            return _error(503, f"not ready: {exc}")
        return Response('{"ok": true}\n', mimetype="application/json")

    @app.post("/tsa")
    def timestamp() -> Response:
        if request.mimetype != "application/timestamp-query":
            return _error(415, "Content-Type must be application/timestamp-query")
        if (request.content_length or 0) > MAX_TSQ:
            return _error(413, "request body too large")
        try:
            reply = tsa.respond(request.get_data(), signing().tsa)
        except KeyUnavailable as exc:
            return _error(503, str(exc))
        return Response(reply, mimetype="application/timestamp-reply")

    @app.post("/sign/<slug>")
    def sign(slug: str) -> Response:
        got = authorise(slug, "sign")
        if isinstance(got, Response):
            return got
        if request.mimetype != "application/pdf":
            return _error(415, "Content-Type must be application/pdf")
        field = request.args.get("field", "Signature1")
        level = request.args.get("level", "B-T").upper()
        if level not in pades.LEVELS:
            return _error(400, f"level: one of {', '.join(pades.LEVELS)}")
        reason, location = request.args.get("reason"), request.args.get("location")
        if not _FIELD_RE.fullmatch(field):
            return _error(400, "field: 1-64 letters, digits, '_' or '-'")
        if any(v is not None and (len(v) > 200 or any(ord(c) < 32 for c in v)) for v in (reason, location)):
            return _error(400, "reason and location: one line of at most 200 characters")
        started = time.monotonic()
        body = request.get_data()
        try:
            signed = pades.sign_pdf(body, got.pades, signing().timestamper, field=field, reason=reason,
                                    location=location, level=level,
                                    roots=[to_asn1(c) for c in got.chain[-1:]] + [to_asn1(signing().ca)])
        except ValueError as exc:
            return _error(400, str(exc))
        except KeyUnavailable as exc:
            log.error("sign %s: key unavailable: %s", slug, exc)
            return _error(503, "the signing key is unavailable")
        log.info("signed a PDF for %s (%d bytes, %.0f ms)", slug, len(body), (time.monotonic() - started) * 1000)
        resp = Response(signed, mimetype="application/pdf")
        resp.headers["X-Signing-Certificate"] = got.cert.subject.rfc4514_string()
        resp.headers["X-Signing-Serial"] = format(got.cert.serial_number, "x")
        return resp

    @app.post("/jws/<slug>")
    def sign_json(slug: str) -> Response:
        got = authorise(slug, "jws")
        if isinstance(got, Response):
            return got
        if request.mimetype != "application/json":
            return _error(415, "Content-Type must be application/json")
        body = request.get_data()
        if len(body) > MAX_JSON:
            return _error(413, "request body too large")
        try:
            json.loads(body)
        except ValueError:
            return _error(400, "the body is not JSON")
        s = signing()
        try:
            token = jws.sign(body, slug, [got.cert, *got.chain], lambda data: s.backend.sign(key_name(slug), data))
        except KeyUnavailable:
            return _error(503, "the signing key is unavailable")
        log.info("signed a JWS for %s (%d bytes)", slug, len(body))
        return Response(json.dumps({"jws": token, "alg": "RS256", "kid": slug}) + "\n", mimetype="application/json")

    @app.get("/certificate/<slug>")
    def certificate(slug: str) -> Response:
        s = signing()
        signer = s.signer(slug) if _SLUG_RE.fullmatch(slug) else None
        if signer is None:
            return _error(404, "unknown agency")
        from govcloud_platform.signing.pki import pem

        return Response(pem(signer.cert) + b"".join(pem(c) for c in signer.chain), mimetype="application/x-pem-file")

    return app
