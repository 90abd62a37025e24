"""Class "local" of the attacker's suite: what a local user of the box's host gets without any credential.

Agencies' apps run on this host as local users (`gc-<slug>`), so any of them is an attacker here. Two actors:
an unprivileged user made for the test (removed after, even on failure), and the system user of one agency's
app (`sec-intruder`'s, with the cheapest app, opendata, deployed for it and for the victim). Each tries, as
itself from exec on (tests/security/local_probe.py under the system Python): to read every regular file under
the box directory and to list every directory in it (all found by root first), to create a file in every
directory and to open every file for writing, to connect to every Unix socket of the box (in the box and in
/tmp), and to write into the apps' shared virtualenv cache. One row per area of the box (storage, logs,
database, ...): a new directory in the box fails `test_every_path_of_the_home_is_in_an_area` until it has a
row. What is public by design (the CA certificate, the apps' code and static files) is allowed; see
docs/storage-security.md, "Permissions". Then every TCP port of the box without credentials (in-process: a
port does not know the caller's uid), the database log (no statement text, no failing row), and a whole box
lifecycle on a box of its own: after up, agency add, S3 writes, backups and down nothing is readable or
writable by others, and `up` repairs a box whose files an older govcloud left world-readable."""

from __future__ import annotations

import os
import pwd
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from govcloud_platform.box.ports import GRPC_PORTS, GRPC_SHIFT
from govcloud_platform.names import system_user
from tests.conftest import BoxHandle, make_box, teardown_box
from tests.integration.test_agencies import s3_for
from tests.integration.test_storage_security import REFUSED, grpc_handshake, http, plaintext_grpc_answers
from tests.security.conftest import INTRUDER, VICTIM
from tests.security.local_common import (
    APP,
    AREAS,
    VENV_CACHE,
    Actor,
    Paths,
    area_of,
    exposed,
    is_public,
    loosen_like_an_old_box,
    run_probe,
    walk,
)
from tests.security.matrix import attack

pytestmark = [pytest.mark.integration, pytest.mark.slow]


# --- the actors ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def local_user() -> Iterator[Actor]:
    """A fresh unprivileged user (no home, no shell, no groups), removed at the end whatever happens."""
    name = f"secl-{secrets.token_hex(4)}"
    subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                    "--shell", "/usr/sbin/nologin", name], check=True, capture_output=True)
    try:
        entry = pwd.getpwnam(name)
        yield Actor("an unprivileged local user", entry.pw_uid, entry.pw_gid)
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)
        subprocess.run(["groupdel", name], check=False, capture_output=True)


@pytest.fixture(scope="module")
def deployed(box: BoxHandle, tenants: dict[str, dict[str, Any]]) -> Iterator[None]:
    """opendata for both agencies, through the same code path as any deploy (their system users and instance
    directories come from the roles); the victim publishes a CSV, so its instance holds data. Removed after."""
    s3_for(tenants[VICTIM]["storage"]).put_object(
        Bucket=tenants[VICTIM]["storage"]["bucket"], Key="opendata/citizens.csv", Body=b"name,cnic\nali,35202\n")
    try:
        for slug in (VICTIM, INTRUDER):
            result = box.cli("app", "deploy", slug, APP, timeout=900)
            assert result.rc == 0, result.stderr[-2000:]
        yield
    finally:
        for slug in (VICTIM, INTRUDER):
            box.cli("app", "remove", slug, APP, "--purge-data", timeout=600)


@pytest.fixture(scope="module")
def app_user(deployed: None) -> Actor:
    entry = pwd.getpwnam(system_user(INTRUDER))
    return Actor(f"{INTRUDER}'s app user", entry.pw_uid, entry.pw_gid, own=f"apps/instances/{INTRUDER}")


@dataclass
class View:
    """What one actor managed, by area: {area: {attempt kind: [paths]}}, plus the box's /tmp sockets and the
    venv cache."""

    areas: dict[str, dict[str, list[str]]]
    tmp_sockets: list[str]
    cache_writes: list[str]
    tried: dict[str, int]


def tmp_sockets(box: BoxHandle) -> list[str]:
    """The box's sockets in /tmp: SeaweedFS's gRPC ones (fixed there by weed) and scratch clusters'."""
    ports = {str(port) for _, _, port in box.box().ports.all()}
    return sorted(str(p) for p in Path("/tmp").glob("*.sock") if p.stem.rsplit("-", 1)[-1] in ports)


def look(box: BoxHandle, actor: Actor) -> View:
    home = box.home
    found = walk(home)

    def rel(path: str) -> str:
        return os.path.relpath(path, home) if path != str(home) else ""

    def mine(path: str) -> bool:
        r = rel(path)
        return actor.own is not None and (r == actor.own or r.startswith(actor.own + "/"))

    files = [f for f in found.files if not mine(f)]
    dirs = [d for d in found.dirs if not mine(d)]
    socks = [s for s in found.sockets if not mine(s)]
    cache = walk(VENV_CACHE) if VENV_CACHE.is_dir() else Paths([], [], [])
    extra = tmp_sockets(box)
    done = run_probe(actor, {
        "read": [f for f in files if not is_public(rel(f))],
        "list": [d for d in dirs if not is_public(rel(d))],
        "write_dir": dirs + cache.dirs,
        "write_file": files + cache.files,
        "connect": socks + extra,
    })
    areas: dict[str, dict[str, list[str]]] = {a: {} for a in AREAS}
    for kind in ("read", "list", "write_dir", "write_file", "connect"):
        for path in done[kind]:
            if path.startswith(str(home)):
                areas[area_of(rel(path)) or "uncovered"].setdefault(kind, []).append(path)
    return View(areas, [p for p in done["connect"] if p in extra],
                [p for p in done["write_dir"] + done["write_file"] if p.startswith(str(VENV_CACHE))],
                {"files": len(files), "dirs": len(dirs), "sockets": len(socks) + len(extra),
                 "cache": len(cache.files) + len(cache.dirs)})


@pytest.fixture(scope="module")
def views(box: BoxHandle, local_user: Actor, app_user: Actor) -> dict[str, View]:
    """Both actors' attempts, made once after the apps are deployed (each row reads its part)."""
    return {"local": look(box, local_user), "app": look(box, app_user)}


ACTORS = {"local": "an unprivileged local user", "app": f"{INTRUDER}'s app user ({system_user(INTRUDER)})"}


def failures(found: dict[str, list[str]], kinds: tuple[str, ...]) -> str:
    hits = [f"{k}: {p}" for k in kinds for p in found.get(k, [])]
    return f"{len(hits)} paths, e.g. " + "; ".join(hits[:8]) if hits else ""


# --- the rows -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("area", list(AREAS))
@pytest.mark.parametrize("actor", list(ACTORS))
def test_reads_nothing(views: dict[str, View], actor: str, area: str) -> None:
    """Every regular file not public: unreadable; every directory not public: unlistable."""
    with attack("local", f"{ACTORS[actor]} reads or lists {area}") as attempt:
        attempt.detail = failures(views[actor].areas[area], ("read", "list"))
        attempt.succeeded = bool(attempt.detail)


@pytest.mark.parametrize("area", list(AREAS))
@pytest.mark.parametrize("actor", list(ACTORS))
def test_writes_nothing(views: dict[str, View], actor: str, area: str) -> None:
    """No directory takes a new file and no file opens for writing (public ones included)."""
    with attack("local", f"{ACTORS[actor]} writes into {area}") as attempt:
        attempt.detail = failures(views[actor].areas[area], ("write_dir", "write_file"))
        attempt.succeeded = bool(attempt.detail)


@pytest.mark.parametrize("where", ["in the box", "in /tmp (SeaweedFS gRPC, scratch clusters)"])
@pytest.mark.parametrize("actor", list(ACTORS))
def test_connects_to_no_unix_socket(views: dict[str, View], actor: str, where: str) -> None:
    view = views[actor]
    with attack("local", f"{ACTORS[actor]} connects to the box's Unix sockets {where}") as attempt:
        if where == "in the box":
            hits = [p for found in view.areas.values() for p in found.get("connect", [])]
        else:
            hits = view.tmp_sockets
        attempt.detail = "; ".join(hits)
        attempt.succeeded = bool(hits)


@pytest.mark.parametrize("actor", list(ACTORS))
def test_cannot_change_the_shared_app_virtualenvs(views: dict[str, View], actor: str) -> None:
    """Every agency's app runs the code in the venv cache: nobody but root may change it."""
    with attack("local", f"{ACTORS[actor]} writes into the apps' shared virtualenv cache") as attempt:
        attempt.detail = "; ".join(views[actor].cache_writes[:8])
        attempt.succeeded = bool(views[actor].cache_writes)


def test_every_path_of_the_home_is_in_an_area(box: BoxHandle, views: dict[str, View]) -> None:
    """A new directory in the box needs its row (AREAS): until then this fails."""
    found = walk(box.home)
    uncovered = [p for p in found.files + found.dirs + found.sockets
                 if area_of(os.path.relpath(p, box.home)) is None]
    assert not uncovered, uncovered[:10]
    assert not views["local"].areas.get("uncovered") and not views["app"].areas.get("uncovered")


def test_controls_the_probe_sees_what_it_may(box: BoxHandle, tenants: dict[str, Any], local_user: Actor,
                                             app_user: Actor, views: dict[str, View]) -> None:
    """The probe is not blind: the public CA certificate reads, the app user reads its own instance settings,
    and the attempts covered the whole box."""
    ca = str(box.home / "ca" / "ca.pem")
    env = next((box.home / "apps" / "instances" / INTRUDER / APP).glob("*.env"))
    assert run_probe(local_user, {"read": [ca]})["read"] == [ca]
    assert run_probe(app_user, {"read": [str(env)], "list": [str(env.parent)]})["read"] == [str(env)]
    for view in views.values():
        assert view.tried["files"] > 500 and view.tried["dirs"] > 50 and view.tried["sockets"] >= 4, view.tried


# --- ports, without credentials -------------------------------------------------------------------------
def _pg(tenants: dict[str, Any], user: str) -> tuple[bool, str]:
    db = tenants[VICTIM]["database"]
    try:
        psycopg.connect(host=db["host"], port=db["port"], dbname=db["dbname"], user=user, sslmode="verify-full",
                        sslrootcert=db["sslrootcert"], passfile="/dev/null", connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        return False, str(exc).strip().splitlines()[-1][:120]
    return True, "connected"


def _s3(tenants: dict[str, Any], method: str, path: str) -> tuple[bool, str]:
    storage = tenants[VICTIM]["storage"]
    with requests.Session() as s:
        s.trust_env = False
        resp = s.request(method, f"{storage['endpoint']}{path}", data=b"planted" if method == "PUT" else None,
                         verify=storage["ca_file"], timeout=10)
    return resp.ok, f"HTTP {resp.status_code}"


def _every_bucket(box: BoxHandle, tenants: dict[str, Any]) -> tuple[bool, str]:
    names = [b["Name"] for b in box.box().s3_client().list_buckets()["Buckets"]]
    answers = {n: _s3(tenants, "GET", f"/{n}") for n in names}
    assert len(names) >= 3
    return any(ok for ok, _ in answers.values()), "; ".join(f"{n}: {d}" for n, (ok, d) in answers.items() if ok)


def _manager(box: BoxHandle, method: str) -> tuple[bool, str]:
    url = f"http://127.0.0.1:{box.box().ports.idp_manager}/api/v1/providers/oidc/rp"
    with requests.Session() as s:
        s.trust_env = False
        resp = (s.get(url + "/findByConfKey?pattern=*", timeout=10) if method == "GET"
                else s.post(url, json={"confKey": "sec-local-planted", "clientId": "x"}, timeout=10))
    return resp.status_code != 401, f"HTTP {resp.status_code}"


def _weed_http(box: BoxHandle, label: str, path: str) -> tuple[bool, str]:
    status, body = http(f"http://127.0.0.1:{getattr(box.box().ports, label)}{path}")
    return status not in (*REFUSED, 400), f"HTTP {status} {body[:60]!r}"


def _grpc(box: BoxHandle, label: str, tls: bool) -> tuple[bool, str]:
    b = box.box()
    port = getattr(b.ports, label) + GRPC_SHIFT
    ok = grpc_handshake(port, b.ca_file, None) if tls else plaintext_grpc_answers(port)
    return ok, f"port {port} answered HTTP/2" if ok else ""


PORTS: dict[str, Callable[[BoxHandle, dict[str, Any]], tuple[bool, str]]] = {
    "database: the victim's owner role without a password": lambda b, t: _pg(t, t[VICTIM]["database"]["user"]),
    "database: the victim's read-only role without a password":
        lambda b, t: _pg(t, t[VICTIM]["database"]["readonly_user"]),
    "database: the postgres superuser without a password": lambda b, t: _pg(t, "postgres"),
    "storage: anonymous ListBuckets": lambda b, t: _s3(t, "GET", "/"),
    "storage: anonymous ListObjects on every bucket of the box": _every_bucket,
    "storage: anonymous GetObject from the victim's bucket":
        lambda b, t: _s3(t, "GET", f"/{t[VICTIM]['storage']['bucket']}/opendata/citizens.csv"),
    "storage: anonymous PutObject into the victim's bucket":
        lambda b, t: _s3(t, "PUT", f"/{t[VICTIM]['storage']['bucket']}/planted.txt"),
    "identity: manager API lists relying parties without the platform password": lambda b, t: _manager(b, "GET"),
    "identity: manager API adds a relying party without the platform password": lambda b, t: _manager(b, "POST"),
    "storage internals: master HTTP API (/dir/assign)": lambda b, t: _weed_http(b, "weed_master", "/dir/assign"),
    "storage internals: filer HTTP API (the victim's bucket)":
        lambda b, t: _weed_http(b, "weed_filer", f"/buckets/{t[VICTIM]['storage']['bucket']}/"),
    "storage internals: volume server over plain HTTP": lambda b, t: _weed_http(b, "weed_volume", "/status"),
    **{f"storage internals: {label} gRPC in plain text": (lambda lb: lambda b, t: _grpc(b, lb, False))(label)
       for label in GRPC_PORTS},
    **{f"storage internals: {label} gRPC over TLS without a client certificate":
       (lambda lb: lambda b, t: _grpc(b, lb, True))(label) for label in GRPC_PORTS},
}


@pytest.mark.parametrize("target", list(PORTS))
def test_ports_without_credentials(box: BoxHandle, tenants: dict[str, Any], deployed: None, target: str,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials (ca_file, endpoints) come from `agency credentials --json`; the storage internals' ports are
    the box's (tests/integration/test_storage_security.py proves more about them, as root)."""
    for var in ("PGPASSWORD", "PGPASSFILE", "PGSERVICE"):
        monkeypatch.delenv(var, raising=False)
    with attack("local", target) as attempt:
        attempt.succeeded, attempt.detail = PORTS[target](box, tenants)


def test_controls_the_owner_gets_in(tenants: dict[str, Any], deployed: None) -> None:
    """The same endpoints serve the victim with its own credentials (else a refusal above proves nothing)."""
    db, storage = tenants[VICTIM]["database"], tenants[VICTIM]["storage"]
    with psycopg.connect(host=db["host"], port=db["port"], dbname=db["dbname"], user=db["user"],
                         password=db["password"], sslmode="verify-full", sslrootcert=db["sslrootcert"]) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    body = s3_for(storage).get_object(Bucket=storage["bucket"], Key="opendata/citizens.csv")["Body"].read()
    assert body.startswith(b"name,cnic")
    assert "Contents" not in s3_for(storage).list_objects_v2(Bucket=storage["bucket"], Prefix="planted")


# --- logs ---------------------------------------------------------------------------------------------
def test_database_log_holds_no_statement_text(box: BoxHandle, tenants: dict[str, Any]) -> None:
    """Another agency's failed statements once sat in the (world-readable) database log, a planted citizen
    record with them: no statement text, no failing row is logged unless an operator turns it on."""
    db = tenants[VICTIM]["database"]
    planted = f"citizen-{secrets.token_hex(6)}"
    with psycopg.connect(host=db["host"], port=db["port"], dbname=db["dbname"], user=db["user"],
                         password=db["password"], sslmode="verify-full", sslrootcert=db["sslrootcert"],
                         autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS sec_local_people (name text NOT NULL, cnic text NOT NULL)")
        for statement, args in ((f"INSERT INTO sec_local_no_such_table VALUES ('{planted}')", None),
                                ("INSERT INTO sec_local_people (name, cnic) VALUES (%s, NULL)", (planted,))):
            with pytest.raises(psycopg.Error):
                conn.execute(statement, args)
        conn.execute("DROP TABLE sec_local_people")
    log = box.home / "logs" / "database.log"
    deadline = time.monotonic() + 5
    while "sec_local_no_such_table" not in log.read_text(errors="replace") and time.monotonic() < deadline:
        time.sleep(0.2)  # the error itself is logged (relation names only): wait for it
    with attack("local", "the database log keeps another agency's failed statements and rows") as attempt:
        text = log.read_text(errors="replace")
        attempt.succeeded = planted in text
        attempt.detail = next((line for line in text.splitlines() if planted in line), "")[:200]


# --- a whole lifecycle on a box of its own ------------------------------------------------------------
def test_a_box_lifecycle_exposes_nothing_and_up_repairs_an_old_box() -> None:
    handle = make_box("local-modes")
    try:
        result = handle.cli("up", "--port-base", str(handle.port_base), timeout=600)
        assert result.rc == 0, result.stderr[-2000:]
        b = handle.box()
        with b.pg_admin() as conn:  # an operator logging DDL still never logs an agency's password
            conn.execute("ALTER SYSTEM SET log_statement = 'ddl'")
            conn.execute("SELECT pg_reload_conf()")
        assert handle.cli("agency", "add", "modes", "--name", "Modes").rc == 0
        creds = handle.cli("--json", "agency", "credentials", "modes", "--show-secrets").json()
        s3 = s3_for(creds["storage"])
        for i in range(3):
            s3.put_object(Bucket=creds["storage"]["bucket"], Key=f"records/{i}.csv", Body=b"name\nali\n" * 100)
        for args in (("backup", "run"), ("backup", "run", "--agency", "modes")):
            ran = handle.cli(*args, timeout=600)
            assert ran.rc == 0, ran.stderr[-2000:]
        log = (handle.home / "logs" / "database.log").read_text(errors="replace")
        assert "SCRAM-SHA-256$" in log  # the CREATE ROLE was logged: with a verifier, not the password
        assert creds["database"]["password"] not in log and creds["database"]["readonly_password"] not in log
        assert handle.cli("down", timeout=300).rc == 0
        assert exposed(handle.home) == []
        loosen_like_an_old_box(handle.home)
        assert len(exposed(handle.home)) > 50
        result = handle.cli("up", timeout=600)
        assert result.rc == 0, result.stderr[-2000:]
        assert handle.cli("agency", "add", "modes-two", "--name", "Modes two").rc == 0  # new volumes, new files
        two = handle.cli("--json", "agency", "credentials", "modes-two", "--show-secrets").json()["storage"]
        s3_for(two).put_object(Bucket=two["bucket"], Key="a.csv", Body=b"name\nali\n")
        assert exposed(handle.home) == []
        assert handle.cli("status").rc == 0
    finally:
        teardown_box(handle)
