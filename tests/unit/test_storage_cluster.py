"""The object storage as a SeaweedFS cluster over the storage hosts (`storage_cluster`, `hosts.placement`): who runs
which part, the command lines and files each part gets, the order of the hosts' stop, what a host's loss stops."""

from __future__ import annotations

import json
from pathlib import Path

from govcloud_platform.box import placement as record
from govcloud_platform.box.services import storage_cluster as sc
from govcloud_platform.hosts.deploy import HostPlan, plays
from govcloud_platform.hosts.placement import host_losses, instances, placement_for, storage_cluster
from govcloud_platform.spec.topology import Topology

CORE = ["database", "dcs", "storage", "identity", "proxy"]


def topo(*hosts: tuple[str, list[str]]) -> Topology:
    return Topology.model_validate(
        {"hosts": [{"name": n, "address": f"10.0.0.{i + 1}", "groups": g} for i, (n, g) in enumerate(hosts)]})


THREE = topo(("h1", CORE), ("h2", CORE), ("h3", ["dcs", "storage", "backups", "apps"]))


def layout(host: str = "h2", address: str = "10.0.0.2") -> sc.Layout:
    return sc.Layout(host, address, Path("/b/s3"), Path("/b/ca/certs"), Path("/b/s3/s3.json"), 30005, 30006, 30007,
                     30004, 30003, 0, 64)


def test_three_masters_make_a_cluster_on_every_storage_host() -> None:
    assert storage_cluster(THREE)
    assert [h.name for h in instances(THREE)["storage"]] == ["h1", "h2", "h3"]
    control = placement_for(THREE, None)
    assert control.storage_cluster and control.hosts_of("storage") == ("h1", "h2", "h3")
    assert record.Placement.from_json(json.loads(json.dumps(control.to_json()))) == control
    assert "storage" in placement_for(THREE, "h3").here
    # one storage host, or one master named among three: storage runs once, as before
    single = topo(("a", ["storage", "database", "identity", "proxy", "backups"]))
    named = topo(("h1", [*CORE, "storage_master"]), ("h2", CORE), ("h3", ["dcs", "storage", "backups"]))
    assert not storage_cluster(single) and not storage_cluster(named)
    assert not placement_for(named, None).storage_cluster and placement_for(named, None).hosts_of("storage") == ("h1",)


def test_each_host_runs_its_parts() -> None:
    t = topo(("a", ["storage", "storage_master", "database", "identity", "proxy", "backups"]),
             ("b", ["storage", "storage_master", "storage_volume"]), ("c", ["storage", "storage_master"]),
             ("d", ["storage", "storage_volume"]), ("e", ["apps"]))
    assert sc.parts_of(t, "a") == sc.Parts(master=True, volume=False, gateway=True)
    assert sc.parts_of(t, "b") == sc.Parts(master=True, volume=True, gateway=True)
    assert sc.parts_of(t, "d") == sc.Parts(master=False, volume=True, gateway=True)
    assert sc.parts_of(t, "e") == sc.Parts(master=False, volume=False, gateway=False)
    assert sc.masters(t, 30005) == "10.0.0.1:30005,10.0.0.2:30005,10.0.0.3:30005"
    assert sc.filers(t, 30007, "c") == "10.0.0.3:30007,10.0.0.1:30007,10.0.0.2:30007,10.0.0.4:30007"
    assert sc.host_named(t, "10.0.0.4") == "d" and sc.host_named(t, "10.9.9.9") is None


def test_command_lines_of_each_part() -> None:
    lay, peers = layout(), sc.masters(THREE, 30005)
    master = sc.master_command("weed", lay, peers)
    assert f"-peers={peers}" in master and "-raftHashicorp" in master and "-defaultReplication=010" in master
    assert "-disableHttp" in master and "-telemetry=false" in master and "-ip.bind=10.0.0.2" in master
    volume = sc.volume_command("weed", lay, peers)
    assert "-rack=h2" in volume and f"-master={peers}" in volume and "-ip.bind=10.0.0.2" in volume
    filer = sc.filer_command("weed", lay, peers, None)  # its own store on its host, synced with its peers
    assert not any(a.startswith("-rack") for a in filer) and "-disableHttp" in filer
    assert "-defaultStoreDir=/b/s3/filer" in filer
    assert sc.filer_command("weed", lay, peers, Path("/b/s3/filer.sock"))[-1] == "-localSocket=/b/s3/filer.sock"
    s3 = sc.s3_command("weed", lay, sc.filers(THREE, 30007, "h2"), None)
    assert "-filer=10.0.0.2:30007,10.0.0.1:30007,10.0.0.3:30007" in s3 and "-iam=false" in s3
    assert "-port.https=30003" in s3 and "-config=/b/s3/s3.json" in s3


def test_the_leading_master_repairs_missing_copies() -> None:
    assert "volume.fix.replication -apply" in sc.master_toml()
    assert f"sleep_minutes = {sc.REPAIR_MINUTES}" in sc.master_toml()


def test_a_cluster_deploys_storage_on_every_storage_host_first() -> None:
    plans = [HostPlan("h1", "10.0.0.1", "/r", ("storage", "database"), (), {}),
             HostPlan("h2", "10.0.0.2", "/r", ("storage", "dcs"), (), {})]
    assert [(p["hosts"], p["roles"]) for p in plays(plans)] == [
        ("h1:h2", ["gc_storage"]), ("h2", ["gc_dcs"]), ("h1", ["gc_database"])]


def test_what_losing_a_storage_host_stops() -> None:
    """Three volume servers keep two copies while one is lost; the first host's gateway is where clients connect.
    With two volume servers a write needs both."""
    assert dict(host_losses(THREE))["h1"] == ["storage", "identity"]  # the first edge: S3 and issuer clients
    assert "storage" not in dict(host_losses(THREE))["h2"] and "storage" not in dict(host_losses(THREE))["h3"]
    two = topo(("h1", CORE), ("h2", [*CORE, "storage_volume"]), ("h3", ["dcs", "storage", "storage_volume", "backups"]))
    assert dict(host_losses(two))["h3"] == ["storage"]


def test_the_database_hosts_stop_first_while_the_cluster_takes_their_last_wal() -> None:
    """PostgreSQL archives its last WAL as it stops, through the first gateway onto two volume servers: the database
    hosts go first (the first storage host last of them), the others after."""
    from govcloud_platform.hosts.remote import down_order

    assert down_order(placement_for(THREE, None)) == ["h2", "h1", "h3"]  # h1: database and the first gateway
    ha = topo(("h1", ["storage", "identity", "proxy", "backups", "dcs"]), ("h2", ["database", "dcs", "storage"]),
              ("h3", ["database", "dcs", "storage"]))
    assert down_order(placement_for(ha, None)) == ["h2", "h3", "h1"]
