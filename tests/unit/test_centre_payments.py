"""The pure parts of the centre's e-payments: bill references and their check symbol, amounts in minor units, the
bill's states, what a payment does to a bill, the provider's signed notifications (bad signature, stale,
malformed), the notification's body, the catalogue's `fee.billed_at`, the provider client's request and the
receipt's signature."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from centre_core import payments, references
from centre_core.catalogue import SAMPLES, load
from centre_core.errors import CatalogueError
from centre_core.payments import BillState, Decision, Refused

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
SECRET = b"s" * 32


def test_a_bill_reference_has_a_check_symbol() -> None:
    ref = payments.new_bill_reference()
    assert payments.parse_bill_reference(ref) == ref
    assert payments.parse_bill_reference(references.display(ref).lower()) == ref
    wrong = ref[:3] + ("0" if ref[3] != "0" else "1") + ref[4:]
    assert payments.parse_bill_reference(wrong) is None
    assert payments.parse_bill_reference("short") is None


@given(st.text(alphabet=references.ALPHABET, min_size=11, max_size=11), st.integers(0, 10))
def test_every_neighbour_swap_is_caught(body: str, at: int) -> None:
    ref = body + references.check_symbol(body)
    if ref[at] != ref[at + 1]:
        swapped = ref[:at] + ref[at + 1] + ref[at] + ref[at + 2:]
        assert payments.parse_bill_reference(swapped) is None


@pytest.mark.parametrize(("amount", "minor"), [("1500.00", 150000), ("0.01", 1), ("200", 20000), ("7.5", 750)])
def test_amounts_in_minor_units(amount: str, minor: int) -> None:
    assert payments.minor_units(Decimal(amount), "PKR") == minor
    assert payments.parse_amount(amount, "PKR") == minor
    assert payments.amount_text(minor, "PKR") == str(Decimal(amount).quantize(Decimal("0.01")))


@pytest.mark.parametrize("bad", [1500.0, 1500, "1,500", "1500.001", "-5", "", None, "1e3"])
def test_amounts_refused(bad: object) -> None:
    with pytest.raises(Refused):
        payments.parse_amount(bad, "PKR")
    with pytest.raises(Refused):
        payments.minor_units(Decimal(1), "USD")


def test_the_bills_states() -> None:
    assert payments.move(BillState.OPEN, "pay") is BillState.PAID
    assert payments.move(BillState.OPEN, "cancel") is BillState.CANCELLED
    for final in (BillState.PAID, BillState.CANCELLED):
        for event in ("pay", "cancel"):
            with pytest.raises(Refused):
                payments.move(final, event)
    with pytest.raises(Refused) as refused:
        payments.move(BillState.PAID, "pay")
    assert refused.value.code == "already_paid"


@pytest.mark.parametrize(("state", "paid_by", "txn", "amount", "currency", "decision"), [
    (BillState.OPEN, None, "t1", 150000, "PKR", Decision.APPLY),
    (BillState.OPEN, None, "t1", 149999, "PKR", Decision.MISMATCH),
    (BillState.OPEN, None, "t1", 150000, "USD", Decision.MISMATCH),
    (BillState.PAID, "t1", "t1", 150000, "PKR", Decision.SAME),
    (BillState.PAID, "t1", "t2", 150000, "PKR", Decision.DUPLICATE),
    (BillState.CANCELLED, None, "t1", 150000, "PKR", Decision.CLOSED),
])
def test_what_a_payment_does(state: BillState, paid_by: str | None, txn: str, amount: int, currency: str,
                             decision: Decision) -> None:
    assert payments.decide(state, 150000, "PKR", paid_by, txn, amount, currency) is decision


def _signed(body: bytes, secret: bytes = SECRET, at: datetime = NOW) -> dict[str, str]:
    return payments.signed_headers(secret, body, at)


def _verify(body: bytes, headers: dict[str, str], now: datetime = NOW) -> str:
    return payments.verify(SECRET, body, headers.get("X-Pay-Timestamp"), headers.get("X-Pay-Nonce"),
                           headers.get("X-Pay-Signature"), now)


def test_an_authentic_notification_passes() -> None:
    body = b'{"x": 1}'
    headers = _signed(body)
    assert _verify(body, headers) == headers["X-Pay-Nonce"]
    assert _verify(body, headers, NOW + timedelta(seconds=payments.TOLERANCE_S)) == headers["X-Pay-Nonce"]


@pytest.mark.parametrize(("case", "code"), [
    ("other_secret", "bad_signature"), ("body_changed", "bad_signature"), ("nonce_changed", "bad_signature"),
    ("timestamp_changed", "bad_signature"), ("signature_truncated", "bad_signature"), ("stale", "stale"),
    ("future", "stale"), ("no_nonce", "malformed"), ("short_nonce", "malformed"), ("no_signature", "malformed"),
    ("no_timestamp", "malformed"), ("text_timestamp", "malformed"),
])
def test_a_notification_refused(case: str, code: str) -> None:
    body = b'{"x": 1}'
    headers = _signed(body, b"t" * 32 if case == "other_secret" else SECRET,
                      NOW - timedelta(seconds=301) if case == "stale" else
                      NOW + timedelta(seconds=301) if case == "future" else NOW)
    if case == "body_changed":
        body = b'{"x": 2}'
    elif case == "nonce_changed":
        headers["X-Pay-Nonce"] = "A" * 24
    elif case == "timestamp_changed":
        headers["X-Pay-Timestamp"] = str(int(headers["X-Pay-Timestamp"]) + 1)
    elif case == "signature_truncated":
        headers["X-Pay-Signature"] = headers["X-Pay-Signature"][:-1]
    elif case == "no_nonce":
        del headers["X-Pay-Nonce"]
    elif case == "short_nonce":
        headers["X-Pay-Nonce"] = "abc"
    elif case == "no_signature":
        del headers["X-Pay-Signature"]
    elif case == "no_timestamp":
        del headers["X-Pay-Timestamp"]
    elif case == "text_timestamp":
        headers["X-Pay-Timestamp"] = "yesterday"
    with pytest.raises(Refused) as refused:
        _verify(body, headers)
    assert refused.value.code == code


def test_the_signature_is_compared_in_constant_time() -> None:
    import inspect

    assert "hmac.compare_digest" in inspect.getsource(payments.verify)


def test_the_notifications_body() -> None:
    ref = payments.new_bill_reference()
    notice = payments.Notice(ref, "pd-1", 150000, "PKR", "paid")
    assert payments.parse_notice(payments.notice_body(notice)) == notice
    good = json.loads(payments.notice_body(notice))
    for change in ({"extra": 1}, {"bill": "nope"}, {"amount": 1500.0}, {"status": "maybe"}, {"currency": "EUR"},
                   {"transaction": "a b"}):
        with pytest.raises(Refused):
            payments.parse_notice(json.dumps({**good, **change}).encode())
    with pytest.raises(Refused):
        payments.parse_notice(b"not json")


def _catalogue(tmp_path: Path, fee: str) -> Path:
    import shutil

    folder = tmp_path / "cat"
    shutil.copytree(SAMPLES, folder)
    path = folder / "catalogue.yaml"
    path.write_text(path.read_text().replace('fee: {amount: "1500.00", currency: PKR}', fee, 1))
    return path


@pytest.mark.parametrize("at", ["submission", "review"])
def test_a_fee_billed_at_submission_or_a_step(tmp_path: Path, at: str) -> None:
    loaded = load(_catalogue(tmp_path, f'fee: {{amount: "1500.00", currency: PKR, billed_at: {at}}}'))
    service = loaded.catalogue.service("trade_licence")
    assert service is not None and service.fee.billed_at == at
    assert load(SAMPLES / "catalogue.yaml").catalogue.service("trade_licence").fee.billed_at is None  # type: ignore[union-attr]


@pytest.mark.parametrize(("fee", "says"), [
    ('fee: {amount: "1500.00", currency: PKR, billed_at: nowhere}', "fee.billed_at: nowhere is not 'submission'"),
    ('fee: {amount: "0.00", currency: PKR, billed_at: submission}', "billed_at needs an amount above 0"),
    ('fee: {amount: "1500.00", currency: PKR, billed_at: "Not A Step"}', "fee.billed_at"),
])
def test_a_wrong_billed_at_is_refused(tmp_path: Path, fee: str, says: str) -> None:
    with pytest.raises(CatalogueError) as refused:
        load(_catalogue(tmp_path, fee))
    assert says in str(refused.value) and "trade_licence" in str(refused.value)


def test_the_provider_clients_request() -> None:
    from centre_web.payment_provider import DemoProvider

    provider = DemoProvider("http://127.0.0.1:9/m/civic", "k" * 32, "/nonexistent")
    path, body, headers = provider.request(payments.Checkout("B" * 12, 150000, "PKR", "Trade licence",
                                                             "https://c/en/payments/x/return/", "https://c/api/n"))
    assert path == "/m/civic/v1/checkouts"
    assert json.loads(body) == {"bill": "B" * 12, "amount": "1500.00", "currency": "PKR",
                                "description": "Trade licence", "returnUrl": "https://c/en/payments/x/return/",
                                "notifyUrl": "https://c/api/n"}
    assert payments.verify(b"k" * 32, body, headers["X-Pay-Timestamp"], headers["X-Pay-Nonce"],
                           headers["X-Pay-Signature"], datetime.now(UTC))
    assert "k" * 32 not in repr(provider)
    for url in ("http://provider.example/m/civic", "ftp://127.0.0.1/x", "https:///x"):
        with pytest.raises(ValueError):
            DemoProvider(url, "k" * 32, "")


def test_a_receipt_signed_and_verified() -> None:
    import jwt

    from centre_web.receipts import LocalKeySigner, new_key_pem, verify

    signer, other = LocalKeySigner(new_key_pem()), LocalKeySigner(new_key_pem())
    claims = payments.receipt_claims("civic", "B" * 12, "A" * 12, "trade_licence", 150000, "PKR", "online", "pd-1",
                                     NOW)
    token = signer.sign(claims)
    assert token.count(".") == 2 and verify(token, signer.jwks()) == claims
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    with pytest.raises(jwt.InvalidTokenError):
        verify(token, other.jwks())
    head, body, sig = token.split(".")
    tampered = json.loads(jwt.utils.base64url_decode(body))
    tampered["amount"] = "1.00"
    forged = ".".join([head, jwt.utils.base64url_encode(json.dumps(tampered).encode()).decode(), sig])
    with pytest.raises(jwt.InvalidTokenError):
        verify(forged, signer.jwks())
    assert "PRIVATE" not in repr(signer)


@pytest.mark.parametrize(("billed_at", "ready", "done", "due"), [
    (None, "review", (), False),
    ("submission", "review", (), True),
    ("approve", "review", (), False),
    ("approve", "approve", (), True),
    ("approve", None, ("approve",), True),
])
def test_when_a_bill_is_due(billed_at: str | None, ready: str | None, done: tuple[str, ...], due: bool) -> None:
    from centre_core import engine, store
    from centre_core.catalogue import Fee
    from centre_core.payments_store import bill_due

    service = load(SAMPLES / "catalogue.yaml").catalogue.service("trade_licence")
    assert service is not None
    service = service.model_copy(update={"fee": Fee(amount=Decimal("1500.00"), billed_at=billed_at)})
    seen = store.Tracked("A" * 12, "trade_licence", "in_progress", None,
                         (engine.TaskView("t1", ready, ready, "clerk", ("accept",)),) if ready else (), NOW, 1, "d",
                         frozenset(done))
    assert bill_due(service, seen) is due
    assert bill_due(None, seen) is False


def _stub_signing_service(secret: str) -> tuple[object, str, list[str]]:
    """A stand-in for the platform's signing service (docs/signing.md) on loopback: `POST /jws/<agency>` with the
    bearer secret answers an RS256 JWS with `kid` and `x5c`; `GET /certificate/<agency>` the PEM."""
    import base64
    import threading
    from datetime import timedelta as td
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import jwt
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "health")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(NOW - td(days=1)).not_valid_after(NOW + td(days=365))
            .sign(key, hashes.SHA256()))
    der = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            seen.append(self.headers.get("Authorization", ""))
            if self.path != "/jws/health" or self.headers.get("Authorization") != f"Bearer {secret}":
                return self._send(403, b'{"error": "no"}')
            token = jwt.api_jws.PyJWS().encode(body, key, algorithm="RS256", headers={"kid": "health", "x5c": [der]})
            self._send(200, json.dumps({"jws": token, "alg": "RS256", "kid": "health"}).encode())

        def do_GET(self) -> None:  # noqa: N802
            self._send(200, cert.public_bytes(serialization.Encoding.PEM))

        def _send(self, status: int, raw: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}", seen


def test_the_receipt_signed_by_the_platforms_signing_service(tmp_path: Path) -> None:
    import jwt

    from centre_core.signing import SigningError
    from centre_web.receipts import ServiceSigner, SigningUnavailable, verify

    secret = "s3cret-" + "x" * 30
    server, base, seen = _stub_signing_service(secret)
    try:
        secret_file = tmp_path / "signing.secret"
        secret_file.write_text(secret + "\n")
        secret_file.chmod(0o600)
        signer = ServiceSigner(f"{base}/sign/health", str(secret_file), "")
        claims = payments.receipt_claims("health", "B" * 12, "A" * 12, "trade_licence", 150000, "PKR", "online",
                                         "pd-1", NOW)
        token = signer.sign(claims)
        assert jwt.get_unverified_header(token)["alg"] == "RS256"
        assert verify(token, signer.jwks()) == claims
        assert seen == [f"Bearer {secret}"] and secret not in repr(signer)
        secret_file.write_text("another-agencys-secret\n")
        with pytest.raises(SigningUnavailable, match="HTTP 403") as caught:
            signer.sign(claims)
        assert "another-agencys-secret" not in str(caught.value)
        for url in (f"{base}/jws/health", "http://signing.example/sign/health", f"{base}/health"):
            with pytest.raises(SigningError, match="SIGNING_URL"):
                ServiceSigner(url, str(secret_file), "")
    finally:
        server.shutdown()  # type: ignore[attr-defined]


def test_the_roles_env_file_carries_the_payment_settings() -> None:
    """The role's `centre_payments` becomes the env file's RECEIPT_KEY_FILE and PAY_ lines; without it, none."""
    import yaml

    from tests.unit.test_apps_mail_vars import render_env

    root = Path(__file__).resolve().parents[2] / "roles" / "centre"
    secret = "p" * 40
    lines = render_env("centre", {"centre_payments": {"receipt_key_file": "/srv/centre/receipt.pem",
                                                      "url": "https://pay.example.pk/m/civic", "secret": secret}})
    assert {k: v for k, v in lines.items() if k.startswith(("PAY_", "RECEIPT_"))} == {
        "RECEIPT_KEY_FILE": "/srv/centre/receipt.pem", "PAY_URL": "https://pay.example.pk/m/civic",
        "PAY_SECRET": secret, "PAY_KIND": "paydemo", "PAY_CA_FILE": "", "PAY_TIMEOUT_S": "10"}
    assert not any(k.startswith(("PAY_", "RECEIPT_")) for k in render_env("centre", {}))
    spec = yaml.safe_load((root / "meta" / "argument_specs.yml").read_text())
    options = spec["argument_specs"]["main"]["options"]["centre_payments"]["options"]
    assert options["secret"]["no_log"] is True
    assert "centre_payments.secret" in (root / "tasks" / "preflight.yml").read_text()
