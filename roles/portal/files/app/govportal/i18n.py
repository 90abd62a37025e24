"""The portal's own words in English and Urdu (page content is the staff's, per language tree: /en/, /ur/).
A small table rather than gettext catalogues: a dozen strings, no compile step."""

from __future__ import annotations

LANGUAGES = ("en", "ur")
LANGUAGE_NAMES = {"en": "English", "ur": "اردو"}

STRINGS: dict[str, dict[str, str]] = {
    "en": {"skip": "Skip to main content", "menu": "Menu", "home": "Home", "news": "News",
           "complaints": "Complaints and suggestions", "contact": "Contact", "no_news": "No news yet.",
           "published": "Published", "languages": "Languages", "served_by": "Served by GovCloud",
           "newsletter": "Newsletter", "nl_intro": "Get our news by email. We send you a link to confirm first.",
           "nl_email": "Email address", "nl_subscribe": "Subscribe", "nl_bad_email": "Enter a valid email address",
           "nl_check": "Check your email", "nl_check_body": "If this address can subscribe, we have sent it a link "
           "to confirm. The link works once.", "nl_confirmed": "You are subscribed",
           "nl_confirmed_body": "You will get our news by email. Every email has a link to unsubscribe.",
           "nl_unsubscribed": "You are unsubscribed", "nl_unsubscribed_body": "We will not send you the newsletter.",
           "nl_bad_link": "This link does not work", "nl_bad_link_body": "It may have been used already.",
           "nl_unavailable": "The newsletter is not available yet.", "error_prefix": "Error:",
           "there_is_a_problem": "There is a problem",
           "nl_confirm_subject": "{agency}: confirm your subscription",
           "nl_confirm_body": "To get the newsletter of {agency}, open this link:\n{link}\n\n"
           "If you did not ask for it, ignore this email.",
           "nl_issue_body": "{title}\n\n{text}\n\nRead it online: {url}\n\nUnsubscribe: {unsubscribe}\n"},
    "ur": {"skip": "مرکزی مواد پر جائیں", "menu": "فہرست", "home": "سرورق", "news": "خبریں",
           "complaints": "شکایات اور تجاویز", "contact": "رابطہ", "no_news": "ابھی کوئی خبر نہیں۔",
           "published": "شائع شدہ", "languages": "زبانیں", "served_by": "GovCloud کی خدمت",
           "newsletter": "خبرنامہ",
           "nl_intro": "ہماری خبریں ای میل پر حاصل کریں۔ پہلے ہم تصدیق کے لیے ایک لنک بھیجیں گے۔",
           "nl_email": "ای میل پتہ", "nl_subscribe": "رکنیت حاصل کریں", "nl_bad_email": "درست ای میل پتہ درج کریں",
           "nl_check": "اپنی ای میل دیکھیں", "nl_check_body": "اگر یہ پتہ رکنیت لے سکتا ہے تو ہم نے تصدیق کا لنک بھیج "
           "دیا ہے۔ لنک ایک بار کام کرتا ہے۔", "nl_confirmed": "آپ کی رکنیت ہو گئی",
           "nl_confirmed_body": "آپ کو ہماری خبریں ای میل پر ملیں گی۔ ہر ای میل میں رکنیت ختم کرنے کا لنک ہے۔",
           "nl_unsubscribed": "آپ کی رکنیت ختم ہو گئی", "nl_unsubscribed_body": "ہم آپ کو خبرنامہ نہیں بھیجیں گے۔",
           "nl_bad_link": "یہ لنک کام نہیں کرتا", "nl_bad_link_body": "شاید یہ پہلے استعمال ہو چکا ہے۔",
           "nl_unavailable": "خبرنامہ ابھی دستیاب نہیں۔", "error_prefix": "خرابی:",
           "there_is_a_problem": "ایک مسئلہ ہے",
           "nl_confirm_subject": "{agency}: اپنی رکنیت کی تصدیق کریں",
           "nl_confirm_body": "{agency} کا خبرنامہ حاصل کرنے کے لیے یہ لنک کھولیں:\n{link}\n\n"
           "اگر آپ نے یہ نہیں مانگا تو اس ای میل کو نظر انداز کریں۔",
           "nl_issue_body": "{title}\n\n{text}\n\nآن لائن پڑھیں: {url}\n\nرکنیت ختم کریں: {unsubscribe}\n"},
}


def pick_language(accept_language: str) -> str:
    """Pure: the first of our languages named in an Accept-Language header (q-values honoured), else English."""
    best, best_q = "en", -1.0
    for i, part in enumerate(accept_language.split(",")):
        fields = part.strip().split(";")
        tag = fields[0].strip().lower().split("-")[0]
        q = 1.0
        for f in fields[1:]:
            name, _, value = f.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if tag in LANGUAGES and q > 0 and (q > best_q):
            best, best_q = tag, q - i * 1e-6
    return best
