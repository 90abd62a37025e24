"""The receipt's signature: a compact JWS (ES256) by the agency, through a small adapter so that the platform's
signing service can take over from a local key. `LocalKeySigner` signs with an EC P-256 key in a PEM file (0600,
`RECEIPT_KEY_FILE`); its public key is published as a JWKS at `/api/payments/receipt-keys`, where anyone holding a
receipt can check it (`verify`, or any JOSE library)."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

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
    """The claims of a receipt signed by a key of `jwks`; `jwt.InvalidTokenError` when it is not."""
    header = jwt.get_unverified_header(token)
    for key in jwks.get("keys", []):
        if key.get("kid") == header.get("kid"):
            public = ECAlgorithm.from_jwk(json.dumps(key))
            if not isinstance(public, ec.EllipticCurvePublicKey):
                raise jwt.InvalidKeyError("a receipt key is a public key")
            claims: dict[str, Any] = json.loads(jwt.api_jws.PyJWS().decode(token, public, algorithms=["ES256"]))
            return claims
    raise jwt.InvalidSignatureError("no key of the set signed this receipt")


def new_key_pem() -> bytes:
    """A fresh P-256 key (tests, and an operator's first key until the signing service holds it)."""
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


@lru_cache(maxsize=4)
def _signer(path: str) -> LocalKeySigner:
    return LocalKeySigner(Path(path).read_bytes())


def signer() -> ReceiptSigner | None:
    """The agency's receipt signer, or None: no receipt key, so no payments (fees are only shown)."""
    path = runtime.payments()["receipt_key_file"]
    return _signer(path) if path else None
