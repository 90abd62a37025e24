"""Compact JWS (RFC 7515) with RS256, the signer's chain in `x5c`: what agencies sign their G2G requests with
(`POST /jws/<agency>`), and its verification against the platform CA."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def header(kid: str, chain: list[x509.Certificate]) -> dict[str, Any]:
    return {"alg": "RS256", "kid": kid,
            "x5c": [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in chain]}


def sign(payload: bytes, kid: str, chain: list[x509.Certificate], sign_bytes: Callable[[bytes], bytes]) -> str:
    """`<header>.<payload>.<signature>`, the payload's bytes as given."""
    head = b64url(json.dumps(header(kid, chain), separators=(",", ":"), sort_keys=True).encode())
    signing_input = f"{head}.{b64url(payload)}"
    return f"{signing_input}.{b64url(sign_bytes(signing_input.encode()))}"


def verify(token: str, root: x509.Certificate) -> tuple[dict[str, Any], bytes, x509.Certificate]:
    """(header, payload, signer's certificate) when the signature is the first x5c certificate's and that
    certificate was issued by `root` and is valid now; ValueError saying why not."""
    import datetime as dt

    try:
        head_b64, payload_b64, sig_b64 = token.split(".")
        head = json.loads(unb64url(head_b64))
        payload, sig = unb64url(payload_b64), unb64url(sig_b64)
        chain = [x509.load_der_x509_certificate(base64.b64decode(c)) for c in head["x5c"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"not a compact JWS with x5c ({type(exc).__name__})") from None
    if head.get("alg") != "RS256" or not chain:
        raise ValueError("only RS256 with an x5c chain is accepted")
    leaf = chain[0]
    try:
        leaf.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature):
        raise ValueError("the signer's certificate is not issued by the trusted CA") from None
    now = dt.datetime.now(dt.UTC)
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        raise ValueError("the signer's certificate is not valid now")
    key = leaf.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the signer's key is not RSA")
    try:
        key.verify(sig, f"{head_b64}.{payload_b64}".encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise ValueError("bad signature") from None
    return head, payload, leaf
