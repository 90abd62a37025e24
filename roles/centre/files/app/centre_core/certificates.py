"""Signed certificates (issue 16, item 1): what an application closed with an issuing outcome becomes. Pure: the
certificate's id, where its PDF is kept, its HTML (English and Urdu on one page, a QR code to the public
verification page) and what the verification page may say. Rendering the PDF is `certificate_pdf`, signing
`signing`, the rows `certificate_store`; the web side (`centre_web.certificates`) puts them together.

The HTML carries the application's answers (the citizen's own document), never its e-mail or phone answers; the
verification page says only what the certificate is, who issued it, when, and whether it was revoked."""

from __future__ import annotations

import html
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import segno

ISSUING_OUTCOMES = frozenset({"issued", "granted"})  # end events of the samples that hand the citizen a document
# Why a certificate was revoked: a category the public page may show (staff add a note for the audit trail only).
REVOCATION_REASONS = ("issued_in_error", "superseded", "obtained_by_fraud", "withdrawn")
PRIVATE_KINDS = frozenset({"email", "phone", "mobile"})  # answers that never go on a certificate
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford's base32, lower case
ID_LENGTH = 20  # 100 random bits: unguessable, so the public page cannot be walked


def new_id() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(ID_LENGTH))


def parse_id(text: str) -> str | None:
    """The id as typed or scanned (case and hyphens ignored), or None when it cannot be one."""
    cleaned = text.strip().lower().replace("-", "")
    if len(cleaned) != ID_LENGTH or any(c not in _ALPHABET for c in cleaned):
        return None
    return cleaned


def object_key(certificate_id: str) -> str:
    """Where the signed PDF is kept in the agency's bucket (beside the documents, under `centre/`)."""
    return f"centre/certificates/{certificate_id}.pdf"


def verify_url(public_url: str, certificate_id: str, language: str = "en") -> str:
    return f"{public_url.rstrip('/')}/{language}/verify/{certificate_id}"


def issues_certificate(status: str, outcome: str | None) -> bool:
    return status == "closed" and outcome in ISSUING_OUTCOMES


@dataclass(frozen=True)
class Facts:
    """What a certificate says. Names in both languages: {"en": ..., "ur": ...}."""

    certificate_id: str
    reference: str  # displayed XXXX-XXXX-XXXX
    agency: str
    service: Mapping[str, str]
    outcome: Mapping[str, str]
    issued_at: datetime  # aware
    verify_url: str
    answers: Sequence[tuple[Mapping[str, str], str]] = field(default_factory=tuple)  # (label, value)
    office: Mapping[str, str] = field(default_factory=dict)


def shown_answers(questions: Sequence[tuple[str, str, Mapping[str, str]]],
                  answers: Mapping[str, object]) -> list[tuple[Mapping[str, str], str]]:
    """(label, value) of the answers that go on the certificate: (question id, kind, label) in the catalogue's
    order; e-mail and phone answers and unanswered questions left out."""
    shown = []
    for qid, kind, label in questions:
        value = answers.get(qid)
        if kind in PRIVATE_KINDS or value is None or str(value).strip() == "":
            continue
        shown.append((label, str(value)[:300]))
    return shown


def qr_svg(url: str) -> str:
    """The QR code of `url` as an inline SVG element (no XML declaration), error correction M."""
    code = segno.make(url, error="m", micro=False)
    svg: str = code.svg_inline(scale=3, border=2, dark="#000", light="#fff", omitsize=False)
    return svg


_CSS = """
@page { size: A4; margin: 18mm 16mm; }
body { font-family: "DejaVu Sans", sans-serif; font-size: 10.5pt; color: #0b0c0c; }
.ur { font-family: "Noto Naskh Arabic", serif; direction: rtl; text-align: right; }
h1 { font-size: 19pt; margin: 0 0 4pt; } h2 { font-size: 13pt; margin: 14pt 0 4pt; }
.agency { font-size: 12pt; font-weight: bold; border-bottom: 3pt solid #1d70b8; padding-bottom: 4pt; }
table { border-collapse: collapse; width: 100%; margin-top: 6pt; }
th, td { border-bottom: 0.5pt solid #b1b4b6; padding: 3pt 4pt; vertical-align: top; }
th { width: 40%; font-weight: bold; text-align: start; }
.half { width: 100%; } .qr { float: right; margin-left: 8mm; text-align: center; font-size: 8pt; }
.qr svg { width: 34mm; height: 34mm; } .id { font-family: "DejaVu Sans Mono", monospace; }
.foot { margin-top: 14pt; font-size: 8.5pt; color: #505a5f; }
"""


def render_html(facts: Facts) -> str:
    """The certificate as one HTML page: English, then Urdu (right to left, Noto Naskh Arabic: WeasyPrint embeds
    the subset of the glyphs used), the QR code to the verification page and its address in clear."""
    e = html.escape
    day = facts.issued_at.date().isoformat()

    def rows(lang: str) -> str:
        facts_rows: list[tuple[Mapping[str, str], str]] = [
            ({"en": "Reference", "ur": "حوالہ نمبر"}, f'<bdi dir="ltr">{e(facts.reference)}</bdi>'),
            ({"en": "Issued on", "ur": "تاریخ اجرا"}, f'<bdi dir="ltr">{e(day)}</bdi>'),
            ({"en": "Certificate number", "ur": "سند نمبر"},
             f'<bdi dir="ltr" class="id">{e(facts.certificate_id)}</bdi>')]
        if facts.office:
            facts_rows.append(({"en": "Office", "ur": "دفتر"}, e(facts.office.get(lang, ""))))
        facts_rows += [(label, f"<bdi>{e(value)}</bdi>") for label, value in facts.answers]
        return "".join(f"<tr><th>{e(label.get(lang, ''))}</th><td>{value}</td></tr>" for label, value in facts_rows)

    en = (f'<section lang="en" dir="ltr"><h1>{e(facts.service.get("en", ""))}</h1>'
          f'<p>{e(facts.outcome.get("en", ""))} by {e(facts.agency)}.</p><table>{rows("en")}</table></section>')
    ur = (f'<section lang="ur" dir="rtl" class="ur"><h2>{e(facts.service.get("ur", ""))}</h2>'
          f'<p>{e(facts.outcome.get("ur", ""))}: <bdi>{e(facts.agency)}</bdi></p><table>{rows("ur")}</table></section>')
    return ("<!DOCTYPE html>\n"
            f'<html lang="en"><head><meta charset="utf-8"><title>{e(facts.service.get("en", ""))} '
            f'{e(facts.certificate_id)}</title><meta name="author" content="{e(facts.agency)}">'
            f'<meta name="keywords" content="certificate:{e(facts.certificate_id)}">'
            f'<meta name="dcterms.created" content="{e(facts.issued_at.isoformat())}">'
            f"<style>{_CSS}</style></head><body>"
            f'<div class="agency">{e(facts.agency)}</div>'
            f'<div class="qr">{qr_svg(facts.verify_url)}<br>Verify / تصدیق</div>'
            f"{en}{ur}"
            f'<p class="foot">Signed electronically by {e(facts.agency)}. Check it at '
            f'<span class="id">{e(facts.verify_url)}</span> (or scan the code). '
            f'<span class="ur" lang="ur">اس سند کی تصدیق کے لیے کوڈ اسکین کریں۔</span></p>'
            "</body></html>")


@dataclass(frozen=True)
class PublicStatus:
    """What the verification page says: the certificate, the agency, dates, and the revocation's category."""

    certificate_id: str
    service: Mapping[str, str]
    agency: str
    issued_on: str  # YYYY-MM-DD in the agency's time zone
    revoked_on: str | None
    reason: str | None  # one of REVOCATION_REASONS

    @property
    def valid(self) -> bool:
        return self.revoked_on is None


def check_reason(reason: str) -> str:
    if reason not in REVOCATION_REASONS:
        raise ValueError(f"a revocation reason is one of {', '.join(REVOCATION_REASONS)}")
    return reason
