"""OIDC login for staff: only members of the agency's group get an account; agency admins are superusers."""

from django.conf import settings
from django.contrib.auth.models import Group
from mozilla_django_oidc.auth import OIDCAuthenticationBackend


def _groups(claims):
    groups = claims.get("groups") or []
    if isinstance(groups, str):
        groups = [g.strip() for g in groups.split(";")]
    return set(groups)


class AgencyOIDCBackend(OIDCAuthenticationBackend):
    def verify_claims(self, claims):
        return bool(claims.get("preferred_username")) and settings.AGENCY_GROUP in _groups(claims)

    def filter_users_by_claims(self, claims):
        return self.UserModel.objects.filter(username=claims.get("preferred_username"))

    def _sync(self, user, claims):
        user.email = claims.get("email", "")
        user.first_name = (claims.get("name") or "")[:150]
        user.is_staff = True
        user.is_superuser = settings.AGENCY_ADMIN_GROUP in _groups(claims)
        user.save()
        editors = Group.objects.filter(name="Editors").first()
        if editors is not None:
            user.groups.add(editors)
        return user

    def create_user(self, claims):
        user = self.UserModel.objects.create_user(claims["preferred_username"], claims.get("email", ""))
        return self._sync(user, claims)

    def update_user(self, user, claims):
        return self._sync(user, claims)
