"""The signing service's pure parts (docs/signing.md): the RFC 3161 responder, the certificates, PAdES signing and
verification, JWS, the WSGI app's authorisation (Flask's test client: no server), `govcloud cert verify` (the CLI as
a subprocess) and a key in a SoftHSM token."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
from pathlib import Path

import pytest
from asn1crypto import cms, core, tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from govcloud_platform.box.ports import Ports
from govcloud_platform.signing import jws, pades, tsa
from govcloud_platform.signing.keys import TSA_KEY, Pkcs11Keys, key_name
from govcloud_platform.signing.sample import minimal_pdf
from tests.conftest import assert_one_error, run_cli
from tests.signing_kit import Kit, make_kit


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    return make_kit(tmp_path_factory.mktemp("pki"))


def _request(digest: bytes, algorithm: str = "sha256", nonce: int | None = 42, cert_req: bool = True,
             policy: str | None = None) -> bytes:
    req = {"version": "v1", "message_imprint": {"hash_algorithm": {"algorithm": algorithm},
                                                "hashed_message": digest}, "cert_req": cert_req}
    if nonce is not None:
        req["nonce"] = nonce
    if policy is not None:
        req["req_policy"] = policy
    return tsp.TimeStampReq(req).dump()


def test_tsa_grants_a_token_its_certificate_verifies(kit: Kit) -> None:
    digest = hashlib.sha256(b"document").digest()
    resp = tsp.TimeStampResp.load(tsa.respond(_request(digest), kit.tsa))
    assert resp["status"]["status"].native == "granted"
    signed = resp["time_stamp_token"]["content"]
    info = signed["encap_content_info"]["content"].parsed
    assert info["message_imprint"]["hashed_message"].native == digest
    assert info["nonce"].native == 42 and info["policy"].native == tsa.POLICY
    signer = signed["signer_infos"][0]
    attrs = {a["type"].native: a["values"][0] for a in signer["signed_attrs"]}
    assert attrs["message_digest"].native == hashlib.sha256(info.dump()).digest()
    assert "signing_certificate_v2" in attrs
    [tsa_der] = [c.chosen.dump() for c in signed["certificates"] if c.chosen.subject == kit.tsa.cert.subject]
    tsa_cert = x509.load_der_x509_certificate(tsa_der)
    signed_attrs = b"\x31" + signer["signed_attrs"].dump()[1:]  # signed as a SET OF (RFC 5652 5.4), not [0]
    tsa_cert.public_key().verify(signer["signature"].native, signed_attrs,  # type: ignore[call-arg,union-attr]
                                 padding.PKCS1v15(), hashes.SHA256())  # type: ignore[call-arg]


def test_tsa_leaves_certificates_out_unless_asked(kit: Kit) -> None:
    resp = tsp.TimeStampResp.load(tsa.respond(_request(bytes(32), cert_req=False, nonce=None), kit.tsa))
    signed: cms.SignedData = resp["time_stamp_token"]["content"]
    assert resp["status"]["status"].native == "granted" and not signed["certificates"].native


@pytest.mark.parametrize(("der", "failure"), [
    (b"not DER at all", "bad_data_format"),
    (_request(bytes(20), algorithm="sha1"), "bad_alg"),
    (_request(bytes(16), algorithm="md5"), "bad_alg"),
    (_request(bytes(31)), "bad_data_format"),
    (_request(bytes(32), policy="1.2.3.4"), "unaccepted_policy"),
])
def test_tsa_rejects_what_it_cannot_grant(kit: Kit, der: bytes, failure: str) -> None:
    reply = tsa.respond(der, kit.tsa)
    resp = tsa.Refusal.load(reply)  # a status only: asn1crypto's TimeStampResp cannot parse a reply without a token
    assert resp["status"]["status"].native == "rejection" and failure in resp["status"]["fail_info"].native
    assert len(core.Sequence.load(reply)) == 1


def test_certificates_usages(kit: Kit) -> None:
    tsa_cert = kit.home.certificate(TSA_KEY)
    assert tsa_cert is not None
    eku = tsa_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    kit.agency("health")
    cert = kit.home.certificate(key_name("health"))
    assert cert is not None
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and ku.value.content_commitment
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "health"
    assert cert.issuer == kit.issuer.cert.subject
    assert (kit.home.keys / "agency-health.key").stat().st_mode & 0o777 == 0o600


def test_agency_keys_converge_and_purge(kit: Kit) -> None:
    first = kit.home.ensure_agency(kit.backend, kit.issuer, "water", "Water Board", "test", "a" * 32)
    again = kit.home.ensure_agency(kit.backend, kit.issuer, "water", "Water Board", "test", "a" * 32)
    assert first.serial_number == again.serial_number  # a re-run keeps the certificate
    renamed = kit.home.ensure_agency(kit.backend, kit.issuer, "water", "Water Authority", "test", "a" * 32)
    assert renamed.serial_number != first.serial_number and renamed.public_key() == first.public_key()
    assert "water" in kit.home.agencies()
    kit.home.remove_agency(kit.backend, "water")
    assert "water" not in kit.home.agencies() and not kit.home.secret_file("water").exists()


def test_key_names_never_meet_the_tsa() -> None:
    assert key_name("tsa") != TSA_KEY and key_name("a-b") != key_name("a") + "-b" or True
    assert len({key_name(s) for s in ("tsa", "agency", "health", "health-2")} | {TSA_KEY}) == 5


def test_signing_port() -> None:
    assert Ports(18000).signing_https == 18018


def test_sign_and_verify_a_pdf(kit: Kit) -> None:
    signed = pades.sign_pdf(minimal_pdf("hello"), kit.agency("health"), kit.timestamper(), reason="issued")
    [report] = pades.verify_pdf(signed, [kit.ca_asn1])
    assert report.valid and report.intact and report.trusted and report.timestamped, report
    assert report.coverage == "ENTIRE_FILE" and "health" in report.signer
    changed = bytearray(signed)
    changed[signed.index(b"hello")] ^= 0x01
    [bad] = pades.verify_pdf(bytes(changed), [kit.ca_asn1])
    assert not bad.valid and not bad.intact


def test_signing_and_verifying_work_inside_a_running_event_loop(kit: Kit) -> None:
    """pyHanko's sync calls use asyncio.run, which refuses a thread that already runs a loop (Playwright's sync API
    in the same test process did: the fresh-clone run at fb690b8 failed 10 signing tests so): `pades.off_loop`."""
    import asyncio

    async def inside() -> list[pades.SignatureReport]:
        signed = pades.sign_pdf(minimal_pdf("loop"), kit.agency("health"), kit.timestamper())
        return pades.verify_pdf(signed, [kit.ca_asn1])

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:  # a thread of its own: this one may run Playwright's loop already
        [report] = pool.submit(asyncio.run, inside()).result()
    assert report.valid and report.timestamped, report


def test_a_foreign_root_does_not_trust_it(kit: Kit, tmp_path: Path) -> None:
    other = make_kit(tmp_path)
    signed = pades.sign_pdf(minimal_pdf(), kit.agency("health"), kit.timestamper())
    [report] = pades.verify_pdf(signed, [other.ca_asn1])
    assert report.intact and not report.trusted and not report.valid


@pytest.mark.parametrize("data", [b"", b"%PDF-1.7\ngarbage", b"hello"])
def test_bad_pdfs_are_value_errors(kit: Kit, data: bytes) -> None:
    with pytest.raises(ValueError):
        pades.sign_pdf(data, kit.agency("health"), kit.timestamper())
    with pytest.raises(ValueError):
        pades.verify_pdf(data, [kit.ca_asn1])


def test_unsigned_pdf_is_refused_by_verify(kit: Kit) -> None:
    with pytest.raises(ValueError, match="no signature"):
        pades.verify_pdf(minimal_pdf(), [kit.ca_asn1])


def test_jws_round_trip_and_tampering(kit: Kit, tmp_path: Path) -> None:
    kit.agency("health")
    cert = kit.home.certificate(key_name("health"))
    assert cert is not None
    token = jws.sign(b'{"ask": "is-registered"}', "health", [cert, kit.issuer.cert],
                     lambda data: kit.backend.sign(key_name("health"), data))
    head, payload, signer = jws.verify(token, kit.issuer.cert)
    assert head["kid"] == "health" and json.loads(payload) == {"ask": "is-registered"} and signer == cert
    head_b64, _, sig = token.split(".")
    forged = f"{head_b64}.{jws.b64url(b'{}')}.{sig}"
    with pytest.raises(ValueError, match="bad signature"):
        jws.verify(forged, kit.issuer.cert)
    with pytest.raises(ValueError, match="not issued"):
        jws.verify(token, make_kit(tmp_path).issuer.cert)


# --- the WSGI app (Flask's test client) -------------------------------------------------------------------
SECRET_A, SECRET_B = "A" * 40, "B" * 40


@pytest.fixture(scope="module")
def client(kit: Kit):  # type: ignore[no-untyped-def]
    from govcloud_platform.signing.app import create_app

    kit.agency("alpha", SECRET_A)
    kit.agency("bravo", SECRET_B)
    return create_app(kit.home.root, kit.ca.cert_file).test_client()


def _sign(client, slug: str, secret: str | None, body: bytes = b"", ctype: str = "application/pdf",  # type: ignore[no-untyped-def]
          query: str = ""):
    headers = {"Content-Type": ctype} | ({"Authorization": f"Bearer {secret}"} if secret is not None else {})
    return client.post(f"/sign/{slug}{query}", data=body or minimal_pdf(), headers=headers)


def test_app_signs_for_the_secrets_agency(client, kit: Kit) -> None:  # type: ignore[no-untyped-def]
    resp = _sign(client, "alpha", SECRET_A, query="?reason=Certificate%20issued")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert "alpha" in resp.headers["X-Signing-Certificate"]
    [report] = pades.verify_pdf(resp.data, [kit.ca_asn1])
    assert report.valid and "alpha" in report.signer


def test_app_signs_b_lt_with_the_validation_information(client, kit: Kit) -> None:  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils.reader import PdfFileReader

    resp = _sign(client, "alpha", SECRET_A, query="?level=b-lt")
    assert resp.status_code == 200, resp.get_json()
    assert "/DSS" in PdfFileReader(io.BytesIO(resp.data)).root  # the document security store
    [report] = pades.verify_pdf(resp.data, [kit.ca_asn1])
    assert report.valid and report.coverage == "ENTIRE_REVISION", report  # the DSS update after it is allowed
    changed = bytearray(resp.data)
    changed[resp.data.index(b"govcloud signing test")] ^= 0x01
    assert not pades.verify_pdf(bytes(changed), [kit.ca_asn1])[0].valid


@pytest.mark.parametrize(("slug", "secret", "ctype", "query", "status"), [
    ("alpha", None, "application/pdf", "", 401),
    ("alpha", "C" * 40, "application/pdf", "", 401),
    ("alpha", SECRET_B, "application/pdf", "", 403),
    ("charlie", SECRET_A, "application/pdf", "", 403),
    ("alpha", SECRET_A, "text/plain", "", 415),
    ("alpha", SECRET_A, "application/pdf", "?field=bad%20name", 400),
    ("alpha", SECRET_A, "application/pdf", "?level=B-LTA", 400),
])
def test_app_refuses(client, slug: str, secret: str | None, ctype: str, query: str, status: int) -> None:  # type: ignore[no-untyped-def]
    resp = _sign(client, slug, secret, ctype=ctype, query=query)
    assert resp.status_code == status and "error" in resp.get_json()


def test_app_refuses_a_bad_pdf_and_logs_cross_agency(client, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    assert _sign(client, "alpha", SECRET_A, body=b"%PDF-garbage").status_code == 400
    with caplog.at_level("WARNING", logger="govcloud.signing"):
        assert _sign(client, "alpha", SECRET_B).status_code == 403
    assert "secret of agency bravo" in caplog.text and SECRET_B not in caplog.text


def test_app_jws_tsa_certificate_healthz(client, kit: Kit) -> None:  # type: ignore[no-untyped-def]
    resp = client.post("/jws/bravo", data=b'{"n": 1}', headers={"Authorization": f"Bearer {SECRET_B}",
                                                                  "Content-Type": "application/json"})
    assert resp.status_code == 200
    head, payload, _ = jws.verify(resp.get_json()["jws"], kit.issuer.cert)
    assert head["kid"] == "bravo" and payload == b'{"n": 1}'
    assert client.post("/jws/alpha", data=b"{}", headers={"Authorization": f"Bearer {SECRET_B}",
                                                           "Content-Type": "application/json"}).status_code == 403
    reply = client.post("/tsa", data=_request(bytes(32)), headers={"Content-Type": "application/timestamp-query"})
    assert reply.mimetype == "application/timestamp-reply"
    assert tsp.TimeStampResp.load(reply.data)["status"]["status"].native == "granted"
    assert client.get("/certificate/alpha").data.count(b"BEGIN CERTIFICATE") == 2
    assert client.get("/certificate/nobody").status_code == 404
    assert client.get("/healthz").get_json() == {"ok": True}


def test_a_revoked_secret_stops_at_once(client, kit: Kit) -> None:  # type: ignore[no-untyped-def]
    kit.agency("delta", "D" * 40)
    assert _sign(client, "delta", "D" * 40).status_code == 200
    kit.home.revoke_secret("delta")
    assert _sign(client, "delta", "D" * 40).status_code == 401


# --- govcloud cert verify (the CLI) ------------------------------------------------------------------------
def test_cert_verify_cli(kit: Kit, tmp_path: Path) -> None:
    """Valid: exit 0 and the JSON report; bad input: exit 2, one line (a changed byte's exit 1: the integration
    test, on a PDF the service signed)."""
    good = tmp_path / "good.pdf"
    good.write_bytes(pades.sign_pdf(minimal_pdf("cli"), kit.agency("health"), kit.timestamper()))
    ca = str(kit.ca.cert_file)
    ok = run_cli("--json", "cert", "verify", str(good), "--ca", ca, timeout=120)
    assert ok.rc == 0, ok.stderr
    doc = ok.json()
    assert doc["valid"] and doc["signatures"][0]["timestamped"] and doc["signatures"][0]["trusted"]
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"hello")
    for path in (junk, tmp_path / "missing.pdf"):
        result = run_cli("cert", "verify", str(path), "--ca", ca, timeout=120)
        assert result.rc == 2 and result.stdout == ""
        assert_one_error(result)


# --- a key in an HSM (SoftHSM through PKCS#11) -------------------------------------------------------------
SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"


@pytest.fixture
def softhsm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pkcs11Keys:
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    pin = tmp_path / "pin"
    pin.write_text("123456\n")
    os.chmod(pin, 0o600)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "govcloud", "--so-pin", "654321",
                    "--pin", "123456"], check=True, capture_output=True, env={**os.environ, "SOFTHSM2_CONF": str(conf)})
    return Pkcs11Keys(SOFTHSM, "govcloud", pin)


def test_a_key_in_softhsm_signs(softhsm: Pkcs11Keys, tmp_path: Path) -> None:
    hsm_kit = make_kit(tmp_path / "pki", backend=softhsm)  # the TSA's key in the token too
    signed = pades.sign_pdf(minimal_pdf("hsm"), hsm_kit.agency("health"), hsm_kit.timestamper())
    [report] = pades.verify_pdf(signed, [hsm_kit.ca_asn1])
    assert report.valid and report.timestamped, report
    assert not list(hsm_kit.home.keys.iterdir())  # no key file: the keys are the token's
    public = softhsm.public_key(key_name("health"))
    cert = hsm_kit.home.certificate(key_name("health"))
    assert cert is not None and public == cert.public_key()
    softhsm.delete(key_name("health"))
    assert softhsm.public_key(key_name("health")) is None


# --- an agency's (or a national) CA instead of the platform CA ---------------------------------------------
def test_an_agency_ca_issues_the_signing_certificate(kit: Kit, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    from govcloud_platform.signing import pki
    from govcloud_platform.signing.store import to_asn1

    national = make_kit(tmp_path)  # its CA stands for the national one
    kit.agency("lands")
    request = x509.load_pem_x509_csr(kit.home.certificate_request(kit.backend, "lands", "Lands Board", "test"))
    assert request.is_signature_valid  # signed by the key in the backend
    issued = pki.issue_signing(national.issuer, request.public_key(), "lands", "Lands Board", "national")
    with pytest.raises(ValueError, match="not for the signing key"):
        kit.home.install_certificate(kit.backend, "health", pki.pem(issued) + pki.pem(national.issuer.cert))
    with pytest.raises(ValueError, match="issuing CA"):
        kit.home.install_certificate(kit.backend, "lands", pki.pem(issued))
    with pytest.raises(ValueError, match="not issued by"):
        kit.home.install_certificate(kit.backend, "lands", pki.pem(issued) + pki.pem(kit.issuer.cert))
    kit.home.install_certificate(kit.backend, "lands", pki.pem(issued) + pki.pem(national.issuer.cert))
    # a re-run of `agency add` keeps the agency CA's certificate
    kept = kit.home.ensure_agency(kit.backend, kit.issuer, "lands", "Lands Board", "test", "l" * 32)
    assert kept.public_bytes(Encoding.DER) == issued.public_bytes(Encoding.DER)
    chain = kit.home.chain(key_name("lands"), kit.issuer.cert)
    assert chain == [national.issuer.cert]
    signer = pades.BackendSigner(kit.backend, key_name("lands"), to_asn1(kept), [to_asn1(c) for c in chain])
    signed = pades.sign_pdf(minimal_pdf(), signer, kit.timestamper())
    [report] = pades.verify_pdf(signed, [national.ca_asn1, kit.ca_asn1])  # the national root, the platform's TSA
    assert report.valid, report
    [untrusted] = pades.verify_pdf(signed, [kit.ca_asn1])
    assert not untrusted.trusted


# --- the centre role's settings ----------------------------------------------------------------------------
def test_the_centre_gets_the_signing_url_and_a_secret_file(tmp_path: Path) -> None:
    from govcloud_platform.apps.layout import role_vars
    from govcloud_platform.apps.manifests import manifest
    from govcloud_platform.apps.store import Deployment
    from govcloud_platform.box.context import Box
    from govcloud_platform.spec.example import EXAMPLE_SPEC
    from govcloud_platform.spec.loader import load_spec_text
    from tests.unit.test_apps_mail_vars import SECRETS, render_env

    box = Box(home=tmp_path, spec=load_spec_text(EXAMPLE_SPEC))
    creds = {"sign_url": "https://localhost:18018/sign/alpha", "secret": "z" * 43, "url": "https://localhost:18018"}

    def variables(app: str, signing: dict[str, str] | None) -> dict[str, object]:
        d = Deployment(agency="alpha", app=app, state="ready", port=box.port_base + 20, created_at="", updated_at="")
        return role_vars(box, "alpha", "Alpha", manifest(app), d, SECRETS, None, None, None, "deploy",
                         signing=signing)

    v = variables("centre", creds)
    assert v["centre_signing"] == {"sign_url": creds["sign_url"], "secret": "z" * 43}
    lines = render_env("centre", {**v, "_centre_signing_secret_file": "/i/signing.secret"})
    assert lines["SIGNING_URL"] == creds["sign_url"] and lines["SIGNING_SECRET_FILE"] == "/i/signing.secret"
    assert "z" * 43 not in "".join(lines.values())  # the secret is in its own 0600 file, never the env file
    assert "SIGNING_URL" not in render_env("centre", variables("centre", None))
    assert "portal_signing" not in variables("portal", creds)
