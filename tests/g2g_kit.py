"""A test PKI for the centre's G2G tests: a CA and per-agency keys whose certificates name `<slug>.g2g.govcloud`,
as the platform CA issues them (RSA or EC P-256), written to 0600 files for `g2g_keys.FileSigner`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


class TestCA:
    __test__ = False

    def __init__(self, name: str = "Test Platform CA") -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                     .sign(self.key, hashes.SHA256()))

    def issue(self, folder: Path, slug: str, kind: str = "ec", cn: str | None = None,
              days: int = 10, subject: x509.Name | None = None) -> tuple[Path, Path]:
        """(key file, certificate file) for agency `slug` in `folder` (`subject`: another subject than the CN)."""
        key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = (
            ec.generate_private_key(ec.SECP256R1()) if kind == "ec" else rsa.generate_private_key(65537, 2048))
        now = dt.datetime.now(dt.UTC)
        name = cn or f"{slug}.g2g.govcloud"
        cert = (x509.CertificateBuilder()
                .subject_name(subject or x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                .issuer_name(self.cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=days))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
                .sign(self.key, hashes.SHA256()))
        folder.mkdir(parents=True, exist_ok=True)
        key_file, cert_file = folder / f"{slug}-{kind}.key", folder / f"{slug}-{kind}.pem"
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        key_file.chmod(0o600)
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return key_file, cert_file


def directory_docs(answerer_url: str) -> dict[str, dict[str, object]]:
    """The directories of three agencies as the spec renders them: `trade` offers `business_registered` to
    `health` (consent required); `health` may ask it; `police` (C) offers and asks nothing."""
    query = {"service": "trade_licence", "outcome": "issued", "match": "business_name"}
    purpose = "food shop permit: is the business registered"
    return {
        "trade": {"agency": "trade", "offers": [{"service": "business_registered", "query": query, "grants": [
            {"agency": "health", "purpose": purpose, "consent": True}]}], "asks": []},
        "health": {"agency": "health", "offers": [], "asks": [
            {"service": "business_registered", "agency": "trade", "purpose": purpose, "consent": True,
             "identifier": "business_name", "url": answerer_url}]},
        "police": {"agency": "police", "offers": [], "asks": []},
    }
