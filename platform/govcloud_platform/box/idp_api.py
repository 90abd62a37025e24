"""Client API of the box IdP (LemonLDAP::NG): users live in our PostgreSQL (`idp` database), OIDC clients
are changed through the manager REST API on loopback, live without a restart.

Users: the portal checks passwords with `password_hash = encrypt(?, password_hash)` (LLNG's DBI "encrypt"
mode), and our `encrypt(text, text)` is pgcrypto's `crypt()`, so hashes are bcrypt (`$2a$`) made in the
database; the plain password only travels over the TLS connection."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from govcloud_platform.box import llng_store
from govcloud_platform.box.llng_store import (
    DB_CONF_CACHE_S,
    FileStore,
    PgStore,
    latest_conf,
    purge_conf_cache,
    update_conf,
)
from govcloud_platform.box.oidc_clients import check_conf_key, conf_entries, oidc_client
from govcloud_platform.box.oidc_policy import GROUP_RE, GROUP_SEPARATOR
from govcloud_platform.errors import ConflictError, InputError, ServiceError, service_failure

if TYPE_CHECKING:
    import psycopg
    import requests

    from govcloud_platform.box.context import Box

IDP_DB = "idp"
IDP_ROLE = "idp"
BCRYPT_COST = 10
LOGIN_PATTERN = r"^[a-z0-9][a-z0-9._@-]{0,63}$"
_LOGIN_RE = re.compile(LOGIN_PATTERN)

# Run by the superuser in the `idp` database; every statement is idempotent.
SCHEMA_SQL = f"""
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE TABLE IF NOT EXISTS users (
    login text PRIMARY KEY CHECK (login ~ '{LOGIN_PATTERN}'),
    password_hash text NOT NULL,
    mail text NOT NULL,
    name text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS groups (
    name text PRIMARY KEY,
    description text NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS memberships (
    login text NOT NULL REFERENCES users ON DELETE CASCADE,
    group_name text NOT NULL REFERENCES groups ON DELETE CASCADE,
    PRIMARY KEY (login, group_name)
);
CREATE OR REPLACE VIEW directory AS
    SELECT u.login, u.mail, u.name,
           coalesce(string_agg(m.group_name, '{GROUP_SEPARATOR}' ORDER BY m.group_name), '') AS groups
    FROM users u LEFT JOIN memberships m USING (login)
    GROUP BY u.login, u.mail, u.name;
CREATE OR REPLACE FUNCTION encrypt(password text, stored text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT crypt(password, stored) $$;
-- The IdP's configuration and sessions when the database is a cluster (llng_store.in_database): LLNG's CDBI
-- table (one JSON revision per row) and Apache::Session::Browseable::PgJSON's tables, LOGGED (the documented ones
-- are UNLOGGED: a promoted replica would have them empty), with the index expressions its searches use.
CREATE TABLE IF NOT EXISTS lmconfig (cfgnum integer NOT NULL PRIMARY KEY, data text);
CREATE TABLE IF NOT EXISTS sessions (id varchar(64) NOT NULL PRIMARY KEY, a_session jsonb);
CREATE INDEX IF NOT EXISTS i_s__whatToTrace ON sessions ((a_session ->> '_whatToTrace'));
CREATE INDEX IF NOT EXISTS i_s__session_kind ON sessions ((a_session ->> '_session_kind'));
CREATE INDEX IF NOT EXISTS i_s__utime ON sessions ((cast(a_session ->> '_utime' as bigint)));
CREATE INDEX IF NOT EXISTS i_s_ipAddr ON sessions ((a_session ->> 'ipAddr'));
CREATE INDEX IF NOT EXISTS i_s__httpSessionType ON sessions ((a_session ->> '_httpSessionType'));
CREATE INDEX IF NOT EXISTS i_s_user ON sessions ((a_session ->> 'user'));
CREATE INDEX IF NOT EXISTS i_s_mail ON sessions ((a_session ->> 'mail'));
CREATE INDEX IF NOT EXISTS i_s__session_uid ON sessions ((a_session ->> '_session_uid'));
CREATE TABLE IF NOT EXISTS psessions (id varchar(64) NOT NULL PRIMARY KEY, a_session jsonb);
CREATE INDEX IF NOT EXISTS i_p__session_kind ON psessions ((a_session ->> '_session_kind'));
CREATE INDEX IF NOT EXISTS i_p__httpSessionType ON psessions ((a_session ->> '_httpSessionType'));
CREATE INDEX IF NOT EXISTS i_p__session_uid ON psessions ((a_session ->> '_session_uid'));
CREATE INDEX IF NOT EXISTS i_p_ipAddr ON psessions ((a_session ->> 'ipAddr'));
CREATE INDEX IF NOT EXISTS i_p__whatToTrace ON psessions ((a_session ->> '_whatToTrace'));
CREATE TABLE IF NOT EXISTS oidcsessions (id varchar(64) NOT NULL PRIMARY KEY, a_session jsonb);
CREATE INDEX IF NOT EXISTS i_o__session_kind ON oidcsessions ((a_session ->> '_session_kind'));
CREATE INDEX IF NOT EXISTS i_o__utime ON oidcsessions ((cast(a_session ->> '_utime' as bigint)));
CREATE INDEX IF NOT EXISTS i_o_user_session_id ON oidcsessions ((a_session ->> 'user_session_id'));
REVOKE ALL ON users, groups, memberships, directory, lmconfig, sessions, psessions, oidcsessions FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO {IDP_ROLE};
GRANT SELECT ON users, directory TO {IDP_ROLE};
GRANT SELECT, INSERT, UPDATE, DELETE ON lmconfig, sessions, psessions, oidcsessions TO {IDP_ROLE};
"""  # noqa: S608 - module constants only


# --- database -------------------------------------------------------------------------------------
def scram_verifier(password: str, iterations: int = 4096) -> str:
    """A SCRAM-SHA-256 verifier, so CREATE/ALTER ROLE never carries the plain password (server logs)."""
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    b64 = base64.b64encode
    return (
        f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}"
        f"${b64(stored_key).decode()}:{b64(server_key).decode()}"
    )


IDP_PASSWORD_SECRET = "idp-db-password"


def idp_password(box: Box) -> str:
    """The `idp` role's password (the IdP connects with it)."""
    return box.secrets.get_or_create(IDP_PASSWORD_SECRET)


def ensure_database(box: Box) -> str:
    """Create (or converge) the `idp` role, database and schema. Returns the role's password."""
    from psycopg import sql

    password = idp_password(box)
    verifier = sql.Literal(scram_verifier(password))
    with box.pg_admin() as conn:
        # IdP portals on several hosts converge at once: one at a time (released with the connection)
        conn.execute("SELECT pg_advisory_lock(hashtext('govcloud-idp-role'))")
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (IDP_ROLE,)).fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(
            sql.SQL(verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                sql.Identifier(IDP_ROLE), verifier
            )
        )
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (IDP_DB,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(IDP_DB)))
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(IDP_DB)))
        conn.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(IDP_DB), sql.Identifier(IDP_ROLE))
        )
    with box.pg_admin(IDP_DB, autocommit=False) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('govcloud-idp-schema'))")
        conn.execute(SCHEMA_SQL)  # constant DDL, no user input
        conn.commit()
    return password


def conf_store(box: Box) -> FileStore | PgStore:
    """This home's view of the IdP's configuration store (`llng_store`): its files, or with `in_database` the
    `lmconfig` table reached as the IdP's role (on the IdP's host: its password is there)."""
    idp = box.home / "idp"
    if not llng_store.in_database(box):
        return FileStore(idp / "conf")
    return PgStore(box.pg_conninfo(IDP_DB, user=IDP_ROLE, password=idp_password(box)), idp)


def writes_conf_here(box: Box) -> bool:
    """Whether this home reads and writes the IdP's configuration itself: where the IdP runs, and anywhere when the
    database holds it (`llng_store.in_database`: the operator's home then goes to the table, not to a portal's host
    over SSH, and the manager API is not needed: a portal's host may be lost)."""
    return box.runs("identity") or llng_store.in_database(box)


def idp_db(box: Box) -> psycopg.Connection[Any]:
    """A superuser connection to the IdP's user store (not autocommit)."""
    return box.pg_admin(IDP_DB, autocommit=False)


# --- users ----------------------------------------------------------------------------------------
def add_user(
    box: Box, login: str, password: str, mail: str, name: str = "", groups: list[str] | tuple[str, ...] = (),
    conn: psycopg.Connection[Any] | None = None,
) -> bool:
    """Create the user, or converge an existing one to these values (password included); live at once.
    `conn`: a connection to the `idp` database to reuse (committed here). Returns True if created."""
    if not _LOGIN_RE.fullmatch(login):
        raise InputError(f"invalid login {login!r}", hint=f"use {LOGIN_PATTERN}")
    bad = [g for g in groups if not GROUP_RE.fullmatch(g)]
    if bad:
        raise InputError(f"invalid group names {bad}", hint="lowercase letters, digits, '.', '_', '-'")
    if not password:
        raise InputError("empty password")
    if conn is None:
        with idp_db(box) as own:
            return add_user(box, login, password, mail, name, groups, own)
    row = conn.execute(
        """INSERT INTO users (login, password_hash, mail, name)
           VALUES (%(login)s, crypt(%(pw)s, gen_salt('bf', %(cost)s)), %(mail)s, %(name)s)
           ON CONFLICT (login) DO UPDATE SET
               password_hash = CASE WHEN crypt(%(pw)s, users.password_hash) = users.password_hash
                                    THEN users.password_hash
                                    ELSE crypt(%(pw)s, gen_salt('bf', %(cost)s)) END,
               mail = EXCLUDED.mail, name = EXCLUDED.name
           RETURNING (xmax = 0)""",
        {"login": login, "pw": password, "cost": BCRYPT_COST, "mail": mail, "name": name},
    ).fetchone()
    for group in groups:
        conn.execute("INSERT INTO groups (name) VALUES (%s) ON CONFLICT DO NOTHING", (group,))
    conn.execute("DELETE FROM memberships WHERE login = %s AND NOT group_name = ANY(%s)", (login, list(groups)))
    for group in groups:
        conn.execute(
            "INSERT INTO memberships (login, group_name) VALUES (%s, %s) ON CONFLICT DO NOTHING", (login, group)
        )
    conn.commit()
    return bool(row and row[0])


def create_user(box: Box, login: str, password: str, mail: str, name: str, groups: Sequence[str]) -> bool:
    """Create a new user with these groups; False (nothing changed) when the login exists. Unlike `add_user`, never
    converges an existing user: an invitee choosing a taken login must not reset its password."""
    if not _LOGIN_RE.fullmatch(login):
        raise InputError(f"invalid login {login!r}", hint=f"use {LOGIN_PATTERN}")
    bad = [g for g in groups if not GROUP_RE.fullmatch(g)]
    if bad or not password:
        raise InputError("invalid group names or an empty password")
    with idp_db(box) as conn:
        row = conn.execute(
            """INSERT INTO users (login, password_hash, mail, name)
               VALUES (%s, crypt(%s, gen_salt('bf', %s)), %s, %s) ON CONFLICT (login) DO NOTHING RETURNING login""",
            (login, password, BCRYPT_COST, mail, name)).fetchone()
        if row is None:
            conn.rollback()
            return False
        for group in groups:
            conn.execute("INSERT INTO groups (name) VALUES (%s) ON CONFLICT DO NOTHING", (group,))
            conn.execute("INSERT INTO memberships (login, group_name) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                         (login, group))
        conn.commit()
        return True


def group_members(box: Box, group_name: str) -> list[dict[str, Any]]:
    """The members of a group with their directory entries (login, mail, name, groups), by login."""
    with idp_db(box) as conn:
        rows = conn.execute("SELECT d.login, d.mail, d.name, d.groups FROM directory d JOIN memberships m "
                            "ON m.login = d.login WHERE m.group_name = %s ORDER BY d.login", (group_name,)).fetchall()
    return [{"login": r[0], "mail": r[1], "name": r[2], "groups": [g for g in r[3].split(GROUP_SEPARATOR) if g]}
            for r in rows]


def remove_user(box: Box, login: str) -> bool:
    """Delete the user (memberships go with it). Sessions already open live until they expire."""
    with idp_db(box) as conn:
        cur = conn.execute("DELETE FROM users WHERE login = %s", (login,))
        conn.commit()
        return cur.rowcount > 0


def remove_empty_groups(box: Box, groups: list[str]) -> None:
    """Delete these groups where nobody is a member any more."""
    with idp_db(box) as conn:
        conn.execute("DELETE FROM groups g WHERE g.name = ANY(%s) AND NOT EXISTS "
                     "(SELECT 1 FROM memberships m WHERE m.group_name = g.name)", (groups,))
        conn.commit()


def add_membership(box: Box, login: str, group_name: str) -> bool:
    """Make an existing user a member of the group (created if needed); True when it was not one yet."""
    if not GROUP_RE.fullmatch(group_name):
        raise InputError(f"invalid group name {group_name!r}", hint="lowercase letters, digits, '.', '_', '-'")
    with idp_db(box) as conn:
        conn.execute("INSERT INTO groups (name) VALUES (%s) ON CONFLICT DO NOTHING", (group_name,))
        cur = conn.execute("INSERT INTO memberships (login, group_name) SELECT login, %s FROM users "
                           "WHERE login = %s ON CONFLICT DO NOTHING", (group_name, login))
        conn.commit()
        return cur.rowcount > 0


def remove_membership(box: Box, login: str, group_name: str) -> bool:
    """End the user's membership of the group; True when there was one."""
    with idp_db(box) as conn:
        cur = conn.execute("DELETE FROM memberships WHERE login = %s AND group_name = %s", (login, group_name))
        conn.commit()
        return cur.rowcount > 0


def remove_groups_with_prefix(box: Box, prefix: str) -> int:
    """Delete every group whose name begins with `prefix`, memberships first (an agency's desk groups when its
    data is purged). Returns how many groups went."""
    if not GROUP_RE.fullmatch(prefix):
        raise InputError(f"invalid group prefix {prefix!r}")
    pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    with idp_db(box) as conn:
        conn.execute("DELETE FROM memberships WHERE group_name LIKE %s", (pattern,))
        cur = conn.execute("DELETE FROM groups WHERE name LIKE %s", (pattern,))
        conn.commit()
        return cur.rowcount


def get_user(box: Box, login: str) -> dict[str, Any] | None:
    """The directory entry (login, mail, name, groups as a list), never the hash."""
    with idp_db(box) as conn:
        row = conn.execute("SELECT login, mail, name, groups FROM directory WHERE login = %s", (login,)).fetchone()
    if row is None:
        return None
    return {"login": row[0], "mail": row[1], "name": row[2], "groups": [g for g in row[3].split(GROUP_SEPARATOR) if g]}


def list_users(box: Box) -> list[str]:
    with idp_db(box) as conn:
        return [r[0] for r in conn.execute("SELECT login FROM users ORDER BY login").fetchall()]


# --- OIDC clients (manager REST API) -------------------------------------------------------------
def _api_url(box: Box, path: str = "") -> str:
    return f"http://127.0.0.1:{box.ports.idp_manager}/api/v1/providers/oidc/rp{path}"


def _session() -> requests.Session:
    import requests

    session = requests.Session()
    session.trust_env = False  # plain HTTP on loopback: no proxies from the environment
    return session


def _call(box: Box, method: str, path: str = "", body: Any = None) -> requests.Response:
    import requests

    from govcloud_platform.box.services.nginx import MANAGER_SECRET, MANAGER_USER

    auth = (MANAGER_USER, box.secrets.get_or_create(MANAGER_SECRET))
    if not box.runs("identity"):  # on its host's loopback only: reached through an SSH tunnel (`remote`)
        from govcloud_platform.box import remote

        remote.forward(box, "identity", box.ports.idp_manager)
    try:
        with _session() as s:
            resp = s.request(method, _api_url(box, path), json=body, auth=auth, timeout=15)
    except requests.RequestException as exc:
        raise service_failure("identity", _manager(box), f"is unreachable ({type(exc).__name__})") from None
    if resp.status_code == 401:
        raise ServiceError("the IdP manager API refused the platform's credential",
                           hint="run `govcloud up` to re-converge the identity service")
    return resp


def add_oidc_client(box: Box, client_id: str, client_secret: str, redirect_uris: list[str],
                    display_name: str = "", *, admit: Sequence[str], **kwargs: Any) -> None:
    """Register one client through the manager API (see `oidc_client` for the arguments)."""
    post_oidc_client(box, oidc_client(box, client_id, client_secret, redirect_uris, display_name, admit=admit,
                                      **kwargs))


def post_oidc_client(box: Box, body: dict[str, Any]) -> None:
    """Register one client (a body from `oidc_client`) through the manager API, live without a restart; with the
    configuration in the database, as a revision of the table (live once the portals reload it)."""
    client_id = body["confKey"]
    if llng_store.in_database(box):
        if client_id in configured_clients(box):
            raise ConflictError(f"OIDC client {client_id} already exists", hint="remove it first, or pick another id")
        put_oidc_clients(box, [body])
        return
    resp = _call(box, "POST", "", body)
    if resp.status_code == 409:
        raise ConflictError(f"OIDC client {client_id} already exists", hint="remove it first, or pick another id")
    if resp.status_code != 201:
        raise _http_error(box, resp, f"refused OIDC client {client_id}")


def configured_clients(box: Box) -> dict[str, dict[str, Any]]:
    """The clients of the newest configuration file, by confKey, as lmConf options (secrets included):
    read from disk, which is what the portal serves, without one manager-API call per client."""
    if not writes_conf_here(box):  # the files are on the identity's host
        import json

        from govcloud_platform.box import remote

        remote_options: dict[str, dict[str, Any]] = json.loads(
            remote.govcloud(box, "identity", ["box", "idp-conf", "clients"]).stdout)
        return remote_options
    options: dict[str, dict[str, Any]] = latest_conf(conf_store(box))[1].get("oidcRPMetaDataOptions", {})
    return options


def put_oidc_clients(box: Box, bodies: list[dict[str, Any]], probe: dict[str, Any] | None = None,
                     wait: float = 15.0) -> int:
    """Create or replace many clients (bodies from `oidc_client`) in ONE new configuration, instead of one
    manager-API call each (each of which rewrites the whole configuration: quadratic in the number of
    clients). The caller holds the box lock. Then waits until the portal serves the configuration, proved by
    a client-credentials token for `probe` (default: the last body that allows that grant).
    Returns the new cfgNum (0 when nothing was written)."""
    import time

    num = 0
    if bodies:
        written = time.monotonic()
        num = write_oidc_clients(box, bodies)
        settle = 1.1 + (DB_CONF_CACHE_S if llng_store.in_database(box) else 0)  # checkTime, and a cache no writer drops
        time.sleep(max(0.0, written + settle - time.monotonic()))
    if probe is None:
        probe = next((b for b in reversed(bodies) if b["options"].get("allowClientCredentialsGrant")), None)
    if probe is not None:
        _wait_until_served(box, probe, wait)
    return num


def write_oidc_clients(box: Box, bodies: list[dict[str, Any]]) -> int:
    """The new configuration holding `bodies` (`put_oidc_clients`), written where the IdP runs: here, or on
    its host of the hosts target (`govcloud box idp-conf put` there, the bodies on stdin: they hold the
    clients' secrets). Returns the cfgNum."""
    keys = [b["confKey"] for b in bodies]
    if len(set(keys)) != len(keys):
        raise InputError(f"duplicate OIDC client ids in {keys}")
    if not writes_conf_here(box):
        import json

        from govcloud_platform.box import remote

        done = remote.govcloud(box, "identity", ["box", "idp-conf", "put"], stdin=json.dumps(bodies))
        return int(json.loads(done.stdout)["cfgNum"])
    for body in bodies:
        check_conf_key(str(body.get("confKey", "")))

    def change(conf: dict[str, Any]) -> dict[str, Any]:
        conf["checkTime"] = 1  # see identity_conf.managed_conf
        taken = {opts.get("oidcRPMetaDataOptionsClientID"): key
                 for key, opts in conf.get("oidcRPMetaDataOptions", {}).items()}
        for body in bodies:
            owner = taken.get(body["clientId"])
            if owner is not None and owner != body["confKey"]:
                raise ConflictError(f"OIDC client id {body['clientId']} is used by {owner}")
            for section, value in conf_entries(body).items():
                conf.setdefault(section, {})[body["confKey"]] = value
        return conf

    return update_conf(conf_store(box), change, f"govcloud: {len(bodies)} OIDC clients")


def purge_cache(box: Box) -> None:
    """Drop the portal's cached configuration (`llng_store.purge_conf_cache`), where the IdP runs. With the
    configuration in the database the portals reload it by themselves within `DB_CONF_CACHE_S`: nothing to do."""
    if llng_store.in_database(box):
        return
    if not box.runs("identity"):
        from govcloud_platform.box import remote

        remote.govcloud(box, "identity", ["box", "idp-conf", "purge"])
        return
    purge_conf_cache(conf_store(box))


def _wait_until_served(box: Box, probe: dict[str, Any], wait: float) -> None:
    """Until a client-credentials token for `probe` works. A portal still serving an older configuration
    (say, a previous run wrote the clients and died) gets its cache dropped once."""
    import time

    import requests

    auth = (probe["clientId"], probe["options"]["clientSecret"])
    deadline = time.monotonic() + wait
    purged = False
    while True:
        try:
            with _session() as s:
                resp = s.post(f"{box.issuer}/oauth2/token", auth=auth,
                              data={"grant_type": "client_credentials", "scope": "openid"},
                              verify=str(box.ca_file), timeout=10)
            if resp.status_code == 200:
                return
        except requests.RequestException:
            pass
        if not purged:
            purge_cache(box)
            purged = True
        if time.monotonic() > deadline:
            raise ServiceError(f"the IdP portal did not load the new OIDC clients within {wait:.0f} s",
                               hint="check `govcloud logs identity`, then re-run: it converges")
        time.sleep(0.3)


def get_oidc_client(box: Box, client_id: str) -> dict[str, Any] | None:
    """The client as the manager API shows it (options include the secret), or None; with the configuration in
    the database, its confKey, clientId and lmConf options from the table."""
    check_conf_key(client_id)
    if llng_store.in_database(box):
        options = configured_clients(box).get(client_id)
        return None if options is None else {"confKey": client_id, "options": options,
                                             "clientId": options.get("oidcRPMetaDataOptionsClientID")}
    resp = _call(box, "GET", f"/{client_id}")
    if resp.status_code == 404:
        return None
    if resp.status_code != 200:
        raise _http_error(box, resp)
    result: dict[str, Any] = resp.json()
    return result


def list_oidc_clients(box: Box) -> list[str]:
    if llng_store.in_database(box):
        return sorted(configured_clients(box))
    resp = _call(box, "GET", "/findByConfKey?pattern=*")
    if resp.status_code != 200:
        raise _http_error(box, resp)
    return sorted(rp["confKey"] for rp in resp.json())


def remove_oidc_client(box: Box, client_id: str) -> bool:
    """Delete the client; tokens it already holds stay valid until they expire. False if it was absent."""
    check_conf_key(client_id)
    if llng_store.in_database(box):
        found: list[bool] = []

        def change(conf: dict[str, Any]) -> dict[str, Any]:
            found.append(client_id in conf.get("oidcRPMetaDataOptions", {}))
            for section, clients in conf.items():
                if section.startswith("oidcRPMetaData") and isinstance(clients, dict):
                    clients.pop(client_id, None)
            return conf

        update_conf(conf_store(box), change, f"govcloud: OIDC client {client_id} removed")
        return found[-1]
    resp = _call(box, "DELETE", f"/{client_id}")
    if resp.status_code == 404:
        return False
    if resp.status_code != 204:
        raise _http_error(box, resp)
    return True


def _manager(box: Box) -> str:
    return f"the IdP manager API at http://127.0.0.1:{box.ports.idp_manager}"


def _http_error(box: Box, resp: requests.Response, what: str = "answered") -> ServiceError:
    """One line naming the identity service: `identity (the IdP manager API at ...) answered HTTP 502 Bad
    Gateway (run `govcloud status`, ...)`; never the HTML page nginx sends when LemonLDAP::NG is down."""
    text = _error_text(resp)
    return service_failure("identity", _manager(box), f"{what}: HTTP {resp.status_code}{f' {text}' if text else ''}")


def _error_text(resp: requests.Response) -> str:
    """The API's own error message, else the HTTP reason phrase (an error page's body is not a message)."""
    try:
        doc = resp.json()
        text = str(doc.get("error", "")) if isinstance(doc, dict) else ""
    except ValueError:
        text = ""
    return " ".join((text or str(resp.reason or "")).split())[:200]
