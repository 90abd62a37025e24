"""The mail service of the box: Postfix (Debian's), our own instance under supervisord.

Its own configuration, queue, data, SASL database and Maildir live in `<home>/mail/` (`mail_conf.MailPaths`); the
master runs in the foreground (`master -c <home>/mail/etc -d`) with chroot off and logs to its standard output
(supervisord's `mail.log`, `govcloud logs mail`). Debian's own instance (/etc/postfix) is never started or
touched. Agencies' SMTP logins are made by the mail broker (brokers/mail.py); the rules: mail_conf.py and
docs/mail.md."""

from __future__ import annotations

import os
import pwd
import shutil
import smtplib
import socket
import ssl
import subprocess
from pathlib import Path

from govcloud_platform.box.context import Box
from govcloud_platform.box.network import certificate_names
from govcloud_platform.box.secrets import write_private
from govcloud_platform.box.services import mail_conf
from govcloud_platform.box.services.base import Program, Service, file_holds, first_log_line
from govcloud_platform.box.services.mail_conf import DAEMON_DIR, SASL_SUBDIR, MailPaths
from govcloud_platform.errors import InputError, ServiceError

PROGRAM = "mail"
USER = "postfix"


def paths(box: Box) -> MailPaths:
    return MailPaths(box.home / "mail")


def _ids() -> tuple[int, int]:
    user = pwd.getpwnam(USER)
    return user.pw_uid, user.pw_gid


def _own(path: Path, mode: int, user: str = "root", group: str = "root") -> None:
    path.chmod(mode)
    if os.geteuid() == 0:
        shutil.chown(path, user, group)


def relay_password(box: Box) -> str:
    """The relay's password, from the operator's file (never from the spec); "" without a relay login."""
    relay = box.spec.platform.services.mail.relay
    if not relay.host or not relay.username:
        return ""
    if not relay.password_file:
        raise InputError("platform.services.mail.relay: a username needs a password_file",
                         hint="put the relay password in a 0600 file and name it in relay.password_file")
    try:
        return Path(relay.password_file).read_text().strip()
    except OSError as exc:
        raise InputError(f"platform.services.mail.relay.password_file: cannot read it ({exc.strerror})") from None


def files(box: Box) -> dict[Path, tuple[str, int, str]]:
    """Every configuration file: path -> (text, mode, group). The maps and main.cf are read by Postfix's daemons
    after they drop to `postfix` (group read); the relay's passwords only as root (before they drop)."""
    p = paths(box)
    settings = box.spec.platform.services.mail
    domain = mail_conf.mail_domain(box.spec)
    certs = box.ca.directory / "certs"
    uid, gid = _ids()
    password = relay_password(box)
    main = mail_conf.main_cf(p, address=box.address, port=box.ports.smtp, domain=domain, settings=settings,
                             cert=certs / "mail.pem", key=certs / "mail.key", uid=uid, gid=gid,
                             relay_auth=bool(password))
    out = {
        p.etc / "main.cf": (main, 0o640, USER),
        p.etc / "master.cf": (mail_conf.master_cf(box.address, box.ports.smtp), 0o640, USER),
        p.etc / "senders.regexp": (mail_conf.senders_regexp(domain), 0o640, USER),
        p.etc / "mailboxes.regexp": (mail_conf.mailboxes_regexp(), 0o640, USER),
        p.etc / "null_sender": (mail_conf.null_sender(), 0o640, USER),
        p.etc / SASL_SUBDIR / "smtpd.conf": (mail_conf.sasl_conf(p), 0o600, "root"),
    }
    if password:
        out[p.relay_passwords] = (mail_conf.relay_map(settings, password), 0o600, "root")
    return out


def own_sasldb(box: Box) -> None:
    """The SASL database is the postfix user's 0600 file (saslpasswd2, run as root, makes it root's 0640)."""
    db = paths(box).sasldb
    if db.exists():
        _own(db, 0o600, USER, USER)


def set_login(box: Box, login: str, password: str) -> None:
    """Set an SMTP login's password in the SASL database (creating it if needed), the password on saslpasswd2's
    standard input, never on its command line; a re-run converges."""
    p = paths(box)
    if not p.sasl.is_dir():
        raise ServiceError("mail: the mail service is not set up on this box", hint="run `govcloud up`")
    out = subprocess.run(["/usr/sbin/saslpasswd2", "-p", "-c", "-f", str(p.sasldb), "-u",
                          mail_conf.mail_domain(box.spec), login], input=password, capture_output=True, text=True,
                         check=False, timeout=30)
    if out.returncode != 0:
        raise ServiceError(f"mail: cannot set the SMTP login {login} (saslpasswd2: "
                           f"{out.stderr.strip()[-120:] or out.returncode})")
    own_sasldb(box)


class MailService(Service):
    name = "mail"
    binaries = (
        (f"{DAEMON_DIR}/master", "postfix"),
        ("/usr/sbin/postfix", "postfix"),
        ("/usr/sbin/saslpasswd2", "sasl2-bin"),
        ("/usr/sbin/sasldblistusers2", "sasl2-bin"),
    )

    def prepare(self, box: Box) -> None:
        p = paths(box)
        box.dir("mail")
        _own(p.root, 0o711)
        # the queue: root's (Postfix's daemons enter it as root, then drop to postfix); `postfix check` below makes
        # its directories inside
        for directory, mode, group in ((p.etc, 0o750, USER), (p.etc / SASL_SUBDIR, 0o700, "root"),
                                       (p.queue, 0o750, USER)):
            directory.mkdir(parents=True, exist_ok=True)
            _own(directory, mode, "root", group)
        for directory in (p.data, p.sasl, p.maildir):
            directory.mkdir(parents=True, exist_ok=True)
            _own(directory, 0o700, USER, USER)
        own_sasldb(box)
        dns, ips = certificate_names(box.address)
        box.ca.issue("mail", dns, ips)
        for path, (text, mode, group) in files(box).items():
            if not file_holds(path, text) or (path.stat().st_mode & 0o777) != mode:
                write_private(path, text, mode=mode)
            if os.geteuid() == 0:
                shutil.chown(path, "root", group)
        if not files(box).get(p.relay_passwords):
            p.relay_passwords.unlink(missing_ok=True)
        # Postfix's own check: creates the queue's directories with their owners and modes, refuses a bad config.
        out = subprocess.run(["/usr/sbin/postfix", "-c", str(p.etc), "check"], capture_output=True, text=True,
                             check=False, env=_env())
        if out.returncode != 0:
            raise ServiceError(f"mail: postfix check failed: {(out.stderr or out.stdout).strip()[-300:]}",
                           hint=f"see {p.etc}/main.cf")

    def stale_programs(self, box: Box) -> list[str]:
        """The master reads main.cf and master.cf at start; its daemons re-read them only when they are recycled.
        A changed file (an older govcloud's, a relay set in the spec) restarts it."""
        current = all(file_holds(path, text) for path, (text, _, _) in files(box).items())
        return [] if current else [PROGRAM]

    def programs(self, box: Box) -> list[Program]:
        p = paths(box)
        return [Program(PROGRAM, [f"{DAEMON_DIR}/master", "-c", str(p.etc), "-d"], priority=35,
                        directory=str(p.root), environment=_env(), stopwaitsecs=15)]

    ready_interval = 0.1

    def check(self, box: Box) -> tuple[bool, str]:
        """An SMTP session: the banner, EHLO, STARTTLS with the box CA's certificate checked, then AUTH offered."""
        host, port = box.host_name, box.ports.smtp
        try:
            with smtplib.SMTP(host, port, timeout=3) as smtp:
                smtp.ehlo("govcloud-probe")
                if not smtp.has_extn("starttls"):
                    return False, f"smtp://{host}:{port}: STARTTLS not offered"
                smtp.starttls(context=ssl.create_default_context(cafile=str(box.ca_file)))
                smtp.ehlo("govcloud-probe")
                if not smtp.has_extn("auth"):
                    return False, f"smtp://{host}:{port}: AUTH not offered after STARTTLS"
        except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
            return False, f"smtp://{host}:{port}: {type(exc).__name__}"
        return True, "SMTP submission (STARTTLS, AUTH)"

    def probe(self, box: Box) -> tuple[bool, str]:
        try:
            with socket.create_connection((box.host_name, box.ports.smtp), timeout=2) as sock:
                sock.settimeout(2)
                banner = sock.recv(200).decode(errors="replace")
        except OSError as exc:
            return False, f"smtp://{box.host_name}:{box.ports.smtp}: {type(exc).__name__}"
        return (True, "SMTP submission (STARTTLS, AUTH)") if banner.startswith("220 ") else \
            (False, f"smtp://{box.host_name}:{box.ports.smtp}: banner {banner[:40]!r}")

    def failure_cause(self, box: Box) -> str:
        return first_log_line(box, [f"{PROGRAM}.log"], lambda line: "fatal:" in line or "error:" in line)

    def endpoint(self, box: Box) -> str:
        return f"smtp://{box.host_name}:{box.ports.smtp}"


def _env() -> dict[str, str]:
    """Postfix must not find another instance's configuration through the environment."""
    return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}

