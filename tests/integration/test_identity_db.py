"""The IdP in its database mode (`llng_store.in_database`: what the hosts target uses with a Patroni cluster), for
real on one machine: LemonLDAP::NG's configuration in the `lmconfig` table (CDBI) and its sessions, OIDC codes and
tokens in LOGGED PgJSON tables, no local session cache. The lab (`test_hosts_ha`) proves they survive a failover;
here, that the portal and its manager API work from them and that the database is the one truth.

The mode is chosen by the placement (several database hosts); this module turns it on for a box on one machine
(`in_database` patched), a throwaway PostgreSQL and the programs under subprocess, as `test_identity` does."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from govcloud_platform.box import idp_api, llng_store
from govcloud_platform.box.context import Box
from govcloud_platform.box.idp_api import conf_store
from govcloud_platform.box.llng_store import PgStore, latest_conf, update_conf
from govcloud_platform.box.oidc_clients import conf_entries, oidc_client
from govcloud_platform.box.ports import free_port_base
from govcloud_platform.box.services.base import Program
from govcloud_platform.box.services.identity import IdentityService
from govcloud_platform.spec.example import EXAMPLE_SPEC
from govcloud_platform.spec.loader import load_spec_text
from tests.integration._pg import running_postgres
from tests.integration.test_identity import ADMIT, REDIRECT_A, RunningIdp, _start, _stop
from tests.oidc import authorize, browser, code_from, login, token

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TABLES = ("lmconfig", "sessions", "psessions", "oidcsessions")


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningIdp]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(llng_store, "in_database", lambda box: True)  # callers ask `llng_store.in_database`
        box = Box(home=tmp_path_factory.mktemp("idpdb") / "box", spec=load_spec_text(EXAMPLE_SPEC),
                  port_base=free_port_base())
        service = IdentityService()
        service.check_binaries(box)
        # a box that kept files before (its database became a cluster): its newest revision, with a client
        (box.home / "idp" / "conf").mkdir(parents=True)
        body = oidc_client(box, "from-files", "s3cr3t-from-files", ["https://f.localhost/cb"], "F", admit=ADMIT)
        old = {section: {"from-files": value} for section, value in conf_entries(body).items()}
        (box.home / "idp" / "conf" / "lmConf-7.json").write_text(json.dumps({"cfgNum": 7, **old}))
        with running_postgres(box):
            service.prepare(box)
            started: list[tuple[Program, Any]] = []
            try:
                t0 = time.monotonic()
                for prog in sorted(service.programs(box), key=lambda p: p.priority):
                    started.append((prog, _start(box, prog)))
                service.wait_ready(box, timeout=30)
                service.post_start(box)
                yield RunningIdp(box, service, time.monotonic() - t0, [p for _, p in started])
            finally:
                _stop(started)


@pytest.fixture(scope="module")
def client_a(idp: RunningIdp) -> tuple[str, str]:
    secret = idp.box.secrets.get_or_create("test-client-a")
    idp_api.add_oidc_client(idp.box, "app-a", secret, [REDIRECT_A], "App A", admit=ADMIT)
    return "app-a", secret


def _rows(box: Box, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with box.pg_admin(idp_api.IDP_DB) as conn:
        return conn.execute(sql, args).fetchall()


def test_the_configuration_lives_in_the_database_only(idp: RunningIdp) -> None:
    box = idp.box
    store = conf_store(box)
    assert isinstance(store, PgStore)
    num, conf = latest_conf(store)
    assert num >= 1 and conf["cfgNum"] == num and conf["portal"] == f"{box.issuer}/"
    assert conf["globalStorage"] == "Apache::Session::Browseable::PgJSON" and conf["localSessionStorage"] == ""
    assert conf["tokenUseGlobalStorage"] == 1 and conf["oidcStorageOptions"]["TableName"] == "oidcsessions"
    # the files' newest revision came along (its number kept, its client too), and nothing new went to files
    seeded = _rows(box, "SELECT data FROM lmconfig WHERE cfgnum = 7")
    assert seeded and "from-files" in json.loads(seeded[0][0])["oidcRPMetaDataOptions"]
    assert num > 7 and "from-files" in conf["oidcRPMetaDataOptions"]
    assert [f.name for f in (box.home / "idp" / "conf").glob("lmConf-*.json")] == ["lmConf-7.json"]
    ini = (box.home / "idp" / "lemonldap-ng.ini").read_text()
    assert "type = CDBI" in ini and (box.home / "idp" / "lemonldap-ng.ini").stat().st_mode & 0o777 == 0o640
    # every table LOGGED (relpersistence p): a promoted replica has what the leader had
    got = dict(_rows(box, "SELECT relname, relpersistence FROM pg_class WHERE relname = ANY(%s)", list(TABLES)))
    assert got == dict.fromkeys(TABLES, "p")
    # the IdP's role reads and writes them; nobody else but the superuser
    assert _rows(box, "SELECT count(*) FROM information_schema.role_table_grants WHERE grantee = 'PUBLIC' "
                      "AND table_name = ANY(%s)", list(TABLES)) == [(0,)]


def test_a_client_the_manager_api_adds_is_a_new_revision_in_the_table(idp: RunningIdp,
                                                                       client_a: tuple[str, str]) -> None:
    box = idp.box
    num, conf = latest_conf(conf_store(box))
    assert "app-a" in conf["oidcRPMetaDataOptions"]  # written to the table (no manager API: a host may be lost)
    assert _rows(box, "SELECT max(cfgnum) FROM lmconfig") == [(num,)]
    # LLNG's own manager reads the same table
    shown = idp_api._call(box, "GET", "/app-a")
    assert shown.status_code == 200 and shown.json()["clientId"] == "app-a"
    assert idp_api.get_oidc_client(box, "app-a")["clientId"] == "app-a"  # type: ignore[index]
    assert "app-a" in idp_api.list_oidc_clients(box)
    # and ours: a client written by our writer is served (a client-credentials token proves it)
    secret = box.secrets.get_or_create("test-client-b")
    body = oidc_client(box, "app-b", secret, ["https://app-b.localhost/cb"], "App B", admit=ADMIT,
                               allow_client_credentials=True)
    assert idp_api.put_oidc_clients(box, [body]) == num + 1
    assert idp_api.configured_clients(box)["app-b"]["oidcRPMetaDataOptionsClientID"] == "app-b"
    # removed: a revision without it, and its token refused once the portal reloads
    assert idp_api.remove_oidc_client(box, "app-b") and not idp_api.remove_oidc_client(box, "app-b")
    assert "app-b" not in idp_api.list_oidc_clients(box)
    deadline = time.monotonic() + 10
    while True:
        tok = browser(box).post(f"{box.issuer}/oauth2/token", auth=("app-b", secret),
                                data={"grant_type": "client_credentials", "scope": "openid"})
        if tok.status_code != 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert tok.status_code in (400, 401), tok.text


def test_a_login_is_a_session_row_and_the_row_is_the_truth(idp: RunningIdp, client_a: tuple[str, str]) -> None:
    """The SSO session, the code and the tokens are rows; a session whose row is gone is gone at once (no local
    cache keeps it alive on this host or another)."""
    box = idp.box
    ident = box.spec.platform.services.identity
    s = browser(box)
    code = code_from(login(s, box, client_a[0], REDIRECT_A, ident.operator_user,
                           box.secrets.get("idp-operator-password") or ""), REDIRECT_A)
    assert code
    tok = token(box, code, REDIRECT_A, *client_a)
    assert tok.status_code == 200, tok.text
    sso = next(c.value for c in s.cookies if c.name == "govcloud_sso")
    assert _rows(box, "SELECT a_session ->> '_user' FROM sessions WHERE id = %s", sso) == [(ident.operator_user,)]
    kinds = {k for (k,) in _rows(box, "SELECT a_session ->> '_type' FROM oidcsessions")}
    assert "access_token" in kinds, kinds
    # the SSO session answers the next authorization without a form
    assert code_from(authorize(s, box, client_a[0], REDIRECT_A), REDIRECT_A)
    userinfo = browser(box).get(f"{box.issuer}/oauth2/userinfo",
                                headers={"Authorization": f"Bearer {tok.json()['access_token']}"})
    assert userinfo.status_code == 200, userinfo.text
    with box.pg_admin(idp_api.IDP_DB) as conn:
        conn.execute("DELETE FROM sessions WHERE id = %s", (sso,))
    again = authorize(s, box, client_a[0], REDIRECT_A)
    assert code_from(again, REDIRECT_A) is None and 'name="password"' in again.text  # the form again


def test_writers_of_the_table_take_turns(idp: RunningIdp) -> None:
    """Two writers at once (say, `up` and an agency's onboarding on two hosts): each revision builds on the one
    before, none is lost, numbers follow each other."""
    store = conf_store(idp.box)
    start = latest_conf(store)[0]
    gate = threading.Barrier(2)
    errors: list[BaseException] = []

    def write(key: str) -> None:
        try:
            gate.wait()
            update_conf(store, lambda c: {**c, "macros": {**c.get("macros", {}), key: "1"}}, key)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(k,)) for k in ("fromA", "fromB")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    num, conf = latest_conf(store)
    assert num == start + 2 and {"fromA", "fromB"} <= set(conf["macros"])
    with psycopg.connect(**store.conninfo) as conn:  # the IdP's role cannot drop the history
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DROP TABLE lmconfig")
