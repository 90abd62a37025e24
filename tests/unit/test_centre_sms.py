"""The centre's text messages, pure parts: mobile numbers as E.164 and what a page shows of them, the encoding
and parts of a text (GSM-7 and UCS-2), the texts in English and Urdu and what they cost, how a code goes, and
the provider adapter's decisions (which answers are worth a retry, the JSON it sends, no key in its repr)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from centre_core import catalogue, outbox, sms
from centre_web.sms_provider import HttpJsonProvider, SmsSettings, classify, provider_of, request_body
from centre_web.texter import text_of
from centre_web.texts_sms import _SMS, sms_text


@pytest.mark.parametrize(("typed", "expected"), [
    ("+923001234567", "+923001234567"),
    ("+92 300 123-4567", "+923001234567"),
    ("0092 (300) 1234567", "+923001234567"),
    ("+44 20 7946 0958", "+442079460958"),
    ("03001234567", None),  # national: no country code
    ("+0923001234567", None),  # no country code starts with 0
    ("+92300", None),  # too short
    ("+9230012345678901", None),  # over 15 digits
    ("+92300123456a", None),
    ("+٩٢٣٠٠١٢٣٤٥٦٧", None),  # Arabic-Indic digits: not what a provider takes
    ("", None),
])
def test_mobile_numbers_are_kept_as_e164(typed: str, expected: str | None) -> None:
    assert sms.e164(typed) == expected


def test_a_page_shows_the_last_two_digits_only() -> None:
    assert sms.last_digits("+923001234567") == "67"
    assert sms.last_digits("+92") == ""  # never the whole of a number


@pytest.mark.parametrize(("text", "encoding", "units", "parts"), [
    ("", "GSM-7", 0, 0),
    ("a" * 160, "GSM-7", 160, 1),
    ("a" * 161, "GSM-7", 161, 2),
    ("a" * 306, "GSM-7", 306, 2),
    ("a" * 307, "GSM-7", 307, 3),
    ("{" * 80, "GSM-7", 160, 1),  # an extended character takes two septets
    ("a" * 152 + "€" + "a" * 7, "GSM-7", 161, 2),  # the escape pair is not split: 152 + 9
    ("ا" * 70, "UCS-2", 70, 1),
    ("ا" * 71, "UCS-2", 71, 2),
    ("ا" * 134, "UCS-2", 134, 2),
    ("ا" * 135, "UCS-2", 135, 3),
    ("a" * 69 + "ا", "UCS-2", 70, 1),  # one Urdu letter makes the whole text UCS-2
    ("😀" * 35, "UCS-2", 70, 1),  # outside the BMP: two units each
])
def test_encoding_and_parts(text: str, encoding: str, units: int, parts: int) -> None:
    assert sms.segments(text) == sms.Segments(encoding, units, parts)  # type: ignore[arg-type]


NAMES = {"en": ("Building permit", "Permit issued"), "ur": ("تعمیراتی اجازت نامہ", "اجازت نامہ جاری کر دیا گیا")}


@pytest.mark.parametrize("kind", list(_SMS))
@pytest.mark.parametrize("lang", ["en", "ur"])
def test_every_text_fits_one_part(kind: str, lang: str) -> None:
    """With the sample catalogue's names and a real public address, every text costs one message; Urdu is UCS-2
    (so within 70 units) and keeps the reference and the code in isolates."""
    service, outcome = NAMES[lang]
    text, cost = sms_text(kind, lang, {"code": "7K3M9QX2"}, reference="2H9N-DNJ3-DBWV", service=service,
                          outcome=outcome, track_url=f"https://centre.health.gov.pk/{lang}/track/")
    assert cost.parts == 1, (text, cost)
    assert "2H9N-DNJ3-DBWV" in text
    assert cost.encoding == ("UCS-2" if lang == "ur" else "GSM-7")
    if kind == "code":
        assert "7K3M9QX2" in text
    if lang == "ur":
        assert "\u20662H9N-DNJ3-DBWV\u2069" in text


def test_a_long_text_falls_back_to_its_short_form_and_says_its_parts() -> None:
    long_outcome = "اجازت نامہ جاری کر دیا گیا اور دفتر سے وصول کیا جا سکتا ہے"
    text, cost = sms_text("closed", "ur", {}, reference="2H9N-DNJ3-DBWV", service="", outcome=long_outcome,
                          track_url="https://centre.health.gov.pk/ur/track/")
    assert "https://" in text and cost == sms.segments(text) and cost.parts == 2  # both forms 2: the longer kept
    text, cost = sms_text("closed", "ur", {}, reference="2H9N-DNJ3-DBWV", service="", outcome=NAMES["ur"][1],
                          track_url="https://centre.health.gov.pk/ur/track/")
    assert "https://" not in text and cost.parts == 1  # with the address it would take 2
    text, cost = sms_text("submitted", "en", {}, reference="2H9N-DNJ3-DBWV", service="S" * 100,
                          track_url="https://centre.health.gov.pk/en/track/", outcome="")
    assert "https://" not in text and cost.parts == 1  # the short form fits one part
    with pytest.raises(ValueError):
        sms_text("newsletter", "en", {}, reference="", service="", outcome="", track_url="")


def test_the_text_of_an_outbox_row_names_the_outcome_from_the_catalogue() -> None:
    row = outbox.Pending(7, "+923001234567", "closed", "ur", {"outcome": "issued"}, "2H9N0DNJ3DBWV"[:12],
                         "trade_licence", 0, datetime(2026, 12, 3, tzinfo=UTC), "sms")
    text = text_of(row, catalogue.load_samples(), "https://centre.test")
    assert "لائسنس جاری کر دیا گیا" in text and "\u20662H9N-0DNJ-3DBW\u2069" in text
    assert "+92" not in text


@pytest.mark.parametrize(("has_email", "has_mobile", "channels", "expected"), [
    (True, True, ("email", "sms"), "sms"),  # the number on file wins
    (True, False, ("email", "sms"), "email"),
    (False, True, ("email", "sms"), "sms"),
    (True, True, ("email",), "email"),  # no provider: by e-mail
    (False, True, ("email",), None),
    (True, False, ("sms",), None),  # no mail service
    (False, False, ("email", "sms"), None),
])
def test_how_a_code_goes(has_email: bool, has_mobile: bool, channels: tuple[str, ...], expected: str | None) -> None:
    assert outbox.code_channel(has_email, has_mobile, channels) == expected


@pytest.mark.parametrize(("status", "permanent"), [
    (200, None), (202, None), (400, True), (413, True), (422, True),
    (401, False), (403, False), (404, False), (429, False), (500, False), (503, False),  # worth another try
])
def test_which_answers_are_retried(status: int, permanent: bool | None) -> None:
    error = classify(status)
    assert (error.permanent if error else None) is permanent
    assert error is None or str(error) == f"http {status}"


def test_the_request_body_says_encoding_and_parts() -> None:
    body = json.loads(request_body("+923001234567", "کوڈ", "HEALTH"))
    assert body == {"to": "+923001234567", "text": "کوڈ", "encoding": "UCS-2", "parts": 1, "sender": "HEALTH"}
    assert "sender" not in json.loads(request_body("+923001234567", "code", ""))


def test_the_adapter_takes_https_only_and_never_shows_its_key(tmp_path: object) -> None:
    import certifi

    with pytest.raises(ValueError, match="https"):
        HttpJsonProvider(SmsSettings("http://sms.example/send", "k" * 32, certifi.where()))
    provider = provider_of({"url": "https://sms.example:8443/v1/send?x=1", "key": "secret-key-" * 3,
                            "ca_file": certifi.where()})
    assert isinstance(provider, HttpJsonProvider)
    assert (provider.host, provider.port, provider.path) == ("sms.example", 8443, "/v1/send?x=1")
    assert "secret-key" not in repr(provider)
    with pytest.raises(ValueError, match="no SMS adapter"):
        provider_of({"kind": "smpp", "url": "https://x", "key": "k", "ca_file": certifi.where()})
