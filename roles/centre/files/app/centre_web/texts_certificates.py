"""The certificates' words in English and Urdu (merged into `texts.TEXTS`): the public verification page, the
status page's link, the staff page that revokes."""

from __future__ import annotations

CERTIFICATE_TEXTS: dict[str, dict[str, str]] = {
    "verify_title": {"en": "Check a certificate", "ur": "سند کی تصدیق"},
    "verify_valid": {"en": "This certificate is valid", "ur": "یہ سند درست ہے"},
    "verify_revoked": {"en": "This certificate has been revoked", "ur": "یہ سند منسوخ کر دی گئی ہے"},
    "verify_revoked_on": {"en": "Revoked on", "ur": "تاریخ منسوخی"},
    "verify_reason": {"en": "Reason", "ur": "وجہ"},
    "verify_what": {"en": "Certificate", "ur": "سند"},
    "verify_by": {"en": "Issued by", "ur": "جاری کنندہ"},
    "verify_on": {"en": "Issued on", "ur": "تاریخ اجرا"},
    "verify_number": {"en": "Certificate number", "ur": "سند نمبر"},
    "verify_intro": {"en": "Compare these details with the printed certificate. The signed PDF can also be checked "
                           "offline with any PDF signature validator.",
                     "ur": "ان تفصیلات کا چھپی ہوئی سند سے موازنہ کریں۔ دستخط شدہ پی ڈی ایف کی جانچ کسی بھی پی ڈی "
                           "ایف دستخط تصدیق کنندہ سے آف لائن بھی کی جا سکتی ہے۔"},
    "verify_unknown_title": {"en": "No certificate found", "ur": "کوئی سند نہیں ملی"},
    "verify_unknown": {"en": "There is no certificate with this number. Check the address, or scan the code again.",
                       "ur": "اس نمبر کی کوئی سند موجود نہیں۔ پتہ دوبارہ دیکھیں، یا کوڈ دوبارہ اسکین کریں۔"},
    "reason_issued_in_error": {"en": "Issued in error", "ur": "غلطی سے جاری ہوئی"},
    "reason_superseded": {"en": "Replaced by a new certificate", "ur": "نئی سند سے تبدیل"},
    "reason_obtained_by_fraud": {"en": "Obtained by fraud", "ur": "دھوکہ دہی سے حاصل کی گئی"},
    "reason_withdrawn": {"en": "Withdrawn by the agency", "ur": "ادارے نے واپس لے لی"},
    "cert_download": {"en": "Download your certificate (PDF, signed)",
                      "ur": "اپنی سند ڈاؤن لوڈ کریں (پی ڈی ایف، دستخط شدہ)"},
    "cert_pending": {"en": "Your certificate is being prepared. Come back later to download it.",
                     "ur": "آپ کی سند تیار کی جا رہی ہے۔ اسے ڈاؤن لوڈ کرنے کے لیے بعد میں آئیں۔"},
    "cert_check": {"en": "Check it online", "ur": "آن لائن تصدیق کریں"},
    "cert_title": {"en": "Certificate", "ur": "سند"},
    "cert_staff_title": {"en": "Certificate of {display}", "ur": "{display} کی سند"},
    "cert_none": {"en": "This application has no certificate.", "ur": "اس درخواست کی کوئی سند نہیں۔"},
    "cert_revoke": {"en": "Revoke the certificate", "ur": "سند منسوخ کریں"},
    "cert_reason_legend": {"en": "Why is it revoked? (shown on the public page)",
                           "ur": "اسے کیوں منسوخ کیا جا رہا ہے؟ (عوامی صفحے پر دکھایا جائے گا)"},
    "cert_note": {"en": "Note for the audit trail (not public)", "ur": "آڈٹ ریکارڈ کے لیے نوٹ (غیر عوامی)"},
    "cert_err_reason": {"en": "Select why the certificate is revoked",
                        "ur": "منتخب کریں کہ سند کیوں منسوخ کی جا رہی ہے"},
    "cert_err_note": {"en": "Write a note of up to 500 characters", "ur": "زیادہ سے زیادہ 500 حروف کا نوٹ لکھیں"},
    "cert_not_supervisor": {"en": "Only a supervisor may revoke a certificate.",
                            "ur": "صرف نگران ہی سند منسوخ کر سکتا ہے۔"},
    "cert_already": {"en": "The certificate is already revoked.", "ur": "سند پہلے ہی منسوخ ہو چکی ہے۔"},
    "cert_link": {"en": "Certificate", "ur": "سند"},
}
