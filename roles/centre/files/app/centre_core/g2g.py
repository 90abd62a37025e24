"""Data sharing between agencies (G2G), the pure part: the agency's directory (what it offers and to whom, what it
may ask and where, rendered from the platform's spec at deploy), compact JWS in and out, and the decisions on a
request and an answer. Nothing here reads the clock, the network or the database: the caller passes them in.

A request is a JWS signed by the asking agency's key, whose certificate (header `x5c`) the platform CA issued for the
agency: `OU=<agency>, O=govcloud <platform>` (its key in the platform's signing service, wherever there is one) or
CN `<agency>.g2g.govcloud` (a key file, on the hosts target only); its claims: `iss` (the asking agency), `aud` (the
answering one), `service`, `purpose`, `ref` (the asking application's reference), `sub` (the citizen's identifier
the record is looked up by), `consent` (the citizen ticked it), `nonce`, `iat`, `exp`. The answer is a JWS of the
answering agency with `iss`, `aud`, `service`, `inReplyTo` (the request's nonce), `result`, `iat`, `exp`. Each side
checks that the certificate names the agency the token claims, and the grant."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID

from .errors import CentreError
from .g2g_keys import Signer

CERT_SUFFIX = ".g2g.govcloud"  # an agency's G2G certificate names `<slug>.g2g.govcloud` (CN and DNS name)
MAX_TOKEN = 16 * 1024
MAX_LIFETIME = timedelta(minutes=5)
SKEW = timedelta(seconds=60)
_SLUG = re.compile(r"[a-z][a-z0-9-]{1,30}")
_ID = re.compile(r"[a-z][a-z0-9_]{1,39}")
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_REF = re.compile(r"[0-9A-HJKMNP-TV-Z]{12}")
ALGS = ("RS256", "ES256")


class G2GError(CentreError):
    """A G2G request or answer refused; `reason` is a short code kept in the logs (`not_granted`, `bad_signature`,
    `agency_mismatch`, `replay`, `expired`, `no_consent`, `purpose`, `malformed`, `not_offered`, ...)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Query:
    """The declared query an offered service answers: is there a closed application of `service` with `outcome`
    whose answer `match` equals the identifier asked about (no free SQL)."""

    service: str
    outcome: str
    match: str


@dataclass(frozen=True)
class Offer:
    service: str
    query: Query
    askers: Mapping[str, Grant]  # asking agency -> its grant


@dataclass(frozen=True)
class Grant:
    service: str
    asker: str
    answerer: str
    purpose: str
    consent: bool
    identifier: str = ""  # the asking application's answer sent as `sub`
    url: str = ""  # where the answering agency's centre takes requests


@dataclass(frozen=True)
class Directory:
    agency: str
    offers: Mapping[str, Offer]  # service -> what this agency answers, and to whom
    asks: Mapping[str, Grant]  # service -> what this agency may ask, of whom, where
    names: Mapping[str, str] = field(default_factory=dict)  # agency slug -> its name (for the citizen's page)
    titles: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # service -> {en, ur}
    connect: str = ""  # where peers' public names are reached (the edge proxy's address; "" = by DNS)


def directory(doc: Mapping[str, Any]) -> Directory:
    """The directory the role writes (`g2g.json`), checked; a malformed one raises `CentreError` naming the key."""
    try:
        agency = str(doc["agency"])
        offers: dict[str, Offer] = {}
        for o in doc.get("offers", []):
            q = o["query"]
            service = _ident(o["service"], "offers.service")
            askers = {str(g["agency"]): Grant(service, str(g["agency"]), agency, str(g["purpose"]), bool(g["consent"]))
                      for g in o.get("grants", [])}
            offers[service] = Offer(service, Query(_ident(q["service"], "query.service"),
                                                   _ident(q["outcome"], "query.outcome"),
                                                   _ident(q["match"], "query.match")), askers)
        asks = {_ident(a["service"], "asks.service"): Grant(
            str(a["service"]), agency, str(a["agency"]), str(a["purpose"]), bool(a["consent"]),
            _ident(a["identifier"], "asks.identifier"), str(a["url"])) for a in doc.get("asks", [])}
        names = {str(k): str(v) for k, v in dict(doc.get("names", {})).items()}
        titles = {str(k): {"en": str(v["en"]), "ur": str(v["ur"])} for k, v in dict(doc.get("titles", {})).items()}
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise CentreError(f"G2G directory: missing or malformed key {exc}") from None
    return Directory(agency, offers, asks, names, titles, str(doc.get("connect", "")))


def _ident(value: Any, key: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise CentreError(f"G2G directory: {key}: {value!r} is not an id")
    return value


# --- compact JWS -------------------------------------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise G2GError("malformed", "not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(claims: Mapping[str, Any], signer: Signer) -> str:
    """A compact JWS of `claims`: by the signer's key here, or whole by the platform's signing service (a signer with
    `jws`, g2g_keys.ServiceSigner)."""
    jws = getattr(signer, "jws", None)
    if jws is not None:
        return str(jws(_json(dict(claims))))
    header = {"alg": signer.alg, "typ": "g2g+jwt", "x5c": [base64.b64encode(c).decode() for c in signer.chain]}
    signing_input = f"{_b64(_json(header))}.{_b64(_json(dict(claims)))}"
    return f"{signing_input}.{_b64(signer.sign(signing_input.encode()))}"


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def verify(token: str, ca: x509.Certificate, now: datetime) -> tuple[str, dict[str, Any]]:
    """(the agency its certificate names, the claims) of a JWS whose signature verifies with the leaf certificate of
    its `x5c`, issued by `ca` and valid at `now`. Raises `G2GError` otherwise."""
    if len(token) > MAX_TOKEN or token.count(".") != 2:
        raise G2GError("malformed", "not a compact JWS")
    head, body, signature = token.split(".")
    try:
        header = json.loads(_unb64(head))
        claims = json.loads(_unb64(body))
        sig = _unb64(signature)
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise ValueError
        chain = header.get("x5c")
        if not isinstance(chain, list) or not chain or not isinstance(chain[0], str):
            raise ValueError
        leaf = x509.load_der_x509_certificate(base64.b64decode(chain[0], validate=True))
    except (ValueError, TypeError):
        raise G2GError("malformed", "the token's header, claims or certificate cannot be read") from None
    alg = header.get("alg")
    if alg not in ALGS or set(header) - {"alg", "typ", "x5c", "kid"}:
        raise G2GError("malformed", f"algorithm {alg!r} or header fields not accepted")
    try:
        leaf.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        raise G2GError("untrusted", "the certificate was not issued by the platform CA") from None
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        raise G2GError("untrusted", "the certificate is not valid now")
    key = leaf.public_key()
    data = f"{head}.{body}".encode()
    try:
        if alg == "RS256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
        elif alg == "ES256" and isinstance(key, ec.EllipticCurvePublicKey) and len(sig) == 64:
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
            key.verify(der, data, ec.ECDSA(hashes.SHA256()))
        else:
            raise InvalidSignature
    except InvalidSignature:
        raise G2GError("bad_signature", "the signature does not verify") from None
    return cert_agency(leaf), claims


def cert_agency(cert: x509.Certificate) -> str:
    """The agency a G2G certificate names, or '' for any other certificate: its CN `<slug>.g2g.govcloud` (the key
    a deploy issues), or `OU=<slug>, O=govcloud <platform>` (the agency's key in the platform's signing service)."""
    def first(oid: x509.ObjectIdentifier) -> str:
        found = cert.subject.get_attributes_for_oid(oid)
        return str(found[0].value) if len(found) == 1 else ""

    cn = first(NameOID.COMMON_NAME)
    slug = cn[:-len(CERT_SUFFIX)] if cn.endswith(CERT_SUFFIX) else ""
    if not slug and first(NameOID.ORGANIZATION_NAME).startswith("govcloud "):
        slug = first(NameOID.ORGANIZATIONAL_UNIT_NAME)
    return slug if _SLUG.fullmatch(slug) else ""


def _times(claims: Mapping[str, Any], now: datetime) -> None:
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int) or not isinstance(exp, int) or exp <= iat:
        raise G2GError("malformed", "iat and exp must be whole seconds, exp after iat")
    if exp - iat > MAX_LIFETIME.total_seconds():
        raise G2GError("malformed", f"a token may live at most {int(MAX_LIFETIME.total_seconds())} s")
    stamp = now.timestamp()
    if iat > stamp + SKEW.total_seconds():
        raise G2GError("expired", "issued in the future")
    if exp < stamp:
        raise G2GError("expired", "the token has expired")


@dataclass(frozen=True)
class Request:
    asker: str
    service: str
    purpose: str
    reference: str
    subject: str
    consent: bool
    nonce: str
    expires: datetime


def check_request(mine: Directory, signed_by: str, claims: Mapping[str, Any], now: datetime) -> Request:
    """Decide on a verified request to this agency (`mine`): the certificate's agency is the claimed `iss`, this
    agency offers the service and granted it to that agency, for that purpose, with the citizen's consent where the
    grant requires it. The nonce's uniqueness is the store's (it records each one until it expires)."""
    iss, service = claims.get("iss"), claims.get("service")
    if not signed_by or signed_by != iss:
        raise G2GError("agency_mismatch", f"signed by {signed_by or 'no agency'!r} but claims to be {iss!r}")
    if claims.get("aud") != mine.agency:
        raise G2GError("wrong_audience", f"addressed to {claims.get('aud')!r}, not {mine.agency!r}")
    _times(claims, now)
    nonce, ref, subject = claims.get("nonce"), claims.get("ref"), claims.get("sub")
    if not isinstance(nonce, str) or not _NONCE.fullmatch(nonce):
        raise G2GError("malformed", "nonce missing or malformed")
    if not isinstance(ref, str) or not _REF.fullmatch(ref):
        raise G2GError("malformed", "the application reference is missing or malformed")
    if not isinstance(subject, str) or not 0 < len(subject) <= 200:
        raise G2GError("malformed", "the identifier asked about is missing or too long")
    purpose = claims.get("purpose")
    if not isinstance(purpose, str) or not purpose:
        raise G2GError("purpose", "no purpose given")
    offer = mine.offers.get(service) if isinstance(service, str) else None
    if offer is None:
        raise G2GError("not_offered", f"{mine.agency} does not offer {service!r}")
    grant = offer.askers.get(str(iss))
    if grant is None:
        raise G2GError("not_granted", f"{iss} was not granted {service}")
    if purpose != grant.purpose:
        raise G2GError("purpose", f"the purpose granted is {grant.purpose!r}")
    consent = claims.get("consent") is True
    if grant.consent and not consent:
        raise G2GError("no_consent", "this service needs the citizen's consent")
    return Request(str(iss), str(service), purpose, ref, subject, consent, nonce,
                   datetime.fromtimestamp(int(claims["exp"]), now.tzinfo))


def request_claims(grant: Grant, reference: str, subject: str, consent: bool, nonce: str,
                   now: datetime, lifetime: timedelta = timedelta(seconds=60)) -> dict[str, Any]:
    """What this agency's step sends: refused here, before anything leaves, without consent the grant needs."""
    if grant.consent and not consent:
        raise G2GError("no_consent", "the citizen did not consent to this request")
    iat = int(now.timestamp())
    return {"iss": grant.asker, "aud": grant.answerer, "service": grant.service, "purpose": grant.purpose,
            "ref": reference, "sub": subject, "consent": consent, "nonce": nonce, "iat": iat,
            "exp": iat + int(lifetime.total_seconds())}


def answer_claims(mine: Directory, request: Request, result: Mapping[str, Any], nonce: str,
                  now: datetime) -> dict[str, Any]:
    iat = int(now.timestamp())
    return {"iss": mine.agency, "aud": request.asker, "service": request.service, "inReplyTo": request.nonce,
            "result": dict(result), "nonce": nonce, "iat": iat, "exp": iat + 60}


def check_answer(grant: Grant, signed_by: str, claims: Mapping[str, Any], request_nonce: str,
                 now: datetime) -> dict[str, Any]:
    """The result of a verified answer to our request: signed by the agency we asked, about what we asked."""
    if signed_by != grant.answerer or claims.get("iss") != grant.answerer:
        raise G2GError("agency_mismatch", f"the answer is not signed by {grant.answerer}")
    if claims.get("aud") != grant.asker or claims.get("service") != grant.service:
        raise G2GError("wrong_audience", "the answer is not to this request")
    if claims.get("inReplyTo") != request_nonce:
        raise G2GError("replay", "the answer is to another request")
    _times(claims, now)
    result = claims.get("result")
    if not isinstance(result, dict) or not isinstance(result.get("found"), bool):
        raise G2GError("malformed", "the answer has no result")
    return result
