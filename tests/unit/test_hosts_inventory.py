"""Topology -> ssh_config and Ansible inventory (kolla-style groups). Pure; reachability over real SSH is
tested in tests/integration/test_lab.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from govcloud_platform.hosts.inventory import SERVICE_GROUPS, inventory, ssh_config_text
from govcloud_platform.spec.topology import Topology

BASE = Path("/srv/spec")
THREE = {
    "ssh": {"key_file": "keys/operator", "known_hosts": "/etc/govcloud/known hosts"},
    "hosts": [
        {"name": "db1", "address": "10.0.0.11", "groups": ["database", "dcs", "storage", "identity", "proxy"],
         "ssh": {"jump": "gw"}},
        {"name": "db2", "address": "10.0.0.12", "groups": ["database", "dcs", "storage", "identity", "proxy"],
         "ssh": {"jump": "gw", "port": 2222}},
        {"name": "edge", "address": "fd00::13", "groups": ["dcs", "storage", "backups", "apps"],
         "root": "/data/govcloud", "ssh": {"jump": "gw", "user": "debian"}},
        {"name": "gw", "address": "192.0.2.10", "groups": []},
    ],
}


@pytest.fixture
def topo() -> Topology:
    return Topology.model_validate(THREE)


def _blocks(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    cur: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("Host "):
            cur = out.setdefault(line.split()[1], [])
        elif cur is not None and line.strip():
            cur.append(line.strip())
    return out


def test_ssh_config_checks_host_keys_and_jumps(topo: Topology) -> None:
    text = ssh_config_text(topo, BASE)
    blocks = _blocks(text)
    assert set(blocks) == {"db1", "db2", "edge", "gw"}
    assert "Host edge fd00::13" in text  # reachable by name and by address, nothing else
    for name, lines in blocks.items():
        assert "StrictHostKeyChecking yes" in lines, name
        assert "IdentityFile /srv/spec/keys/operator" in lines, name  # relative to the spec's directory
        assert 'UserKnownHostsFile "/etc/govcloud/known hosts"' in lines, name
        assert "GlobalKnownHostsFile /dev/null" in lines, name
        assert ("ProxyJump gw" in lines) == (name != "gw"), name
    assert "Port 2222" in blocks["db2"] and "User debian" in blocks["edge"] and "User root" in blocks["gw"]
    assert "StrictHostKeyChecking no" not in text and "accept-new" not in text


def test_a_host_with_its_own_ssh_config(topo: Topology) -> None:
    gw = {**THREE["hosts"][3], "ssh": {"config_file": "~/.ssh/c"}}
    data: dict[str, Any] = {**THREE, "hosts": [*THREE["hosts"][:3], gw]}
    own = Topology.model_validate(data)
    blocks = _blocks(ssh_config_text(own, BASE))
    assert "gw" not in blocks  # its own file says how to reach it
    assert "ProxyCommand ssh -F ~/.ssh/c -W [%h]:%p gw" in blocks["db1"]
    hv = inventory(own, BASE, Path("/run/x/ssh_config"))["all"]["hosts"]
    assert hv["gw"]["ansible_host"] == "gw" and hv["gw"]["ansible_ssh_common_args"] == "-F '~/.ssh/c'"
    assert "ansible_user" not in hv["gw"]


def test_inventory_hosts_and_kolla_style_groups(topo: Topology) -> None:
    inv = inventory(topo, BASE, Path("/run/my lab/ssh_config"))["all"]
    hv = inv["hosts"]["edge"]
    assert hv["ansible_host"] == "fd00::13" and hv["ansible_user"] == "debian" and hv["ansible_port"] == 22
    assert hv["ansible_ssh_common_args"] == "-F '/run/my lab/ssh_config'"
    assert hv["govcloud_root"] == "/data/govcloud" and inv["hosts"]["db1"]["govcloud_root"] == "/var/lib/govcloud"
    children = inv["children"]
    assert set(children["database"]["hosts"]) == {"db1", "db2"}
    assert set(children["dcs"]["hosts"]) == {"db1", "db2", "edge"}
    assert set(children["postgresql"]["children"]) == {"database"}
    assert set(children["pgbackrest"]["children"]) == {"database", "backups"}
    assert set(children["nginx"]["children"]) == {"proxy", "identity"}
    # no storage_master group: every storage host runs a master and a volume server
    assert set(children["seaweedfs_master"]["children"]) == {"storage"}
    assert set(children["seaweedfs_volume"]["children"]) == {"storage"}
    assert "gw" not in children["supervisord"]["children"]
    assert set(inv["hosts"]) == {"db1", "db2", "edge", "gw"}


def test_finer_storage_groups_are_used_when_named() -> None:
    hosts = [{"name": f"s{i}", "address": f"10.0.0.{i}", "groups": ["storage", "storage_volume"]} for i in range(1, 4)]
    hosts[0]["groups"] += ["storage_master", "database", "identity", "proxy", "backups"]
    children = inventory(Topology.model_validate({"hosts": hosts}), BASE, Path("/c"))["all"]["children"]
    assert set(children["seaweedfs_master"]["children"]) == {"storage_master"}
    assert set(children["storage_master"]["hosts"]) == {"s1"}


def test_every_service_group_names_known_groups() -> None:
    from govcloud_platform.spec.topology import HOST_GROUPS

    for service, groups in SERVICE_GROUPS.items():
        assert set(groups) <= set(HOST_GROUPS), service
