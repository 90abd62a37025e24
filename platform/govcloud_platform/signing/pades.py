"""PAdES with pyHanko: sign a PDF with a key of a `KeyBackend` and a timestamp from our own TSA (in-process: the
same responder as `POST /tsa`, no HTTP hop), and validate a signed PDF against a trust root (`govcloud cert verify`,
the tests). PAdES baseline B-T: a CMS signature (SHA-256 with RSA) by the signer's certificate with its chain
embedded, and a signature timestamp."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from asn1crypto import algos, tsp
from asn1crypto import x509 as asn1_x509
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps.api import TimeStamper

from govcloud_platform.signing import tsa

if TYPE_CHECKING:
    from govcloud_platform.signing.keys import KeyBackend

T = TypeVar("T")
DIGEST = "sha256"  # the backends sign SHA-256 with RSA
SIGNATURE_SIZE = 256  # RSA-2048: the size pyHanko reserves on a dry run


class LocalTimeStamper(TimeStamper):
    """pyHanko's timestamp client, answered by our responder in this process."""

    def __init__(self, identity: tsa.TsaIdentity) -> None:
        super().__init__()
        self.identity = identity

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        return tsp.TimeStampResp.load(tsa.respond(req.dump(), self.identity))


class BackendSigner(signers.Signer):
    """pyHanko's signer over a key backend: the private key never leaves it (a file, or an HSM)."""

    def __init__(self, backend: KeyBackend, key: str, cert: asn1_x509.Certificate,
                 chain: list[asn1_x509.Certificate]) -> None:
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        super().__init__(signing_cert=cert, cert_registry=SimpleCertificateStore.from_certs(chain),
                         signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"}))
        self.backend, self.key = backend, key

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if digest_algorithm != DIGEST:
            raise ValueError(f"only {DIGEST} is supported")
        if dry_run:
            return bytes(SIGNATURE_SIZE)
        return await asyncio.to_thread(self.backend.sign, self.key, data)


LEVELS = ("B-T", "B-LT")


def off_loop(work: Callable[[], T]) -> T:
    """Run `work` in a thread of its own when this thread already runs an event loop, else here: pyHanko's sync calls
    use `asyncio.run`, which refuses to start inside a running loop (a caller inside asyncio, Playwright's sync API
    in the same process)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return work()
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result()


def sign_pdf(pdf: bytes, signer: signers.Signer, timestamper: TimeStamper, *, field: str = "Signature1",
             reason: str | None = None, location: str | None = None, level: str = "B-T",
             roots: list[asn1_x509.Certificate] | None = None) -> bytes:
    """The signed PDF (`_sign_pdf`, off any running event loop: `off_loop`)."""
    return off_loop(lambda: _sign_pdf(pdf, signer, timestamper, field=field, reason=reason, location=location,
                                      level=level, roots=roots))


def _sign_pdf(pdf: bytes, signer: signers.Signer, timestamper: TimeStamper, *, field: str,
              reason: str | None, location: str | None, level: str,
              roots: list[asn1_x509.Certificate] | None) -> bytes:
    """The signed PDF (an incremental update of `pdf`). ValueError for a PDF pyHanko cannot read. `level` B-LT adds
    the validation information (a DSS with the chains of the signer and the TSA, validated against `roots`) in a
    second incremental update: about four times the work of B-T (docs/signing.md)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    lt = level == "B-LT"
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.misc import PdfError

    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        meta = signers.PdfSignatureMetadata(field_name=field, reason=reason, location=location, md_algorithm=DIGEST,
                                            subfilter=fields.SigSeedSubFilter.PADES, embed_validation_info=lt,
                                            validation_context=validation_context(roots or []) if lt else None)
        out = signers.PdfSigner(meta, signer=signer, timestamper=timestamper).sign_pdf(writer)
    except (PdfError, KeyError, IndexError, TypeError) as exc:
        raise ValueError(f"not a PDF that can be signed ({type(exc).__name__})") from None
    return bytes(out.getbuffer())


@dataclass
class SignatureReport:
    field: str
    signer: str
    intact: bool
    trusted: bool
    timestamped: bool
    timestamp: str | None
    signing_time: str | None
    coverage: str
    valid: bool
    problem: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def validation_context(roots: list[asn1_x509.Certificate]) -> Any:
    """Trust only these roots; fetch nothing (offline); our CA publishes no CRL or OCSP, so a missing revocation
    source is no failure (soft-fail). Revocation of an issued document is the centre's (issue 16), not the key's."""
    from pyhanko_certvalidator import ValidationContext

    return ValidationContext(trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail")


def verify_pdf(data: bytes, roots: list[asn1_x509.Certificate]) -> list[SignatureReport]:
    """A report per embedded signature. ValueError when it is not a PDF, or has no signature."""
    return off_loop(lambda: _verify_pdf(data, roots))


def _verify_pdf(data: bytes, roots: list[asn1_x509.Certificate]) -> list[SignatureReport]:
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.errors import SignatureValidationError

    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        embedded = list(reader.embedded_signatures)
    except (PdfError, KeyError, IndexError, TypeError, ValueError) as exc:
        raise ValueError(f"not a readable PDF ({type(exc).__name__})") from None
    if not embedded:
        raise ValueError("the PDF has no signature")
    reports = []
    for sig in embedded:
        try:
            context = validation_context(roots)
            status = validate_pdf_signature(sig, context, ts_validation_context=context)
        except (SignatureValidationError, PdfError, ValueError, KeyError) as exc:
            reports.append(SignatureReport(sig.field_name, "", False, False, False, None, None, "", False,
                                           f"{type(exc).__name__}: {str(exc)[:200]}"))
            continue
        ts = status.timestamp_validity
        timestamped = ts is not None and ts.intact and ts.valid and ts.trusted
        coverage = status.coverage.name if status.coverage is not None else ""
        # the whole file, or all but updates that only add validation information or timestamps (B-LT's DSS)
        whole = coverage == "ENTIRE_FILE" or (
            coverage == "ENTIRE_REVISION" and status.modification_level is not None
            and status.modification_level <= ModificationLevel.LTA_UPDATES and bool(status.docmdp_ok))
        signer = status.signing_cert.subject.human_friendly if status.signing_cert is not None else ""
        problems = [what for what, ok in (("changed", status.intact and status.valid), ("untrusted", status.trusted),
                                          ("not timestamped", timestamped), ("not the whole file", whole)) if not ok]
        reports.append(SignatureReport(
            field=sig.field_name, signer=signer, intact=bool(status.intact and status.valid),
            trusted=bool(status.trusted), timestamped=timestamped,
            timestamp=ts.timestamp.isoformat() if ts is not None else None,
            signing_time=status.signer_reported_dt.isoformat() if status.signer_reported_dt else None,
            coverage=coverage, valid=not problems, problem=", ".join(problems)))
    return reports
