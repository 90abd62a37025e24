"""Where the shared services run on the hosts target (`hosts.placement`) and the record a home keeps of it."""

from __future__ import annotations

import json

import pytest

from govcloud_platform.box import placement as record
from govcloud_platform.errors import BoxDamaged
from govcloud_platform.hosts.placement import (
    host_losses,
    hosts_in_use,
    instances,
    place,
    placement_for,
    resilience_note,
)
from govcloud_platform.spec.topology import Topology


def topo(*hosts: tuple[str, list[str]]) -> Topology:
    return Topology.model_validate(
        {"hosts": [{"name": n, "address": f"10.0.0.{i + 1}", "groups": g} for i, (n, g) in enumerate(hosts)]})


def names(t: Topology) -> dict[str, str]:
    return {s: h.name for s, h in place(t).items()}


def test_one_host_runs_everything() -> None:
    t = topo(("a", ["database", "storage", "identity", "proxy", "backups"]))
    assert names(t) == {"storage": "a", "database": "a", "identity": "a", "backups": "a"}


def test_services_spread_over_the_hosts_of_their_groups() -> None:
    both = ["database", "dcs", "storage", "identity", "proxy"]
    t = topo(("h1", both), ("h2", both), ("h3", ["dcs", "storage", "backups", "apps"]))
    # two database hosts: the database on both (under Patroni), etcd on the dcs hosts; the chosen database
    # instance (where backups run and `up` keeps the leader) where fewest services run
    assert names(t) == {"storage": "h1", "dcs": "h2", "database": "h2", "identity": "h2", "backups": "h2",
                        "apps": "h3", "proxy": "h1"}
    every = {s: [h.name for h in hs] for s, hs in instances(t).items()}
    assert every["database"] == ["h2", "h1"] and every["dcs"] == ["h2", "h1", "h3"]


def test_apps_hosts_bring_the_apps_front_and_the_edge() -> None:
    """Without `apps` hosts neither is placed; where the edge runs on the apps' host itself, the apps' virtual hosts
    stay on its loopback (the edge binds the host's address); elsewhere they listen on the apps host's address."""
    t = topo(("a", ["database", "storage", "identity", "proxy", "backups"]))
    assert "apps" not in place(t) and "proxy" not in place(t) and placement_for(t, "a").placed() == record.SERVICES
    both = topo(("d", ["database", "storage", "backups"]), ("e", ["identity", "proxy", "apps"]))
    assert names(both)["apps"] == names(both)["proxy"] == "e"
    assert record.apps_listen_address(placement_for(both, "e")) == "127.0.0.1"
    apart = topo(("d", ["database", "storage", "backups", "proxy"]), ("e", ["identity", "apps"]))
    assert names(apart)["apps"] == "e" and names(apart)["proxy"] == "d"
    assert record.apps_listen_address(placement_for(apart, "d")) == "10.0.0.2"
    assert record.apps_listen_address(None) == "127.0.0.1"


def test_the_edge_runs_on_every_proxy_host_but_the_apps_own() -> None:
    """Every proxy host runs an edge (one lost leaves the others), except the apps' host when there are others
    (its edge and the apps' front would share the proxy port). The record keeps them all, the chosen one first."""
    both = ["database", "dcs", "storage", "identity", "proxy"]
    t = topo(("h1", both), ("h2", both), ("h3", ["dcs", "storage", "backups", "apps", "proxy"]))
    assert [h.name for h in instances(t)["proxy"]] == ["h1", "h2"] and names(t)["apps"] == "h3"
    control = placement_for(t, None)
    assert control.hosts_of("proxy") == ("h1", "h2") and control.hosts_of("storage") == ("h1", "h2", "h3")
    assert placement_for(t, "h2").here == ("storage", "proxy", "dcs", "database", "identity", "backups")
    assert "proxy" not in placement_for(t, "h3").here
    assert record.Placement.from_json(json.loads(json.dumps(control.to_json()))) == control
    assert "instances" not in placement_for(topo(("a", both + ["backups", "apps"])), None).to_json()  # one edge
    assert record.apps_listen_address(control) == "10.0.0.3"


def test_up_and_status_say_plainly_what_losing_each_host_stops() -> None:
    """The database under Patroni (two hosts, an etcd quorum of three) and the edges survive a host's loss; what
    runs once does not, and is told so. An etcd of one member takes the database's writes with it."""
    both = ["database", "dcs", "storage", "identity", "proxy"]
    t = topo(("h1", both), ("h2", both), ("h3", ["dcs", "storage", "backups", "apps"]))
    # the IdP's portals on h1 and h2 (the database under Patroni shares their sessions) behind the edges: the
    # first edge's host (h1) carries the issuer's address, as it carries the S3 clients'
    assert host_losses(t) == [("h1", ["storage", "identity"]), ("h2", ["backups"]), ("h3", ["apps"])]
    note = resilience_note(t)
    assert note == ("not every host may be lost: losing h1 stops storage, identity; losing h2 stops backups; "
                    "losing h3 stops apps")
    one = topo(("h1", both), ("h2", ["database", "storage", "identity", "proxy", "backups"]))
    assert host_losses(one)[0] == ("h1", ["storage", "dcs", "database", "identity"])  # the first edge, too
    assert resilience_note(topo(("a", ["database", "storage", "identity", "proxy", "backups"]))).startswith(
        "not every host may be lost: losing a stops storage, database, identity, backups")


def test_the_ha_labs_layout() -> None:
    """The 5-host lab of test_hosts_ha and bench_ha: every service survives any one host's loss but the first
    edge's (the clients' one address: a floating address in production) and the backups'; the database, the
    storage's first host (its preferred gateway and first raft leader) and the preferred portal each on a host of
    their own."""
    from tests.integration.test_hosts_ha import GROUPS

    t = topo(*GROUPS.items())
    assert names(t) == {"storage": "h2", "proxy": "h1", "dcs": "h3", "database": "h3", "identity": "h5",
                        "backups": "h3"}
    every = {s: [h.name for h in hs] for s, hs in instances(t).items()}
    assert every["identity"] == ["h5", "h2"] and every["proxy"] == ["h1", "h5"]
    assert every["storage"] == ["h2", "h3", "h4"] and every["database"] == ["h3", "h4"]
    assert host_losses(t) == [("h1", ["storage", "identity"]), ("h2", []), ("h3", ["backups"]), ("h4", []),
                              ("h5", [])]


def test_storage_goes_where_a_master_and_a_volume_run() -> None:
    t = topo(("a", ["storage", "storage_master", "database", "identity", "proxy", "backups"]),
             ("b", ["storage", "storage_volume"]), ("c", ["storage", "storage_master", "storage_volume"]))
    assert names(t)["storage"] == "c"


def test_backups_follow_the_database() -> None:
    t = topo(("a", ["storage", "identity", "proxy", "backups"]), ("b", ["database"]))
    assert names(t)["backups"] == "b"
    assert [h.name for h in hosts_in_use(t)] == ["a", "b"]


def test_record_of_each_home() -> None:
    t = topo(("a", ["storage", "identity", "proxy", "backups"]), ("b", ["database"]), ("gw", ["apps"]))
    control, a, b = placement_for(t, None), placement_for(t, "a"), placement_for(t, "b")
    assert control.here == () and a.here == ("storage", "proxy", "identity") and b.here == ("database", "backups")
    assert placement_for(t, "gw").here == ("apps",) and control.host_of("proxy") == "a"
    assert a.address_of("database") == "10.0.0.2" and control.host_of("identity") == "a"
    assert record.Placement.from_json(json.loads(json.dumps(b.to_json()))) == b


@pytest.mark.parametrize("data", [
    [], {"here": ["mail"], "services": {}}, {"here": [], "services": {"storage": {"host": "a", "address": "x"}}},
    {"here": ["storage", "storage"], "services": {}}, {"here": [], "services": {}, "extra": 1},
    {"here": [], "services": {s: {"host": "a", "address": "10.0.0.1"} for s in (*record.SERVICES, "apps")}},
    {"here": ["apps"], "services": {s: {"host": "a", "address": "10.0.0.1"} for s in record.SERVICES}},
    {"here": [], "services": {s: {"host": "a", "address": "10.0.0.1"} for s in record.SERVICES},
     "instances": {"storage": [{"host": "a", "address": "10.0.0.1"}]}},
    {"here": [], "services": {s: {"host": "a", "address": "10.0.0.1"} for s in record.ALL},
     "instances": {"proxy": [{"host": "b", "address": "10.0.0.2"}, {"host": "a", "address": "10.0.0.1"}]}},
])
def test_a_damaged_record_is_refused(tmp_path, data) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / record.FILE).write_text(json.dumps(data))
    with pytest.raises(BoxDamaged):
        record.read(tmp_path)


def test_no_record_is_one_machine(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert record.read(tmp_path) is None


def test_a_box_reaches_each_service_where_it_is_placed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from govcloud_platform.box.context import Box
    from govcloud_platform.box.runtime import box_services
    from govcloud_platform.errors import InputError
    from govcloud_platform.spec.example import EXAMPLE_SPEC
    from govcloud_platform.spec.loader import load_spec_text

    t = topo(("a", ["storage", "identity", "proxy", "backups"]), ("b", ["database"]))
    (tmp_path / record.FILE).write_text(json.dumps(placement_for(t, "b").to_json()))
    box = Box(home=tmp_path, spec=load_spec_text(EXAMPLE_SPEC), create=False)
    assert [s.name for s in box_services(box)] == ["database", "backups"]
    assert box.pg_conninfo(password="x")["host"] == "10.0.0.2"
    assert box.s3_endpoint.startswith("https://10.0.0.1:") and box.issuer.startswith("https://10.0.0.1:")
    with pytest.raises(InputError, match="does not run storage"):
        box_services(box, ["storage"])
    with pytest.raises(InputError, match="does not run mail"):  # a host service, placed on a `mail` host only
        box_services(box, ["mail"])
    with pytest.raises(InputError, match="unknown service"):
        box_services(box, ["console"])


@pytest.mark.parametrize(("allow", "revoke"), [
    ("x", []), ([["k", "d"]], []), ([["k", "d", ["r; drop"]]], []), ([["k", "../x", ["r"]]], []),
    ([], ["all\nhost"]), ([], [1]), ([["k", "d", "r"]], []),
])
def test_a_hostile_hba_change_is_refused(allow, revoke) -> None:  # type: ignore[no-untyped-def]
    from govcloud_platform.brokers.database import check_hba_change

    with pytest.raises(ValueError):
        check_hba_change(allow, revoke)


def test_an_hba_change_of_ours_passes() -> None:
    from govcloud_platform.brokers.database import check_hba_change

    assert check_hba_change([["ag_a", "ag_a", ["ag_a", "ag_a__ro"]]], ["ag_b"]) == (
        [("ag_a", "ag_a", ["ag_a", "ag_a__ro"])], ["ag_b"])
