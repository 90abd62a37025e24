"""The upload pages' and the citizen's task's words in English and Urdu (merged into `texts.TEXTS`)."""

from __future__ import annotations

DOCUMENT_TEXTS: dict[str, dict[str, str]] = {
    "doc_of": {"en": "Document {i} of {n}", "ur": "دستاویز {i} از {n}"},
    "doc_hint": {"en": "Upload a {types} file of up to {mb} MB. A photo or a scan is fine if it is easy to read.",
                 "ur": "زیادہ سے زیادہ {mb} ایم بی کی {types} فائل اپ لوڈ کریں۔ صاف پڑھی جانے والی تصویر یا اسکین "
                       "بھی قبول ہے۔"},
    "doc_types_or": {"en": " or ", "ur": " یا "},
    "doc_uploaded": {"en": "Uploaded: {name} ({size}). Choose another file to replace it, or continue.",
                     "ur": "اپ لوڈ ہو گئی: {name} ({size})۔ اسے بدلنے کے لیے دوسری فائل منتخب کریں، یا جاری رکھیں۔"},
    "doc_optional_skip": {"en": "This document is optional: continue without a file to skip it.",
                          "ur": "یہ دستاویز اختیاری ہے: اسے چھوڑنے کے لیے فائل کے بغیر جاری رکھیں۔"},
    "doc_file": {"en": "File", "ur": "فائل"},
    "documents_section": {"en": "Documents", "ur": "دستاویزات"},
    "not_uploaded": {"en": "Not uploaded", "ur": "اپ لوڈ نہیں کی گئی"},
    "err_doc_missing": {"en": "Select the file of: {name}", "ur": "اس کی فائل منتخب کریں: {name}"},
    "err_doc_empty": {"en": "The selected file is empty", "ur": "منتخب کردہ فائل خالی ہے"},
    "err_doc_too_large": {"en": "The selected file must be smaller than {mb} MB",
                          "ur": "منتخب کردہ فائل {mb} ایم بی سے چھوٹی ہونی چاہیے"},
    "err_doc_type": {"en": "The selected file must be a {types} (its content, not only its name)",
                     "ur": "منتخب کردہ فائل {types} ہونی چاہیے (صرف نام نہیں، اس کا مواد)"},
    "err_doc_store": {"en": "The file could not be kept just now. Try again in a few minutes.",
                      "ur": "فائل اس وقت محفوظ نہیں ہو سکی۔ چند منٹ بعد دوبارہ کوشش کریں۔"},
    "err_doc_again": {"en": "Upload this document again: {name}", "ur": "یہ دستاویز دوبارہ اپ لوڈ کریں: {name}"},
    # the citizen's own task, on the status page
    "provide_title": {"en": "Send the missing document", "ur": "نامکمل دستاویز بھیجیں"},
    "provide_intro": {"en": "The office needs a document from you before your application can go on. Choose which "
                            "document you are sending and upload it.",
                      "ur": "آپ کی درخواست آگے بڑھانے سے پہلے دفتر کو آپ سے ایک دستاویز درکار ہے۔ منتخب کریں کہ آپ کون "
                            "سی دستاویز بھیج رہے ہیں اور اسے اپ لوڈ کریں۔"},
    "provide_reason": {"en": "The office wrote:", "ur": "دفتر نے لکھا:"},
    "provide_which": {"en": "Which document are you sending?", "ur": "آپ کون سی دستاویز بھیج رہے ہیں؟"},
    "provide_send": {"en": "Send the document", "ur": "دستاویز بھیجیں"},
    "provide_sent": {"en": "Thank you: your document was sent and your application goes on.",
                     "ur": "شکریہ: آپ کی دستاویز بھیج دی گئی اور آپ کی درخواست آگے بڑھ رہی ہے۔"},
    "err_provide_which": {"en": "Select which document you are sending",
                          "ur": "منتخب کریں کہ آپ کون سی دستاویز بھیج رہے ہیں"},
    "err_provide_nothing": {"en": "Nothing is waiting for a document from you now.",
                            "ur": "اس وقت آپ سے کسی دستاویز کا انتظار نہیں ہے۔"},
    "your_documents": {"en": "Your documents", "ur": "آپ کی دستاویزات"},
    "doc_deleted": {"en": "deleted on {date}, at the end of the period the office keeps its records",
                    "ur": "{date} کو حذف کر دی گئی، دفتر کے ریکارڈ رکھنے کی مدت ختم ہونے پر"},
}
