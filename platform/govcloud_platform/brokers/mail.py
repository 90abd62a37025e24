"""Mail broker: an agency's SMTP submission login (`ag-<slug>`) in the box's Postfix SASL database, with the
sender addresses `<anything>@<slug>.<mail domain>` (the sender rule is in Postfix's config: mail_conf.py).

The password goes to `saslpasswd2` on its standard input, never on a command line; the database is the postfix
user's 0600 file. Postfix's smtpd reads it at each AUTH, so a new or removed login counts at once.

On the hosts target the SASL database is the mail host's: the broker (on the operator's machine) calls `govcloud box
smtp-logins list|set|delete` there over SSH (`box.remote`, as the database's `box hba`), the login's slug and
password as JSON on stdin (`check_login_change`); the host runs the same functions below on its own home."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from govcloud_platform.box.context import Box
from govcloud_platform.box.secrets import new_password
from govcloud_platform.box.services import mail as mail_service
from govcloud_platform.box.services.mail_conf import PLATFORM_LOGINS, mail_domain
from govcloud_platform.brokers.base import Broker
from govcloud_platform.errors import ServiceError
from govcloud_platform.names import parse_smtp_login, sender_domain, smtp_login
from govcloud_platform.spec import Quota
from govcloud_platform.spec.models import check_slug

SASLPASSWD = "/usr/sbin/saslpasswd2"
SASLLIST = "/usr/sbin/sasldblistusers2"
NOREPLY = "noreply"


def _run(argv: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False, timeout=30)


MAX_PASSWORD = 256


def on_a_host(box: Box) -> bool:
    """Whether the mail service runs on a host of the hosts target other than this home (the control's brokers
    then reach its SASL database over SSH)."""
    return box.placement is not None and not box.runs("mail") and "mail" in box.placement.services


def _remote(box: Box, action: str, change: dict[str, str] | None = None) -> Any:
    from govcloud_platform.box import remote

    done = remote.govcloud(box, "mail", ["box", "smtp-logins", action],
                           stdin=json.dumps(change) if change is not None else "")
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise ServiceError(f"mail: `box smtp-logins {action}` on its host answered no JSON") from None


def check_login_change(data: Any, *, password: bool) -> tuple[str, str]:
    """Pure: (slug, password) from what `box smtp-logins set|delete` read on stdin, checked: a slug of ours only
    (its login is derived from it, `names.smtp_login`), a password of one line (saslpasswd2 reads one)."""
    if not isinstance(data, dict) or set(data) != ({"slug", "password"} if password else {"slug"}):
        raise ValueError("expected {\"slug\"" + (", \"password\"}" if password else "}"))
    slug = data["slug"]
    if not isinstance(slug, str):
        raise ValueError("the slug must be a string")
    check_slug(slug)  # ValueError names it
    secret = data.get("password", "")
    if password and (not isinstance(secret, str) or not secret or len(secret) > MAX_PASSWORD
                     or any(c in secret for c in "\r\n\x00")):
        raise ValueError("the password must be one line of 1 to 256 characters")
    return slug, secret


def logins(box: Box) -> set[str]:
    """The logins of the SASL database (`login`, without the realm), in the mail domain's realm."""
    if on_a_host(box):
        found = _remote(box, "list")
        if not isinstance(found, list) or not all(isinstance(x, str) for x in found):
            raise ServiceError("mail: `box smtp-logins list` on its host answered no list of logins")
        return set(found)
    db = mail_service.paths(box).sasldb
    if not db.exists():
        return set()
    out = _run([SASLLIST, "-f", str(db)])
    if out.returncode != 0:
        raise ServiceError("mail: cannot list the SMTP logins (sasldblistusers2 failed)")
    realm = "@" + mail_domain(box.spec)
    found = set()
    for line in out.stdout.splitlines():
        user = line.split(":", 1)[0].strip()
        if user.endswith(realm):
            found.add(user.removesuffix(realm))
    return found


def set_login(box: Box, slug: str, password: str) -> None:
    """In this home's SASL database: the login of `slug` with `password` (made if missing)."""
    mail_service.set_login(box, smtp_login(slug), password)


def delete_login(box: Box, slug: str) -> bool:
    """In this home's SASL database: remove the login of `slug`; False when there was none."""
    if smtp_login(slug) not in logins(box):
        return False
    out = _run([SASLPASSWD, "-d", "-f", str(mail_service.paths(box).sasldb), "-u", mail_domain(box.spec),
                smtp_login(slug)])
    if out.returncode != 0:
        raise ServiceError(f"mail: cannot remove the SMTP login of {slug} (saslpasswd2 failed)")
    return True


class MailBroker(Broker):
    service = "mail"

    def new_credentials(self, box: Box, slug: str) -> dict[str, Any]:
        return {"password": new_password()}

    def provision(self, box: Box, slug: str, name: str, quota: Quota, creds: dict[str, Any], new: bool = False) -> None:
        """Set the login's password (creating it if needed): a re-run converges, a changed password replaces."""
        if on_a_host(box):
            _remote(box, "set", {"slug": slug, "password": creds["password"]})
            return
        set_login(box, slug, creds["password"])

    def bind(self, box: Box, slug: str, creds: dict[str, Any]) -> dict[str, Any]:
        domain = mail_domain(box.spec)
        return {
            "host": box.name_of("mail"),
            "port": box.ports.smtp,
            "username": smtp_login(slug),
            "password": creds["password"],
            "from_address": f"{NOREPLY}@{sender_domain(slug, domain)}",
            "sender_domain": sender_domain(slug, domain),
            "tls": "starttls",
            "ca_file": str(box.ca_file),
        }

    def deprovision(self, box: Box, slug: str, purge: bool) -> None:
        """Remove the login (its next AUTH fails). Delivered mail is the recipients', not the agency's: kept."""
        if on_a_host(box):
            _remote(box, "delete", {"slug": slug})
            return
        delete_login(box, slug)

    def usage(self, box: Box, slug: str) -> dict[str, Any]:
        return {"login": smtp_login(slug) in logins(box)}

    def taken(self, box: Box, slugs: list[str]) -> dict[str, list[str]]:
        existing = logins(box)
        return {s: [f"SMTP login {smtp_login(s)}"] for s in slugs if smtp_login(s) in existing}

    def orphans(self, box: Box, known: set[str]) -> list[str]:
        out = []
        for login in sorted(logins(box) - set(PLATFORM_LOGINS)):  # the platform's own (the console's) are no orphans
            owner = parse_smtp_login(login)
            if owner is None or owner.slug not in known:
                out.append(f"SMTP login {login}")
        return out
