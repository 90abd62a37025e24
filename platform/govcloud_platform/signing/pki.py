"""Certificates of the signing service, issued by the platform CA (`box/ca.py`): the TSA's (extendedKeyUsage
timeStamping, critical: RFC 3161 section 2.3) and one signing certificate per agency (keyUsage digitalSignature
and nonRepudiation, its subject naming the agency). Pure functions of keys and names; the callers keep the files."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes, PublicKeyTypes

SIGNING_DAYS = 825
TSA_DAYS = 825
KEY_BITS = 2048


@dataclass(frozen=True)
class Issuer:
    """The CA that issues: its certificate and key (the platform CA's, or an agency CA's: docs/signing.md)."""

    cert: x509.Certificate
    key: CertificateIssuerPrivateKeyTypes

    @classmethod
    def load(cls, cert_pem: bytes, key_pem: bytes) -> Issuer:
        key = serialization.load_pem_private_key(key_pem, password=None)
        return cls(x509.load_pem_x509_certificate(cert_pem), key)  # type: ignore[arg-type]


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _base(issuer: Issuer, subject: x509.Name, public_key: PublicKeyTypes, days: int) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(min(now + dt.timedelta(days=days), issuer.cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)  # type: ignore[arg-type]
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer.cert.public_key()), critical=False)  # type: ignore[arg-type]
    )


def _usage(*, digital_signature: bool, non_repudiation: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=digital_signature, content_commitment=non_repudiation,
                         key_encipherment=False, data_encipherment=False, key_agreement=False, key_cert_sign=False,
                         crl_sign=False, encipher_only=False, decipher_only=False)


def agency_subject(slug: str, name: str, platform: str) -> x509.Name:
    """`CN=<agency name>, OU=<slug>, O=govcloud <platform>`: who signs, readable, and the slug a machine matches."""
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"govcloud {platform}"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, slug),
        x509.NameAttribute(NameOID.COMMON_NAME, (name or slug)[:64]),
    ])


def issue_signing(issuer: Issuer, public_key: PublicKeyTypes, slug: str, name: str, platform: str) -> x509.Certificate:
    """An agency's document-signing certificate: digitalSignature + nonRepudiation (critical), no TLS usage."""
    return (
        _base(issuer, agency_subject(slug, name, platform), public_key, SIGNING_DAYS)
        .add_extension(_usage(digital_signature=True, non_repudiation=True), critical=True)
        .sign(issuer.key, hashes.SHA256())
    )


def issue_tsa(issuer: Issuer, public_key: PublicKeyTypes, platform: str) -> x509.Certificate:
    """The TSA's certificate: extendedKeyUsage timeStamping only, critical (RFC 3161 2.3)."""
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"govcloud {platform}"),
                         x509.NameAttribute(NameOID.COMMON_NAME, f"govcloud time-stamp authority ({platform})")])
    return (
        _base(issuer, subject, public_key, TSA_DAYS)
        .add_extension(_usage(digital_signature=True, non_repudiation=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(issuer.key, hashes.SHA256())
    )


def still_good(cert: x509.Certificate, issuer: x509.Certificate, days_left: int = 30) -> bool:
    """Whether a kept certificate may be reused: issued by this CA (a box whose CA was made again needs new ones)
    and valid for `days_left` more days."""
    now = dt.datetime.now(dt.UTC)
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, Exception):  # noqa: BLE001 - any mismatch: issue again
        return False
    return cert.not_valid_after_utc - now > dt.timedelta(days=days_left)


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)
