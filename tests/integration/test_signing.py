"""The box's signing service on the shared session box (docs/signing.md), through real HTTPS: agency A's PDF signed
with A's key validates with pyHanko (intact, trusted against the platform CA, timestamped by the box's own TSA), a
changed byte fails, `govcloud cert verify` agrees; B's secret cannot sign with A's key (403, logged); the TSA answers
RFC 3161 over HTTPS; JWS; a removed agency's secret stops working and --purge-data destroys its key."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.reader import PdfFileReader

from govcloud_platform.onboarding import AgencyRequest, Onboarding
from govcloud_platform.signing import jws, pades
from govcloud_platform.signing.sample import minimal_pdf
from tests.conftest import BoxHandle

pytestmark = pytest.mark.integration
ALPHA, BRAVO = "sgn-alpha", "sgn-bravo"


def onboard(box: BoxHandle, slug: str) -> dict[str, Any]:
    Onboarding(box.box(), actor="test").add(AgencyRequest(slug, f"Signing {slug}", f"it@{slug}.example",
                                                          "standard", ["storage"]))
    creds = box.cli("--json", "agency", "credentials", slug, "--show-secrets")
    assert creds.rc == 0, creds.stderr
    return dict(creds.json()["signing"])


@pytest.fixture(scope="module")
def agencies(box: BoxHandle) -> Iterator[dict[str, dict[str, Any]]]:
    yield {ALPHA: onboard(box, ALPHA), BRAVO: onboard(box, BRAVO)}
    for slug in (ALPHA, BRAVO):  # the session box's later modules meet only their own agencies
        box.cli("agency", "remove", slug, "--purge-data", "--yes")


def post(url: str, ca: str, body: bytes, ctype: str, secret: str | None = None) -> requests.Response:
    headers = {"Content-Type": ctype} | ({"Authorization": f"Bearer {secret}"} if secret else {})
    with requests.Session() as s:
        s.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
        return s.post(url, data=body, headers=headers, verify=ca, timeout=30)


def root(box: BoxHandle) -> asn1_x509.Certificate:
    pem = box.box().ca_file.read_bytes()
    return asn1_x509.Certificate.load(x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER))


def test_status_lists_signing(box: BoxHandle) -> None:
    doc = box.cli("--json", "status").json()
    signing = next(s for s in doc["services"] if s["name"] == "signing")
    assert signing["healthy"] and signing["endpoint"] == f"https://localhost:{box.box().ports.signing_https}"


def test_credentials(box: BoxHandle, agencies: dict[str, dict[str, Any]]) -> None:
    a = agencies[ALPHA]
    assert a["sign_url"] == f"https://localhost:{box.box().ports.signing_https}/sign/{ALPHA}"
    assert len(a["secret"]) >= 40 and a["secret"] != agencies[BRAVO]["secret"]
    masked = box.cli("--json", "agency", "credentials", ALPHA).json()["signing"]
    assert masked["secret"] == "********"
    key = box.home / "signing" / "keys" / f"agency-{ALPHA}.key"
    assert key.stat().st_mode & 0o777 == 0o600


def test_sign_validate_tamper_and_cli(box: BoxHandle, agencies: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    a = agencies[ALPHA]
    started = time.monotonic()
    resp = post(a["sign_url"] + "?reason=Certificate%20issued", a["ca_file"], minimal_pdf("issued to citizen"),
                "application/pdf", a["secret"])
    took = time.monotonic() - started
    assert resp.status_code == 200, resp.text
    assert took < 5, took
    [report] = pades.verify_pdf(resp.content, [root(box)])
    assert report.intact and report.trusted and report.timestamped and report.valid, report
    assert f"OU={ALPHA}" in resp.headers["X-Signing-Certificate"] and ALPHA in report.signer
    # the timestamp is our TSA's
    [sig] = PdfFileReader(io.BytesIO(resp.content)).embedded_signatures
    tst = sig.signer_info["unsigned_attrs"][0]["values"][0]["content"]
    tsa_names = [c.chosen.subject.human_friendly for c in tst["certificates"]]
    assert any("time-stamp authority" in n for n in tsa_names), tsa_names
    good, bad = tmp_path / "good.pdf", tmp_path / "bad.pdf"
    good.write_bytes(resp.content)
    changed = bytearray(resp.content)
    changed[resp.content.index(b"issued to citizen")] ^= 0x01
    bad.write_bytes(bytes(changed))
    [broken] = pades.verify_pdf(bytes(changed), [root(box)])
    assert not broken.valid and not broken.intact
    ok = box.cli("--json", "cert", "verify", str(good))
    assert ok.rc == 0 and ok.json()["valid"], ok.stderr
    refused = box.cli("--json", "cert", "verify", str(bad))
    assert refused.rc == 1 and not refused.json()["valid"]


def test_another_agencys_secret_is_refused_and_logged(box: BoxHandle, agencies: dict[str, dict[str, Any]]) -> None:
    a, b = agencies[ALPHA], agencies[BRAVO]
    resp = post(a["sign_url"], a["ca_file"], minimal_pdf(), "application/pdf", b["secret"])
    assert resp.status_code == 403 and "error" in resp.json()
    assert post(a["sign_url"], a["ca_file"], minimal_pdf(), "application/pdf").status_code == 401
    assert post(a["jws_url"], a["ca_file"], b"{}", "application/json", b["secret"]).status_code == 403
    log = box.home / "logs" / "signing.log"
    deadline = time.monotonic() + 5
    while f"refused sign {ALPHA}: the secret of agency {BRAVO}" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    text = log.read_text()
    assert f"refused sign {ALPHA}: the secret of agency {BRAVO}" in text
    assert a["secret"] not in text and b["secret"] not in text


def test_tsa_and_jws_over_https(box: BoxHandle, agencies: dict[str, dict[str, Any]]) -> None:
    b = agencies[BRAVO]
    req = tsp.TimeStampReq({"version": "v1", "message_imprint": {"hash_algorithm": {"algorithm": "sha256"},
                                                                 "hashed_message": bytes(range(32))},
                            "nonce": 7, "cert_req": True})
    resp = post(b["tsa_url"], b["ca_file"], req.dump(), "application/timestamp-query")
    assert resp.headers["Content-Type"] == "application/timestamp-reply"
    reply = tsp.TimeStampResp.load(resp.content)
    assert reply["status"]["status"].native == "granted"
    info = reply["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed
    assert info["nonce"].native == 7 and info["message_imprint"]["hashed_message"].native == bytes(range(32))
    signed = post(b["jws_url"], b["ca_file"], b'{"purpose": "test"}', "application/json", b["secret"])
    assert signed.status_code == 200
    ca = x509.load_pem_x509_certificate(box.box().ca_file.read_bytes())
    head, payload, _ = jws.verify(signed.json()["jws"], ca)
    assert head["kid"] == BRAVO and payload == b'{"purpose": "test"}'


def test_removal_revokes_then_purges(box: BoxHandle, agencies: dict[str, dict[str, Any]]) -> None:
    b = agencies[BRAVO]
    assert box.cli("agency", "remove", BRAVO, "--yes").rc == 0  # retired: the key is kept, the secret revoked
    assert post(b["sign_url"], b["ca_file"], minimal_pdf(), "application/pdf", b["secret"]).status_code == 401
    assert (box.home / "signing" / "keys" / f"agency-{BRAVO}.key").exists()
    assert box.cli("agency", "remove", BRAVO, "--purge-data", "--yes").rc == 0
    assert not (box.home / "signing" / "keys" / f"agency-{BRAVO}.key").exists()
    assert not (box.home / "signing" / "certs" / f"agency-{BRAVO}.pem").exists()


def test_a_national_ca_certificate_through_the_cli(box: BoxHandle, agencies: dict[str, dict[str, Any]],
                                                   tmp_path: Path) -> None:
    """`cert request` for A's key, a certificate from another CA (the national one), `cert install`: the service
    signs with it at once and the signature is trusted against that CA's root (the timestamp against the box's)."""
    from govcloud_platform.signing import pki
    from tests.signing_kit import make_kit

    national = make_kit(tmp_path / "national")
    request = box.cli("cert", "request", ALPHA)
    assert request.rc == 0, request.stderr
    csr = x509.load_pem_x509_csr(request.stdout.encode())
    assert csr.is_signature_valid
    issued = pki.issue_signing(national.issuer, csr.public_key(), ALPHA, "Signing A", "national")
    chain = tmp_path / "chain.pem"
    chain.write_bytes(pki.pem(issued) + pki.pem(national.issuer.cert))
    installed = box.cli("--json", "cert", "install", ALPHA, str(chain))
    assert installed.rc == 0, installed.stderr
    assert "national" in installed.json()["subject"]
    wrong = box.cli("cert", "install", ALPHA, str(tmp_path / "missing.pem"))
    assert wrong.rc == 2
    a = agencies[ALPHA]
    resp = post(a["sign_url"], a["ca_file"], minimal_pdf("national"), "application/pdf", a["secret"])
    assert resp.status_code == 200, resp.text
    [report] = pades.verify_pdf(resp.content, [national.ca_asn1, root(box)])
    assert report.valid and "national" in report.signer, report
    [platform_only] = pades.verify_pdf(resp.content, [root(box)])
    assert not platform_only.trusted
