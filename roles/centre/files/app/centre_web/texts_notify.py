"""Notifications' words in English and Urdu: the "send me a code" page's (merged into `texts.TEXTS`) and the
messages the outbox sends (`compose`, pure: plain text, in the language the citizen used)."""

from __future__ import annotations

from typing import Any

NOTIFY_TEXTS: dict[str, dict[str, str]] = {
    "send_code": {"en": "Send me a code", "ur": "مجھے کوڈ بھیجیں"},
    "send_code_link": {"en": "No code, or it has expired? Get a new code by e-mail",
                       "ur": "کوڈ نہیں ملا یا اس کی مدت ختم ہو گئی؟ ای میل پر نیا کوڈ حاصل کریں"},
    "send_code_link_sms": {"en": "No code, or it has expired? Get a new code by text message or e-mail",
                           "ur": "کوڈ نہیں ملا یا اس کی مدت ختم ہو گئی؟ ایس ایم ایس یا ای میل پر نیا کوڈ حاصل کریں"},
    "send_code_intro": {"en": "Enter your reference number. If you gave an e-mail address when you applied, we send "
                              "a new one-time code to it. The code you had before stops working.",
                        "ur": "اپنا حوالہ نمبر درج کریں۔ اگر آپ نے درخواست دیتے وقت ای میل پتہ دیا تھا تو ہم اس پر "
                              "ایک نیا ایک بار کا کوڈ بھیجیں گے۔ پچھلا کوڈ کام کرنا بند کر دے گا۔"},
    "send_code_sent": {"en": "If this reference number exists and has an e-mail address, a new code was sent to it. "
                             "It works once, for 30 minutes. Mail can take a few minutes to arrive.",
                       "ur": "اگر یہ حوالہ نمبر موجود ہے اور اس کے ساتھ ای میل پتہ ہے تو اس پر نیا کوڈ بھیج دیا گیا "
                             "ہے۔ یہ 30 منٹ کے لیے ایک بار کام کرتا ہے۔ ای میل پہنچنے میں چند منٹ لگ سکتے ہیں۔"},
    "send_code_off": {"en": "This office does not send codes by e-mail. Contact the office in charge of your "
                            "application for a new code.",
                      "ur": "یہ دفتر ای میل پر کوڈ نہیں بھیجتا۔ نئے کوڈ کے لیے اپنی درخواست کے ذمہ دار دفتر سے "
                            "رابطہ کریں۔"},
    "send_code_intro_sms": {"en": "Enter your reference number. If you gave a mobile number when you applied, we send "
                                  "a new one-time code to it by text message; if not, to your e-mail address. The "
                                  "code you had before stops working.",
                            "ur": "اپنا حوالہ نمبر درج کریں۔ اگر آپ نے درخواست دیتے وقت موبائل نمبر دیا تھا تو ہم "
                                  "اس پر ایس ایم ایس کے ذریعے نیا ایک بار کا کوڈ بھیجیں گے، ورنہ آپ کے ای میل پتے "
                                  "پر۔ پچھلا کوڈ کام کرنا بند کر دے گا۔"},
    "send_code_sent_sms": {"en": "A new code was sent by text message to your mobile number ending in {digits}. It "
                                 "works once, for 30 minutes.",
                           "ur": "نیا کوڈ ایس ایم ایس کے ذریعے آپ کے اس موبائل نمبر پر بھیج دیا گیا ہے جس کے آخری "
                                 "ہندسے \u2066{digits}\u2069 ہیں۔ یہ 30 منٹ کے لیے ایک بار کام کرتا ہے۔"},
    "send_code_go_track": {"en": "Enter the code on the tracking page", "ur": "ٹریکنگ کے صفحے پر کوڈ درج کریں"},
    "err_send_code_too_many": {"en": "Too many codes were asked for from this connection. Try again in {minutes} "
                                     "minutes.",
                               "ur": "اس کنکشن سے بہت زیادہ کوڈ مانگے گئے۔ {minutes} منٹ بعد دوبارہ کوشش کریں۔"},
}

_MAIL: dict[str, dict[str, str]] = {
    "subject_submitted": {"en": "Application {ref} received: {service}", "ur": "درخواست {ref} موصول ہو گئی: {service}"},
    "subject_returned": {"en": "Application {ref}: we need something from you",
                         "ur": "درخواست {ref}: ہمیں آپ سے کچھ درکار ہے"},
    "subject_closed": {"en": "Application {ref}: {outcome}", "ur": "درخواست {ref}: {outcome}"},
    "subject_code": {"en": "Your code to track application {ref}", "ur": "درخواست {ref} کی پیروی کا کوڈ"},
    "hello": {"en": "Hello,", "ur": "السلام علیکم،"},
    "submitted": {"en": "We received your application for {service}. Your reference number is {ref}.",
                  "ur": "ہمیں {service} کے لیے آپ کی درخواست موصول ہو گئی ہے۔ آپ کا حوالہ نمبر {ref} ہے۔"},
    "how_to_track": {"en": "To follow it, open {track_url}, enter the reference number and a one-time code. To get "
                           "a code by e-mail, use \"Send me a code\": {code_url}",
                     "ur": "اس کی پیروی کے لیے {track_url} کھولیں، حوالہ نمبر اور ایک بار کا کوڈ درج کریں۔ ای میل پر "
                           "کوڈ حاصل کرنے کے لیے \"مجھے کوڈ بھیجیں\" استعمال کریں: {code_url}"},
    "returned": {"en": "Your application {ref} for {service} was returned to you: the office needs a document.",
                 "ur": "{service} کے لیے آپ کی درخواست {ref} آپ کو واپس کی گئی ہے: دفتر کو ایک دستاویز درکار ہے۔"},
    "returned_next": {"en": "Track your application to send it: {track_url}",
                      "ur": "دستاویز بھیجنے کے لیے اپنی درخواست کی پیروی کریں: {track_url}"},
    "closed": {"en": "Your application {ref} for {service} is closed: {outcome}.",
               "ur": "{service} کے لیے آپ کی درخواست {ref} بند ہو گئی ہے: {outcome}۔"},
    "reason": {"en": "The office wrote: {reason}", "ur": "دفتر نے لکھا: {reason}"},
    "code": {"en": "Your one-time code for application {ref} is: {code}", "ur": "درخواست {ref} کے لیے آپ کا ایک بار کا "
                                                                              "کوڈ یہ ہے: {code}"},
    "code_next": {"en": "It works once, for 30 minutes. Enter it with the reference number at {track_url}. If you "
                        "did not ask for it, you can ignore this message.",
                  "ur": "یہ 30 منٹ کے لیے ایک بار کام کرتا ہے۔ اسے حوالہ نمبر کے ساتھ {track_url} پر درج کریں۔ اگر "
                        "آپ نے یہ کوڈ نہیں مانگا تو اس پیغام کو نظر انداز کر دیں۔"},
    "sign": {"en": "{agency}\nThis message was sent automatically: replies are not read.",
             "ur": "{agency}\nیہ پیغام خود کار طریقے سے بھیجا گیا ہے: جوابات نہیں پڑھے جاتے۔"},
}


def compose(kind: str, language: str, params: dict[str, Any], *, reference: str, service: str, outcome: str,
            agency: str, track_url: str, code_url: str) -> tuple[str, str]:
    """Pure: (subject, plain-text body) of an outbox message. `reference` as shown (with its dashes), `service`
    and `outcome` already in `language`."""
    lang = "ur" if language == "ur" else "en"

    def w(key: str, **values: Any) -> str:
        return _MAIL[key][lang].format(**values)

    values = {"ref": reference, "service": service, "outcome": outcome, "track_url": track_url,
              "code_url": code_url}
    lines = [w("hello"), ""]
    if kind == "submitted":
        lines += [w("submitted", **values), "", w("how_to_track", **values)]
    elif kind == "returned":
        lines += [w("returned", **values)]
        lines += ["", w("reason", reason=params["reason"])] if params.get("reason") else []
        lines += ["", w("returned_next", **values)]
    elif kind == "closed":
        lines += [w("closed", **values)]
        lines += ["", w("reason", reason=params["reason"])] if params.get("reason") else []
    elif kind == "code":
        lines += [w("code", code=str(params.get("code", "")), **{k: v for k, v in values.items()}),
                  "", w("code_next", **values)]
    else:
        raise ValueError(f"no message of kind {kind!r}")
    lines += ["", "-- ", w("sign", agency=agency)]
    return w(f"subject_{kind}", **values), "\n".join(lines) + "\n"
