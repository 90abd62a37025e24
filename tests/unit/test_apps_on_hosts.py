"""Apps on the hosts target, the decisions: where the apps' virtual hosts listen and who may reach them, the edge's
configuration, the paths a role gets on the apps' host and the TLS files it copies there, and what `verify`
expects to listen on the apps' and the edge's hosts."""

from __future__ import annotations

from pathlib import Path

from govcloud_platform.apps.layout import AppTarget, tls_files
from govcloud_platform.box.placement import apps_listen_address
from govcloud_platform.box.services.edge import STREAM_MODULE, apps_access, render_edge_conf
from govcloud_platform.hosts.placement import placement_for
from govcloud_platform.hosts.preflight import PortNeed
from govcloud_platform.hosts.verify import expected_ports, listener_checks
from govcloud_platform.spec.topology import Topology

BOTH = ["database", "dcs", "storage", "identity", "proxy"]


def lab3() -> Topology:
    return Topology.model_validate({"hosts": [
        {"name": "h1", "address": "10.231.8.11", "groups": BOTH},
        {"name": "h2", "address": "10.231.8.12", "groups": BOTH},
        {"name": "h3", "address": "10.231.8.13", "groups": ["dcs", "storage", "backups", "apps"]}]})


def test_the_apps_front_admits_only_the_edge_when_it_listens_outside() -> None:
    apart = placement_for(lab3(), "h3")
    assert apps_listen_address(apart) == "10.231.8.13"
    rules = apps_access(apart)
    assert "allow 10.231.8.11;" in rules and "allow 127.0.0.1;" in rules and rules.rstrip().endswith("deny all;")
    together = placement_for(Topology.model_validate({"hosts": [
        {"name": "d", "address": "10.0.0.1", "groups": ["database", "storage", "backups"]},
        {"name": "e", "address": "10.0.0.2", "groups": ["identity", "proxy", "apps"]}]}), "e")
    assert apps_listen_address(together) == "127.0.0.1" and apps_access(together) == ""  # loopback: nothing to add
    assert apps_access(None) == ""  # one machine


def test_the_edge_passes_tls_through_to_the_apps_front() -> None:
    conf = render_edge_conf(listen="10.231.8.11", upstream="10.231.8.13", port=30008, pid=Path("/h/edge/edge.pid"),
                            logs=Path("/h/logs"))
    assert conf.startswith("# Written by govcloud") and f"load_module {STREAM_MODULE};" in conf
    assert "listen 10.231.8.11:30008;" in conf and "proxy_pass 10.231.8.13:30008;" in conf
    assert "ssl_certificate" not in conf and "http {" not in conf  # no key, no plaintext: a stream server only


def test_a_role_on_the_apps_host_gets_its_paths_and_the_tls_files_to_copy() -> None:
    here = AppTarget(Path("/var/lib/govcloud/box"))
    files = [Path("/c/ca/certs/app-a-portal.pem"), Path("/c/ca/certs/app-a-portal.key")]
    assert tls_files(here, files) == (files, [])  # one machine: read where the CA wrote them
    there = AppTarget(Path("/srv/h3/box"), "h3", "10.231.8.13", "10.231.8.11", "/opt/govcloud/bin/supervisorctl")
    dests, copies = tls_files(there, files)
    assert dests == [Path("/srv/h3/box/apps/tls/app-a-portal.pem"), Path("/srv/h3/box/apps/tls/app-a-portal.key")]
    assert copies == [{"src": str(f), "dest": str(d)} for f, d in zip(files, dests, strict=True)]
    assert there.remote and not here.remote


def test_role_paths_are_the_apps_hosts(tmp_path: Path) -> None:
    import json

    from govcloud_platform.apps.layout import role_vars
    from govcloud_platform.apps.manifests import manifest
    from govcloud_platform.apps.store import Deployment
    from govcloud_platform.box.context import Box
    from govcloud_platform.spec.example import EXAMPLE_SPEC
    from govcloud_platform.spec.loader import load_spec_text

    control = tmp_path / "control"
    control.mkdir()
    (control / "placement.json").write_text(json.dumps(placement_for(lab3(), None).to_json()))
    box = Box(home=control, spec=load_spec_text(EXAMPLE_SPEC))
    there = AppTarget(Path("/srv/h3/box"), "h3", "10.231.8.13", "10.231.8.11", "/opt/govcloud/bin/supervisorctl")
    d = Deployment(agency="alpha", app="opendata", state="ready", port=box.port_base + 20, created_at="",
                   updated_at="")
    v = role_vars(box, "alpha", "Alpha", manifest("opendata"), d, None, None, None, None, "check", target=there)
    assert v["opendata_instance_dir"] == "/srv/h3/box/apps/instances/alpha/opendata"
    assert v["opendata_supervisor_conf"] == "/srv/h3/box/supervisor/supervisord.conf"
    assert v["opendata_nginx_conf"] == "/srv/h3/box/nginx/apps-nginx.conf"  # the apps' front's, not the IdP's
    assert v["opendata_nginx_vhost_dir"] == "/srv/h3/box/nginx/apps.d"
    assert v["opendata_ca_file"] == "/srv/h3/box/ca/ca.pem" and v["opendata_log_dir"] == "/srv/h3/box/logs"
    assert v["opendata_proxy_address"] == "10.231.8.13"
    assert v["opendata_supervisorctl"] == "/opt/govcloud/bin/supervisorctl"
    assert not any(str(control) in str(value) for value in v.values())  # nothing of the control's home


def test_the_controls_wheels_live_in_the_shared_cache_unless_there_is_none(tmp_path: Path, monkeypatch) -> None:
    from govcloud_platform.apps.layout import control_wheelhouse

    class Home:
        home = tmp_path / "control"

    monkeypatch.setenv("GOVCLOUD_APPS_CACHE", str(tmp_path / "cache"))
    assert control_wheelhouse(Home()) == tmp_path / "cache" / "wheels"  # type: ignore[arg-type]
    monkeypatch.setenv("GOVCLOUD_APPS_CACHE", "")
    assert control_wheelhouse(Home()) == tmp_path / "control" / "apps" / "wheels"  # type: ignore[arg-type]


def test_verify_expects_the_edges_port_and_the_apps_fronts_when_bound() -> None:
    t = lab3()
    h1, h3 = t.hosts[0], t.hosts[2]
    edge = [p for p in expected_ports(t, placement_for(t, None), 30000, h1) if p.label == "proxy_https"]
    assert edge == [PortNeed("proxy_https", 30008, "10.231.8.11")]
    front = [p for p in expected_ports(t, placement_for(t, None), 30000, h3) if p.label == "proxy_https"]
    assert front == [PortNeed("proxy_https", 30008, "10.231.8.13", optional=True)]
    unbound = listener_checks(front, ["tcp://0.0.0.0:22"], 22)
    assert all(ok for _s, _c, ok, _d in unbound) and "not bound yet" in unbound[0][3]
    bound = listener_checks(front, ["tcp://10.231.8.13:30008", "tcp://127.0.0.1:30020"], 22)
    assert all(ok for _s, _c, ok, _d in bound)
    stray = listener_checks(front, ["tcp://10.231.8.13:30008", "tcp://10.231.8.13:30020"], 22)
    assert stray[-1][2] is False and "10.231.8.13:30020" in stray[-1][3]  # an app bound outside: named
