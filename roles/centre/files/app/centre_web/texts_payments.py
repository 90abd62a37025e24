"""The payment pages' words (the bill on the status page, the return from the provider, the receipt, the staff's
counter and reconciliation pages), English and Urdu; merged into `texts.TEXTS`."""

from __future__ import annotations

PAYMENT_TEXTS: dict[str, dict[str, str]] = {
    "pay_bill_title": {"en": "Fee to pay", "ur": "ادا کرنے کی فیس"},
    "pay_bill_ref": {"en": "Payment reference", "ur": "ادائیگی کا حوالہ"},
    "pay_amount": {"en": "Amount", "ur": "رقم"},
    "pay_state": {"en": "Payment", "ur": "ادائیگی"},
    "pay_state_open": {"en": "Not paid yet", "ur": "ابھی ادا نہیں ہوئی"},
    "pay_state_paid": {"en": "Paid", "ur": "ادا ہو گئی"},
    "pay_state_cancelled": {"en": "Cancelled", "ur": "منسوخ"},
    "pay_button": {"en": "Pay online", "ur": "آن لائن ادا کریں"},
    "pay_counter_hint": {"en": "You can also pay at the office: give them the payment reference.",
                         "ur": "آپ دفتر میں بھی ادا کر سکتے ہیں: انہیں ادائیگی کا حوالہ دیں۔"},
    "pay_receipt_link": {"en": "Your receipt", "ur": "آپ کی رسید"},
    "pay_unavailable": {"en": "Online payment is not available just now. Try again later, or pay at the office.",
                        "ur": "آن لائن ادائیگی ابھی دستیاب نہیں۔ بعد میں کوشش کریں، یا دفتر میں ادا کریں۔"},
    "pay_return_title": {"en": "Your payment", "ur": "آپ کی ادائیگی"},
    "pay_return_paid": {"en": "Your payment was received. Thank you.", "ur": "آپ کی ادائیگی موصول ہو گئی۔ شکریہ۔"},
    "pay_return_waiting": {"en": "The payment provider has not confirmed your payment yet. Look at this page again "
                                 "in a minute; nothing is lost.",
                           "ur": "ادائیگی فراہم کنندہ نے ابھی آپ کی ادائیگی کی تصدیق نہیں کی۔ ایک منٹ بعد یہ صفحہ "
                                 "دوبارہ دیکھیں؛ کچھ ضائع نہیں ہوا۔"},
    "pay_back_status": {"en": "Back to your application", "ur": "اپنی درخواست پر واپس جائیں"},
    "receipt_title": {"en": "Payment receipt", "ur": "ادائیگی کی رسید"},
    "receipt_paid_to": {"en": "Paid to", "ur": "وصول کنندہ"},
    "receipt_paid_on": {"en": "Paid on", "ur": "ادائیگی کی تاریخ"},
    "receipt_how": {"en": "How it was paid", "ur": "ادائیگی کا طریقہ"},
    "channel_online": {"en": "Online", "ur": "آن لائن"},
    "channel_counter": {"en": "At the office", "ur": "دفتر میں"},
    "receipt_transaction": {"en": "Transaction", "ur": "لین دین"},
    "receipt_signature": {"en": "Digital signature", "ur": "ڈیجیٹل دستخط"},
    "receipt_verify": {"en": "This receipt is signed by the office (a JSON Web Signature, ES256). Anyone can check "
                             "it with the office's public key:",
                       "ur": "اس رسید پر دفتر کے دستخط ہیں (JSON Web Signature، ES256)۔ کوئی بھی اسے دفتر کی "
                             "عوامی کلید سے جانچ سکتا ہے:"},
    "receipt_print": {"en": "Print this page or save it: it is your proof of payment.",
                      "ur": "یہ صفحہ پرنٹ کریں یا محفوظ کریں: یہ آپ کی ادائیگی کا ثبوت ہے۔"},
    "staff_pay_title": {"en": "Payments", "ur": "ادائیگیاں"},
    "staff_pay_lookup": {"en": "Payment reference", "ur": "ادائیگی کا حوالہ"},
    "staff_pay_find": {"en": "Find the bill", "ur": "بل تلاش کریں"},
    "staff_pay_application": {"en": "Application", "ur": "درخواست"},
    "staff_pay_receipt_no": {"en": "Counter receipt number", "ur": "کاؤنٹر رسید نمبر"},
    "staff_pay_record": {"en": "Record the payment at the counter", "ur": "کاؤنٹر پر ادائیگی درج کریں"},
    "staff_pay_recorded": {"en": "The payment is recorded.", "ur": "ادائیگی درج ہو گئی۔"},
    "staff_pay_refused": {"en": "Not recorded: {why}", "ur": "درج نہیں ہوئی: {why}"},
    "staff_pay_already": {"en": "this bill is paid already", "ur": "یہ بل پہلے ہی ادا ہو چکا ہے"},
    "staff_pay_no_bill": {"en": "no bill has this reference", "ur": "اس حوالے کا کوئی بل نہیں"},
    "staff_pay_bad_receipt_no": {"en": "enter the counter receipt number (letters, digits, - and _)",
                                 "ur": "کاؤنٹر رسید نمبر درج کریں (حروف، ہندسے، - اور _)"},
    "staff_pay_receipt_no_used": {"en": "this counter receipt number was used for another bill",
                                  "ur": "یہ کاؤنٹر رسید نمبر کسی اور بل کے لیے استعمال ہو چکا ہے"},
    "staff_pay_report": {"en": "Daily reconciliation", "ur": "روزانہ مطابقت"},
    "staff_pay_day": {"en": "Day (YYYY-MM-DD)", "ur": "دن (YYYY-MM-DD)"},
    "staff_pay_download": {"en": "Download the CSV", "ur": "CSV ڈاؤن لوڈ کریں"},
}
