"""The certificates' pure parts (issue 16, item 1): ids, what goes on a certificate (no contact details), the HTML
(both languages, escaped, the QR code), the PDF (an embedded subset of the Urdu font) and the offline check of a
signed PDF: valid, then a byte changed, an unsigned file, another CA. Signing here is the TEST-ONLY in-process
stand-in for the platform's signing service (tests/signing_kit.py: a throwaway CA, pyHanko's dummy timestamper)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from centre_core import certificate_pdf, certificates, signing
from tests.centre_signing_kit import ThrowawaySigner

ID = "0123456789abcdefghjk"


def facts(**changes: object) -> certificates.Facts:
    base: dict[str, object] = dict(
        certificate_id=ID, reference="ABCD-EFGH-JKMN", agency="Health <Department>",
        service={"en": "Birth certificate", "ur": "پیدائش کا سرٹیفکیٹ"},
        outcome={"en": "Certificate issued", "ur": "سرٹیفکیٹ جاری ہو گیا"},
        issued_at=datetime(2026, 12, 3, 10, 0, tzinfo=UTC), verify_url=f"https://centre.test/en/verify/{ID}",
        answers=[({"en": "Child's name", "ur": "بچے کا نام"}, "علی احمد")],
        office={"en": "Main office", "ur": "مرکزی دفتر"})
    base.update(changes)
    return certificates.Facts(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def signer() -> ThrowawaySigner:
    return ThrowawaySigner()


@pytest.fixture(scope="module")
def signed(signer: ThrowawaySigner) -> bytes:
    return signer.sign(certificate_pdf.render_pdf(certificates.render_html(facts())))


def test_ids_are_long_random_and_read_back() -> None:
    made = {certificates.new_id() for _ in range(200)}
    assert len(made) == 200 and all(certificates.parse_id(i) == i for i in made)
    assert certificates.parse_id(" 01234-56789-ABCDE-FGHJK ") == ID
    for bad in ("", ID[:-1], ID + "0", ID[:-1] + "u", ID[:-1] + "!", "../" + ID[3:]):
        assert certificates.parse_id(bad) is None, bad
    assert certificates.object_key(ID) == f"centre/certificates/{ID}.pdf"
    assert certificates.verify_url("https://c.test/", ID, "ur") == f"https://c.test/ur/verify/{ID}"


@pytest.mark.parametrize(("status", "outcome", "issues"), [
    ("closed", "issued", True), ("closed", "granted", True), ("closed", "rejected", False),
    ("in_progress", None, False), ("closed", "resolved", False)])
def test_which_outcomes_issue_a_certificate(status: str, outcome: str | None, issues: bool) -> None:
    assert certificates.issues_certificate(status, outcome) is issues


def test_contact_details_never_go_on_a_certificate() -> None:
    label = {"en": "x", "ur": "x"}
    questions = [("name", "text", label), ("mail", "email", label), ("phone", "phone", label),
                 ("mobile", "mobile", label), ("floors", "number", label), ("empty", "text", label)]
    shown = certificates.shown_answers(questions, {"name": "Ali", "mail": "a@b.pk", "phone": "+92 300",
                                                   "mobile": "+92 301", "floors": 3, "empty": " "})
    assert shown == [(label, "Ali"), (label, "3")]


def test_the_html_has_both_languages_escaped_and_the_qr_code() -> None:
    page = certificates.render_html(facts(answers=[({"en": "Name", "ur": "نام"}, "<script>x</script>")]))
    assert '<section lang="en" dir="ltr">' in page and '<section lang="ur" dir="rtl" class="ur">' in page
    assert "Health &lt;Department&gt;" in page and "<script>" not in page and "&lt;script&gt;" in page
    assert "پیدائش کا سرٹیفکیٹ" in page and f"certificate:{ID}" in page
    assert re.search(r"<svg[^>]*>.*</svg>", page, re.S) and f"https://centre.test/en/verify/{ID}" in page


def test_the_pdf_embeds_subsets_of_its_fonts_the_urdu_one_too() -> None:
    pdf = certificate_pdf.render_pdf(certificates.render_html(facts()))
    assert pdf.startswith(b"%PDF-") and len(pdf) < 100 * 1024
    import io

    from pyhanko.pdf_utils.reader import PdfFileReader

    page = PdfFileReader(io.BytesIO(pdf)).root["/Pages"]["/Kids"][0]
    fonts = {str(f.get_object()["/BaseFont"]) for f in page["/Resources"]["/Font"].values()}
    naskh = [f for f in fonts if "Naskh" in f]
    assert naskh and all(re.fullmatch(r"/[A-Z]{6}\+.+", f) for f in naskh), fonts  # a subset: its 6-letter tag


def test_a_signed_certificate_verifies_offline(signer: ThrowawaySigner, signed: bytes) -> None:
    verdict = signing.verify(signed, [signer.root_pem])
    assert verdict.ok, verdict
    assert verdict.certificate_id == ID and "Agency health" in verdict.signer and verdict.signed_at is not None


def test_a_byte_changed_fails(signer: ThrowawaySigner, signed: bytes) -> None:
    at = signed.index(b"Health")  # the author in the signed revision
    changed = signed[:at] + b"Wealth" + signed[at + 6:]
    verdict = signing.verify(changed, [signer.root_pem])
    assert not verdict.ok and not verdict.intact


def test_an_unsigned_file_or_another_ca_fails(signer: ThrowawaySigner, signed: bytes) -> None:
    unsigned = certificate_pdf.render_pdf(certificates.render_html(facts()))
    assert signing.verify(unsigned, [signer.root_pem]).problem == "no signature"
    other = ThrowawaySigner()
    verdict = signing.verify(signed, [other.root_pem])
    assert verdict.intact and not verdict.trusted and not verdict.ok
    assert not signing.verify(b"not a pdf", [signer.root_pem]).ok


def test_revocation_reasons_are_a_closed_list() -> None:
    assert certificates.check_reason("superseded") == "superseded"
    with pytest.raises(ValueError, match="one of"):
        certificates.check_reason("the applicant, Mr X, lied")


def test_the_http_signer_refuses_other_schemes_and_says_when_unreachable(tmp_path: object) -> None:
    from pathlib import Path

    secret = Path(str(tmp_path)) / "secret"
    secret.write_text("s3cret")
    secret.chmod(0o600)
    with pytest.raises(signing.SigningError, match="http"):
        signing.HttpSigner("file:///etc/passwd", str(secret)).sign(b"%PDF-1.7")
    with pytest.raises(signing.SigningError, match="cannot be reached") as caught:
        signing.HttpSigner("http://127.0.0.1:9/sign/health", str(secret), timeout=2).sign(b"%PDF-1.7")
    assert "s3cret" not in str(caught.value)


def test_every_certificate_text_is_in_both_languages() -> None:
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).parents[2] / "roles/centre/files/app/centre_web/texts_certificates.py"
    spec = importlib.util.spec_from_file_location("texts_certificates_alone", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["texts_certificates_alone"] = module
    spec.loader.exec_module(module)
    for key, value in module.CERTIFICATE_TEXTS.items():
        assert set(value) == {"en", "ur"} and all(v.strip() for v in value.values()), key
    for reason in certificates.REVOCATION_REASONS:
        assert f"reason_{reason}" in module.CERTIFICATE_TEXTS
