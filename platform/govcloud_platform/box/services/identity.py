"""The identity service of the box: LemonLDAP::NG as OIDC provider (FastCGI) behind nginx (box.services.nginx).

Everything lives in the box directory: `LLNG_DEFAULTCONFFILE` points LLNG at `<home>/idp/lemonldap-ng.ini`,
whose File backend keeps `lmConf-N.json` in `<home>/idp/conf`. The manager REST API writes new numbered
files there when clients are added, so `prepare` never rewrites an older number: it converges the keys
we own on top of the newest file and saves the result as the next number (only if something changed)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from govcloud_platform.box import idp_api
from govcloud_platform.box.context import Box
from govcloud_platform.box.llng_store import DAEMON_USER, latest_conf, update_conf
from govcloud_platform.box.oidc_policy import enforce_access_rules
from govcloud_platform.box.secrets import write_private
from govcloud_platform.box.services import nginx
from govcloud_platform.box.services.base import Program, Service
from govcloud_platform.errors import MissingDependency

LLNG_SHARE = Path("/usr/share/lemonldap-ng")
SIGNING_KEY_SECRET = "idp-signing-key"
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
        db_password = idp_api.ensure_database(box)
        for name in ("conf", "sessions", "psessions", "cache", "run"):
            _daemon_dir(p[name])
        _daemon_dir(p["sessions"] / "lock")
        _daemon_dir(p["psessions"] / "lock")
        p["idp"].chmod(0o711)  # noqa: S103 - the IdP traverses to its own directories, nobody lists them
        write_private(p["ini"], render_ini(box, p), mode=0o640)  # no secret, but nobody else's business
        if os.geteuid() == 0:
            shutil.chown(p["ini"], "root", DAEMON_USER)
        save_conf_if_changed(p["conf"], managed_conf(box, p, db_password))
        cert, key = box.ca.issue("idp", *box.certificate_names())
        nginx.prepare(box, idp_servers(box, p, cert, key))

    def stale_programs(self, box: Box) -> list[str]:
        """nginx and LLNG read their files at start only: an old box keeps, say, a manager API without its
        password until they are rewritten and the programs restarted. A wrong htpasswd (nginx reads it per
        request) needs no restart, but must be rewritten all the same; so must agency clients without their
        access rule (a box made by older code), which `prepare` converges (LLNG would reload by itself, but
        `up` only prepares a service it restarts)."""
        p = self._paths(box)
        certs = box.ca.directory / "certs"
        stale = []
        if not _holds(p["ini"], render_ini(box, p)) or not access_rules_current(p["conf"]):
            stale.append("idp-fastcgi")
        if nginx.stale(box, idp_servers(box, p, certs / "idp.pem", certs / "idp.key")):
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
        import requests

        url = f"{box.issuer}/.well-known/openid-configuration"
        try:
            with requests.Session() as s:
                s.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
                resp = s.get(url, verify=str(box.ca_file), timeout=5)
        except requests.RequestException as exc:
            return False, f"{url}: {type(exc).__name__}"
        if resp.status_code != 200:
            return False, f"{url}: HTTP {resp.status_code}"
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
        for name in ("idp-fastcgi.log", "nginx-error.log"):
            path = box.log_dir / name
            if path.exists():
                for line in path.read_text(errors="replace").splitlines():
                    if "[error]" in line or "error" in line.lower():
                        return f"{name}: {line.strip()[:200]}"
        return ""

    def post_start(self, box: Box) -> None:
        ident = box.spec.platform.services.identity
        password = box.secrets.get_or_create(OPERATOR_SECRET)
        idp_api.add_user(box, ident.operator_user, password, ident.operator_email, "Platform operator",
                         list(OPERATOR_GROUPS))

    def check(self, box: Box) -> tuple[bool, str]:
        return self._probe(box)

    def endpoint(self, box: Box) -> str:
        return box.issuer


# --- helpers --------------------------------------------------------------------------------------
def _holds(path: Path, text: str) -> bool:
    try:
        return path.read_text() == text
    except OSError:
        return False


def _daemon_dir(path: Path) -> None:
    """A directory the FastCGI daemon (www-data) writes; nobody else may read it (secrets, sessions)."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    if os.geteuid() == 0:
        shutil.chown(path, DAEMON_USER, DAEMON_USER)


def signing_key(box: Box) -> tuple[str, str, str]:
    """(private PEM, public PEM, kid) of the OIDC signing key, generated once and kept in the secrets."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    def generate() -> str:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode().strip()

    private_pem = box.secrets.get_or_create(SIGNING_KEY_SECRET, generate)
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    public = key.public_key()
    public_pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode().strip()
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private_pem + "\n", public_pem + "\n", hashlib.sha256(der).hexdigest()[:16]


def managed_conf(box: Box, p: dict[str, Path], db_password: str) -> dict[str, Any]:
    """The lmConf keys we own: everything but the relying parties."""
    ident = box.spec.platform.services.identity
    private_pem, public_pem, kid = signing_key(box)
    dsn = (
        f"dbi:Pg:dbname={idp_api.IDP_DB};host={box.address};port={box.ports.postgres};"
        f"sslmode=verify-full;sslrootcert={box.ca_file}"
    )
    file_storage = "Apache::Session::File"
    return {
        # The conf's checkTime wins over the ini's once the manager has saved (it writes every default, 600 s):
        # 1 s lets the portal see a configuration we write ourselves (`idp_api.put_oidc_clients`) at once.
        "checkTime": 1,
        "portal": f"{box.issuer}/",
        # LLNG refuses an empty domain ("Configuration error: no domain"), so its cookie says Domain=localhost,
        # which Python's cookiejar will not send back to "localhost" (see the tests' cookie policy). A box named
        # by its address: `cookie_domains`.
        "domain": cookie_domains(box.host_name)[0],
        "cookieName": "govcloud_sso",
        "securedCookie": 1,
        "httpOnly": 1,
        "timeout": 8 * 3600,
        "authentication": "DBI",
        "userDB": "Same",
        "passwordDB": "Null",
        "registerDB": "Null",
        "dbiAuthChain": dsn,
        "dbiAuthUser": idp_api.IDP_ROLE,
        "dbiAuthPassword": db_password,
        "dbiAuthTable": "users",
        "dbiUserTable": "directory",
        "userPivot": "login",
        "dbiAuthLoginCol": "login",
        "dbiAuthPasswordCol": "password_hash",
        "dbiAuthPasswordHash": "encrypt",  # -> password_hash = encrypt(?, password_hash) = crypt()
        "dbiDynamicHashEnabled": 0,
        "dbiExportedVars": {"uid": "login", "mail": "mail", "cn": "name", "groups": "groups"},
        "exportedVars": {},
        "macros": {},
        "groups": {},
        "whatToTrace": "_user",
        "multiValuesSeparator": idp_api.GROUP_SEPARATOR,
        "globalStorage": file_storage,
        "globalStorageOptions": {
            "Directory": str(p["sessions"]),
            "LockDirectory": str(p["sessions"] / "lock"),
            "generateModule": "Lemonldap::NG::Common::Apache::Session::Generate::SHA256",
        },
        "persistentStorage": file_storage,
        "persistentStorageOptions": {
            "Directory": str(p["psessions"]),
            "LockDirectory": str(p["psessions"] / "lock"),
        },
        "localSessionStorage": "Cache::FileCache",
        "localSessionStorageOptions": {
            "cache_root": str(p["cache"]),
            "cache_depth": 3,
            "default_expires_in": 600,
            "directory_umask": 0o077,  # Cache::FileCache reads a number: "077" would mean 0o115
            "namespace": "lemonldap-ng-sessions",
        },
        "notification": 0,
        "loginHistoryEnabled": 0,
        "portalSkin": "bootstrap",
        "applicationList": {},
        "locationRules": {"localhost": {"default": "accept"}},
        "exportedHeaders": {},
        "reloadUrls": {},  # the portal re-reads the File backend itself (checkTime in the ini)
        "issuerDBOpenIDConnectActivation": 1,
        "oidcServiceMetaDataIssuer": box.issuer,
        "oidcServicePrivateKeySig": private_pem,
        "oidcServicePublicKeySig": public_pem,
        "oidcServiceKeyIdSig": kid,
        "oidcServiceAllowAuthorizationCodeFlow": 1,
        "oidcServiceAllowImplicitFlow": 0,
        "oidcServiceAllowHybridFlow": 0,
        "oidcServiceAllowDynamicRegistration": 0,
        "oidcServiceIgnoreScopeForClaims": 0,
        "oidcServiceAccessTokenExpiration": ident.access_token_lifetime_s,
        "oidcServiceIDTokenExpiration": ident.access_token_lifetime_s,
        "oidcServiceAuthorizationCodeExpiration": 60,
    }


def save_conf_if_changed(conf_dir: Path, managed: dict[str, Any]) -> int:
    """Overlay `managed` on the newest lmConf and save it as the next number if anything changed.
    Everything else (relying parties, the defaults the manager API fills in) is kept, but every agency client's
    access rule is set (`enforce_access_rules`: clients made by older code admitted every user).
    Returns the cfgNum."""
    return update_conf(conf_dir, lambda current: enforce_access_rules({**current, **managed}),
                       "converged by govcloud box up")


def access_rules_current(conf_dir: Path) -> bool:
    """Every agency client of the newest lmConf has the access rule the platform's policy gives it."""
    current = latest_conf(conf_dir)[1]
    return enforce_access_rules(json.loads(json.dumps(current))) == current


def cookie_domains(host: str) -> tuple[str, str | None]:
    """(the configuration's `domain`, the portal's own `domain` in lemonldap-ng.ini or None). The manager API
    checks the whole configuration on every change and wants a DNS name there (RFC 2396 hostname: an IP address
    is `__badDomainName__`), while the portal's cookie must name the host it is served from. For a box named by
    its address the configuration says `localhost` (checked, never used) and the portal's [portal] section,
    which LLNG lets override any key locally, says the address: the cookie is `Domain=.<address>`, which
    browsers and Python's cookiejar keep as a cookie of that host only."""
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host, None
    return "localhost", host


def render_ini(box: Box, p: dict[str, Path]) -> str:
    portal_domain = cookie_domains(box.host_name)[1]
    portal_override = f"domain = {portal_domain}\n" if portal_domain else ""
    return f"""\
; Written by govcloud (box identity service); rewritten by `govcloud box up`.
[all]
logLevel = notice
logger = Lemonldap::NG::Common::Logger::Std
userLogger = Lemonldap::NG::Common::Logger::Std
checkTime = 1

[configuration]
type = File
dirName = {p['conf']}
prettyPrint = 1
localStorage = Cache::FileCache
localStorageOptions = {{ 'namespace' => 'lemonldap-ng-config', 'default_expires_in' => 600, \\
    'directory_umask' => 077, 'cache_root' => '{p['cache']}', 'cache_depth' => 3 }}

[portal]
staticPrefix = /static
templateDir = {LLNG_SHARE}/portal/templates
languages = en
{portal_override}
[handler]
status = 0
useRedirectOnError = 1

[manager]
protection = none
staticPrefix = /static
templateDir = {LLNG_SHARE}/manager/htdocs/templates
languages = en
enabledModules = api
"""


def idp_servers(box: Box, p: dict[str, Path], cert: Path, key: Path) -> str:
    """The IdP's server blocks in the front door's nginx.conf: the portal (TLS) and the manager API."""
    fastcgi = f"""
        include /etc/nginx/fastcgi_params;
        fastcgi_pass unix:{p['socket']};
        fastcgi_param LLTYPE psgi;
        fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
        fastcgi_split_path_info ^(.*\\.psgi)(/.*)$;
        fastcgi_param PATH_INFO $fastcgi_path_info;
        # LLNG's headers (CSP, cookies) outgrow the 4k default: "upstream sent too big header" -> 502.
        fastcgi_buffer_size 32k;
        fastcgi_buffers 16 32k;"""
    return f"""\
    # The portal: OIDC provider, login form.
    server {{
        listen {box.bind_address("idp_https")}:{box.ports.idp_https} ssl;
        server_name {box.host_name};
        ssl_certificate {cert};
        ssl_certificate_key {key};
        root {LLNG_SHARE}/portal/htdocs/;

        if ($uri !~ ^/((static|javascript|favicon).*|.*\\.psgi)) {{
            rewrite ^/(.*)$ /index.psgi/$1 break;
        }}
        location ~ ^/index\\.psgi/(adminSessions|proxy|sessions|config|notification) {{
            deny all;
        }}
        # Introspection: LLNG 2.16 answers any authenticated client about any token (whose user, which client,
        # which scopes); nothing of ours uses it, so it is off. Dynamic registration is off in the configuration,
        # where LLNG answers HTTP 500: a clean 403 here. LLNG routes on the path's first words, so
        # `/oauth2/introspect/anything` is the endpoint too.
        location ~ ^/index\\.psgi/+oauth2/+(introspect|register)(/|$) {{
            default_type application/json;
            return 403 '{{"error":"access_denied","error_description":"not offered by this IdP"}}';
        }}
        location ~ ^(?<sc>/.*\\.psgi)(?:$|/) {{{fastcgi}
            fastcgi_param HTTPS on;
        }}
        location /static/ {{
            alias {LLNG_SHARE}/portal/htdocs/static/;
        }}
        location /javascript/ {{
            alias /usr/share/javascript/;
        }}
    }}

    # Manager REST API: it has no authentication of its own. Loopback only, never exposed, and behind a
    # password only the platform holds: apps run on this host as their agencies' users.
    server {{
        listen {box.bind_address("idp_manager")}:{box.ports.idp_manager};
        server_name 127.0.0.1;
        allow 127.0.0.1;
        deny all;
        auth_basic "govcloud IdP manager";
        auth_basic_user_file {nginx.paths(box).htpasswd};
        root {LLNG_SHARE}/manager/api/;
        location / {{
            rewrite ^/(.*)$ /api.psgi/$1 last;
        }}
        location ~ ^(?<sc>/.*\\.psgi)(?:$|/) {{{fastcgi}
        }}
    }}

"""
