"""The edges in front of a storage cluster's S3 gateways (issue 13): where the edge runs without apps, its stream
server for S3, the gateways' certificate names, where each home's clients connect, the ports `verify` expects, and
what a host's loss stops."""

from __future__ import annotations

import json
from pathlib import Path

from govcloud_platform.box import placement as record
from govcloud_platform.box.context import Box
from govcloud_platform.box.network import edge_certificate_names
from govcloud_platform.box.platform_secrets import host_certificates
from govcloud_platform.box.services.edge import render_edge_conf
from govcloud_platform.hosts.placement import host_losses, instances, place, placement_for
from govcloud_platform.hosts.preflight import PortNeed
from govcloud_platform.hosts.verify import expected_ports
from govcloud_platform.spec import load_spec_text
from govcloud_platform.spec.example import EXAMPLE_SPEC
from govcloud_platform.spec.topology import Topology

HA = {"h1": ["storage", "identity", "proxy", "backups", "dcs"], "h2": ["database", "dcs", "storage", "proxy"],
      "h3": ["database", "dcs", "storage"]}


def topo(groups: dict[str, list[str]]) -> Topology:
    return Topology.model_validate({"hosts": [{"name": n, "address": f"10.0.0.{i + 1}", "groups": g}
                                              for i, (n, g) in enumerate(groups.items())]})


def test_a_storage_cluster_brings_the_edges_even_without_apps() -> None:
    t = topo(HA)
    assert "apps" not in place(t) and [h.name for h in instances(t)["proxy"]] == ["h1", "h2"]
    control = placement_for(t, None)
    assert control.s3_edge and control.s3_edge_addresses == ("10.0.0.1", "10.0.0.2")
    assert control.s3_gateway_addresses == ("10.0.0.1", "10.0.0.2", "10.0.0.3")  # the first storage host's first
    assert "s3_edge" not in record.unbound_ports(control) and "patroni_api" not in record.unbound_ports(control)
    assert {"s3_edge", "patroni_api"} <= set(record.unbound_ports(None))  # one machine: neither
    assert record.Placement.from_json(json.loads(json.dumps(control.to_json()))) == control
    # one storage host: no cluster, no edge without apps (nothing to front)
    single = topo({"a": ["database", "storage", "identity", "proxy", "backups"], "b": ["storage_volume", "storage"]})
    assert "proxy" not in place(single) and not placement_for(single, None).s3_edge
    assert placement_for(single, None).s3_gateway_addresses == ()


def test_apps_need_the_edge_but_the_edge_no_longer_needs_apps() -> None:
    services = {s: {"host": "a", "address": "10.0.0.1"} for s in (*record.SERVICES, "proxy")}
    assert record.Placement.from_json({"here": ["proxy"], "services": services}).runs("proxy")
    services.pop("proxy")
    services["apps"] = {"host": "a", "address": "10.0.0.1"}
    try:
        record.Placement.from_json({"here": [], "services": services})
    except ValueError as exc:
        assert "'apps' only with 'proxy'" in str(exc)
    else:
        raise AssertionError("apps without an edge were accepted")


def test_the_edge_passes_s3_to_one_gateway_at_a_time_the_others_as_backups() -> None:
    conf = render_edge_conf(listen="10.0.0.2", upstream=None, port=30008, pid=Path("/h/edge/edge.pid"),
                            logs=Path("/h/logs"), s3=("10.0.0.1", "10.0.0.2", "10.0.0.3"), s3_port=30013,
                            s3_upstream_port=30003)
    assert "listen 10.0.0.2:30008" not in conf and "proxy_protocol" not in conf  # no apps: only S3
    assert "listen 10.0.0.2:30013;" in conf and "proxy_pass s3_gateways;" in conf
    assert "server 10.0.0.1:30003 max_fails=1 fail_timeout=10s;" in conf
    assert "server 10.0.0.2:30003 max_fails=1 fail_timeout=10s backup;" in conf
    assert "server 10.0.0.3:30003 max_fails=1 fail_timeout=10s backup;" in conf
    assert "ssl_certificate" not in conf and "http {" not in conf  # TLS passed through: the edge holds no key
    both = render_edge_conf(listen="10.0.0.2", upstream="10.0.0.3", port=30008, pid=Path("/p"), logs=Path("/l"),
                            s3=("10.0.0.1", "10.0.0.3"), s3_port=30013, s3_upstream_port=30003)
    assert "proxy_pass 10.0.0.3:30008;" in both and "proxy_pass s3_gateways;" in both
    assert "the apps' front, the S3 gateways)" in both.splitlines()[0]


def test_the_gateways_certificate_names_every_edge() -> None:
    assert edge_certificate_names("10.0.0.3") == (["10.0.0.3"], ["10.0.0.3"])
    dns, ips = edge_certificate_names("10.0.0.3", ("10.0.0.1", "10.0.0.3"))
    assert dns == ["10.0.0.3", "10.0.0.1"] and ips == ["10.0.0.3", "10.0.0.1"]
    s3 = next(c for c in host_certificates(["storage"], "10.0.0.3", ("10.0.0.1", "10.0.0.2")) if c.name == "s3")
    assert set(s3.ips) == {"10.0.0.1", "10.0.0.2", "10.0.0.3"}
    pg = next(c for c in host_certificates(["database"], "10.0.0.3", ("10.0.0.1",)) if c.name == "postgres")
    assert pg.ips == ("10.0.0.3",)  # only the gateway's certificate names the edges


def _box(groups: dict[str, list[str]], host: str | None, tmp: Path) -> Box:
    home = tmp / (host or "control")
    home.mkdir()
    (home / record.FILE).write_text(json.dumps(placement_for(topo(groups), host).to_json()))
    address = {None: "127.0.0.1", **{n: f"10.0.0.{i + 1}" for i, n in enumerate(groups)}}[host]
    return Box(home=home, spec=load_spec_text(EXAMPLE_SPEC), port_base=30000, address=address, allow_from=(),
               create=False)


def test_each_home_connects_to_its_own_edge_or_the_first(tmp_path: Path) -> None:
    """Agencies get the first edge (in production: a floating address in front of the edges); a host running an
    edge uses its own, so that a database host's WAL archiving outlives the loss of any other host."""
    control, h2, h3 = (_box(HA, h, tmp_path) for h in (None, "h2", "h3"))
    assert control.s3_endpoint == "https://10.0.0.1:30013" and control.s3_front == ("10.0.0.1", 30013)
    assert h2.s3_front == ("10.0.0.2", 30013) and h3.s3_front == ("10.0.0.1", 30013)
    lone = {"a": ["database", "storage", "identity", "proxy", "backups"]}
    assert _box(lone, "a", tmp_path).s3_front == ("10.0.0.1", 30003)  # one gateway: no edge in front


def test_verify_expects_the_edges_s3_port_and_no_apps_port_without_apps() -> None:
    t = topo(HA)
    control = placement_for(t, None)
    h1 = expected_ports(t, control, 30000, t.hosts[0])
    assert PortNeed("s3_edge", 30013, "10.0.0.1") in h1 and not any(p.label == "proxy_https" for p in h1)
    h3 = expected_ports(t, control, 30000, t.hosts[2])
    assert not any(p.label == "s3_edge" for p in h3)  # no edge there
    lone = topo({"a": ["database", "storage", "identity", "proxy", "backups", "apps"]})
    assert not any(p.label == "s3_edge" for p in expected_ports(lone, placement_for(lone, None), 30000,
                                                                lone.hosts[0]))


def test_losing_the_first_edge_stops_s3_for_its_clients_but_no_gateway_does() -> None:
    # h1: the first edge (storage for the clients pointed at it) and the IdP; h2: the backups, beside the database
    assert dict(host_losses(topo(HA))) == {"h1": ["storage", "identity"], "h2": ["backups"], "h3": []}
