"""The citizen pages' own words in English and Urdu. A small table rather than gettext catalogues: two
languages, a few dozen strings, no compiled .mo files to build and ship; a missing Urdu text fails the unit
test that compares the keys, not a page."""

from __future__ import annotations

from django.utils.translation import get_language

TEXTS: dict[str, dict[str, str]] = {
    "services": {"en": "Services", "ur": "خدمات"},
    "services_intro": {"en": "Apply for a certificate, licence or permit, and follow your application.",
                       "ur": "سرٹیفکیٹ، لائسنس یا اجازت نامے کے لیے درخواست دیں اور اپنی درخواست کی پیروی کریں۔"},
    "skip": {"en": "Skip to main content", "ur": "مرکزی مواد پر جائیں"},
    "other_language": {"en": "اردو", "ur": "English"},
    "eligibility": {"en": "Who can apply", "ur": "کون درخواست دے سکتا ہے"},
    "documents": {"en": "Documents you need", "ur": "درکار دستاویزات"},
    "optional": {"en": "(optional)", "ur": "(اختیاری)"},
    "fee": {"en": "Fee", "ur": "فیس"},
    "sla": {"en": "Time to decide", "ur": "فیصلے کا وقت"},
    "working_days": {"en": "{n} working days", "ur": "{n} کام کے دن"},
    "office": {"en": "Office in charge", "ur": "ذمہ دار دفتر"},
    "start": {"en": "Start now", "ur": "ابھی شروع کریں"},
    "continue": {"en": "Continue", "ur": "جاری رکھیں"},
    "back": {"en": "Back", "ur": "واپس"},
    "question_of": {"en": "Question {i} of {n}", "ur": "سوال {i} از {n}"},
    "check_title": {"en": "Check your answers before sending your application",
                    "ur": "درخواست بھیجنے سے پہلے اپنے جوابات دیکھ لیں"},
    "change": {"en": "Change", "ur": "تبدیل کریں"},
    "not_answered": {"en": "Not answered", "ur": "جواب نہیں دیا گیا"},
    "submit": {"en": "Accept and send", "ur": "قبول کریں اور بھیجیں"},
    "declaration": {"en": "By sending this application you confirm that the answers are true.",
                    "ur": "یہ درخواست بھیج کر آپ تصدیق کرتے ہیں کہ جوابات درست ہیں۔"},
    "error_title": {"en": "There is a problem", "ur": "ایک مسئلہ ہے"},
    "error_prefix": {"en": "Error:", "ur": "خرابی:"},
    "done_title": {"en": "Application sent", "ur": "درخواست بھیج دی گئی"},
    "your_reference": {"en": "Your reference number", "ur": "آپ کا حوالہ نمبر"},
    "done_next": {"en": "Keep this number. To follow your application, enter it with the one-time code we send "
                        "you on the tracking page.",
                  "ur": "یہ نمبر سنبھال کر رکھیں۔ اپنی درخواست کی پیروی کے لیے اسے ہمارے بھیجے ہوئے ایک بار کے "
                        "کوڈ کے ساتھ ٹریکنگ کے صفحے پر درج کریں۔"},
    "track": {"en": "Track an application", "ur": "درخواست کی پیروی کریں"},
    "track_intro": {"en": "Enter your reference number and the one-time code we sent you.",
                    "ur": "اپنا حوالہ نمبر اور ہمارا بھیجا ہوا ایک بار کا کوڈ درج کریں۔"},
    "reference": {"en": "Reference number", "ur": "حوالہ نمبر"},
    "reference_hint": {"en": "12 letters and digits, for example 7K3M-Q9XA-P2DF",
                       "ur": "12 حروف اور ہندسے، مثلاً 7K3M-Q9XA-P2DF"},
    "code": {"en": "One-time code", "ur": "ایک بار کا کوڈ"},
    "code_hint": {"en": "8 letters and digits. A code works once, for 30 minutes.",
                  "ur": "8 حروف اور ہندسے۔ ایک کوڈ صرف ایک بار، 30 منٹ تک کام کرتا ہے۔"},
    "show_status": {"en": "Show the status", "ur": "حالت دکھائیں"},
    "err_reference": {"en": "Enter the reference number as it was given to you (12 letters and digits)",
                      "ur": "حوالہ نمبر ویسے ہی درج کریں جیسے آپ کو دیا گیا تھا (12 حروف اور ہندسے)"},
    "err_code_empty": {"en": "Enter the one-time code", "ur": "ایک بار کا کوڈ درج کریں"},
    "err_no_match": {"en": "The reference number and code do not match a valid code. A code works once, for 30 "
                           "minutes, and stops working after 5 wrong tries: ask for a new code if needed.",
                     "ur": "حوالہ نمبر اور کوڈ کسی درست کوڈ سے مطابقت نہیں رکھتے۔ کوڈ صرف ایک بار، 30 منٹ تک "
                           "کام کرتا ہے اور 5 غلط کوششوں کے بعد بند ہو جاتا ہے: ضرورت ہو تو نیا کوڈ منگوائیں۔"},
    "err_too_many": {"en": "Too many tries from this connection. Try again in {minutes} minutes.",
                     "ur": "اس کنکشن سے بہت زیادہ کوششیں ہو چکی ہیں۔ {minutes} منٹ بعد دوبارہ کوشش کریں۔"},
    "status_title": {"en": "Your application", "ur": "آپ کی درخواست"},
    "status": {"en": "Status", "ur": "حالت"},
    "st_in_progress": {"en": "Being processed", "ur": "کارروائی جاری ہے"},
    "st_action_needed": {"en": "Waiting for you", "ur": "آپ کا انتظار ہے"},
    "st_closed": {"en": "Closed", "ur": "بند"},
    "submitted_on": {"en": "Sent on", "ur": "بھیجنے کی تاریخ"},
    "steps": {"en": "Steps", "ur": "مراحل"},
    "you_are_here": {"en": "You are here", "ur": "آپ یہاں ہیں"},
    "done_step": {"en": "done", "ur": "مکمل"},
    "outcome": {"en": "Decision", "ur": "فیصلہ"},
    "service": {"en": "Service", "ur": "خدمت"},
    "not_found": {"en": "Page not found", "ur": "صفحہ نہیں ملا"},
    # save and come back later
    "save_later": {"en": "Save and come back later", "ur": "محفوظ کریں اور بعد میں واپس آئیں"},
    "saved_title": {"en": "Your answers are saved", "ur": "آپ کے جوابات محفوظ ہو گئے"},
    "saved_link": {"en": "Use this link to come back to your application:",
                   "ur": "اپنی درخواست پر واپس آنے کے لیے یہ لنک استعمال کریں:"},
    "saved_keep": {"en": "Copy the link or bookmark it. It works until {date}. Anyone who has the link can see and "
                         "change your answers: keep it to yourself.",
                   "ur": "لنک کاپی کر لیں یا بُک مارک کر لیں۔ یہ {date} تک کام کرے گا۔ جس کے پاس بھی یہ لنک ہو وہ آپ "
                         "کے جوابات دیکھ اور بدل سکتا ہے: اسے اپنے پاس رکھیں۔"},
    "saved_continue": {"en": "Continue now", "ur": "ابھی جاری رکھیں"},
    "resume_gone": {"en": "This link has expired or is not valid", "ur": "یہ لنک ختم ہو چکا ہے یا درست نہیں"},
    "resume_gone_text": {"en": "Saved answers are kept for 28 days after they were last saved, and deleted when "
                               "the application is sent. You can start again.",
                         "ur": "محفوظ جوابات آخری بار محفوظ کرنے کے بعد 28 دن تک رکھے جاتے ہیں اور درخواست بھیجنے "
                               "پر حذف ہو جاتے ہیں۔ آپ دوبارہ شروع کر سکتے ہیں۔"},
    # after closing (grievance service)
    "rate_legend": {"en": "How satisfied are you with how this was handled?",
                    "ur": "آپ اس معاملے کو نمٹانے کے طریقے سے کتنے مطمئن ہیں؟"},
    "rate_1": {"en": "1 – very dissatisfied", "ur": "1 – بالکل غیر مطمئن"},
    "rate_2": {"en": "2 – dissatisfied", "ur": "2 – غیر مطمئن"},
    "rate_3": {"en": "3 – neither", "ur": "3 – نہ مطمئن نہ غیر مطمئن"},
    "rate_4": {"en": "4 – satisfied", "ur": "4 – مطمئن"},
    "rate_5": {"en": "5 – very satisfied", "ur": "5 – بہت مطمئن"},
    "rate_send": {"en": "Send my rating", "ur": "میری رائے بھیجیں"},
    "rated": {"en": "Thank you: you rated it {n} out of 5. You can change your rating.",
              "ur": "شکریہ: آپ نے اسے 5 میں سے {n} درجہ دیا۔ آپ اپنی رائے بدل سکتے ہیں۔"},
    "reopen_title": {"en": "Not resolved?", "ur": "مسئلہ حل نہیں ہوا؟"},
    "reopen_text": {"en": "You can reopen it until {date}: it goes back to the officer with the same details.",
                    "ur": "آپ اسے {date} تک دوبارہ کھول سکتے ہیں: یہ انہی تفصیلات کے ساتھ افسر کے پاس واپس جائے گا۔"},
    "reopen_send": {"en": "Reopen", "ur": "دوبارہ کھولیں"},
    "err_rating": {"en": "Select how satisfied you are, from 1 to 5",
                   "ur": "1 سے 5 تک منتخب کریں کہ آپ کتنے مطمئن ہیں"},
    "err_reopen": {"en": "This can no longer be reopened", "ur": "اسے اب دوبارہ نہیں کھولا جا سکتا"},
    # validation of answers
    "err_required": {"en": "Answer the question: {label}", "ur": "سوال کا جواب دیں: {label}"},
    "err_too_long": {"en": "{label} must be {n} characters or fewer", "ur": "{label} زیادہ سے زیادہ {n} حروف ہو"},
    "err_email": {"en": "Enter an e-mail address like name@example.pk",
                  "ur": "ای میل پتہ اس طرح درج کریں: name@example.pk"},
    "err_mobile": {"en": "Enter a mobile number with its country code, like +92 300 1234567",
                   "ur": "موبائل نمبر ملک کے کوڈ کے ساتھ اس طرح درج کریں: \u2066+92 300 1234567\u2069"},
    "err_phone": {"en": "Enter a phone number like 0300 1234567", "ur": "فون نمبر اس طرح درج کریں: 0300 1234567"},
    "err_date": {"en": "Enter a real date as year-month-day, like 2024-03-31",
                 "ur": "اصل تاریخ سال-مہینہ-دن کی صورت میں درج کریں، مثلاً 2024-03-31"},
    "err_number": {"en": "Enter a whole number between 0 and 1000000",
                   "ur": "0 اور 1000000 کے درمیان پورا عدد درج کریں"},
    "err_choice": {"en": "Select one of the options", "ur": "دیے گئے اختیارات میں سے ایک منتخب کریں"},
}


def lang() -> str:
    return "ur" if get_language() == "ur" else "en"


def t(key: str, **values: object) -> str:
    text = TEXTS[key][lang()]
    return text.format(**values) if values else text


from .texts_documents import DOCUMENT_TEXTS  # noqa: E402 - the upload pages' words, kept apart

TEXTS.update(DOCUMENT_TEXTS)
from .texts_notify import NOTIFY_TEXTS  # noqa: E402 - "send me a code"'s words, kept apart

TEXTS.update(NOTIFY_TEXTS)
from .texts_staff import STAFF_TEXTS  # noqa: E402 - the staff pages' words, kept apart

TEXTS.update(STAFF_TEXTS)
from .texts_certificates import CERTIFICATE_TEXTS  # noqa: E402 - the certificates' words, kept apart

TEXTS.update(CERTIFICATE_TEXTS)

from .texts_payments import PAYMENT_TEXTS  # noqa: E402 - the payment pages' words, kept apart

TEXTS.update(PAYMENT_TEXTS)

from .texts_g2g import G2G_TEXTS  # noqa: E402 - the tracking page's G2G part, kept apart

TEXTS.update(G2G_TEXTS)

from .texts_participation import PARTICIPATION_TEXTS  # noqa: E402 - e-participation's words, kept apart

TEXTS.update(PARTICIPATION_TEXTS)
