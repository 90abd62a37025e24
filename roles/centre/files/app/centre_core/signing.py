"""The centre's one client of the platform's signing service (docs/signing.md), and the offline check of a signed
certificate. The agency's key is the platform's: the centre never sees it.

`HttpSigner` talks to the service for everything the centre signs: `sign(pdf)` (`POST /sign/<agency>`: the PDF in,
the PAdES B-T signed PDF out, for certificates), `jws(claims)` (`POST /jws/<agency>`: a compact JWS, RS256, header
`kid` = the agency and `x5c`, for receipts and G2G requests and answers) and `certificate()` (`GET
/certificate/<agency>`: the agency's certificate and its issuers, for the receipts' JWKS). It is built from the one
URL the role writes (`SIGNING_URL`, the agency's full `/sign/<agency>` URL): `service_urls` derives the others and
checks it (https, or http on a loopback address only; no user, query or fragment). The agency's bearer secret is
read from its 0600 file at each call (a rotated secret works at once), sent only in the Authorization header, and
never in a log, a repr or an error's text. Redirects are not followed (they would carry the secret elsewhere).
Every failure is one `SigningError`. Tests use a stand-in that signs PDFs in process (tests/centre_signing_kit.py).

`verify` is the offline check (`manage.py centre_verify`): pyHanko validates every signature against the trust
roots given (the platform CA), with no network (no fetching of CRLs or OCSP)."""

from __future__ import annotations

import base64
import binascii
import http.client
import io
import ipaddress
import json
import re
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

T = TypeVar("T")

MAX_SIGNED_BYTES = 8 * 1024 * 1024
MAX_JSON_ANSWER = 256 * 1024
MAX_CERTIFICATE_ANSWER = 64 * 1024
AGENCY = re.compile(r"[a-z][a-z0-9-]{1,30}[a-z0-9]")  # as the service's own rule (signing/app.py)
_B64URL = re.compile(r"[A-Za-z0-9_-]+")


class SigningError(Exception):
    """The signing service did not sign (misconfigured, down, refused, or answered something that is not what was
    asked). The text names what failed, never the secret."""


class Signer(Protocol):
    def sign(self, pdf: bytes) -> bytes:
        """The PDF signed PAdES (B-T: with a timestamp) by the agency's key."""
        ...


@dataclass(frozen=True)
class ServiceUrls:
    agency: str
    sign: str  # POST: a PDF
    jws: str  # POST: JSON claims
    certificate: str  # GET: the agency's certificate chain (PEM)


def service_urls(sign_url: str) -> ServiceUrls:
    """Pure: the service's URLs for the agency from its `/sign/<agency>` URL; `SigningError` for any other URL:
    not https (plain http only to a loopback address), no host, a user or password, a query or fragment, or a path
    that does not end in `/sign/<agency>`."""
    try:
        parts = urlsplit(sign_url)
        host, _ = parts.hostname or "", parts.port
    except ValueError:
        raise SigningError("SIGNING_URL is not a URL") from None
    rule = "SIGNING_URL must be https://host[:port]/sign/<agency> (plain http only to a loopback address)"
    if parts.scheme not in ("https", "http") or not host or parts.username is not None or \
            parts.password is not None or parts.query or parts.fragment or "@" in parts.netloc:
        raise SigningError(rule)
    if parts.scheme == "http" and not _loopback(host):
        raise SigningError(rule)
    segments = parts.path.split("/")
    if len(segments) < 3 or segments[-2] != "sign" or not AGENCY.fullmatch(segments[-1]):
        raise SigningError(rule)
    agency, base = segments[-1], "/".join(segments[:-2])

    def at(path: str) -> str:
        return urlunsplit((parts.scheme, parts.netloc, f"{base}/{path}/{agency}", "", ""))

    return ServiceUrls(agency, at("sign"), at("jws"), at("certificate"))


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name, even localhost, may resolve elsewhere


def read_secret(secret_file: str) -> str:
    """The agency's bearer secret from its file, which only its owner may read."""
    path = Path(secret_file)
    try:
        if path.stat().st_mode & 0o077:
            raise SigningError(f"the signing secret file {path} must be readable by its owner only (chmod 600)")
        secret = path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        raise SigningError(f"the signing secret file {path} cannot be read") from None
    if not secret or not secret.isascii() or not secret.isprintable() or " " in secret:
        raise SigningError(f"the signing secret file {path} holds no secret")
    return secret


def check_signed_pdf(sent: bytes, body: bytes) -> bytes:
    """Pure: the service's answer to `POST /sign`, if it is a PDF longer than the one sent."""
    if len(body) > MAX_SIGNED_BYTES or not body.startswith(b"%PDF-") or len(body) <= len(sent):
        raise SigningError("the signing service answered something that is not the signed PDF")
    return body


def check_jws_answer(agency: str, body: bytes) -> str:
    """Pure: the compact JWS of the service's answer to `POST /jws` (`{"jws": ...}`), if its header is the agency's:
    RS256, `kid` = the agency, an `x5c` chain. The signature itself is the verifier's to check."""
    try:
        doc = json.loads(body)
        token = doc.get("jws") if isinstance(doc, dict) else None
        if not isinstance(token, str) or token.count(".") != 2 or \
                not all(_B64URL.fullmatch(part) for part in token.split(".")):
            raise ValueError
        head = token.split(".", 1)[0]
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, binascii.Error):
        raise SigningError("the signing service's answer holds no compact JWS") from None
    if not isinstance(header, dict) or header.get("alg") != "RS256" or header.get("kid") != agency or \
            not isinstance(header.get("x5c"), list) or not header["x5c"]:
        raise SigningError(f"the signing service's JWS is not {agency}'s (alg RS256, kid, x5c)")
    return token


def check_certificate_answer(body: bytes) -> tuple[Any, ...]:
    """Pure: the agency's certificate then its issuers (cryptography `x509.Certificate`s) from the service's PEM."""
    from cryptography import x509

    try:
        chain = tuple(x509.load_pem_x509_certificates(body)) if len(body) <= MAX_CERTIFICATE_ANSWER else ()
    except ValueError:
        chain = ()
    if not chain:
        raise SigningError("the signing service's answer holds no certificate")
    return chain


@dataclass(frozen=True)
class HttpSigner:
    url: str  # the agency's full signing URL (SIGNING_URL), e.g. https://localhost:18018/sign/health
    secret_file: str  # the agency's secret for the service (0600)
    ca_file: str | None = None  # verifies an https service (the box CA)
    timeout: float = 30.0

    @property
    def urls(self) -> ServiceUrls:
        return service_urls(self.url)

    @property
    def agency(self) -> str:
        return self.urls.agency

    def sign(self, pdf: bytes) -> bytes:
        """The PDF signed PAdES B-T by the agency's key."""
        body = self._call("POST", self.urls.sign, pdf, "application/pdf", MAX_SIGNED_BYTES)
        return check_signed_pdf(pdf, body)

    def jws(self, claims_or_payload: Mapping[str, Any] | bytes) -> str:
        """A compact JWS (RS256, `kid`, `x5c`) of the claims (sent as sorted JSON) or of the JSON payload's bytes as
        given (the service signs them as sent)."""
        payload = claims_or_payload if isinstance(claims_or_payload, bytes) else \
            json.dumps(dict(claims_or_payload), sort_keys=True, ensure_ascii=False).encode()
        urls = self.urls
        return check_jws_answer(urls.agency, self._call("POST", urls.jws, payload, "application/json",
                                                        MAX_JSON_ANSWER))

    def certificate(self) -> tuple[Any, ...]:
        """The agency's signing certificate, then its issuers (`x509.Certificate`s): what verifiers trust it by."""
        return check_certificate_answer(self._call("GET", self.urls.certificate, None, "", MAX_CERTIFICATE_ANSWER))

    def _call(self, method: str, url: str, body: bytes | None, content_type: str, limit: int) -> bytes:
        parts = urlsplit(url)
        headers = {"Authorization": f"Bearer {read_secret(self.secret_file)}"} if body is not None else {}
        if body is not None:
            headers["Content-Type"] = content_type
        if parts.scheme == "https":
            context = ssl.create_default_context(cafile=self.ca_file or None)
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.hostname or "", parts.port, timeout=self.timeout, context=context)
        else:
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=self.timeout)
        try:
            conn.request(method, parts.path, body, headers)
            answer = conn.getresponse()
            raw = answer.read(limit + 1)
        except (OSError, http.client.HTTPException) as exc:
            raise SigningError(f"the signing service cannot be reached ({type(exc).__name__})") from None
        finally:
            conn.close()
        if answer.status != 200:
            raise SigningError(f"the signing service refused: HTTP {answer.status}")
        if len(raw) > limit:
            raise SigningError("the signing service's answer is too long")
        return raw


@dataclass(frozen=True)
class Verdict:
    signed: bool  # at least one signature
    intact: bool  # the signed bytes are unchanged and the signature is the key's
    trusted: bool  # the signer's certificate chains to a trust root
    timestamped: bool  # an RFC 3161 timestamp, itself valid and trusted
    covers_whole_file: bool  # nothing was added after the signature
    signer: str
    signed_at: datetime | None  # the timestamp's time
    certificate_id: str | None  # from the PDF's keywords (certificate:<id>)
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.signed and self.intact and self.trusted and self.timestamped and self.covers_whole_file


def off_loop(work: Callable[[], T]) -> T:
    """Run `work` (pyHanko calls asyncio.run) in a thread of its own when this thread already runs an event loop
    (a caller inside asyncio, or Playwright's sync API in tests); else here."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return work()
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result()


def verify(pdf: bytes, trust_roots_pem: Sequence[bytes]) -> Verdict:
    """Validate the PDF's last signature with pyHanko against the given roots, offline."""
    return off_loop(lambda: _verify(pdf, trust_roots_pem))


def _verify(pdf: bytes, trust_roots_pem: Sequence[bytes]) -> Verdict:
    from asn1crypto import pem, x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    roots = []
    for blob in trust_roots_pem:
        for _, _, der in pem.unarmor(blob, multiple=True):
            roots.append(x509.Certificate.load(der))
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        signatures = reader.embedded_signatures
        cert_id = _certificate_id(reader)
    except Exception as exc:  # noqa: BLE001 - a file that does not even parse as a PDF
        return Verdict(False, False, False, False, False, "", None, None, f"not a readable PDF ({exc})")
    if not signatures:
        return Verdict(False, False, False, False, False, "", None, cert_id, "no signature")
    context = ValidationContext(trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail")
    tsa_context = ValidationContext(trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail")
    sig = signatures[-1]
    try:
        status = validate_pdf_signature(sig, signer_validation_context=context, ts_validation_context=tsa_context)
    except Exception as exc:  # noqa: BLE001 - a mangled signature dictionary is a failed check, not a crash
        return Verdict(True, False, False, False, False, "", None, cert_id, f"the signature cannot be read ({exc})")
    ts = status.timestamp_validity
    coverage = getattr(status, "coverage", None)
    level = getattr(status, "modification_level", None)
    whole = coverage is not None and coverage.name in ("ENTIRE_FILE", "ENTIRE_REVISION") and \
        level is not None and level.name == "NONE"
    signer = status.signing_cert.subject.human_friendly if status.signing_cert is not None else ""
    return Verdict(True, bool(status.intact and status.valid), bool(status.trusted),
                   bool(ts is not None and ts.intact and ts.valid and ts.trusted), bool(whole), signer,
                   ts.timestamp if ts is not None else None, cert_id)


def _certificate_id(reader: object) -> str | None:
    info = getattr(reader, "trailer_view", {}).get("/Info")
    if info is not None and hasattr(info, "get_object"):
        info = info.get_object()
    keywords = str(info.get("/Keywords", "")) if info is not None else ""
    for word in keywords.replace(",", " ").split():
        if word.startswith("certificate:"):
            return word.split(":", 1)[1]
    return None
