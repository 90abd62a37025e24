"""Our RFC 3161 time-stamp authority: a `TimeStampReq` in, a `TimeStampResp` out (DER), signed by the TSA's key.

Pure but for the clock and the serial, which are arguments. What it grants (RFC 3161 section 2.4): SHA-256/384/512
imprints of the right length, no policy or ours (`POLICY`), no extensions; anything else is a `rejection` with the
matching failure bit (still a reply, never an exception). The token is CMS SignedData over a TSTInfo with the signed
attributes content-type, message-digest and ESS signing-certificate-v2 (RFC 5816), the TSA certificate included
when `certReq` asks for it."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from asn1crypto import algos, cms, core, tsp, x509

if TYPE_CHECKING:
    from collections.abc import Callable

# The TSA's policy: an OID under 2.25 (a UUID, RFC 4122 9.1): anyone may mint one without registering it.
POLICY = "2.25.198402305866127337604914393409468770405"
DIGEST_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}
ACCURACY_SECONDS = 1


@dataclass(frozen=True)
class TsaIdentity:
    """The TSA's certificate chain (its own first, then the platform CA) and a function that signs bytes with its
    key (RSA PKCS#1 v1.5 with SHA-256): a key file's, or an HSM's."""

    chain: tuple[x509.Certificate, ...]
    sign: Callable[[bytes], bytes]

    @property
    def cert(self) -> x509.Certificate:
        return self.chain[0]


class Refusal(core.Sequence):
    """A TimeStampResp without its (OPTIONAL) token: asn1crypto's class insists on one, encoding and parsing."""

    _fields = [("status", tsp.PKIStatusInfo)]


def _rejection(fail: str, text: str) -> bytes:
    return Refusal({
        "status": {"status": "rejection", "status_string": [text], "fail_info": tsp.PKIFailureInfo({fail})},
    }).dump()


def parse_request(der: bytes) -> tuple[tsp.TimeStampReq | None, tuple[str, str] | None]:
    """(the request, None) when it can be granted, else (None, (failure bit, reason))."""
    try:
        req = tsp.TimeStampReq.load(der, strict=True)
        req.native  # noqa: B018 - parse every field now: a malformed one is the client's error
    except (ValueError, TypeError, OverflowError):
        return None, ("bad_data_format", "not a DER TimeStampReq")
    if req["version"].native != "v1":
        return None, ("bad_request", "version must be 1")
    imprint = req["message_imprint"]
    algorithm = imprint["hash_algorithm"]["algorithm"].native
    if algorithm not in DIGEST_SIZES:
        return None, ("bad_alg", f"unsupported hash algorithm {algorithm}")
    if len(imprint["hashed_message"].native) != DIGEST_SIZES[algorithm]:
        return None, ("bad_data_format", "the imprint's length does not match its algorithm")
    policy = req["req_policy"].native
    if policy is not None and policy != POLICY:
        return None, ("unaccepted_policy", f"policy {policy} is not this TSA's ({POLICY})")
    if req["extensions"].native:
        return None, ("unaccepted_extensions", "extensions are not supported")
    return req, None


def new_serial() -> int:
    return secrets.randbits(127) + 1


def tst_info(req: tsp.TimeStampReq, now: dt.datetime, serial: int, tsa_cert: x509.Certificate) -> tsp.TSTInfo:
    info = {
        "version": "v1",
        "policy": POLICY,
        "message_imprint": req["message_imprint"],
        "serial_number": serial,
        "gen_time": now.astimezone(dt.UTC).replace(microsecond=0),
        "accuracy": {"seconds": ACCURACY_SECONDS},
        "tsa": x509.GeneralName(name="directory_name", value=tsa_cert.subject),
    }
    if req["nonce"].native is not None:
        info["nonce"] = req["nonce"].native
    return tsp.TSTInfo(info)


def _signing_certificate(cert: x509.Certificate) -> tsp.SigningCertificateV2:
    return tsp.SigningCertificateV2({"certs": [{
        "hash_algorithm": {"algorithm": "sha256"},
        "cert_hash": hashlib.sha256(cert.dump()).digest(),
        "issuer_serial": {"issuer": [x509.GeneralName(name="directory_name", value=cert.issuer)],
                          "serial_number": cert.serial_number},
    }]})


def token(info: tsp.TSTInfo, identity: TsaIdentity, include_certs: bool) -> cms.ContentInfo:
    """The time-stamp token: SignedData over the DER of `info`."""
    content = info.dump()
    attrs = cms.CMSAttributes([
        cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
        cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(content).digest()]}),
        cms.CMSAttribute({"type": "signing_certificate_v2", "values": [_signing_certificate(identity.cert)]}),
    ])
    signer = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier(name="issuer_and_serial_number", value={
            "issuer": identity.cert.issuer, "serial_number": identity.cert.serial_number}),
        "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
        "signed_attrs": attrs,
        "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"}),
        "signature": identity.sign(attrs.dump()),  # DER of the SET OF: what RFC 5652 5.4 has signed
    })
    signed = cms.SignedData({
        "version": "v3",
        "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
        "encap_content_info": {"content_type": "tst_info", "content": core.ParsableOctetString(content)},
        "certificates": [cms.CertificateChoices(name="certificate", value=c) for c in identity.chain]
        if include_certs else None,
        "signer_infos": [signer],
    })
    if not include_certs:
        del signed["certificates"]
    return cms.ContentInfo({"content_type": "signed_data", "content": signed})


def respond(der: bytes, identity: TsaIdentity, now: dt.datetime | None = None, serial: int | None = None) -> bytes:
    """The DER TimeStampResp to a DER TimeStampReq."""
    req, refused = parse_request(der)
    if req is None:
        assert refused is not None
        return _rejection(*refused)
    info = tst_info(req, now or dt.datetime.now(dt.UTC), serial or new_serial(), identity.cert)
    return tsp.TimeStampResp({
        "status": {"status": "granted"},
        "time_stamp_token": token(info, identity, bool(req["cert_req"].native)),
    }).dump()
