"""The IdP's portals on several hosts behind the edges (issue 13, item 3): where they run, the one issuer every
client and portal names, the edge's stream server for them, their certificate's names, the ports `verify` expects
and what a host's loss stops."""

from __future__ import annotations

import json
from pathlib import Path

from govcloud_platform.box import placement as record
from govcloud_platform.box.context import Box
from govcloud_platform.box.platform_secrets import host_certificates
from govcloud_platform.box.services.edge import render_edge_conf
from govcloud_platform.box.services.identity_conf import conf_cache_s, cookie_domains, render_ini
from govcloud_platform.hosts.placement import ha_identity, host_losses, instances, placement_for
from govcloud_platform.hosts.verify import expected_ports
from govcloud_platform.spec import load_spec_text
from govcloud_platform.spec.example import EXAMPLE_SPEC
from govcloud_platform.spec.topology import Topology

# h1: the first edge; h2 and h3: the database under Patroni and a portal each
HA = {"h1": ["storage", "proxy", "backups", "dcs"], "h2": ["database", "dcs", "storage", "proxy", "identity"],
      "h3": ["database", "dcs", "storage", "identity"]}


def topo(groups: dict[str, list[str]]) -> Topology:
    return Topology.model_validate({"hosts": [{"name": n, "address": f"10.0.0.{i + 1}", "groups": g}
                                              for i, (n, g) in enumerate(groups.items())]})


def test_a_portal_on_every_identity_host_only_beside_a_database_under_patroni() -> None:
    t = topo(HA)
    assert ha_identity(t) and [h.name for h in instances(t)["identity"]] == ["h2", "h3"]
    control = placement_for(t, None)
    assert control.idp_edge and control.idp_addresses == ("10.0.0.2", "10.0.0.3")
    assert control.idp_edge_addresses == ("10.0.0.1", "10.0.0.2")  # the first edge first: the issuer's
    assert record.Placement.from_json(json.loads(json.dumps(control.to_json()))) == control
    assert "idp_edge" not in record.unbound_ports(control)
    # one database host: its files are the portal's own, so it runs once (and no edge port for it)
    single = topo({"a": ["database", "storage", "identity", "proxy", "backups"], "b": ["identity", "proxy"]})
    assert not ha_identity(single) and len(instances(single)["identity"]) == 1
    assert not placement_for(single, None).idp_edge and "idp_edge" in record.unbound_ports(placement_for(single, None))
    assert "idp_edge" in record.unbound_ports(None)  # a box on one machine


def test_every_portal_and_client_names_one_issuer_at_the_first_edge(tmp_path: Path) -> None:
    spec = load_spec_text(EXAMPLE_SPEC)
    t = topo(HA)
    for host in ("h2", "h3", None):  # both portals and the operator's home
        home = tmp_path / str(host)
        home.mkdir()
        (home / "placement.json").write_text(json.dumps(placement_for(t, host).to_json()))
        box = Box(home=home, spec=spec, port_base=30000)
        assert box.issuer == "https://10.0.0.1:30014" and box.issuer_host == "10.0.0.1"
        if host is not None:
            ini = render_ini(box, {"conf": home / "c", "cache": home / "k"}, "pw")
            assert "type = CDBI" in ini and "'default_expires_in' => 2," in ini  # the other writers'
            assert f"domain = {cookie_domains('10.0.0.1')[1]}" in ini  # the SSO cookie of the issuer's address
            assert conf_cache_s(box) == 2


def test_the_edge_passes_the_portals_one_at_a_time_the_others_as_backups() -> None:
    conf = render_edge_conf(listen="10.0.0.1", upstream=None, port=30008, pid=Path("/p"), logs=Path("/l"),
                            idp=("10.0.0.2", "10.0.0.3"), idp_port=30014, idp_upstream_port=30001)
    assert "the IdP's portals" in conf.splitlines()[0]
    assert "server 10.0.0.2:30001 max_fails=1 fail_timeout=10s;" in conf
    assert "server 10.0.0.3:30001 max_fails=1 fail_timeout=10s backup;" in conf
    assert "listen 10.0.0.1:30014;" in conf and "proxy_pass idp_portals;" in conf
    assert "proxy_protocol" not in conf  # TLS untouched: the portal sees the edge's address
    assert "proxy_timeout 30s;" in conf  # a connection stuck with a lost portal does not outlive 30 s of silence


def test_the_portals_certificate_names_every_edge_and_verify_expects_the_edges_port() -> None:
    t = topo(HA)
    edges = placement_for(t, None).idp_edge_addresses
    idp = next(c for c in host_certificates(["identity"], "10.0.0.3", (), edges) if c.name == "idp")
    assert idp.ips[0] == "10.0.0.3" and set(idp.ips) == set(idp.dns) == {"10.0.0.3", "10.0.0.1", "10.0.0.2"}
    h1 = t.hosts[0]
    labels = {p.label for p in expected_ports(t, placement_for(t, None), 30000, h1)}
    assert {"idp_edge", "s3_edge"} <= labels and "idp_https" not in labels


def test_losing_a_portals_host_stops_no_sign_in_but_the_first_edges_does() -> None:
    losses = dict(host_losses(topo(HA)))
    assert "identity" not in losses["h2"] and "identity" not in losses["h3"]
    assert "identity" in losses["h1"]  # the issuer's address (in production: a floating address, docs/topology.md)
