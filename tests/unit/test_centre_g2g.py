"""G2G's pure part: the directory, compact JWS signed with per-agency keys (RS256 and ES256) and verified against the
platform CA, and every decision on a request and an answer (grant, agency in the certificate, purpose, consent,
times)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from centre_core import g2g
from centre_core.errors import CentreError
from centre_core.g2g_keys import FileSigner
from tests.g2g_kit import TestCA, directory_docs

NOW = datetime.now(UTC).replace(microsecond=0)
REF = "7K3M9Q2XJH4B"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("pki")
    ca, other = TestCA(), TestCA("Another CA")
    return {"ca": ca, "folder": folder,
            "health": FileSigner(*ca.issue(folder, "health")),
            "health_rsa": FileSigner(*ca.issue(folder, "health", "rsa")),
            "trade": FileSigner(*ca.issue(folder, "trade")),
            "police": FileSigner(*ca.issue(folder, "police")),
            "rogue": FileSigner(*other.issue(folder / "other", "health")),
            "not_g2g": FileSigner(*ca.issue(folder / "web", "health", cn="health.example.pk"))}


DIRS = {slug: g2g.directory(doc) for slug, doc in directory_docs("https://trade.test/api/g2g/requests").items()}
GRANT = DIRS["health"].asks["business_registered"]


def claims(**changes: object) -> dict[str, object]:
    base = g2g.request_claims(GRANT, REF, "Ali Traders", True, "n" * 24, NOW)
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def decide(pki: dict[str, object], signer: str = "health", **changes: object) -> g2g.Request:
    token = g2g.sign(claims(**changes), pki[signer])  # type: ignore[arg-type]
    by, got = g2g.verify(token, pki["ca"].cert, NOW)  # type: ignore[attr-defined]
    return g2g.check_request(DIRS["trade"], by, got, NOW)


@pytest.mark.parametrize("signer", ["health", "health_rsa"])
def test_a_granted_request_passes_with_either_algorithm(pki: dict[str, object], signer: str) -> None:
    request = decide(pki, signer)
    assert (request.asker, request.service, request.reference, request.subject, request.consent) == \
        ("health", "business_registered", REF, "Ali Traders", True)
    header = json.loads(base64.urlsafe_b64decode(g2g.sign(claims(), pki[signer]).split(".")[0] + "=="))  # type: ignore[arg-type]
    assert header["alg"] == ("ES256" if signer == "health" else "RS256") and len(header["x5c"]) == 1


@pytest.mark.parametrize(("signer", "changes", "reason"), [
    ("police", {}, "agency_mismatch"),                                  # C's key, claiming to be A
    ("police", {"iss": "police"}, "not_granted"),                        # C as itself: no grant
    ("health", {"service": "land_record"}, "not_offered"),
    ("health", {"aud": "police"}, "wrong_audience"),
    ("health", {"purpose": "curiosity"}, "purpose"),
    ("health", {"purpose": None}, "purpose"),
    ("health", {"consent": False}, "no_consent"),
    ("health", {"ref": "not-a-ref"}, "malformed"),
    ("health", {"nonce": "short"}, "malformed"),
    ("health", {"sub": ""}, "malformed"),
    ("health", {"exp": int(NOW.timestamp()) - 1, "iat": int(NOW.timestamp()) - 30}, "expired"),
    ("health", {"iat": int(NOW.timestamp()) + 600, "exp": int(NOW.timestamp()) + 660}, "expired"),
    ("health", {"exp": int(NOW.timestamp()) + 3600}, "malformed"),       # lives too long
    ("rogue", {}, "untrusted"),                                          # another CA's certificate
    ("not_g2g", {}, "agency_mismatch"),                                  # a certificate naming no agency
])
def test_refusals(pki: dict[str, object], signer: str, changes: dict[str, object], reason: str) -> None:
    with pytest.raises(g2g.G2GError) as caught:
        decide(pki, signer, **changes)
    assert caught.value.reason == reason


def test_a_changed_claim_or_signature_fails(pki: dict[str, object]) -> None:
    token = g2g.sign(claims(), pki["health"])  # type: ignore[arg-type]
    head, body, sig = token.split(".")
    forged = base64.urlsafe_b64encode(json.dumps(claims(sub="Other Traders")).encode()).rstrip(b"=").decode()
    for bad in (f"{head}.{forged}.{sig}", f"{head}.{body}.{sig[:-4]}AAAA"):
        with pytest.raises(g2g.G2GError) as caught:
            g2g.verify(bad, pki["ca"].cert, NOW)  # type: ignore[attr-defined]
        assert caught.value.reason == "bad_signature"
    for bad in ("a.b", "!!.??.**", "x" * 20000, f"{head}.{body}"):
        with pytest.raises(g2g.G2GError):
            g2g.verify(bad, pki["ca"].cert, NOW)  # type: ignore[attr-defined]


def test_alg_none_and_unknown_header_fields_refused(pki: dict[str, object]) -> None:
    token = g2g.sign(claims(), pki["health"])  # type: ignore[arg-type]
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    for changed in ({**header, "alg": "none"}, {**header, "alg": "HS256"}, {**header, "jku": "https://x"}):
        head = base64.urlsafe_b64encode(json.dumps(changed).encode()).rstrip(b"=").decode()
        with pytest.raises(g2g.G2GError) as caught:
            g2g.verify(f"{head}.{token.split('.', 1)[1]}", pki["ca"].cert, NOW)  # type: ignore[attr-defined]
        assert caught.value.reason == "malformed"


def test_the_asker_refuses_without_consent_before_sending() -> None:
    with pytest.raises(g2g.G2GError) as caught:
        g2g.request_claims(GRANT, REF, "Ali Traders", False, "n" * 24, NOW)
    assert caught.value.reason == "no_consent"


def test_answers_are_checked_against_the_request(pki: dict[str, object]) -> None:
    request = decide(pki)
    good = g2g.answer_claims(DIRS["trade"], request, {"found": True, "since": "2026-11-02"}, "m" * 24, NOW)
    ca = pki["ca"].cert  # type: ignore[attr-defined]
    by, got = g2g.verify(g2g.sign(good, pki["trade"]), ca, NOW)  # type: ignore[arg-type]
    assert g2g.check_answer(GRANT, by, got, "n" * 24, NOW) == {"found": True, "since": "2026-11-02"}
    with pytest.raises(g2g.G2GError, match="another request"):
        g2g.check_answer(GRANT, by, got, "o" * 24, NOW)
    by, got = g2g.verify(g2g.sign(good, pki["police"]), ca, NOW)  # type: ignore[arg-type]
    with pytest.raises(g2g.G2GError) as caught:
        g2g.check_answer(GRANT, by, got, "n" * 24, NOW)
    assert caught.value.reason == "agency_mismatch"


def test_malformed_directory_named() -> None:
    with pytest.raises(CentreError, match="G2G directory"):
        g2g.directory({"agency": "trade", "offers": [{"service": "x"}]})
    with pytest.raises(CentreError, match="query.match"):
        g2g.directory({"agency": "trade", "offers": [{"service": "business_registered", "query": {
            "service": "trade_licence", "outcome": "issued", "match": "answers'; --"}}]})


def test_key_file_must_be_private(tmp_path: Path) -> None:
    key, cert = TestCA().issue(tmp_path, "health")
    key.chmod(0o644)
    with pytest.raises(CentreError, match="chmod 600"):
        FileSigner(key, cert)
    key.chmod(0o600)
    other_key, _ = TestCA().issue(tmp_path / "b", "health")
    with pytest.raises(CentreError, match="not the key's"):
        FileSigner(other_key, cert)


def test_the_platforms_signing_service_as_the_key(tmp_path: Path) -> None:
    """`ServiceSigner` against a stand-in for the signing service's `POST /jws/<agency>` (docs/signing.md: bearer
    secret, JSON body, `{"jws"}` back, header with kid and x5c of the agency's certificate and the platform CA; the
    certificate names the agency as `OU=<slug>, O=govcloud <platform>`): the request it signs passes the answering
    agency's checks; a wrong secret is an error, not a token."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import NameOID

    from centre_core.g2g_keys import ServiceSigner
    from centre_core.signing import HttpSigner

    ca = TestCA()
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "govcloud demo"),
                         x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "health"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "Health Department")])
    key_file, cert_file = ca.issue(tmp_path, "health", "rsa", subject=subject)
    inner = FileSigner(key_file, cert_file)
    ca_der = ca.cert.public_bytes(serialization.Encoding.DER)
    secret = "s" * 40
    seen: list[bytes] = []

    class Service(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path != "/jws/health" or self.headers["Authorization"] != f"Bearer {secret}":
                self.send_response(403)
                self.end_headers()
                return
            seen.append(body)
            header = {"alg": "RS256", "kid": "health",
                      "x5c": [base64.b64encode(c).decode() for c in (*inner.chain, ca_der)]}
            signing_input = (base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=") + b"."
                             + base64.urlsafe_b64encode(body).rstrip(b"="))
            sig = base64.urlsafe_b64encode(inner.sign(signing_input)).rstrip(b"=")
            answer = json.dumps({"jws": (signing_input + b"." + sig).decode(), "alg": "RS256", "kid": "health"})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(answer.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Service)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        secret_file = tmp_path / "signing.secret"
        secret_file.write_text(secret + "\n")
        secret_file.chmod(0o600)
        url = f"http://127.0.0.1:{server.server_port}/sign/health"  # SIGNING_URL: the client derives /jws/health
        token = g2g.sign(claims(), ServiceSigner(HttpSigner(url, str(secret_file))))
        assert len(seen) == 1 and json.loads(seen[0])["iss"] == "health"
        by, got = g2g.verify(token, ca.cert, NOW)
        assert by == "health" and g2g.check_request(DIRS["trade"], by, got, NOW).subject == "Ali Traders"
        secret_file.write_text("wrong" * 8)
        with pytest.raises(CentreError, match="did not sign: .*HTTP 403") as caught:
            g2g.sign(claims(), ServiceSigner(HttpSigner(url, str(secret_file))))
        assert "wrong" not in str(caught.value)
        for bad in ("http://signing.example/sign/health", f"http://127.0.0.1:{server.server_port}/jws/health"):
            with pytest.raises(CentreError, match="must be https"):
                ServiceSigner(HttpSigner(bad, str(secret_file)))
    finally:
        server.shutdown()
        server.server_close()
