"""The web console on the hosts target (docs/console.md "On the hosts target"): its process on the control (where the
registry, the secrets and the brokers are), its front the placed identity host's nginx, the control's SSH tunnel
between them; what each home runs, binds and holds, decided without a server. The real thing on a lab:
tests/integration/test_hosts_deploy.py."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from govcloud_platform.box import placement as record
from govcloud_platform.box.context import Box
from govcloud_platform.box.platform_secrets import host_certificates
from govcloud_platform.box.ports import Ports
from govcloud_platform.box.services import console_conf
from govcloud_platform.box.services.console import ConsoleService
from govcloud_platform.hosts import console
from govcloud_platform.hosts.deploy import cert_services, plan
from govcloud_platform.hosts.placement import place, placement_for
from govcloud_platform.hosts.preflight import host_ports
from govcloud_platform.hosts.verify import expected_ports
from govcloud_platform.lab.plan import spread_groups
from govcloud_platform.spec import load_spec_text
from govcloud_platform.spec.topology import Topology
from tests.console_kit import ENABLED

BASE = 30000


def hosts_spec(n: int, enabled: bool = True) -> str:
    """The lab's layout of n hosts (`lab.plan.spread_groups`) with the console enabled (or not)."""
    hosts = "".join(f"      - {{name: h{i + 1}, address: 10.0.0.{i + 11}, groups: [{', '.join(g)}]}}\n"
                    for i, g in enumerate(spread_groups(n)))
    text = ENABLED if enabled else ENABLED.replace("      enabled: true\n", "      enabled: false\n")
    return (text.replace("target: local ", "target: hosts ")
            .replace("  openstack:", f"  topology:\n    hosts:\n{hosts}  openstack:", 1))


def home(tmp_path: Path, spec_text: str, here: str | None, name: str) -> Box:
    """A home of the hosts target as the deploy writes it: the control's (`here` None) or host `here`'s."""
    spec = load_spec_text(spec_text, "g.yaml")
    topology = spec.platform.topology
    assert topology is not None
    path = tmp_path / name
    path.mkdir()
    (path / record.FILE).write_text(json.dumps(placement_for(topology, here).to_json()))
    address = next((h.address for h in topology.hosts if h.name == here), "127.0.0.1")
    (path / "box.json").write_text(json.dumps({"port_base": BASE, "address": address, "allow_from": []}))
    return Box(home=path, spec=spec, port_base=BASE)


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_the_spec_admits_the_console_on_the_hosts_target(n: int) -> None:
    spec = load_spec_text(hosts_spec(n), "g.yaml")  # the refusal ("not yet placed on hosts") is gone
    assert spec.platform.target == "hosts" and spec.platform.services.console.enabled


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_the_process_runs_on_the_control_and_the_placed_identity_host_fronts_it(tmp_path: Path, n: int) -> None:
    spec = load_spec_text(hosts_spec(n), "g.yaml")
    assert spec.platform.topology is not None
    front = place(spec.platform.topology)["identity"]
    control = home(tmp_path, hosts_spec(n), None, "control")
    assert control.runs("console") and control.keeps_registry and not control.fronts_console
    # the same URL whichever home computes it: the front host's address, the console's HTTPS port
    url = f"https://{front.address}:{Ports(BASE).console_https}"
    assert console_conf.public_url(control) == url
    fronts = []
    for host in spec.platform.topology.hosts:
        if not placement_for(spec.platform.topology, host.name).here:
            continue
        box = home(tmp_path, hosts_spec(n), host.name, host.name)
        assert not box.runs("console") and not box.keeps_registry  # no host runs the process
        assert console_conf.public_url(box) == url
        if box.fronts_console:
            fronts.append(host.name)
            assert "console_https" not in box.unbound_ports() and "console_app" in box.unbound_ports()
        else:
            assert {"console_https", "console_app"} <= set(box.unbound_ports())
    # one front, also with two portals behind the IdP edge (n = 3, 5): one process, one URL, one redirect URI
    assert fronts == [front.name]
    # the control binds the app port on its loopback (its gunicorn), nothing else of the plan
    assert "console_app" not in control.unbound_ports()


def test_disabled_nothing_runs_nor_is_fronted(tmp_path: Path) -> None:
    control = home(tmp_path, hosts_spec(3, enabled=False), None, "control")
    assert not control.runs("console")
    spec = load_spec_text(hosts_spec(3, enabled=False), "g.yaml")
    assert spec.platform.topology is not None
    front = place(spec.platform.topology)["identity"].name
    assert not home(tmp_path, hosts_spec(3, enabled=False), front, front).fronts_console


def test_the_front_host_gets_the_consoles_certificate_and_no_secret_of_it() -> None:
    spec = load_spec_text(hosts_spec(3), "g.yaml")
    topology = spec.platform.topology
    assert topology is not None
    front = place(topology)["identity"].name
    addresses = {h.name: "10.0.0.1" for h in topology.hosts}
    on, off = plan(topology, addresses, console=True), plan(topology, addresses)
    for with_console, without in zip(on, off, strict=True):
        extra = set(with_console.certs) - set(without.certs)
        assert extra == ({"console.pem", "console.key"} if with_console.name == front else set()), with_console.name
        assert with_console.secrets == without.secrets  # the console's secrets stay on the control
        assert not any(s.startswith("console-") for s in with_console.secrets)
    placement = placement_for(topology, None)
    address = place(topology)["identity"].address
    assert cert_services(("identity",), placement, address, True) == ("identity", "console")
    assert cert_services(("identity",), placement, address, False) == ("identity",)
    assert cert_services(("storage",), placement, address, True) == ("storage",)
    # the certificate names the front's address, as the front's own code asks (`identity.front_servers`)
    cert = next(c for c in host_certificates(("identity", "console"), address) if c.name == "console")
    assert cert.ips == (address,) and cert.dns == (address,)


def test_ports_the_preflight_and_verify_expect() -> None:
    spec = load_spec_text(hosts_spec(3), "g.yaml")
    topology = spec.platform.topology
    assert topology is not None
    front = place(topology)["identity"]
    placement = placement_for(topology, None)
    p = Ports(BASE)
    for host in topology.hosts:
        # the preflight checks the HTTPS port on every identity host (free where the console is off), never the app
        # port: the control's tunnel ends there, sshd binds it
        labels = {n.label: n.address for n in host_ports(topology, host, BASE)}
        assert "console_app" not in labels
        assert ("console_https" in labels) == ("identity" in host.groups)
        seen = {n.label: (n.port, n.address) for n in expected_ports(topology, placement, BASE, host, console=True)}
        if host.name == front.name:
            assert seen["console_https"] == (p.console_https, host.address)
        else:
            assert "console_https" not in seen
        assert "console_app" not in seen
        assert "console_https" not in {n.label for n in expected_ports(topology, placement, BASE, host)}


def test_the_controls_programs_the_tunnel_and_the_status_row(tmp_path: Path) -> None:
    control = home(tmp_path, hosts_spec(3), None, "control")
    spec = control.spec
    assert spec.platform.topology is not None
    front = place(spec.platform.topology)["identity"]
    progs = {p.name: p for p in ConsoleService().programs(control)}
    assert set(progs) == {"console", "console-tunnel"}
    port = Ports(BASE).console_app
    assert f"127.0.0.1:{port}" in progs["console"].command  # gunicorn on the control's loopback
    argv = progs["console-tunnel"].command
    assert argv == ["ssh", "-F", str(control.home / "hosts" / "ssh_config"), "-N", "-T", "-o", "ControlMaster=no",
                    "-o", "ControlPath=none", "-o", "ExitOnForwardFailure=yes", "-o", "ServerAliveInterval=5",
                    "-o", "ServerAliveCountMax=3", "-o", "ConnectTimeout=10",
                    "-R", f"127.0.0.1:{port}:127.0.0.1:{port}", front.name]
    assert not any("StrictHostKeyChecking" in a for a in argv)  # the topology's ssh_config checks host keys
    # one machine: no tunnel
    one = Box(home=tmp_path / "one", spec=load_spec_text(ENABLED), port_base=BASE)
    assert [p.name for p in ConsoleService().programs(one)] == ["console"]
    # `status`'s row: the front's host, the process said to be the control's
    healthy = SimpleNamespace(healthy=True, endpoint="https://x/", pid=7, detail="web console (HTTPS)")
    row = console.entry(control, healthy)
    assert row == {"name": "console", "healthy": True, "endpoint": "https://x/", "pid": 7, "host": front.name,
                   "role": "single", "detail": "web console (HTTPS); its process runs on the control"}
    down = console.entry(control, SimpleNamespace(healthy=False, endpoint="e", pid=None, detail="console is stopped"))
    assert down["role"] == "unknown" and not down["healthy"]


def test_the_front_hosts_nginx_serves_the_console_on_its_address(tmp_path: Path) -> None:
    spec = load_spec_text(hosts_spec(3), "g.yaml")
    assert spec.platform.topology is not None
    front = place(spec.platform.topology)["identity"]
    box = home(tmp_path, hosts_spec(3), front.name, front.name)
    server = console_conf.nginx_server(box, Path("/c.pem"), Path("/c.key"))
    p = Ports(BASE)
    assert f"listen {front.address}:{p.console_https} ssl;" in server
    assert f"proxy_pass http://127.0.0.1:{p.console_app};" in server  # the tunnel's end on the front's loopback


def test_topology_of_the_lab_places_identity_on_a_host_that_is_in_use() -> None:
    topology = Topology.model_validate({"hosts": [
        {"name": f"h{i + 1}", "address": f"10.0.0.{i + 11}", "groups": list(g)}
        for i, g in enumerate(spread_groups(3))]})
    assert place(topology)["identity"].name in {h.name for h in topology.hosts}
