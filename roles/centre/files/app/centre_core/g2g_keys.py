"""An agency's G2G signing key behind one small interface, so that where the key lives does not change the centre:
in the platform's signing service wherever the platform runs one (`ServiceSigner`, over the centre's one client of
the service), else in files a deploy wrote (`FileSigner`: the hosts target, which has no signing service yet).

`Signer.sign(data)` returns the JWS signature of `data` (raw, as JWS wants it: ES256 is r||s, not DER);
`Signer.alg` names the algorithm (RS256 or ES256) and `Signer.chain` is the certificate chain (DER, the agency's
certificate first) that goes into the JWS header's `x5c`. `FileSigner` reads a PEM key and a PEM certificate (chain)
from 0600 files: the key is held in memory, never logged."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from .errors import CentreError
from .signing import HttpSigner, SigningError


class Signer(Protocol):
    alg: str
    chain: tuple[bytes, ...]

    def sign(self, data: bytes) -> bytes: ...


class FileSigner:
    """A key and its certificate chain from files (the key file must not be readable by others)."""

    def __init__(self, key_file: Path, cert_file: Path) -> None:
        if key_file.stat().st_mode & 0o077:
            raise CentreError(f"the G2G key file {key_file} must be readable by its owner only (chmod 600)")
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        if isinstance(key, rsa.RSAPrivateKey):
            self.alg = "RS256"
        elif isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
            self.alg = "ES256"
        else:
            raise CentreError(f"the G2G key in {key_file} must be RSA or EC P-256")
        self._key = key
        certs = x509.load_pem_x509_certificates(cert_file.read_bytes())
        spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        if certs[0].public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
            raise CentreError(f"the certificate in {cert_file} is not the key's")
        self.chain = tuple(c.public_bytes(serialization.Encoding.DER) for c in certs)

    def sign(self, data: bytes) -> bytes:
        key = self._key
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


class ServiceSigner:
    """The agency's key in the platform's signing service (docs/signing.md), where the platform runs one: a thin
    adapter over the centre's one client of it (`signing.HttpSigner.jws`, `POST /jws/<agency>`). The service builds
    the whole compact JWS (header `alg`, `kid`, `x5c` with the agency's certificate and the platform CA), so this
    signer signs claims, not bytes (`g2g.sign` asks it for `jws`); the service's failures are `CentreError`s."""

    alg = "RS256"
    chain: tuple[bytes, ...] = ()

    def __init__(self, client: HttpSigner) -> None:
        try:
            client.urls  # noqa: B018 - refuses a bad SIGNING_URL now, not at the first request
        except SigningError as exc:
            raise CentreError(f"G2G through the signing service: {exc}") from None
        self.client = client

    def sign(self, data: bytes) -> bytes:
        raise CentreError("the signing service signs whole claims (jws), not bytes")

    def jws(self, payload: bytes) -> str:
        try:
            return self.client.jws(payload)
        except SigningError as exc:
            raise CentreError(f"the signing service did not sign: {exc}") from None
