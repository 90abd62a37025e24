"""Signing a certificate PAdES with the agency's key, which the platform holds (issue 16): the centre never sees
the key. `Signer` is what the centre needs; `HttpSigner` asks the platform's signing service (`POST
/sign/<agency>`, the PDF in, the signed PDF with its RFC 3161 timestamp out; docs/signing.md, "The Citizen's
Centre"), authenticated by the agency's secret (`Authorization: Bearer`) read from a 0600 file at each call.
Tests use a stand-in that signs in process (tests/signing_kit.py).

`verify` is the offline check (`manage.py centre_verify`): pyHanko validates every signature against the trust
roots given (the platform CA), with no network (no fetching of CRLs or OCSP)."""

from __future__ import annotations

import io
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol, TypeVar

T = TypeVar("T")

MAX_SIGNED_BYTES = 8 * 1024 * 1024


class SigningError(Exception):
    """The signing service did not sign (down, refused, or answered something that is not a signed PDF)."""


class Signer(Protocol):
    def sign(self, pdf: bytes) -> bytes:
        """The PDF signed PAdES (B-T: with a timestamp) by the agency's key."""
        ...


@dataclass(frozen=True)
class HttpSigner:
    url: str  # the agency's full signing URL (SIGNING_URL), e.g. https://localhost:18018/sign/health
    secret_file: str  # the agency's secret for the service (0600)
    ca_file: str | None = None  # verifies an https service (the box CA)
    timeout: float = 30.0

    def sign(self, pdf: bytes) -> bytes:
        if not self.url.startswith(("https://", "http://")):
            raise SigningError("the signing service's URL is not http(s)")
        secret = Path(self.secret_file).read_text().strip()
        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
            self.url, data=pdf, method="POST",
            headers={"Content-Type": "application/pdf", "Authorization": f"Bearer {secret}"})
        context = ssl.create_default_context(cafile=self.ca_file) if self.url.startswith("https:") else None
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=context) as answer:  # noqa: S310
                body: bytes = answer.read(MAX_SIGNED_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise SigningError(f"the signing service refused: HTTP {exc.code}") from None
        except OSError as exc:
            raise SigningError(f"the signing service cannot be reached ({type(exc).__name__})") from None
        if len(body) > MAX_SIGNED_BYTES or not body.startswith(b"%PDF-") or len(body) <= len(pdf):
            raise SigningError("the signing service answered something that is not the signed PDF")
        return body


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
