"""TEST-ONLY STAND-IN for the platform's signing service (issue 16, item 1): signs in process with pyHanko, with a
throwaway CA made here (a root, the agency's signing certificate, a timestamping certificate) and pyHanko's own
`DummyTimeStamper` in place of the box's RFC 3161 service. It implements the centre's `signing.Signer`, so the
centre's tests (and the benchmark) run before the real service exists; at merge the centre is pointed at the
platform's `POST /sign/<agency>` (`HttpSigner`) and the journey test signs there instead. Never used by the app."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "govcloud test CA (throwaway)"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _cert(subject: str, key: Any, issuer: x509.Name, issuer_key: Any, ca: bool,
          usage: x509.ObjectIdentifier | None = None) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=365))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=not ca, content_commitment=not ca, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=ca,
                                            crl_sign=ca, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=True)
    return builder.sign(issuer_key, hashes.SHA256())


def _asn1(cert: x509.Certificate) -> Any:
    from asn1crypto import x509 as a509
    return a509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _key(key: Any) -> Any:
    from asn1crypto import keys
    return keys.PrivateKeyInfo.load(key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))


@dataclass
class ThrowawaySigner:
    """`signing.Signer` for tests: the agency `agency`'s key under a throwaway root (`root_pem` to trust)."""

    agency: str = "health"

    def __post_init__(self) -> None:
        from pyhanko.sign import signers, timestamps
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        root_key = ec.generate_private_key(ec.SECP256R1())
        root = _cert("Throwaway root", root_key, _name("Throwaway root"), root_key, ca=True)
        sign_key = ec.generate_private_key(ec.SECP256R1())
        sign_cert = _cert(f"Agency {self.agency} (signing)", sign_key, root.subject, root_key, ca=False)
        tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # pyHanko's dummy TSA is RSA-only
        tsa_cert = _cert("Throwaway TSA", tsa_key, root.subject, root_key, ca=False,
                         usage=ExtendedKeyUsageOID.TIME_STAMPING)
        self.root_pem = root.public_bytes(serialization.Encoding.PEM)
        self._signer = signers.SimpleSigner(signing_cert=_asn1(sign_cert), signing_key=_key(sign_key),
                                            cert_registry=SimpleCertificateStore.from_certs([_asn1(root)]))
        self._timestamper = timestamps.DummyTimeStamper(tsa_cert=_asn1(tsa_cert), tsa_key=_key(tsa_key),
                                                        certs_to_embed=SimpleCertificateStore.from_certs([_asn1(root)]))
        self.signed = 0

    def sign(self, pdf: bytes) -> bytes:
        from centre_core.signing import off_loop

        return off_loop(lambda: self._sign(pdf))

    def _sign(self, pdf: bytes) -> bytes:
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import fields, signers

        out = io.BytesIO()
        meta = signers.PdfSignatureMetadata(field_name="Signature", subfilter=fields.SigSeedSubFilter.PADES,
                                            md_algorithm="sha256")
        signers.PdfSigner(meta, signer=self._signer, timestamper=self._timestamper).sign_pdf(
            IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False), output=out)
        self.signed += 1
        return out.getvalue()
