"""The lab's plan (names, addresses, paths, argv), its spec text and the subnet check. Pure: no namespace is
made here (tests/integration/test_lab.py makes real ones)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from govcloud_platform.hosts.inventory import ssh_config_text
from govcloud_platform.lab.adapter import subnet_users
from govcloud_platform.lab.plan import (
    MAX_HOSTS,
    host_link_argvs,
    hosts_file_text,
    kept_under_tmp,
    known_hosts_text,
    lab_name_for,
    plan_lab,
    spread_groups,
    sshd_argv,
    sshd_config_text,
    subnet_index,
)
from govcloud_platform.lab.spec import lab_spec_text, topology_for
from govcloud_platform.spec import Spec
from govcloud_platform.spec.example import EXAMPLE_SPEC
from govcloud_platform.spec.topology import Topology, topology_problems

SPEC = Path("/srv/labs/lab.yaml")


@pytest.mark.parametrize("n", [1, 2, 3, 5, MAX_HOSTS])
def test_plan_names_addresses_and_paths(n: int) -> None:
    plan = plan_lab("lab", n, SPEC)
    assert plan.subnet.subnet_of(ipaddress.ip_network("10.231.0.0/16"))
    assert plan.gateway == str(plan.subnet.network_address + 1)
    addresses = [ipaddress.ip_address(h.address) for h in plan.hosts]
    assert len(set(addresses)) == n and all(a in plan.subnet and str(a) != plan.gateway for a in addresses)
    for name in [plan.bridge, *(h.veth for h in plan.hosts)]:
        assert len(name) <= 15, name  # IFNAMSIZ
    assert len({h.netns for h in plan.hosts}) == n and all(h.netns.startswith("gcl-lab-") for h in plan.hosts)
    assert plan.dir == Path("/srv/labs/.govcloud-lab/lab")
    for h in plan.hosts:  # per-host data, pid file, host key: hosts share the filesystem
        assert h.root.is_relative_to(plan.dir) and h.pid_file.parent == h.dir and h.host_key.parent == h.dir
    assert len({h.dir for h in plan.hosts}) == n


def test_two_lab_names_get_two_subnets_and_disjoint_names() -> None:
    a, b = plan_lab("alpha", 3, SPEC), plan_lab("beta", 3, SPEC)
    assert subnet_index("alpha") != subnet_index("beta")
    assert not a.subnet.overlaps(b.subnet) and a.bridge != b.bridge and a.dir != b.dir
    assert not {h.netns for h in a.hosts} & {h.netns for h in b.hosts}
    assert not {h.veth for h in a.hosts} & {h.veth for h in b.hosts}
    assert plan_lab("alpha", 3, SPEC) == a  # stable


@pytest.mark.parametrize(("name", "n", "text"), [
    ("lab", 0, "between 1 and 32"), ("lab", 200, "between 1 and 32"), ("Lab", 3, "invalid lab name"),
    ("a--b", 3, "invalid lab name"), ("x" * 25, 3, "invalid lab name"), ("", 3, "invalid lab name"),
])
def test_bad_input(name: str, n: int, text: str) -> None:
    with pytest.raises(ValueError, match=text):
        plan_lab(name, n, SPEC)


def test_default_lab_name_is_the_spec_stem() -> None:
    assert lab_name_for(Path("/x/lab.yaml")) == "lab"
    assert lab_name_for(Path("/x/My Lab.yaml")) == "my-lab"


@pytest.mark.parametrize("n", range(1, MAX_HOSTS + 1))
def test_groups_spread_to_a_valid_topology(n: int) -> None:
    topo = topology_for(plan_lab("lab", n, SPEC))
    assert topology_problems(topo) == []
    assert len(spread_groups(n)) == n


def test_groups_of_three_and_five_survive_losing_any_one_host() -> None:
    for n in (3, 5):
        topo = topology_for(plan_lab("lab", n, SPEC))
        for lost in topo.hosts:
            left = [h for h in topo.hosts if h is not lost]
            for group in ("database", "storage", "identity", "proxy"):
                assert any(group in h.groups for h in left), (n, lost.name, group)
            dcs = len(topo.members("dcs"))
            assert dcs >= 3 and sum("dcs" in h.groups for h in left) > dcs // 2, (n, lost.name)


def test_a_lab_host_keeps_the_installation_it_runs_from_under_tmp() -> None:
    """A lab host's /tmp is its own; a checkout or virtualenv under the machine's /tmp stays at its path."""
    kept = kept_under_tmp([Path("/tmp/x/.venv"), Path("/tmp/x/platform"), Path("/usr/bin/python3"),
                           Path("/root/.pyenv/bin/python"), Path("/tmp/y"), Path("/tmp"), Path("/tmp/a b/c")])
    assert kept == ["x", "y"]
    plan = plan_lab("lab", 2, SPEC)
    argv = sshd_argv(plan, plan.hosts[0], kept)
    assert argv[argv.index("lab-host") + 1:argv.index("lab-host") + 4] == ["h1", str(plan.hosts[0].tmp), "x y"]
    assert "set -f" in argv[argv.index("-c") + 1] and "mount --rbind" in argv[argv.index("-c") + 1]


def test_sshd_argv_is_per_host_and_never_by_name() -> None:
    plan = plan_lab("lab", 3, SPEC)
    h2 = plan.hosts[1]
    argv = sshd_argv(plan, h2)
    assert argv[:4] == ["ip", "netns", "exec", "gcl-lab-h2"]
    assert argv[argv.index("/usr/sbin/sshd") + 1:argv.index("/usr/sbin/sshd") + 3] == ["-f", str(plan.sshd_config)]
    assert f"ListenAddress={h2.address}:22" in argv and f"PidFile={h2.pid_file}" in argv
    assert f"HostKey={h2.host_key}" in argv and str(h2.tmp) in argv and "h2" in argv
    config = sshd_config_text(plan)
    assert "PasswordAuthentication no" in config and f"AuthorizedKeysFile {plan.authorized_keys}" in config


def test_link_argvs_put_the_peer_in_the_namespace() -> None:
    plan = plan_lab("lab", 1, SPEC)
    h1 = plan.hosts[0]
    fresh = host_link_argvs(plan, h1, have_veth=False)
    assert fresh[0] == ["ip", "link", "add", h1.veth, "type", "veth", "peer", "name", "eth0", "netns", h1.netns]
    again = host_link_argvs(plan, h1, have_veth=True)
    assert again == fresh[1:] and ["ip", "-n", h1.netns, "addr", "replace", f"{h1.address}/24", "dev", "eth0"] in again


def test_hosts_and_known_hosts_files() -> None:
    plan = plan_lab("lab", 2, SPEC)
    assert f"{plan.hosts[1].address} h2" in hosts_file_text(plan)
    keys = {"h1": "ssh-ed25519 AAAA1 h1@lab", "h2": "ssh-ed25519 AAAA2 h2@lab\n"}
    assert known_hosts_text(plan, keys).splitlines() == [
        f"h1,{plan.hosts[0].address} ssh-ed25519 AAAA1", f"h2,{plan.hosts[1].address} ssh-ed25519 AAAA2"]


def test_lab_ssh_config_uses_the_lab_key_and_known_hosts() -> None:
    plan = plan_lab("lab", 2, SPEC)
    text = ssh_config_text(topology_for(plan), plan.dir)
    assert f"IdentityFile {plan.key}" in text and f"UserKnownHostsFile {plan.known_hosts}" in text
    assert "StrictHostKeyChecking yes" in text


def test_spec_text_is_the_example_with_the_labs_topology() -> None:
    plan = plan_lab("lab", 3, SPEC)
    text = lab_spec_text(plan, EXAMPLE_SPEC)
    assert "schedule: \"0 1 * * 0\"" in text and "# govcloud.yaml: the declarative spec" in text  # comments kept
    doc: Any = YAML(typ="safe").load(text)
    assert doc["platform"]["target"] == "hosts"
    topo = Topology.model_validate(doc["platform"].pop("topology"))
    assert topo == topology_for(plan) and topology_problems(topo) == []
    assert [h.name for h in topo.hosts] == ["h1", "h2", "h3"]
    doc["platform"]["target"] = "local"  # until models.py knows `hosts`: the rest is the valid example
    Spec.model_validate(doc)


def _addr(ifname: str, cidr: str) -> dict[str, Any]:
    local, prefix = cidr.split("/")
    return {"ifname": ifname, "addr_info": [{"family": "inet", "local": local, "prefixlen": int(prefix)}]}


def test_subnet_users() -> None:
    plan = plan_lab("lab", 3, SPEC)
    x = plan.subnet.network_address.packed[2]
    mine = [_addr(plan.bridge, f"10.231.{x}.1/24")], [{"dst": f"10.231.{x}.0/24", "dev": plan.bridge}]
    assert subnet_users(plan, *mine) == []
    assert subnet_users(plan, [_addr("eth0", "192.0.2.2/24"), _addr("lo", "127.0.0.1/8")],
                        [{"dst": "default", "dev": "eth0"}, {"dst": "192.0.2.0/24", "dev": "eth0"}]) == []
    assert subnet_users(plan, [_addr("gcbr0", f"10.231.{x}.77/24")], []) == [
        f"address 10.231.{x}.77/24 on gcbr0"]
    assert subnet_users(plan, [], [{"dst": "10.0.0.0/8", "dev": "wg0"}]) == ["route 10.0.0.0/8 via wg0"]
    assert subnet_users(plan, [], [{"dst": f"10.231.{x}.5", "dev": "tun0"}]) == [f"route 10.231.{x}.5 via tun0"]
