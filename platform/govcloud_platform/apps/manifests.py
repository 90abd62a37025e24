"""The SaaS catalogue: one manifest per e-government application (what it gives, what it needs, how to
reach it). The manifests are data; the Ansible role named by `role` does the work."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from govcloud_platform.errors import InputError


@dataclass(frozen=True)
class AppManifest:
    name: str
    product: str
    citizens_get: str
    staff_get: str
    services: tuple[str, ...]  # agency services (brokers) the app is wired to
    components: tuple[str, ...]  # what it installs besides the service bindings
    health_path: str  # answered 200 by the app itself (and through the proxy)
    memory_mb: int  # expected RSS of one instance, measured
    install_s: int  # measured cold install (first agency)
    role: str
    implemented: bool = True
    oidc_callback: str = "/oidc/callback/"  # path of the redirect URI registered with the IdP
    # Paths the IdP may send the browser back to after ending its session (OpenID Connect RP-Initiated Logout:
    # an app that signs out at the IdP registers them as the client's post-logout redirect URIs).
    oidc_post_logout: tuple[str, ...] = ()
    database_c_locale: bool = False  # create the database with LC_COLLATE/LC_CTYPE 'C' (Synapse refuses otherwise)
    # The app's own keys besides its services' credentials, generated once and kept in the registry:
    # "secret_key" (Django's; apps with SSO get it anyway), "tracking_key" (hex, 32 bytes: an HMAC key).
    keys: tuple[str, ...] = ()
    # Agency services the app uses when the agency has them, and does without otherwise (not in APP_NEEDS):
    # the centre's notifications go out through `mail`, and are off without it.
    optional_services: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def program_suffix(self) -> str:
        return self.name

    def as_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["services"] = list(self.services)
        doc["components"] = list(self.components)
        doc["keys"] = list(self.keys)
        doc["optional_services"] = list(self.optional_services)
        doc["oidc_post_logout"] = list(self.oidc_post_logout)
        return doc


CATALOGUE: dict[str, AppManifest] = {
    m.name: m
    for m in (
        AppManifest(
            name="portal",
            product="Wagtail 8 (Django) on gunicorn",
            citizens_get="the agency's web portal: pages, news, contacts; complaint and suggestion forms",
            staff_get="the Wagtail editor and the complaints inbox after SSO login (agency members only)",
            services=("database", "storage", "identity"),
            components=("wagtail", "psycopg", "django-storages", "mozilla-django-oidc", "gunicorn"),
            health_path="/healthz",
            memory_mb=125,
            install_s=16,
            role="portal",
            optional_services=("mail",),  # the newsletter (docs/apps.md): unavailable when the agency has no mail
        ),
        AppManifest(
            name="opendata",
            product="Datasette 0.65",
            citizens_get="the CSV files the agency puts under opendata/ in its bucket, as tables and a JSON API",
            staff_get="publishing by upload: put a CSV under opendata/ in the agency bucket",
            services=("storage",),
            components=("datasette", "sqlite-utils", "boto3"),
            health_path="/-/versions.json",
            memory_mb=60,
            install_s=3,
            role="opendata",
        ),
        AppManifest(
            name="messaging",
            product="Matrix Synapse",
            citizens_get="secure messaging with the agency",
            staff_get="Matrix accounts through SSO, media in the agency bucket",
            services=("database", "storage", "identity"),
            components=("matrix-synapse[postgres,oidc]", "synapse-s3-storage-provider"),
            health_path="/health",
            memory_mb=150,
            install_s=31,
            role="messaging",
            oidc_callback="/_synapse/client/oidc/callback",
            database_c_locale=True,
        ),
        AppManifest(
            name="documents",
            product="Mayan EDMS 4.12",
            citizens_get="-",
            staff_get="documents and records management with SSO, files in the agency bucket",
            services=("database", "storage", "identity"),
            components=("mayan-edms", "psycopg2-binary", "redis", "redis-server", "libldap2-dev", "libsasl2-dev",
                        "fonts-lato", "poppler-utils", "tesseract-ocr"),
            health_path="/authentication/login/",
            memory_mb=900,
            install_s=35,
            role="documents",
        ),
        AppManifest(
            name="centre",
            product="Citizen's Centre (Django 5.2, SpiffWorkflow 3.2) on gunicorn",
            citizens_get="the agency's services (certificates, licences, permits) in English and Urdu: apply online, "
                         "get a reference number, track the application with a one-time code",
            staff_get="applications moving between desks along each service's BPMN process: the staff pages "
                      "(English and Urdu, SSO through the agency's client for the centre, sign-out ending the IdP's "
                      "session too) and the API with an access token of that client (desk groups "
                      "agency-<slug>--desk-<lane>)",
            services=("database", "storage", "identity"),
            components=("django", "spiffworkflow", "lxml", "psycopg", "pydantic", "pyyaml", "gunicorn", "pyjwt",
                        "boto3"),
            health_path="/healthz",
            memory_mb=135,  # 133 MiB measured (master + worker) after an upload: boto3's client
            install_s=52,
            role="centre",
            keys=("secret_key", "tracking_key"),
            optional_services=("mail",),  # notifications (docs/centre.md): off when the agency has no mail
            oidc_post_logout=("/en/staff/signed-out/", "/ur/staff/signed-out/"),  # the staff pages' sign-out
        ),
    )
}


def manifest(name: str) -> AppManifest:
    try:
        return CATALOGUE[name]
    except KeyError:
        raise InputError(f"unknown app {name!r}", hint=f"the catalogue has: {', '.join(CATALOGUE)}") from None
