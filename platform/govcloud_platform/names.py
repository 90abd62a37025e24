"""Every server-side name derived from an agency (and an app) is built here, and nowhere else.

Names are data with a contract: two different (agency, app, kind) never get the same name in one namespace of a
server, whatever slugs agencies choose. Before this module, `ag_X_ro` (agency X's read-only role) was also the
owner role of an agency named `X-ro`, and onboarding `X-ro` reset that role's password.

Grammar. `s` is a slug (`^[a-z][a-z0-9-]{1,30}[a-z0-9]$`, no `--`, not reserved; `spec.models.check_slug`),
`u` is `s` with `-` written `_` (so `u` never holds `__`), `a` is an app name (`^[a-z][a-z0-9]{1,15}$`, not
`ro`), `d` is a desk (a lane id of the centre's processes: `^[a-z][a-z0-9_]{0,39}$`, the whole group
at most 64 characters). `--` and `__` are separators that no slug contains, as IDNA reserves `xn--` in DNS
labels.

| namespace                      | kind                    | name                 |
|--------------------------------|-------------------------|----------------------|
| PostgreSQL roles and databases | agency owner, database  | `ag_<u>`             |
|                                | agency read-only role   | `ag_<u>__ro`         |
|                                | app role and database   | `ag_<u>__<a>`        |
| S3 buckets and identities      | agency bucket, identity | `ag-<s>`             |
| OIDC clients                   | agency client           | `ag-<s>`             |
|                                | app client              | `ag-<s>--<a>`        |
|                                | console script client   | `console-script-<n>` (not an agency's) |
| IdP groups                     | agency members          | `agency-<s>`         |
|                                | agency administrators   | `agency-<s>--admins` |
|                                | staff at desk `d`       | `agency-<s>--desk-<d>` |
| IdP logins                     | agency user `l`         | `<l>@<s>`; the administrator `admin@<s>` |
| system users (≤ 32 characters) | an agency's apps        | `gc-<s>`; `gc_<s in base 62>` if `s` > 29 |
| supervisord programs, certs    | an app instance         | `app-<s>-<a>` (app names hold no `-`) |
| object prefixes                | restic repository       | `restic/<s>/` in the backup bucket |
| DNS names                      | an app; an agency       | `<a>.<s>.<domain>`; `<s>.<domain>` |
| SMTP logins (Postfix SASL)     | agency sender           | `ag-<s>` (realm: the mail domain) |
| mail addresses                 | agency senders          | `<any>@<s>.<mail domain>` (given: `noreply@...`) |

Operators' logins hold no `@`. Platform objects never take these forms (`postgres`, `idp`, `admin`,
`pgbackrest`, `govcloud-backup`, `platform-operators`, supervisord's `storage`, `database`, ...). Each builder
has a parser that inverts it (`parse_pg`, `parse_client`, ...): a name maps back to exactly one (slug, kind,
app), which makes every builder injective; tests/unit/test_names.py checks both over all pairs with hypothesis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from govcloud_platform.errors import InputError
from govcloud_platform.spec.models import check_slug

APP_NAME_PATTERN = r"^[a-z][a-z0-9]{1,15}$"
_APP_RE = re.compile(APP_NAME_PATTERN)
READER = "ro"  # the suffix of the read-only role; never an app name
ADMINS = "admins"
DESK = "desk-"  # the tail of a desk group before the desk's id
MAX_GROUP = 64  # the IdP's group names (oidc_policy.GROUP_PATTERN)
DESK_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
_DESK_RE = re.compile(DESK_PATTERN)
ADMIN_LOCAL = "admin"
MAX_SYSTEM_USER = 32  # useradd's limit
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SLUG_CHARS = "-0123456789abcdefghijklmnopqrstuvwxyz"  # a slug as bijective base 37 (digit value = index + 1)
_LONG_WIDTH = MAX_SYSTEM_USER - len("gc_")


@dataclass(frozen=True)
class Owner:
    """What a server-side name belongs to: an agency, and an app of it or a role of its own (`ro`, `admins`)."""

    slug: str
    app: str | None = None
    role: str | None = None


def check_app(app: str) -> str:
    if not isinstance(app, str) or not _APP_RE.fullmatch(app) or app == READER:
        raise ValueError(f"invalid app name {app!r}: use {APP_NAME_PATTERN}, not {READER!r}")
    return app


def _slug_or_none(value: str) -> str | None:
    try:
        return check_slug(value)
    except ValueError:
        return None


def _app_or_none(value: str) -> str | None:
    try:
        return check_app(value)
    except ValueError:
        return None


# --- PostgreSQL ----------------------------------------------------------------------------------
def pg_owner(slug: str) -> str:
    """The agency's owner role and its database."""
    return "ag_" + check_slug(slug).replace("-", "_")


def pg_reader(slug: str) -> str:
    """The agency's read-only role."""
    return f"{pg_owner(slug)}__{READER}"


def pg_app(slug: str, app: str) -> str:
    """An app's role and its database."""
    return f"{pg_owner(slug)}__{check_app(app)}"


def parse_pg(name: str) -> Owner | None:
    """The owner of a PostgreSQL role or database name, or None if it is no agency's."""
    if not name.startswith("ag_"):
        return None
    head, sep, tail = name[3:].partition("__")
    slug = _slug_or_none(head.replace("_", "-"))
    if slug is None or "-" in head:
        return None
    if not sep:
        return Owner(slug)
    if tail == READER:
        return Owner(slug, role=READER)
    app = _app_or_none(tail)
    return Owner(slug, app=app) if app else None


# --- S3 --------------------------------------------------------------------------------------------
def bucket(slug: str) -> str:
    """The agency's bucket; its S3 identity has the same name."""
    return "ag-" + check_slug(slug)


s3_identity = bucket


def smtp_login(slug: str) -> str:
    """The agency's SMTP submission login (Postfix's SASL database holds it in the mail domain's realm)."""
    return "ag-" + check_slug(slug)


def parse_smtp_login(name: str) -> Owner | None:
    slug = _slug_or_none(name[3:]) if name.startswith("ag-") else None
    return Owner(slug) if slug else None


def sender_domain(slug: str, mail_domain: str) -> str:
    """The domain the agency's mail comes from: only its SMTP login may use addresses in it."""
    return f"{check_slug(slug)}.{mail_domain}"


def parse_bucket(name: str) -> Owner | None:
    slug = _slug_or_none(name[3:]) if name.startswith("ag-") else None
    return Owner(slug) if slug else None


# --- OIDC clients ----------------------------------------------------------------------------------
def oidc_client(slug: str) -> str:
    return "ag-" + check_slug(slug)


def oidc_app_client(slug: str, app: str) -> str:
    return f"{oidc_client(slug)}--{check_app(app)}"


def parse_client(name: str) -> Owner | None:
    if not name.startswith("ag-"):
        return None
    head, sep, tail = name[3:].partition("--")
    slug = _slug_or_none(head)
    if slug is None:
        return None
    if not sep:
        return Owner(slug)
    app = _app_or_none(tail)
    return Owner(slug, app=app) if app else None


SCRIPT_CLIENT_PREFIX = "console-script-"
SCRIPT_NAME_PATTERN = r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$"  # a script client's name `n` (no `--`), as a slug's shape
_SCRIPT_RE = re.compile(SCRIPT_NAME_PATTERN)


def check_script_name(name: str) -> str:
    """A console script client's name (chosen by an operator: `govcloud console client add NAME`)."""
    if not _SCRIPT_RE.fullmatch(name) or "--" in name:
        raise InputError(f"invalid script client name {name[:80]!r}",
                         hint="2 to 32 of a-z, 0-9 and '-', beginning with a letter, not ending with '-', no '--'")
    return name


def script_client(name: str) -> str:
    """The IdP's OIDC client of a console script client: never an agency's (`parse_client` gives None, so the
    agencies' access policy leaves its rule alone) nor the platform's own (`platform-...`)."""
    return SCRIPT_CLIENT_PREFIX + check_script_name(name)


def parse_script_client(client_id: str) -> str | None:
    """The script client's name of an OIDC client id, or None."""
    if not client_id.startswith(SCRIPT_CLIENT_PREFIX):
        return None
    name = client_id[len(SCRIPT_CLIENT_PREFIX):]
    return name if _SCRIPT_RE.fullmatch(name) and "--" not in name else None


# --- IdP groups and logins -------------------------------------------------------------------------
def group(slug: str) -> str:
    """Every member of the agency (the group its OIDC clients admit)."""
    return "agency-" + check_slug(slug)


def admins_group(slug: str) -> str:
    return f"{group(slug)}--{ADMINS}"


def desk_group_prefix(slug: str) -> str:
    """What the agency's desk groups begin with (the centre's `OIDC_DESK_PREFIX`): `agency-<s>--desk-`."""
    return f"{group(slug)}--{DESK}"


def desk_group(slug: str, desk: str) -> str:
    """The agency's staff at desk `desk` (a lane of the centre's processes): `agency-<s>--desk-<d>`."""
    if not isinstance(desk, str) or not _DESK_RE.fullmatch(desk):
        raise ValueError(f"invalid desk {desk!r}: use {DESK_PATTERN}")
    name = desk_group_prefix(slug) + desk
    if len(name) > MAX_GROUP:
        raise ValueError(f"desk group {name!r} is longer than the IdP's {MAX_GROUP} characters: shorten the lane id")
    return name


def parse_group(name: str) -> Owner | None:
    """The agency of a group, with its role: None (members), `admins`, or `desk-<d>`."""
    if not name.startswith("agency-"):
        return None
    head, sep, tail = name[len("agency-"):].partition("--")
    slug = _slug_or_none(head)
    if slug is None:
        return None
    if not sep:
        return Owner(slug)
    if tail == ADMINS or (tail.startswith(DESK) and _DESK_RE.fullmatch(tail[len(DESK):])):
        return Owner(slug, role=tail)
    return None


def login(slug: str, local: str) -> str:
    """An agency user's login: `<local>@<slug>` (operators' logins hold no `@`)."""
    return f"{local}@{check_slug(slug)}"


def admin_login(slug: str) -> str:
    return login(slug, ADMIN_LOCAL)


def parse_login(name: str) -> tuple[str, str] | None:
    """(slug, local part) of an agency user's login, or None for an operator's or a malformed one."""
    local, sep, realm = name.rpartition("@")
    slug = _slug_or_none(realm) if sep and local else None
    return (slug, local) if slug else None


# --- system users ----------------------------------------------------------------------------------
def system_user(slug: str) -> str:
    """The system user the agency's apps run as: `gc-<slug>`, or for a slug longer than 29 characters `gc_` and
    the slug written in base 62 (29 characters), so that it fits useradd's 32 and stays injective."""
    check_slug(slug)
    if len("gc-") + len(slug) <= MAX_SYSTEM_USER:
        return "gc-" + slug
    value = 0
    for ch in slug:
        value = value * len(_SLUG_CHARS) + _SLUG_CHARS.index(ch) + 1
    digits = ""
    while value:
        value, rest = divmod(value, len(_B62))
        digits = _B62[rest] + digits
    assert len(digits) <= _LONG_WIDTH
    return "gc_" + digits.rjust(_LONG_WIDTH, "0")


def system_user_mark(home: str) -> str:
    """The comment (GECOS) of the system users a box makes: `govcloud box <home>`. Users are the host's, shared
    by every box on it: the mark tells this box's from another's, and a box whose home is gone from a leftover.
    A home the passwd format cannot hold (`:`, `,`, `=` or a control character) is named by a digest instead."""
    if any(c in home for c in ":,=") or any(ord(c) < 32 for c in home):
        import hashlib

        return "govcloud box #" + hashlib.sha256(home.encode()).hexdigest()[:24]
    return "govcloud box " + home


def marked_home(comment: str) -> str | None:
    """The box home a system user's comment names (system_user_mark's inverse), None for any other comment."""
    prefix = "govcloud box "
    if not comment.startswith(prefix) or comment.startswith(prefix + "#"):
        return None
    home = comment[len(prefix):]
    return home if home.startswith("/") else None


def parse_system_user(name: str) -> Owner | None:
    if name.startswith("gc-"):
        slug = _slug_or_none(name[3:])
        return Owner(slug) if slug and system_user(slug) == name else None
    if not name.startswith("gc_") or len(name) != MAX_SYSTEM_USER or any(c not in _B62 for c in name[3:]):
        return None
    value = _from_b62(name[3:])
    chars = ""
    while value:
        value, rest = divmod(value - 1, len(_SLUG_CHARS))
        chars = _SLUG_CHARS[rest] + chars
    slug = _slug_or_none(chars)
    return Owner(slug) if slug and system_user(slug) == name else None


def _from_b62(text: str) -> int:
    value = 0
    for ch in text:
        value = value * len(_B62) + _B62.index(ch)
    return value


# --- processes, certificates, paths, DNS -----------------------------------------------------------
def app_program(slug: str, app: str) -> str:
    """The supervisord program of an app instance, and its certificate's name."""
    return f"app-{check_slug(slug)}-{check_app(app)}"


def parse_app_program(name: str) -> Owner | None:
    if not name.startswith("app-"):
        return None
    head, _, tail = name[4:].rpartition("-")
    slug, app = _slug_or_none(head), _app_or_none(tail)
    return Owner(slug, app=app) if slug and app else None


def restic_prefix(slug: str) -> str:
    """The agency's restic repository in the backup bucket."""
    return f"restic/{check_slug(slug)}/"


def app_host(slug: str, app: str, domain: str) -> str:
    return f"{check_app(app)}.{check_slug(slug)}.{domain}"


def agency_host(slug: str, domain: str) -> str:
    return f"{check_slug(slug)}.{domain}"


# --- names of earlier releases (`govcloud up` renames them; see `migrate_names`) --------------------
def legacy_pg_reader(slug: str) -> str:
    return pg_owner(slug) + "_ro"


def legacy_admins_group(slug: str) -> str:
    return group(slug) + "-admins"


def legacy_admin_login(slug: str) -> str:
    return f"{slug}-admin"


def legacy_system_user(slug: str) -> str:
    import hashlib

    name = f"gc-{slug}"
    return name if len(name) <= MAX_SYSTEM_USER else f"gc-{slug[:20]}-{hashlib.sha256(slug.encode()).hexdigest()[:8]}"
