"""Settings of one agency's portal. Everything agency-specific (and every secret) comes from the instance's
env file (0600, owned by the instance user), named by PORTAL_ENV_FILE; nothing secret is in the process
environment or on the command line."""

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


ENV = _read_env(os.environ["PORTAL_ENV_FILE"])
BASE_DIR = Path(__file__).resolve().parent.parent

AGENCY_SLUG = ENV["AGENCY_SLUG"]
AGENCY_NAME = ENV["AGENCY_NAME"]
AGENCY_GROUP = ENV["AGENCY_GROUP"]
AGENCY_ADMIN_GROUP = ENV["AGENCY_ADMINS_GROUP"]
PUBLIC_URL = ENV["PUBLIC_URL"]
SECRET_KEY = ENV["SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = [ENV["PUBLIC_HOST"], "127.0.0.1"]
CSRF_TRUSTED_ORIGINS = [PUBLIC_URL]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_PORT = False
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_NAME = f"portal_{AGENCY_SLUG.replace('-', '_')}_session"
WAGTAIL_SITE_NAME = AGENCY_NAME
# The shared design's brand (the spec's `brand:` of the agency; checked there)
DESIGN_AGENCY_NAME = AGENCY_NAME
DESIGN_BRAND_COLOUR = ENV.get("BRAND_COLOUR", "")
DESIGN_LOGO_URL = ENV.get("LOGO_URL", "")
WAGTAILADMIN_BASE_URL = PUBLIC_URL
WAGTAILADMIN_LOGIN_URL = "/oidc/authenticate/"
WAGTAIL_PASSWORD_MANAGEMENT_ENABLED = False
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}

INSTALLED_APPS = [
    "govportal",
    "design",  # the shared design (roles/app_common/files/design): base template, stylesheet
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "mozilla_django_oidc",
    "storages",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
]
ROOT_URLCONF = "govportal.urls"
WSGI_APPLICATION = "govportal.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "govportal.views.agency",
                "design.context.brand",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": ENV["DB_HOST"],
        "PORT": ENV["DB_PORT"],
        "NAME": ENV["DB_NAME"],
        "USER": ENV["DB_USER"],
        "PASSWORD": ENV["DB_PASSWORD"],
        "CONN_MAX_AGE": 60,
        "OPTIONS": {"sslmode": ENV.get("DB_SSLMODE", "verify-full"), "sslrootcert": ENV["CA_FILE"],
                    # `read-write` with several database hosts (Patroni): libpq keeps the leader
                    "target_session_attrs": ENV.get("DB_TARGET_SESSION_ATTRS", "any")},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Media (documents, images, complaint attachments) in the agency's bucket under portal/.
STORAGES = {
    "default": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": ENV["S3_BUCKET"],
            "access_key": ENV["S3_ACCESS_KEY"],
            "secret_key": ENV["S3_SECRET_KEY"],
            "endpoint_url": ENV["S3_ENDPOINT"],
            "region_name": "us-east-1",
            "verify": ENV["CA_FILE"],
            "location": "portal",
            "addressing_style": "path",
            "signature_version": "s3v4",
            "default_acl": None,
            "file_overwrite": False,
            "querystring_auth": True,
        },
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_URL = "/static/"
STATIC_ROOT = ENV["STATIC_ROOT"]
MEDIA_URL = "/media/"
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# SSO through the agency's own OIDC client; only members of the agency's group get in.
AUTHENTICATION_BACKENDS = ["govportal.auth.AgencyOIDCBackend"]
OIDC_ISSUER = ENV["OIDC_ISSUER"]
OIDC_RP_CLIENT_ID = ENV["OIDC_CLIENT_ID"]
OIDC_RP_CLIENT_SECRET = ENV["OIDC_CLIENT_SECRET"]
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_RP_SCOPES = "openid profile email groups"
OIDC_OP_AUTHORIZATION_ENDPOINT = f"{OIDC_ISSUER}/oauth2/authorize"
OIDC_OP_TOKEN_ENDPOINT = f"{OIDC_ISSUER}/oauth2/token"
OIDC_OP_USER_ENDPOINT = f"{OIDC_ISSUER}/oauth2/userinfo"
OIDC_OP_JWKS_ENDPOINT = f"{OIDC_ISSUER}/oauth2/jwks"
OIDC_VERIFY_SSL = ENV["CA_FILE"]
OIDC_USE_NONCE = True
LOGIN_URL = "/oidc/authenticate/"
LOGIN_REDIRECT_URL = "/staff/complaints/"
LOGIN_REDIRECT_URL_FAILURE = "/staff/refused/"
LOGOUT_REDIRECT_URL = "/"

# The newsletter's mail (govportal/newsletter.py): plain SMTP, filled from the platform's mail service; no host, no
# newsletter.
EMAIL_BACKEND = "govportal.mailbackend.VerifiedSMTPBackend"  # STARTTLS verified against SMTP_CA_FILE
EMAIL_HOST = ENV.get("SMTP_HOST", "")
EMAIL_PORT = int(ENV.get("SMTP_PORT", "25") or 25)
EMAIL_HOST_USER = ENV.get("SMTP_USER", "")
EMAIL_HOST_PASSWORD = ENV.get("SMTP_PASSWORD", "")
EMAIL_USE_TLS = ENV.get("SMTP_STARTTLS", "") == "true"
EMAIL_TIMEOUT = 20
SMTP_CA_FILE = ENV.get("SMTP_CA_FILE", "")
MAIL_FROM = ENV.get("MAIL_FROM", f"no-reply@{ENV['PUBLIC_HOST']}")

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ur", "Urdu")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
