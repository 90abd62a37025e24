"""What the IdP is configured with, rendered from the box alone: the lmConf keys we own (`managed_conf`, with
the OIDC signing key kept in the box's secrets), LemonLDAP::NG's ini (`render_ini`, the cookie domains of its
issuer) and the IdP's server blocks of the front door's nginx.conf (`idp_servers`). The identity service
(box/services/identity.py) writes them; they are the one place that says how the IdP is configured."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from govcloud_platform.box import idp_api, llng_store
from govcloud_platform.box.context import Box
from govcloud_platform.box.llng_store import DB_CONF_CACHE_S, TABLE
from govcloud_platform.box.services import nginx

LLNG_SHARE = Path("/usr/share/lemonldap-ng")
SIGNING_KEY_SECRET = "idp-signing-key"


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


def idp_dsn(box: Box) -> str:
    """The DBI data source of the IdP's database: its users, and with `llng_store.in_database` its configuration and
    sessions."""
    return (
        f"dbi:Pg:dbname={idp_api.IDP_DB};host={box.pg_hosts};port={box.ports.postgres};"
        f"sslmode=verify-full;sslrootcert={box.ca_file}"
        # several hosts under Patroni: libpq keeps the leader, gives up connecting to a lost host after 3 s, and
        # drops a connection to it (the portal's and manager's are kept open) once 5 s of data go unacknowledged
        + (f";target_session_attrs={box.pg_session_attrs};connect_timeout=3;tcp_user_timeout=5000;keepalives_idle=5;"
           "keepalives_interval=2;keepalives_count=2" if box.pg_session_attrs else "")
    )


def session_storage(box: Box, p: dict[str, Path], db_password: str) -> dict[str, Any]:
    """Where the portal keeps SSO sessions, OIDC codes and tokens, and one-time tokens. In files of the IdP's host,
    with a local cache; or, with `llng_store.in_database`, in the IdP's database (Apache::Session::Browseable's
    PgJSON, the tables of `idp_api.SCHEMA_SQL`: LOGGED, unlike the documented ones, so that a replica has them when
    it is promoted), without a local cache (a cache only this host drops would keep a logged-out session or a
    used code alive on another), and every one-time token there too (`tokenUseGlobalStorage`)."""
    sha256 = "Lemonldap::NG::Common::Apache::Session::Generate::SHA256"
    if not llng_store.in_database(box):
        file_storage = "Apache::Session::File"
        return {
            "globalStorage": file_storage,
            "globalStorageOptions": {"Directory": str(p["sessions"]), "LockDirectory": str(p["sessions"] / "lock"),
                                     "generateModule": sha256},
            "persistentStorage": file_storage,
            "persistentStorageOptions": {"Directory": str(p["psessions"]),
                                         "LockDirectory": str(p["psessions"] / "lock")},
            "localSessionStorage": "Cache::FileCache",
            "localSessionStorageOptions": {
                "cache_root": str(p["cache"]),
                "cache_depth": 3,
                "default_expires_in": 600,
                "directory_umask": 0o077,  # Cache::FileCache reads a number: "077" would mean 0o115
                "namespace": "lemonldap-ng-sessions",
            },
        }
    pg = "Apache::Session::Browseable::PgJSON"

    def table(name: str) -> dict[str, Any]:
        # Commit: the store opens its connection with AutoCommit off and commits only when told (else every write
        # is rolled back); no Index: PgJSON searches the JSON
        return {"DataSource": idp_dsn(box), "UserName": idp_api.IDP_ROLE, "Password": db_password,
                "TableName": name, "Commit": 1, "generateModule": sha256}

    return {
        "globalStorage": pg, "globalStorageOptions": table("sessions"),
        "persistentStorage": pg, "persistentStorageOptions": table("psessions"),
        "oidcStorage": pg, "oidcStorageOptions": table("oidcsessions"),
        "localSessionStorage": "",
        "localSessionStorageOptions": {},
        "tokenUseGlobalStorage": 1,
    }


def managed_conf(box: Box, p: dict[str, Path], db_password: str) -> dict[str, Any]:
    """The lmConf keys we own: everything but the relying parties."""
    ident = box.spec.platform.services.identity
    private_pem, public_pem, kid = signing_key(box)
    return {
        # The conf's checkTime wins over the ini's once the manager has saved (it writes every default, 600 s):
        # 1 s lets the portal see a configuration we write ourselves (`idp_api.put_oidc_clients`) at once.
        "checkTime": 1,
        "portal": f"{box.issuer}/",
        # LLNG refuses an empty domain ("Configuration error: no domain"), so its cookie says Domain=localhost,
        # which Python's cookiejar will not send back to "localhost" (see the tests' cookie policy). A box named
        # by its address: `cookie_domains`.
        "domain": cookie_domains(box.issuer_host)[0],
        "cookieName": "govcloud_sso",
        "securedCookie": 1,
        "httpOnly": 1,
        "timeout": 8 * 3600,
        "authentication": "DBI",
        "userDB": "Same",
        "passwordDB": "Null",
        "registerDB": "Null",
        "dbiAuthChain": idp_dsn(box),
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
        **session_storage(box, p, db_password),
        "notification": 0,
        "loginHistoryEnabled": 0,
        "portalSkin": "bootstrap",
        "applicationList": {},
        "locationRules": {"localhost": {"default": "accept"}},
        "exportedHeaders": {},
        "reloadUrls": {},  # the portal re-reads its store itself (checkTime in the ini) once we drop its cache
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


def conf_cache_s(box: Box) -> int:
    """How long a portal trusts its cached configuration (`llng_store.DB_CONF_CACHE_S`)."""
    return DB_CONF_CACHE_S if llng_store.in_database(box) else 600


def render_ini(box: Box, p: dict[str, Path], db_password: str) -> str:
    """LLNG's ini: where its configuration is (`llng_store`: files here, or the database's `lmconfig` with the IdP
    role's password: the file is the daemon's group's only), and what this host's portal overrides."""
    portal_domain = cookie_domains(box.issuer_host)[1]
    portal_override = f"domain = {portal_domain}\n" if portal_domain else ""
    files = f"type = File\ndirName = {p['conf']}\nprettyPrint = 1"
    store = (f"type = CDBI\ndbiChain = {idp_dsn(box)}\ndbiUser = {idp_api.IDP_ROLE}\ndbiPassword = {db_password}\n"
             f"dbiTable = {TABLE}" if llng_store.in_database(box) else files)
    return f"""\
; Written by govcloud (box identity service); rewritten by `govcloud box up`.
[all]
logLevel = notice
logger = Lemonldap::NG::Common::Logger::Std
userLogger = Lemonldap::NG::Common::Logger::Std
checkTime = 1

[configuration]
{store}
localStorage = Cache::FileCache
localStorageOptions = {{ 'namespace' => 'lemonldap-ng-config', 'default_expires_in' => {conf_cache_s(box)}, \\
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
        server_name {box.issuer_host};
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
