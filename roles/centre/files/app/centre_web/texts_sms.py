"""Text messages' words in English and Urdu and the choice of what to send (`sms_text`, pure).

A text costs by its parts (`centre_core.sms.segments`): Urdu goes as UCS-2, 70 characters a part. Each message
has a long form (with the tracking page's address) and a short one (without it: the sender name says who sends,
the reference what it is about); the long form is sent when it fits one part, else the one with the fewest parts.
The code's text fits one part in both languages."""

from __future__ import annotations

from typing import Any

from centre_core.sms import Segments, segments

_SMS: dict[str, dict[str, tuple[str, ...]]] = {
    "submitted": {"en": ("Application {ref} received: {service}. Track it at {track_url}",
                         "Application {ref} received: {service}."),
                  "ur": ("درخواست {ref} موصول ہو گئی۔ پیروی: {track_url}", "درخواست {ref} موصول ہو گئی۔")},
    "returned": {"en": ("Application {ref}: the office needs a document from you. {track_url}",
                        "Application {ref}: the office needs a document from you."),
                 "ur": ("درخواست {ref}: دفتر کو آپ سے دستاویز درکار ہے۔ {track_url}",
                        "درخواست {ref}: دفتر کو آپ سے دستاویز درکار ہے۔")},
    "closed": {"en": ("Application {ref} is closed: {outcome}. {track_url}", "Application {ref} is closed: {outcome}."),
               "ur": ("درخواست {ref} بند: {outcome}۔ {track_url}", "درخواست {ref} بند: {outcome}۔")},
    "code": {"en": ("Your code for application {ref} is {code}. It works once, for 30 minutes.",),
             "ur": ("درخواست {ref} کا کوڈ {code} ہے۔ 30 منٹ میں ایک بار کام کرے گا۔",
                    "درخواست {ref} کا کوڈ {code} ہے۔ 30 منٹ کے لیے۔")},
}


def sms_text(kind: str, language: str, params: dict[str, Any], *, reference: str, service: str, outcome: str,
             track_url: str) -> tuple[str, Segments]:
    """Pure: the text of an outbox message and what it costs. `reference` as shown (with its dashes), `service`
    and `outcome` already in `language`. No reason of the desk's (it may be long): the tracking page shows it."""
    lang = "ur" if language == "ur" else "en"
    if kind not in _SMS:
        raise ValueError(f"no text message of kind {kind!r}")
    values = {"ref": "\u2066" + reference + "\u2069" if lang == "ur" else reference, "service": service,
              "outcome": outcome, "track_url": track_url, "code": str(params.get("code", ""))}
    if lang == "ur":  # the reference and the code keep their order in a right-to-left sentence (LRI ... PDI)
        values["code"] = "\u2066" + values["code"] + "\u2069"
    best: tuple[str, Segments] | None = None
    for form in _SMS[kind][lang]:
        text = form.format(**values)
        cost = segments(text)
        if cost.parts == 1:
            return text, cost
        if best is None or cost.parts < best[1].parts:
            best = (text, cost)
    assert best is not None
    return best
