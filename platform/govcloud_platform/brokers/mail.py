"""Mail broker: an agency's SMTP submission login (`ag-<slug>`) in the box's Postfix SASL database, with the
sender addresses `<anything>@<slug>.<mail domain>` (the sender rule is in Postfix's config: mail_conf.py).

The password goes to `saslpasswd2` on its standard input, never on a command line; the database is the postfix
user's 0600 file. Postfix's smtpd reads it at each AUTH, so a new or removed login counts at once."""

from __future__ import annotations

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

SASLPASSWD = "/usr/sbin/saslpasswd2"
SASLLIST = "/usr/sbin/sasldblistusers2"
NOREPLY = "noreply"


def _run(argv: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False, timeout=30)


def logins(box: Box) -> set[str]:
    """The logins of the SASL database (`login`, without the realm), in the mail domain's realm."""
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


class MailBroker(Broker):
    service = "mail"

    def new_credentials(self, box: Box, slug: str) -> dict[str, Any]:
        return {"password": new_password()}

    def provision(self, box: Box, slug: str, name: str, quota: Quota, creds: dict[str, Any], new: bool = False) -> None:
        """Set the login's password (creating it if needed): a re-run converges, a changed password replaces."""
        mail_service.set_login(box, smtp_login(slug), creds["password"])

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
        db = mail_service.paths(box).sasldb
        if smtp_login(slug) not in logins(box):
            return
        out = _run([SASLPASSWD, "-d", "-f", str(db), "-u", mail_domain(box.spec), smtp_login(slug)])
        if out.returncode != 0:
            raise ServiceError(f"mail: cannot remove the SMTP login of {slug} (saslpasswd2 failed)")

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
