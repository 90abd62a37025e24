"""The receipt's signature: a compact JWS (ES256) by the agency, through a small adapter so that the platform's
signing service can take over from a local key. `LocalKeySigner` signs with an EC P-256 key in a PEM file (0600,
`RECEIPT_KEY_FILE`); its public key is published as a JWKS at `/api/payments/receipt-keys`, where anyone holding a
receipt can check it (`verify`, or any JOSE library). `ServiceSigner` is the platform's signing service through
the centre's one client of it (`centre_core.signing.HttpSigner`)."""

from __future__ import annotations

import base64
import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from centre_core.signing import HttpSigner, SigningError, service_urls

from . import runtime

TYP = "centre-receipt+jws"


class ReceiptSigner(Protocol):
    def sign(self, claims: dict[str, Any]) -> str: ...

    def jwks(self) -> dict[str, Any]: ...


class LocalKeySigner:
    def __init__(self, pem: bytes) -> None:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError("RECEIPT_KEY_FILE must hold an EC P-256 private key (PEM)")
        self._key = key
        public = key.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        self.kid = hashlib.sha256(public).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"LocalKeySigner(kid={self.kid})"

    def sign(self, claims: dict[str, Any]) -> str:
        payload = json.dumps(claims, sort_keys=True, ensure_ascii=False).encode()
        return jwt.api_jws.PyJWS().encode(payload, self._key, algorithm="ES256",
                                          headers={"kid": self.kid, "typ": TYP})

    def jwks(self) -> dict[str, Any]:
        jwk = ECAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "ES256"}]}


def verify(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """The claims of a receipt signed by a key of `jwks` (ES256 from a local key, RS256 from the platform's signing
    service); `jwt.InvalidTokenError` when it is not."""
    header = jwt.get_unverified_header(token)
    for key in jwks.get("keys", []):
        if key.get("kid") == header.get("kid"):
            public = jwt.PyJWK({k: v for k, v in key.items() if k != "x5c"})
            claims: dict[str, Any] = json.loads(jwt.api_jws.PyJWS().decode(token, public,
                                                                           algorithms=["ES256", "RS256"]))
            return claims
    raise jwt.InvalidSignatureError("no key of the set signed this receipt")


class ServiceSigner:
    """The platform's signing service as the receipts' signer: a thin adapter over the centre's one client
    (`centre_core.signing.HttpSigner`, docs/signing.md): `sign` is its `jws` (RS256, `kid` = the agency, `x5c`), the
    receipts' keys are the agency's certificate from its `certificate()`, published as a JWK with its `x5c`. A bad
    `SIGNING_URL` is refused here (`SigningError`); the service's failures become `SigningUnavailable`."""

    def __init__(self, sign_url: str, secret_file: str, ca_file: str, timeout_s: float = 10.0) -> None:
        self.agency = service_urls(sign_url).agency
        self._client = HttpSigner(sign_url, secret_file, ca_file or None, timeout_s)
        self._jwks: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"ServiceSigner({self._client.url!r})"

    def sign(self, claims: dict[str, Any]) -> str:
        try:
            return self._client.jws(claims)
        except SigningError as exc:
            raise SigningUnavailable(str(exc)) from None

    def jwks(self) -> dict[str, Any]:
        if self._jwks is None:
            try:
                chain = self._client.certificate()
            except SigningError as exc:
                raise SigningUnavailable(str(exc)) from None
            public = chain[0].public_key()
            if not isinstance(public, rsa.RSAPublicKey):
                raise SigningUnavailable("the agency's signing certificate is not RSA")
            jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
            x5c = [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in chain]
            self._jwks = {"keys": [{**jwk, "kid": self.agency, "use": "sig", "alg": "RS256", "x5c": x5c}]}
        return self._jwks


class SigningUnavailable(Exception):
    """The signing service cannot sign now (down, refusing): the payment is not recorded (its transaction rolls
    back), and the provider's notification is answered 5xx so that the provider sends it again."""


def new_key_pem() -> bytes:
    """A fresh P-256 key (tests, and an operator's first key until the signing service holds it)."""
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


@lru_cache(maxsize=4)
def _signer(path: str) -> LocalKeySigner:
    return LocalKeySigner(Path(path).read_bytes())


@lru_cache(maxsize=4)
def _service(url: str, secret_file: str, ca_file: str) -> ServiceSigner:
    return ServiceSigner(url, secret_file, ca_file)


def signer() -> ReceiptSigner | None:
    """The agency's receipt signer: a local key (`RECEIPT_KEY_FILE`), else the platform's signing service
    (`SIGNING_URL` + `SIGNING_SECRET_FILE`, as the role writes them for docs/signing.md), else None: no payments
    (fees are only shown)."""
    conf = runtime.payments()
    if conf.get("receipt_key_file"):
        return _signer(conf["receipt_key_file"])
    if conf.get("signing_url") and conf.get("signing_secret_file"):
        return _service(conf["signing_url"], conf["signing_secret_file"], conf.get("signing_ca_file", ""))
    return None
