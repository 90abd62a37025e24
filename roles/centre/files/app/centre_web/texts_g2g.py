"""The words of the tracking page's part on data sharing between agencies (G2G), in English and Urdu."""

from __future__ import annotations

G2G_TEXTS: dict[str, dict[str, str]] = {
    "g2g_title": {"en": "Who looked at your data", "ur": "آپ کے کوائف کس نے دیکھے"},
    "g2g_intro": {"en": "Instead of asking you for a paper, offices may check a record with another government "
                        "office, only for the reason the directorate allowed. Each check is listed here.",
                  "ur": "آپ سے کاغذ مانگنے کے بجائے دفاتر کسی دوسرے سرکاری دفتر سے ریکارڈ کی تصدیق کر سکتے ہیں، صرف اس "
                        "مقصد کے لیے جس کی اجازت ڈائریکٹوریٹ نے دی ہو۔ ہر تصدیق یہاں درج ہے۔"},
    "g2g_caption": {"en": "Checks of your records between offices", "ur": "دفاتر کے درمیان آپ کے ریکارڈ کی تصدیق"},
    "g2g_when": {"en": "When", "ur": "کب"},
    "g2g_who": {"en": "Office that looked", "ur": "دیکھنے والا دفتر"},
    "g2g_what": {"en": "What it looked at", "ur": "کیا دیکھا"},
    "g2g_why": {"en": "Why", "ur": "کیوں"},
    "g2g_record_at": {"en": "{service}, a record of {agency}", "ur": "{service}، {agency} کا ریکارڈ"},
    "g2g_this_application": {"en": "{service}: this application", "ur": "{service}: یہ درخواست"},
    "g2g_none": {"en": "No office has looked at your data for this application.",
                 "ur": "اس درخواست کے لیے کسی دفتر نے آپ کے کوائف نہیں دیکھے۔"},
}
