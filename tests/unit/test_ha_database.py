"""The database on several hosts (issue 13): the pure decisions behind Patroni's configuration, pg_hba's replication
lines, the roles `status` names and the placement record's rules."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from govcloud_platform.box import placement as record
from govcloud_platform.box.ports import Ports
from govcloud_platform.box.services import dcs, patroni, pg_hba


def fake_box() -> SimpleNamespace:
    secrets = {"postgres-superuser": "su", **{v: f"pw-{k}" for k, v in patroni.SECRETS.items()}}
    return SimpleNamespace(address="10.0.0.2", ports=Ports(30000), ca_file=Path("/h/ca/ca.pem"),
                           secrets=SimpleNamespace(get_or_create=secrets.__getitem__),
                           spec=SimpleNamespace(platform=SimpleNamespace(name="demo")))


def conf() -> dict:  # type: ignore[type-arg]
    files = {"data": Path("/h/pg/data"), "bin": Path("/usr/lib/postgresql/15/bin"), "socket": Path("/h/pg/run"),
             "tls": Path("/h/pg/tls"), "hba": Path("/h/pg/pg_hba.conf"), "pgpass": Path("/h/pg/patroni/pgpass")}
    server = {"listen_addresses": "'10.0.0.2'", "port": "30000", "max_connections": "200", "ssl": "on",
              "password_encryption": "'scram-sha-256'", "archive_command": "'pgbackrest archive-push %p'"}
    return patroni.conf(fake_box(), "h2", server, files, ["10.0.0.2:30009", "10.0.0.1:30009"])  # type: ignore[arg-type]


def test_patroni_keeps_every_acknowledged_commit_and_fails_over_in_about_ttl() -> None:
    c = conf()
    dcs_conf = c["bootstrap"]["dcs"]
    assert dcs_conf["synchronous_mode"] is True and "synchronous_mode_strict" not in dcs_conf
    assert dcs_conf["failsafe_mode"] is True and dcs_conf["postgresql"]["use_pg_rewind"] is True
    assert dcs_conf["loop_wait"] + 2 * dcs_conf["retry_timeout"] <= dcs_conf["ttl"] == 20  # Patroni's rule, minimum
    assert c["postgresql"]["remove_data_directory_on_rewind_failure"] is True
    # a silent synchronous replica holds commits until the WAL sender gives it up: seconds, not PostgreSQL's minute
    timeout = c["postgresql"]["parameters"]["wal_sender_timeout"]
    assert timeout.endswith("s") and 10 <= int(timeout[:-1]) <= 15


def test_patroni_listens_on_the_hosts_address_only_with_tls_and_a_password_for_unsafe_calls() -> None:
    c = conf()
    assert c["restapi"]["listen"] == "10.0.0.2:30011" and c["restapi"]["certfile"] == "/h/pg/tls/patroni.pem"
    assert c["restapi"]["authentication"] == {"username": "patroni", "password": "pw-api"}
    assert c["postgresql"]["listen"] == "10.0.0.2:30000"
    assert c["etcd3"]["protocol"] == "https" and c["etcd3"]["hosts"][0] == "10.0.0.2:30009"
    for who in ("superuser", "replication", "rewind"):
        assert c["postgresql"]["authentication"][who]["sslmode"] == "verify-full"
    params = c["postgresql"]["parameters"]
    # the box's own settings, with govcloud's pg_hba.conf and TLS files outside the data directory
    assert params["hba_file"] == "/h/pg/pg_hba.conf" and params["ssl_cert_file"] == "/h/pg/tls/server.crt"
    assert params["archive_command"] == "pgbackrest archive-push %p" and params["port"] == "30000"
    assert "listen_addresses" not in params


def test_pg_hba_admits_replication_and_rewind_from_the_database_hosts_only() -> None:
    text = pg_hba.hba_text(["10.0.0.2/32", "10.0.0.9/32"], [], replication=["10.0.0.1", "10.0.0.2"])
    lines = text.splitlines()
    repl = [ln for ln in lines if " replication " in ln]
    assert repl == ["hostssl replication replicator 10.0.0.1/32 scram-sha-256",
                    "hostssl replication replicator 10.0.0.2/32 scram-sha-256"]
    first_reject = next(i for i, ln in enumerate(lines) if ln.endswith("reject"))
    assert all(lines.index(ln) < first_reject for ln in repl)
    assert "replication" not in pg_hba.hba_text(["10.0.0.2/32"], [])  # one host: no replication at all


@pytest.mark.parametrize(("member", "role"), [
    ({"role": "leader"}, "leader"), ({"role": "master"}, "leader"), ({"role": "primary"}, "leader"),
    ({"role": "sync_standby"}, "sync_replica"), ({"role": "replica"}, "replica"), ({}, "unknown")])
def test_status_names_patronis_roles(member: dict, role: str) -> None:  # type: ignore[type-arg]
    assert patroni.role_of(member) == role


def test_raft_role_and_lag() -> None:
    assert dcs.raft_role({"leader": "7", "header": {"member_id": "7"}}) == "leader"
    assert dcs.raft_role({"leader": "7", "header": {"member_id": "8"}}) == "follower"
    assert patroni.lag_of({"lag": 12}) == 12 and patroni.lag_of({"lag": "unknown"}) is None


def _where(host: str) -> dict[str, str]:
    return {"host": host, "address": f"10.0.0.{host[1]}"}


def test_the_placement_record_places_etcd_exactly_with_several_database_instances(tmp_path: Path) -> None:
    services = {s: _where("h1") for s in record.SERVICES}
    good = {"here": [], "services": {**services, "dcs": _where("h1")},
            "instances": {"database": [_where("h1"), _where("h2")], "dcs": [_where("h1"), _where("h2"),
                                                                            _where("h3")]}}
    placed = record.Placement.from_json(good)
    assert placed.ha_database and placed.hosts_of("dcs") == ("h1", "h2", "h3")
    assert record.Placement.from_json(json.loads(json.dumps(placed.to_json()))) == placed
    for bad in ({**good, "instances": {"database": good["instances"]["database"]}, "services": services},
                {**good, "instances": {"dcs": good["instances"]["dcs"]}}):
        with pytest.raises(ValueError, match="dcs"):
            record.Placement.from_json(bad)


def test_verify_expects_patronis_and_pgbackrests_ports_only_under_ha() -> None:
    from govcloud_platform.hosts.placement import placement_for
    from govcloud_platform.hosts.verify import expected_ports
    from govcloud_platform.spec.topology import Topology

    groups = ["database", "dcs", "storage", "identity", "proxy", "backups"]
    two = Topology.model_validate({"hosts": [{"name": "a", "address": "10.0.0.1", "groups": groups},
                                             {"name": "b", "address": "10.0.0.2", "groups": ["database", "dcs"]},
                                             {"name": "c", "address": "10.0.0.3", "groups": ["dcs"]}]})
    one = Topology.model_validate({"hosts": [{"name": "a", "address": "10.0.0.1", "groups": groups}]})
    labels = {p.label for p in expected_ports(two, placement_for(two, None), 30000, two.hosts[1])}
    assert {"postgres", "patroni_api", "pgbackrest_tls", "etcd_client", "etcd_peer"} <= labels
    single = {p.label for p in expected_ports(one, placement_for(one, None), 30000, one.hosts[0])}
    assert "postgres" in single and not single & {"patroni_api", "pgbackrest_tls"}
