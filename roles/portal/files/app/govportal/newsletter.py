"""The agency's newsletter: citizens subscribe with double opt-in, staff send a published news page to the
confirmed subscribers of its language. Mail goes through plain SMTP settings of the portal's env file
(SMTP_HOST, SMTP_PORT, SMTP_USER, SMTP_PASSWORD, SMTP_STARTTLS, MAIL_FROM), to be filled from the platform's mail
service; without SMTP_HOST the newsletter says it is not available and stores nothing.

Confirmation tokens: 32 random bytes in the citizen's link; only their SHA-256 is stored. Unsubscribe links are
stable (an old issue's link keeps working): the subscriber's id with an HMAC of it under the portal's secret key.
A second request for the same address within RESEND_AFTER does not send another mail (no mail bombing through the
form), and the answer is the same whether the address was known or not (no enumeration)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone
from django.utils.html import strip_tags

RESEND_AFTER = timedelta(minutes=10)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def unsubscribe_token(pk: int) -> str:
    mac = hmac.new(settings.SECRET_KEY.encode(), f"newsletter-unsubscribe:{pk}".encode(), hashlib.sha256)
    return f"{pk}-{mac.hexdigest()[:40]}"


def enabled() -> bool:
    return bool(getattr(settings, "EMAIL_HOST", ""))


def _link(path: str) -> str:
    return settings.PUBLIC_URL.rstrip("/") + path


def subscribe(email: str, language: str, words: dict[str, str]) -> bool:
    """Record (or refresh) a pending subscription and mail its confirmation link; False when nothing was sent
    (a recent request for the same address, or already confirmed)."""
    from govportal.models import Subscriber

    email = email.strip().lower()
    now = timezone.now()
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        sub = Subscriber.objects.select_for_update().filter(email=email).first()
        if sub is not None and (sub.confirmed_at is not None or now - sub.requested_at < RESEND_AFTER):
            return False
        if sub is None:
            sub = Subscriber(email=email)
        sub.language, sub.token_hash, sub.requested_at = language, token_hash(token), now
        sub.save()
    body = words["nl_confirm_body"].format(agency=settings.AGENCY_NAME,
                                           link=_link(f"/{language}/newsletter/confirm/{token}/"))
    EmailMessage(words["nl_confirm_subject"].format(agency=settings.AGENCY_NAME), body, settings.MAIL_FROM,
                 [email]).send()
    return True


def confirm(token: str) -> bool:
    from govportal.models import Subscriber

    n = Subscriber.objects.filter(token_hash=token_hash(token), confirmed_at__isnull=True).update(
        confirmed_at=timezone.now())
    return n == 1 or Subscriber.objects.filter(token_hash=token_hash(token)).exists()


def unsubscribe(token: str) -> bool:
    from govportal.models import Subscriber

    pk, _, _ = token.partition("-")
    if not pk.isdigit() or not hmac.compare_digest(token, unsubscribe_token(int(pk))):
        return False
    return Subscriber.objects.filter(pk=int(pk)).delete()[0] > 0


def send_issue(page, words: dict[str, str]) -> int:
    """Mail a live NewsPage to every confirmed subscriber of its language, once (recorded in NewsletterIssue);
    each message has the subscriber's own unsubscribe link. Returns how many were sent."""
    from govportal.models import NewsletterIssue, Subscriber

    lang = page.home().language if page.home() else "en"
    with transaction.atomic():
        issue, created = NewsletterIssue.objects.select_for_update().get_or_create(page=page)
        if not created:
            return 0
        sent = 0
        text = strip_tags(page.body or "").strip()
        url = _link(page.url or "/")
        with get_connection() as conn:
            for sub in Subscriber.objects.filter(language=lang, confirmed_at__isnull=False):
                token = unsubscribe_token(sub.pk)
                body = words["nl_issue_body"].format(title=page.title, text=text, url=url,
                                                     unsubscribe=_link(f"/{lang}/newsletter/unsubscribe/{token}/"))
                EmailMessage(f"{settings.AGENCY_NAME}: {page.title}", body, settings.MAIL_FROM, [sub.email],
                             connection=conn).send()
                sent += 1
        issue.recipients = sent
        issue.save()
    return sent
