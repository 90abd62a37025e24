"""The identity service of the box: LemonLDAP::NG as OIDC provider (FastCGI) behind nginx (box.services.nginx).

Everything lives in the box directory: `LLNG_DEFAULTCONFFILE` points LLNG at `<home>/idp/lemonldap-ng.ini`,
whose File backend keeps `lmConf-N.json` in `<home>/idp/conf`. The manager REST API writes new numbered
files there when clients are added, so `prepare` never rewrites an older number: it converges the keys
we own on top of the newest file and saves the result as the next number (only if something changed)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from govcloud_platform.box import idp_api
from govcloud_platform.box.context import Box
from govcloud_platform.box.idp_api import conf_store
from govcloud_platform.box.llng_store import (
    DAEMON_USER,
    ConfStore,
    FileStore,
    PgStore,
    latest_conf,
    seed_from_files,
    update_conf,
)
from govcloud_platform.box.network import edge_certificate_names
from govcloud_platform.box.oidc_policy import enforce_access_rules
from govcloud_platform.box.secrets import write_private
from govcloud_platform.box.services import nginx
from govcloud_platform.box.services.base import Program, Service, file_holds, first_log_line, https_ok
from govcloud_platform.box.services.identity_conf import idp_servers, managed_conf, render_ini
from govcloud_platform.errors import MissingDependency

OPERATOR_SECRET = "idp-operator-password"
OPERATOR_GROUPS = ("platform-operators",)
# Perl module -> Debian package; LLNG fails with "Initialization failed" without them (design.md).
PERL_MODULES = {
    "DBD::Pg": "libdbd-pg-perl",
    "Crypt::OpenSSL::Bignum": "libcrypt-openssl-bignum-perl",
    "Email::Sender": "libemail-sender-perl",
    "String::Random": "libstring-random-perl",
    "MIME::Entity": "libmime-tools-perl",
    "GD::SecurityImage": "libgd-securityimage-perl",
    "Image::Magick": "libimage-magick-perl",
    "IO::String": "libio-string-perl",
    "Convert::Base32": "libconvert-base32-perl",
    "IPC::Run": "libipc-run-perl",
    "Unicode::String": "libunicode-string-perl",
    "IO::Socket::Timeout": "libio-socket-timeout-perl",
    "Cookie::Baker::XS": "libcookie-baker-xs-perl",
    "HTTP::Parser::XS": "libhttp-parser-xs-perl",
    "Apache::Session::Browseable": "libapache-session-browseable-perl",
    "Net::LDAP": "libnet-ldap-perl",
    "Authen::WebAuthn": "libauthen-webauthn-perl",
}


def add_operator(box: Box) -> None:
    """The platform operator's account in the IdP's user store (a superuser connection)."""
    ident = box.spec.platform.services.identity
    password = box.secrets.get_or_create(OPERATOR_SECRET)
    idp_api.add_user(box, ident.operator_user, password, ident.operator_email, "Platform operator",
                     list(OPERATOR_GROUPS))


def make_idp_store(box: Box) -> None:
    """On the database's host of the hosts target, when the IdP runs on another: its role, database, schema and
    operator account, with the superuser that only the database's host (and the control) holds."""
    idp_api.ensure_database(box)
    add_operator(box)


def _idp_names(box: Box) -> tuple[list[str], list[str]]:
    """The names the portal's certificate holds: its host's, and every edge's in front of the portals."""
    return edge_certificate_names(box.address, box.placement.idp_edge_addresses if box.placement is not None else ())


class IdentityService(Service):
    name = "identity"
    binaries = (
        ("/usr/sbin/llng-fastcgi-server", "lemonldap-ng-fastcgi-server"),
        ("/usr/share/perl5/Lemonldap/NG/Portal.pm", "liblemonldap-ng-portal-perl"),
        ("/usr/share/lemonldap-ng/manager/api/api.psgi", "liblemonldap-ng-manager-perl"),
        ("/usr/sbin/nginx", "nginx-light"),
        ("perl", "perl-base"),
    )

    def check_binaries(self, box: Box) -> None:
        """Also the Perl modules LLNG needs at run time (else only "Initialization failed" in its log)."""
        super().check_binaries(box)
        probe = "for (@ARGV) { eval \"require $_; 1\" or print \"$_\\n\" }"
        out = subprocess.run(["perl", "-e", probe, *PERL_MODULES], capture_output=True, text=True, check=False)
        missing = sorted({PERL_MODULES[m] for m in out.stdout.split() if m in PERL_MODULES})
        if out.returncode != 0 or missing:
            raise MissingDependency(
                f"identity: Perl modules missing for LemonLDAP::NG: {', '.join(missing) or out.stderr[-200:]}",
                hint=f"apt-get install --no-install-recommends {' '.join(missing)}",
            )

    # --- layout ---------------------------------------------------------------------------------
    @staticmethod
    def _paths(box: Box) -> dict[str, Path]:
        idp = box.home / "idp"
        return {
            "idp": idp,
            "ini": idp / "lemonldap-ng.ini",
            "conf": idp / "conf",
            "sessions": idp / "sessions",
            "psessions": idp / "psessions",
            "cache": idp / "cache",
            "run": idp / "run",
            "socket": idp / "run" / "llng-fastcgi.sock",
            "pid": idp / "run" / "llng-fastcgi.pid",
        }

    # --- prepare --------------------------------------------------------------------------------
    def prepare(self, box: Box) -> None:
        p = self._paths(box)
        # The IdP's role, database and operator are made with the superuser, where the database runs (on one
        # machine: here; on the hosts target the database's host makes them: `make_idp_store`), so that the
        # IdP's host never holds the superuser's password.
        db_password = idp_api.ensure_database(box) if box.runs("database") else idp_api.idp_password(box)
        for name in ("conf", "sessions", "psessions", "cache", "run"):
            _daemon_dir(p[name])
        _daemon_dir(p["sessions"] / "lock")
        _daemon_dir(p["psessions"] / "lock")
        p["idp"].chmod(0o711)  # noqa: S103 - the IdP traverses to its own directories, nobody lists them
        write_private(p["ini"], render_ini(box, p, db_password), mode=0o640)  # the daemon's group reads it
        if os.geteuid() == 0:
            shutil.chown(p["ini"], "root", DAEMON_USER)
        store = conf_store(box)
        if isinstance(store, PgStore):  # the relying parties of a box that kept files come along
            seed_from_files(store, FileStore(p["conf"]))
        save_conf_if_changed(store, managed_conf(box, p, db_password))
        cert, key = box.ca.issue("idp", *_idp_names(box))  # and the edges' names: they pass TLS through
        nginx.prepare(box, front_servers(box, p, cert, key, issue=True))

    def stale_programs(self, box: Box) -> list[str]:
        """nginx and LLNG read their files at start only: an old box keeps, say, a manager API without its
        password until they are rewritten and the programs restarted. A wrong htpasswd (nginx reads it per
        request) needs no restart, but must be rewritten all the same; so must agency clients without their
        access rule (a box made by older code), which `prepare` converges (LLNG would reload by itself, but
        `up` only prepares a service it restarts)."""
        p = self._paths(box)
        certs = box.ca.directory / "certs"
        stale = []
        ini = render_ini(box, p, idp_api.idp_password(box))
        if not file_holds(p["ini"], ini) or not access_rules_current(conf_store(box)):
            stale.append("idp-fastcgi")
        if nginx.stale(box, front_servers(box, p, certs / "idp.pem", certs / "idp.key")):
            stale.append(nginx.PROGRAM)
        return stale

    def programs(self, box: Box) -> list[Program]:
        p = self._paths(box)
        env = {
            "LLNG_DEFAULTCONFFILE": str(p["ini"]),
            "LLNG_DEFAULTLOGGER": "Lemonldap::NG::Common::Logger::Std",
            # libpq (DBD::Pg) looks for ~/.postgresql/postgresql.crt: /root is unreadable to www-data, and
            # "Permission denied" there fails the connection. Point HOME at the daemon's own directory.
            "HOME": str(p["run"]),
        }
        return [
            Program(
                name="idp-fastcgi",
                command=[
                    "/usr/sbin/llng-fastcgi-server", "--foreground", "-u", DAEMON_USER, "-g", DAEMON_USER,
                    "-s", str(p["socket"]), "-p", str(p["pid"]), "-n", "1",
                    # Plack sets umask 0 to create the socket (0777) unless told to leave ours
                    "--plackOptions=--leave-umask=1",
                ],
                priority=30,
                environment=env,
                directory=str(p["idp"]),
                # Cache::FileBackend makes its files `0666 - umask` (a subtraction: 077 gives 0567, group- and
                # world-writable); 066 gives 0600. Its other files are 0600 as with 077, the directories it
                # makes 0711, all inside www-data's 0700 ones.
                umask=0o066,
            ),
            nginx.program(box),
        ]

    # --- readiness ------------------------------------------------------------------------------
    def _probe(self, box: Box) -> tuple[bool, str]:
        """This host's own portal answers discovery with the issuer (the box's on one machine; through the edges
        another host's portal could answer for it)."""
        url = f"https://{box.host_name}:{box.ports.idp_https}/.well-known/openid-configuration"
        resp, why = https_ok(box, url)
        if resp is None:
            return False, why
        try:
            issuer = resp.json().get("issuer")
        except ValueError:
            return False, f"{url}: not JSON"
        if issuer != box.issuer:
            return False, f"{url}: issuer is {issuer!r}, expected {box.issuer!r}"
        return True, f"OIDC issuer {issuer}"

    ready_interval = 0.1

    def failure_cause(self, box: Box) -> str:
        """The first distinct error of LLNG's or nginx's log: usually the cause ("Configuration error: ...");
        the last lines only repeat "Initialization failed"."""
        return first_log_line(box, ("idp-fastcgi.log", "nginx-error.log"), lambda line: "error" in line.lower())

    def post_start(self, box: Box) -> None:
        if box.runs("database"):
            add_operator(box)

    def check(self, box: Box) -> tuple[bool, str]:
        return self._probe(box)

    def endpoint(self, box: Box) -> str:
        return box.issuer


# --- helpers --------------------------------------------------------------------------------------
def front_servers(box: Box, p: dict[str, Path], cert: Path, key: Path, issue: bool = False) -> str:
    """The server blocks of the front door's nginx: the IdP's, and the web console's where the box fronts it (one
    machine, or the placed identity host: `Box.fronts_console`; its certificate issued first with `issue`, on a
    host's sealed CA the one the control issued: nginx refuses to start on a missing one)."""
    servers = idp_servers(box, p, cert, key)
    if box.fronts_console:
        from govcloud_platform.box.services import console_conf

        if issue:
            box.ca.issue("console", *box.certificate_names())
        certs = box.ca.directory / "certs"
        servers += console_conf.nginx_server(box, certs / "console.pem", certs / "console.key")
    return servers


def _daemon_dir(path: Path) -> None:
    """A directory the FastCGI daemon (www-data) writes; nobody else may read it (secrets, sessions)."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    if os.geteuid() == 0:
        shutil.chown(path, DAEMON_USER, DAEMON_USER)


def save_conf_if_changed(store: ConfStore, managed: dict[str, Any]) -> int:
    """Overlay `managed` on the newest lmConf and save it as the next number if anything changed.
    Everything else (relying parties, the defaults the manager API fills in) is kept, but every agency client's
    access rule is set (`enforce_access_rules`: clients made by older code admitted every user).
    Returns the cfgNum."""
    return update_conf(store, lambda current: enforce_access_rules({**current, **managed}),
                       "converged by govcloud box up")


def access_rules_current(store: ConfStore) -> bool:
    """Every agency client of the newest lmConf has the access rule the platform's policy gives it."""
    current = latest_conf(store)[1]
    return enforce_access_rules(json.loads(json.dumps(current))) == current
