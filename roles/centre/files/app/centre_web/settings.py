"""Settings of one agency's centre. As for the portal, everything agency-specific (and every secret) comes from
the instance's env file (0600, owned by the instance user) named by CENTRE_ENV_FILE; nothing secret is in the
process environment or on the command line.

The citizen's side keeps no Django models: applications live in the centre's own tables (centre_core.store,
plain SQL over psycopg), and the answers being typed live in a signed cookie session until submitted, so no
Django database, auth or contenttypes app is needed."""

import os
from pathlib import Path


def _read_env(path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


ENV = _read_env(os.environ["CENTRE_ENV_FILE"])
BASE_DIR = Path(__file__).resolve().parent.parent

AGENCY_SLUG = ENV["AGENCY_SLUG"]
AGENCY_NAME = ENV["AGENCY_NAME"]
PUBLIC_URL = ENV["PUBLIC_URL"]
SECRET_KEY = ENV["SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = [ENV["PUBLIC_HOST"], "127.0.0.1"]
CSRF_TRUSTED_ORIGINS = [PUBLIC_URL]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_NAME = f"centre_{AGENCY_SLUG.replace('-', '_')}_session"
CSRF_COOKIE_NAME = f"centre_{AGENCY_SLUG.replace('-', '_')}_csrf"
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
SESSION_COOKIE_AGE = 2 * 3600  # an application in progress is kept two hours (save and resume comes later)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# The shared citizen design (roles/app_common/files/design, installed beside the code by the role; docs/design.md):
# its base template, its compiled stylesheet (served by `views.design_css`) and `/brand.css` with the agency's colour.
INSTALLED_APPS = ["centre_web", "design"]
DESIGN_AGENCY_NAME = AGENCY_NAME
DESIGN_BRAND_COLOUR = ENV.get("BRAND_COLOUR", "")  # checked by the spec; the design's default otherwise
DESIGN_LOGO_URL = ENV.get("LOGO_URL", "")  # "/static/brand/<agency>.<ext>" (views.brand_logo), "" for none
DESIGN_LOGO_FILE = ENV.get("LOGO_FILE", "")  # where the role put the agency's logo
STATIC_URL = "/static/"  # no staticfiles app: the two files under it are served by views
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "centre_web.middleware.CitizenHeaders",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "centre_web.urls"
WSGI_APPLICATION = "centre_web.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request",
                                           "centre_web.views.page_context", "design.context.brand"]},
    },
]
DATABASES: dict[str, dict[str, str]] = {}  # the centre's tables are reached through centre_core.store

# The centre's own database connection (the agency's database, TLS verifying the box CA).
CENTRE_DB = {
    "host": ENV["DB_HOST"],
    "port": ENV["DB_PORT"],
    "dbname": ENV["DB_NAME"],
    "user": ENV["DB_USER"],
    "password": ENV["DB_PASSWORD"],
    "sslmode": "verify-full",
    "sslrootcert": ENV["CA_FILE"],
    "connect_timeout": "5",
    # `read-write` when the host list names several database hosts (Patroni): libpq keeps the leader
    "target_session_attrs": ENV.get("DB_TARGET_SESSION_ATTRS", "any"),
}
CENTRE_TRACKING_KEY = bytes.fromhex(ENV["TRACKING_KEY"])  # HMAC key of tracking codes (>= 32 bytes)
# The agency's bucket (documents under centre/, the catalogue's open data under opendata/). Without it the
# application journey asks for no documents (a centre deployed by the role always has it).
CENTRE_BUCKET = {"endpoint": ENV["S3_ENDPOINT"], "bucket": ENV["S3_BUCKET"], "access_key": ENV["S3_ACCESS_KEY"],
                 "secret_key": ENV["S3_SECRET_KEY"], "ca_file": ENV["CA_FILE"]} if ENV.get("S3_ENDPOINT") else None
# Uploads larger than this go to a temporary file (0600, deleted after the request) while the request is read;
# nginx takes at most 12m (centre_core.documents.NGINX_BODY_LIMIT) and the page refuses a file over 10 MiB.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Notifications (`centre_web.mailer`): the agency's login on the platform's mail service (STARTTLS verifying the box
# CA, AUTH). Without it (an agency without the `mail` service) notifications are off: the timers' job sends
# nothing and marks what was queued `off`, and "send me a code" says the office does not send codes.
CENTRE_MAIL = {"host": ENV["SMTP_HOST"], "port": int(ENV.get("SMTP_PORT", "587")), "username": ENV["SMTP_USERNAME"],
               "password": ENV["SMTP_PASSWORD"], "from_address": ENV.get("SMTP_FROM", ""),
               "ca_file": ENV.get("SMTP_CA_FILE", ENV["CA_FILE"])} if ENV.get("SMTP_HOST") else None
# Text messages (`centre_web.texter`, `sms_provider`): the agency's SMS provider, a generic HTTP JSON API (POST to
# SMS_URL, https only, with the bearer SMS_KEY; verified against SMS_CA_FILE, else the box CA). Without SMS_URL no
# text is sent, a mobile number's rows are marked `off`, and codes go by e-mail only.
CENTRE_SMS = {"kind": ENV.get("SMS_KIND", "http-json"), "url": ENV["SMS_URL"], "key": ENV["SMS_KEY"],
              "sender": ENV.get("SMS_SENDER", ""), "ca_file": ENV.get("SMS_CA_FILE") or ENV["CA_FILE"],
              "timeout_s": float(ENV.get("SMS_TIMEOUT_S", "10"))} if ENV.get("SMS_URL") else None
# E-payments (`centre_web.pay`, `payment_provider`, `receipts`): receipts signed with RECEIPT_KEY_FILE (an EC P-256
# PEM, 0600); the provider at PAY_URL (https, or http on loopback) with the webhook secret PAY_SECRET. Without a
# receipt key, fees are only shown; without PAY_URL, bills are paid at the counter only.
CENTRE_PAYMENTS = {"receipt_key_file": ENV.get("RECEIPT_KEY_FILE", ""), "url": ENV.get("PAY_URL", ""),
                   "secret": ENV.get("PAY_SECRET", ""), "kind": ENV.get("PAY_KIND", "paydemo"),
                   "ca_file": ENV.get("PAY_CA_FILE") or ENV["CA_FILE"],
                   "timeout_s": float(ENV.get("PAY_TIMEOUT_S", "10")),
                   # without a receipt key: the platform's signing service (docs/signing.md), verified with CA_FILE
                   "signing_url": ENV.get("SIGNING_URL", ""), "signing_secret_file": ENV.get("SIGNING_SECRET_FILE", ""),
                   "signing_ca_file": ENV["CA_FILE"]}
CENTRE_CATALOGUE = ENV.get("CATALOGUE", "")  # a catalogue.yaml; empty: the sample catalogue
# The instance's installed catalogues (centre_core.installed: `current` -> the version in use); when set, it wins
# over CATALOGUE, and `centre_catalogue_import` / a deploy switch it.
CENTRE_CATALOGUE_ROOT = ENV.get("CATALOGUE_ROOT", "")
CENTRE_HOLIDAYS = ENV.get("HOLIDAYS", "")  # the agency's holidays, YYYY-MM-DD comma-separated (SLA working days)
# Staff on the API (`centre_web.staff`): the agency's OIDC provider; absent, every staff token is refused.
CENTRE_OIDC = {
    "issuer": ENV.get("OIDC_ISSUER", ""),
    "audience": ENV.get("OIDC_AUDIENCE", ""),  # the agency's OIDC client for the centre
    "jwks_url": ENV.get("OIDC_JWKS_URL", ""),
    "groups_claim": ENV.get("OIDC_GROUPS_CLAIM", "groups"),
    "desk_prefix": ENV.get("OIDC_DESK_PREFIX", ""),  # group "<prefix><desk>" -> the desk
    # The staff pages' sign-in (authorization code flow of the same client; `desk.py`): without a client secret
    # the staff pages only say that sign-in is not configured.
    "client_id": ENV.get("OIDC_CLIENT_ID", ENV.get("OIDC_AUDIENCE", "")),
    "client_secret": ENV.get("OIDC_CLIENT_SECRET", ""),
    "authorize_url": ENV.get("OIDC_AUTHORIZE_URL", ENV.get("OIDC_ISSUER", "") + "/oauth2/authorize"),
    "token_url": ENV.get("OIDC_TOKEN_URL", ENV.get("OIDC_ISSUER", "") + "/oauth2/token"),
    # The sign-out ends the IdP's session too (RP-initiated logout): its end_session_endpoint is read from here.
    "discovery_url": ENV.get("OIDC_DISCOVERY_URL", ENV.get("OIDC_ISSUER", "") + "/.well-known/openid-configuration"),
    "ca_file": ENV["CA_FILE"],
}

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ur", "اردو")]
LANGUAGE_COOKIE_NAME = "centre_language"
USE_I18N = True
USE_TZ = True
TIME_ZONE = ENV.get("TIME_ZONE", "Asia/Karachi")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
# Signed certificates (issue 16; centre_web.certificates): the platform's signing service holds the agency's key.
# SIGNING_URL (the agency's full URL, .../sign/<agency>: docs/signing.md) and SIGNING_SECRET_FILE (the agency's
# secret for it, 0600); absent, certificates wait (the timers' job issues them once it is set).
# SIGNING_CA_FILE: the roots `centre_verify` trusts (else CA_FILE).
CENTRE_SIGNING_URL = ENV.get("SIGNING_URL", "")
CENTRE_SIGNING_SECRET_FILE = ENV.get("SIGNING_SECRET_FILE", "")
CENTRE_SIGNING_CA_FILE = ENV.get("SIGNING_CA_FILE", "") or ENV.get("CA_FILE", "")
CENTRE_SIGNING_TLS_CA_FILE = ENV.get("CA_FILE", "")  # verifies an https signing service (the box CA)
