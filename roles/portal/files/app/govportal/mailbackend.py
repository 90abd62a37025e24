"""Django's SMTP backend, its STARTTLS verified against the platform's CA (SMTP_CA_FILE: the box CA that signs the
mail service's certificate) rather than only the process's default trust store."""

from __future__ import annotations

import ssl
from functools import cached_property

from django.conf import settings
from django.core.mail.backends.smtp import EmailBackend


class VerifiedSMTPBackend(EmailBackend):
    @cached_property
    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=getattr(settings, "SMTP_CA_FILE", "") or None)
