"""An agency's members, as pure decisions (no I/O): which role change or removal is refused,
what a login and a password must be, what an invitation's token is and whether it may still be used. The views
(`console/members.py`) only fetch, ask these and answer.

- Roles: a **member** is in the agency's IdP group `agency-<slug>`; an **administrator** also in
  `agency-<slug>--admins` (`names.admins_group`).
- Who manages an agency's members: whoever may act on it (`authz.may_act`: a directorate operator, or an
  administrator of that agency). A plain member sees the list and changes nothing (403); anyone who may not see the
  agency gets 404.
- The agency's own administrator (`names.admin_login`, made by `agency add`) is neither demoted nor removed here,
  and nobody demotes or removes the last administrator.
- An invitation's token is 256 random bits (URL-safe), stored only as its SHA-256; it is used once, before it
  expires (`INVITATION_DAYS`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass

from govcloud_platform.box.idp_api import LOGIN_PATTERN
from govcloud_platform.names import ADMIN_LOCAL, admin_login, login
from govcloud_platform.state.invitations import ACCEPTED, PENDING, REVOKED

MEMBER, ADMIN = "member", "admin"
ROLES = (MEMBER, ADMIN)
INVITATION_DAYS = 7
LOCAL_PATTERN = r"^[a-z][a-z0-9._-]{1,31}$"
_LOCAL_RE = re.compile(LOCAL_PATTERN)
_LOGIN_RE = re.compile(LOGIN_PATTERN)
_EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")  # spec.models' (an agency's contact)
MIN_PASSWORD, MAX_PASSWORD = 12, 128
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Member:
    login: str
    email: str
    name: str
    role: str

    def as_dict(self) -> dict[str, str]:
        return {"login": self.login, "email": self.email, "name": self.name, "role": self.role}


def role_of(groups: Collection[str], group: str, admins_group: str) -> str | None:
    """A user's role in the agency from their IdP groups: None when not in the agency's group."""
    if group not in groups:
        return None
    return ADMIN if admins_group in groups else MEMBER


def check_role(value: object) -> str | None:
    """The role asked for, or None when it is not one."""
    return value if isinstance(value, str) and value in ROLES else None


def change_problem(slug: str, target: str, role: str, members: list[Member]) -> str | None:
    """Why changing `target`'s role to `role` is refused (409), or None. `members`: the agency's, target included."""
    if target == admin_login(slug) and role != ADMIN:
        return f"{target} is the agency's own administrator (made by `agency add`): its role stays"
    admins = [m.login for m in members if m.role == ADMIN]
    if role != ADMIN and admins == [target]:
        return f"{target} is the agency's last administrator: make another one first"
    return None


def removal_problem(slug: str, target: str, members: list[Member]) -> str | None:
    """Why removing `target` from the agency is refused (409), or None."""
    if target == admin_login(slug):
        return f"{target} is the agency's own administrator (made by `agency add`): `agency remove` removes it"
    admins = [m.login for m in members if m.role == ADMIN]
    if admins == [target]:
        return f"{target} is the agency's last administrator: make another one first"
    return None


def new_login(slug: str, local: object) -> tuple[str, str | None]:
    """The login `<local>@<slug>` an invitee chooses, and why it is refused (None when it is not)."""
    if not isinstance(local, str) or not _LOCAL_RE.fullmatch(local):
        return "", ("the login: 2 to 32 characters, lower-case letters, digits, '.', '_' or '-', starting with a "
                    "letter")
    if local == ADMIN_LOCAL:
        return "", f"the login {local!r} is the agency's own administrator's"
    full = login(slug, local)
    if not _LOGIN_RE.fullmatch(full):
        return "", "the login is too long for this agency (at most 64 characters with '@' and the agency's id)"
    return full, None


def password_problem(password: object, repeat: object, local: str) -> str | None:
    """The console's rule for passwords of IdP users (the IdP has none of its own; NIST SP 800-63B: length, no
    composition rules): 12 to 128 characters, not the login, not one character repeated; typed twice alike."""
    if not isinstance(password, str) or not isinstance(repeat, str):
        return "a password is needed"
    if password != repeat:
        return "the two passwords differ"
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        return f"the password: {MIN_PASSWORD} to {MAX_PASSWORD} characters"
    if local and local.lower() in password.lower():
        return "the password may not contain the login"
    if len(set(password)) < 4:
        return "the password is too simple (a few characters repeated)"
    if any(ord(c) < 32 or ord(c) == 127 for c in password):
        return "the password may not hold control characters"
    return None


def email_problem(email: object) -> str | None:
    if not isinstance(email, str) or len(email) > 254 or not _EMAIL_RE.fullmatch(email):
        return "an e-mail address is needed (name@domain.example)"
    return None


def new_token() -> tuple[str, str]:
    """A fresh token and its hash (the link carries the token; the registry keeps the hash only)."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def well_formed_token(value: object) -> bool:
    return isinstance(value, str) and bool(TOKEN_RE.fullmatch(value))


def stamp(at: dt.datetime) -> str:
    """An ISO time in the registry's form (`registry.now`): compared as text, so always this form."""
    return at.astimezone(dt.UTC).isoformat(timespec="seconds")


def expiry(at: dt.datetime, days: int = INVITATION_DAYS) -> str:
    return stamp(at + dt.timedelta(days=days))


def invitation_status(state: str, expires_at: str, at: str) -> str:
    """`usable`, `used`, `revoked` or `expired` (`at`, `expires_at`: the registry's ISO form)."""
    if state == ACCEPTED:
        return "used"
    if state == REVOKED:
        return "revoked"
    if state == PENDING and expires_at > at:
        return "usable"
    return "expired"


def invitation_conflict(email: str, pending: list[tuple[str, str]], at: str) -> str | None:
    """409 when an unexpired invitation for this address waits (`pending`: (email, expires_at) of the agency's
    pending invitations)."""
    if any(e.lower() == email.lower() and exp > at for e, exp in pending):
        return f"an invitation for {email} is waiting: withdraw it first to send another"
    return None


def mail_text(agency_name: str, link: str, inviter: str, expires_at: str) -> tuple[str, str]:
    """The invitation's subject and body (English, then Urdu): plain text, the link on a line of its own."""
    subject = f"Invitation to {agency_name} on govcloud"
    body = (f"{inviter} invites you to join {agency_name} on the government cloud's console.\n\n"
            f"Open this link to choose your login and password (it works once, until {expires_at} UTC):\n\n"
            f"{link}\n\n"
            "If you did not expect this invitation, ignore this message: nothing is created without the link.\n\n"
            "-- \n"
            f"{agency_name} میں شمولیت کی دعوت۔ اپنا لاگ ان اور پاس ورڈ منتخب کرنے کے لیے اوپر دیا گیا ربط کھولیں "
            f"(یہ ایک بار، {expires_at} UTC تک کام کرتا ہے)۔\n")
    return subject, body
