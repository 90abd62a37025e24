"""govcloud's OIDC backend for Mayan EDMS: only members of the agency's IdP group get in (Mayan's own backend
lets every user of the IdP create an account), and the `groups` scope is requested so the claim is there."""

import os

from django.conf import settings
from mayan.apps.authentication_oidc.authentication_backends import AuthenticationBackendOIDC
from mayan.apps.authentication_oidc.django_authentication_backends import DjangoAuthenticationBackendOIDC

SCOPES = "openid email profile groups"


def _groups(claims):
    groups = claims.get("groups") or []
    if isinstance(groups, str):
        groups = [g.strip() for g in groups.split(";")]
    return set(groups)


class AgencyDjangoBackendOIDC(DjangoAuthenticationBackendOIDC):
    def verify_claims(self, claims):
        group = os.environ.get("GOVCLOUD_AGENCY_GROUP", "")
        return bool(group) and super().verify_claims(claims) and group in _groups(claims)


class AgencyAuthenticationBackendOIDC(AuthenticationBackendOIDC):
    django_authentication_backend_paths = ("govcloud_mayan.authentication_backends.AgencyDjangoBackendOIDC",)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        settings.OIDC_RP_SCOPES = SCOPES
