"""Pure: the files of the box's Postfix instance (main.cf, master.cf, its maps, Cyrus SASL's smtpd.conf).

The rules they encode (docs/mail.md):
- one SMTP port, STARTTLS required before anything else (`smtpd_tls_security_level = encrypt`), AUTH only over TLS;
- relaying only for an authenticated client (`permit_sasl_authenticated, reject`): nothing unauthenticated is
  accepted at all, the box is no MX;
- the sender: login `ag-<slug>` owns every address `<anything>@<slug>.<mail domain>` and nothing else
  (`smtpd_sender_login_maps` + `reject_sender_login_mismatch`): agency A cannot send as B, nor as anyone else;
- delivery: every recipient, whatever its domain, into one Maildir `<home>/mail/maildir/all/` (Postfix's virtual
  agent, which marks each copy with `Delivered-To: <recipient>`), unless the operator set a relay
  (`platform.services.mail.relay`), which then takes all mail."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from govcloud_platform.spec.models import MailSettings, Spec

DAEMON_DIR = "/usr/lib/postfix/sbin"
# Where Debian's Cyrus SASL looks for smtpd.conf: `<config_directory>/sasl/` (it ignores cyrus_sasl_config_path)
SASL_SUBDIR = "sasl"
MAILDIR = "all"  # the one Maildir under <home>/mail/maildir/
RELAY_CA_FILE = "/etc/ssl/certs/ca-certificates.crt"


@dataclass(frozen=True)
class MailPaths:
    root: Path

    @property
    def etc(self) -> Path:  # config_directory: root:postfix 0750
        return self.root / "etc"

    @property
    def queue(self) -> Path:
        return self.root / "queue"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def sasl(self) -> Path:  # the SASL database, read by smtpd as postfix at each AUTH
        return self.root / "sasl"

    @property
    def sasldb(self) -> Path:
        return self.sasl / "sasldb2"

    @property
    def maildir(self) -> Path:
        return self.root / "maildir"

    @property
    def relay_passwords(self) -> Path:
        return self.etc / "relay_passwd"


def mail_domain(spec: Spec) -> str:
    """The box's mail domain: the setting, or the platform's domain."""
    return spec.platform.services.mail.domain or spec.platform.domain


def sasl_conf(paths: MailPaths) -> str:
    return (f"pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: {paths.sasldb}\n"
            "mech_list: PLAIN LOGIN\n")


# The platform's own senders: login -> the one address at the mail domain itself it sends from (no agency owns an
# address there). The console mails invitations as `console@<domain>` (docs/console.md, "Members").
CONSOLE_LOGIN = "platform-console"
CONSOLE_SENDER = "console"
PLATFORM_LOGINS = {CONSOLE_LOGIN: CONSOLE_SENDER}


def senders_regexp(domain: str) -> str:
    """The sender login map: `<anything>@<slug>.<domain>` is owned by `ag-<slug>@<domain>` (the login as Cyrus
    names it: login@realm). A slug is one DNS label; the local part may not hold `@`. Then each platform login's
    one address at the domain itself (`PLATFORM_LOGINS`)."""
    lines = [f"/^[^@]+@([a-z][a-z0-9-]*[a-z0-9])\\.{re.escape(domain)}$/ ag-${{1}}@{domain}"]
    lines += [f"/^{re.escape(local)}@{re.escape(domain)}$/ {login}@{domain}"
              for login, local in PLATFORM_LOGINS.items()]
    return "\n".join(lines) + "\n"


def mailboxes_regexp() -> str:
    """Every recipient into one Maildir, `all/` under virtual_mailbox_base (Postfix refuses `$1` substitution in
    virtual_mailbox_maps: a recipient must never choose a path). virtual(8) adds `Delivered-To: <recipient>` to
    each copy, one file per recipient: `govcloud_platform.mailbox` finds an address's mail by it."""
    return f"/^/ {MAILDIR}/\n"


def null_sender() -> str:
    """The null sender (`MAIL FROM:<>`, looked up as `<>`) is nobody's: an agency sends from its own address."""
    return "<> REJECT the null sender is refused on submission\n"


def relay_map(settings: MailSettings, password: str) -> str:
    """texthash: `[host]:port login:password` (the relay's SASL login), or empty."""
    relay = settings.relay
    if not relay.host or not relay.username:
        return ""
    return f"[{relay.host}]:{relay.port} {relay.username}:{password}\n"


def main_cf(paths: MailPaths, *, address: str, port: int, domain: str, settings: MailSettings, cert: Path,
            key: Path, uid: int, gid: int, relay_auth: bool) -> str:
    etc = paths.etc
    lines = [
        "# Written by govcloud (box.services.mail): `govcloud up` rewrites it.",
        "compatibility_level = 3.6",
        f"queue_directory = {paths.queue}",
        f"data_directory = {paths.data}",
        "mail_owner = postfix",
        "setgid_group = postdrop",
        f"myhostname = mail.{domain}",
        f"mydomain = {domain}",
        "myorigin = $myhostname",
        "mydestination =",
        "local_recipient_maps =",
        "relay_domains =",
        "mynetworks =",
        "alias_maps =",
        "alias_database =",
        f"inet_interfaces = {address}",
        "inet_protocols = ipv4",
        "maillog_file = /dev/stdout",
        "smtputf8_enable = no",
        "biff = no",
        "append_dot_mydomain = no",
        "disable_vrfy_command = yes",
        "smtpd_helo_required = yes",
        f"message_size_limit = {settings.max_message_kb * 1024}",
        "# submission: TLS first, then AUTH; only authenticated clients send, each as its own agency only",
        f"smtpd_tls_cert_file = {cert}",
        f"smtpd_tls_key_file = {key}",
        "smtpd_tls_security_level = encrypt",
        "smtpd_tls_auth_only = yes",
        "smtpd_tls_mandatory_protocols = >=TLSv1.2",
        "smtpd_tls_protocols = >=TLSv1.2",
        "smtpd_sasl_auth_enable = yes",
        "smtpd_sasl_type = cyrus",
        "smtpd_sasl_path = smtpd",
        f"cyrus_sasl_config_path = {etc / SASL_SUBDIR}",
        f"smtpd_sasl_local_domain = {domain}",
        "smtpd_sasl_security_options = noanonymous",
        "smtpd_sasl_tls_security_options = noanonymous",
        "broken_sasl_auth_clients = no",
        f"smtpd_sender_login_maps = regexp:{etc / 'senders.regexp'}",
        "smtpd_sender_restrictions = reject_non_fqdn_sender, reject_sender_login_mismatch, "
        f"check_sender_access texthash:{etc / 'null_sender'}",
        "smtpd_relay_restrictions = permit_sasl_authenticated, reject",
        "smtpd_recipient_restrictions = reject_non_fqdn_recipient",
    ]
    relay = settings.relay
    if relay.host:
        lines += [
            "# delivery: the operator's relay (platform.services.mail.relay)",
            "default_transport = smtp",
            f"relayhost = [{relay.host}]:{relay.port}",
            f"smtp_tls_security_level = {relay.tls}",
            f"smtp_tls_CAfile = {RELAY_CA_FILE}",
        ]
        if relay_auth:
            lines += [
                "smtp_sasl_auth_enable = yes",
                f"smtp_sasl_password_maps = texthash:{paths.relay_passwords}",
                "smtp_sasl_security_options = noanonymous",
                "smtp_sasl_tls_security_options = noanonymous",
            ]
    else:
        lines += [
            "# delivery: every recipient into the box's Maildir (virtual(8)), nothing leaves the box",
            "default_transport = virtual",
            f"virtual_mailbox_base = {paths.maildir}",
            f"virtual_mailbox_maps = regexp:{etc / 'mailboxes.regexp'}",
            f"virtual_uid_maps = static:{uid}",
            f"virtual_gid_maps = static:{gid}",
            f"virtual_minimum_uid = {uid}",
            f"virtual_mailbox_limit = {settings.max_message_kb * 1024 * 10}",
        ]
    return "\n".join(lines) + "\n"


# name type private unpriv chroot wakeup maxproc command: chroot off everywhere (the queue lives in the box home)
_SERVICES = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def master_cf(address: str, port: int) -> str:
    return ("# Written by govcloud (box.services.mail).\n"
            f"{address}:{port} inet n - n - - smtpd\n" + _SERVICES)
