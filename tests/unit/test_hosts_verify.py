"""`verify` on the hosts target: what each host must show and what an observation means (pure parts)."""

from __future__ import annotations

from govcloud_platform.box.placement import Placement, Where
from govcloud_platform.hosts.preflight import PortNeed
from govcloud_platform.hosts.verify import (
    Observed,
    expected_ports,
    host_checks,
    listener,
    listener_checks,
    mode_checks,
    parse_find,
    program_checks,
)
from govcloud_platform.spec.topology import Topology

BASE = 30000


def lab3() -> Topology:
    return Topology.model_validate({"hosts": [
        {"name": "h1", "address": "10.0.0.11", "groups": ["storage", "identity", "proxy"]},
        {"name": "h2", "address": "10.0.0.12", "groups": ["database", "backups", "identity"]},
        {"name": "h3", "address": "10.0.0.13", "groups": ["storage"]},
    ]})


def placement() -> Placement:
    where = {"storage": ("h1", "10.0.0.11"), "identity": ("h1", "10.0.0.11"), "database": ("h2", "10.0.0.12"),
             "backups": ("h2", "10.0.0.12")}
    return Placement(here=(), services={s: Where(h, a) for s, (h, a) in where.items()})


def test_a_host_is_expected_to_bind_the_ports_of_the_services_placed_there_only() -> None:
    t = lab3()
    h1 = {p.label: p.address for p in expected_ports(t, placement(), BASE, t.hosts[0])}
    assert h1["s3_https"] == "10.0.0.11" and h1["idp_manager"] == "127.0.0.1" and "postgres" not in h1
    assert "proxy_https" not in h1  # the apps' edge: bound once apps are published on hosts
    h2 = {p.label for p in expected_ports(t, placement(), BASE, t.hosts[1])}
    assert "postgres" in h2 and "idp_https" not in h2  # in the identity group, but identity runs on h1
    assert expected_ports(t, placement(), BASE, t.hosts[2]) == []  # runs nothing


def test_listeners_are_parsed_as_testinfra_gives_them() -> None:
    assert listener("tcp://10.0.0.11:30003") == ("10.0.0.11", 30003)
    assert listener("tcp://:::22") == ("::", 22)
    assert listener("unix:///run/x.sock") is None


PG = PortNeed("postgres", BASE, "10.0.0.12")
MANAGER = PortNeed("idp_manager", BASE + 2, "127.0.0.1")


def test_each_port_on_its_address_and_nothing_else_outside() -> None:
    good = listener_checks([PG, MANAGER], [f"tcp://10.0.0.12:{BASE}", f"tcp://127.0.0.1:{BASE}",
                                           f"tcp://127.0.0.1:{BASE + 2}", "tcp://0.0.0.0:22", "tcp://127.0.0.1:9"], 22)
    assert all(ok for _s, _c, ok, _d in good) and good[0][0] == "database" and good[1][0] == "identity"
    bad = {check: (ok, detail) for _s, check, ok, detail in listener_checks(
        [PG, MANAGER], [f"tcp://0.0.0.0:{BASE}", f"tcp://10.0.0.12:{BASE + 2}", "tcp://10.0.0.12:8080"], 22)}
    assert bad[f"port {BASE} (postgres) on 10.0.0.12"] == (False, "nothing listens on 10.0.0.12")
    assert bad[f"port {BASE + 2} (idp_manager) on 127.0.0.1"] == (False, "nothing listens on 127.0.0.1")
    assert bad["nothing else listens outside the host but sshd"] == (False, "10.0.0.12:8080")
    wide = listener_checks([PG], [f"tcp://10.0.0.12:{BASE}", f"tcp://:::{BASE}"], 22)
    assert wide[0][2:] == (False, "also on ::")


def test_programs_must_run_and_a_supervisord_without_programs_fails() -> None:
    assert [ok for *_x, ok, _d in program_checks({"database": "RUNNING", "nginx": "FATAL"})] == [True, False]
    assert program_checks({})[0][2] is False


def test_modes_follow_the_box_scheme_and_secrets_are_0600_root() -> None:
    found = parse_find("\\t711\\td\\troot\nsecrets\\t700\\td\\troot\nsecrets/a\\t600\\tf\\troot\n"
                       "ca/ca.key\\t600\\tf\\troot\nca/ca.pem\\t644\\tf\\troot\nlink\\t777\\tl\\troot\nbad line\n"
                       "idp/run/fcgi.sock\\t711\\ts\\twww-data\n"
                       .replace("\\t", "\t"))
    assert [rel for rel, *_ in found] == ["", "secrets", "secrets/a", "ca/ca.key", "ca/ca.pem"]
    checks = {c: ok for _s, c, ok, _d in mode_checks(found)}
    assert checks == {"permissions follow the box's scheme": True, "secret files 0600 and root's (2)": True,
                      "the CA's key stays on the control": False}  # an older govcloud copied it there
    assert all(ok for _s, _c, ok, _d in mode_checks([f for f in found if f[0] != "ca/ca.key"]))
    worse = [(rel, 0o644 if rel == "secrets/a" else mode, d, "postgres" if rel == "ca/ca.key" else o)
             for rel, mode, d, o in found]
    (_s, _c, ok_modes, modes), (_s2, check, ok_secrets, secrets), _ca = mode_checks(worse)
    assert not ok_modes and modes == "secrets/a 0644 (want 0640)"
    assert not ok_secrets and check == "secret files 0600 and root's (2)"
    assert secrets == "secrets/a 0644 root; ca/ca.key 0600 postgres"
    assert mode_checks([])[1][2] is False  # a home without any secret is not what the deploy made
    assert mode_checks([], secrets_expected=False)[1][2] is True  # but the apps' front and the edge need none
    # SeaweedFS forces its volume info files 0644 (inside root's 0700 s3/): accepted, as on the box
    assert mode_checks([("s3", 0o700, True, "root"), ("s3/data/ag-a_2.vif", 0o644, False, "root")])[0][2] is True


def test_an_unreachable_host_is_one_failed_check_naming_why() -> None:
    rows = host_checks("h2", [PG], Observed(error="not reachable over SSH: Connection timed out"), 22)
    assert [(r.host, r.check, r.ok) for r in rows] == [("h2", "reachable over SSH and checked", False)]
    ok = host_checks("h2", [PG], Observed(sockets=[f"tcp://10.0.0.12:{BASE}"], programs={"database": "RUNNING"},
                                          paths=[("secrets/a", 0o600, False, "root")]), 22)
    assert all(r.ok for r in ok) and {r.service for r in ok} == {None, "database"}
    assert ok[0].as_dict()["host"] == "h2"


def test_why_a_host_could_not_be_checked() -> None:
    from types import SimpleNamespace

    from govcloud_platform.hosts.verify import observe_error

    ssh = SimpleNamespace(exit_status=255, stderr="ssh: connect to host h2 port 22: Connection timed out\n")
    assert observe_error(RuntimeError(ssh)) == (
        "not reachable over SSH: ssh: connect to host h2 port 22: Connection timed out")
    assert observe_error(ValueError("bad")) == "could not be checked: ValueError: bad"
