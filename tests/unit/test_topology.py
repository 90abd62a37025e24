"""The `hosts` topology of the spec: structural rules on the fields, cross-host rules with key paths (mapped
to lines exactly as the spec loader maps the rest of the spec)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from govcloud_platform.spec.bounded_yaml import compose
from govcloud_platform.spec.loader import _path
from govcloud_platform.spec.topology import SshSettings, Topology, topology_problems


def _host(name: str, address: str, *groups: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "address": address, "groups": list(groups), **extra}


ONE = [_host("h1", "10.0.0.11", "database", "storage", "identity", "proxy", "backups", "apps")]
THREE = [
    _host("h1", "10.0.0.11", "database", "dcs", "storage", "identity", "proxy"),
    _host("h2", "10.0.0.12", "database", "dcs", "storage", "identity", "proxy"),
    _host("h3", "10.0.0.13", "dcs", "storage", "backups", "apps"),
]


def _problems(hosts: list[dict[str, Any]], **top: Any) -> list[tuple[tuple[str | int, ...], str]]:
    return topology_problems(Topology.model_validate({"hosts": hosts, **top}))


@pytest.mark.parametrize("hosts", [ONE, THREE], ids=["one", "three"])
def test_valid_topologies_have_no_problem(hosts: list[dict[str, Any]]) -> None:
    assert _problems(hosts) == []


def _edit(hosts: list[dict[str, Any]], index: int, **changes: Any) -> list[dict[str, Any]]:
    out = copy.deepcopy(hosts)
    out[index].update(changes)
    return out


@pytest.mark.parametrize(
    ("hosts", "top", "path", "text"),
    [
        (_edit(THREE, 1, name="h1"), {}, ("hosts", 1, "name"), "duplicate host name 'h1' (also hosts[0])"),
        (_edit(THREE, 2, address="10.0.0.11"), {}, ("hosts", 2, "address"), "duplicate address 10.0.0.11"),
        ([_host("a", "fd00::1", *ONE[0]["groups"]), _host("b", "fd00:0::1", "apps")], {}, ("hosts", 1, "address"),
         "duplicate address fd00::1"),
        (_edit(THREE, 2, groups=["dcs", "storage", "apps"]), {}, ("hosts",), "no host serves group 'backups'"),
        ([_host("h1", "10.0.0.1", "database", "storage", "identity", "backups", "apps")], {}, ("hosts",),
         "group 'apps' has hosts but no host serves 'proxy'"),
        (_edit(THREE, 0, ssh={"jump": "gw"}), {}, ("hosts", 0, "ssh", "jump"), "unknown jump host 'gw'"),
        (_edit(_edit(THREE, 0, ssh={"jump": "h2"}), 1, ssh={"jump": "h1"}), {}, ("hosts", 0, "ssh", "jump"),
         "jump hosts form a cycle: h1 -> h2 -> h1"),
        (THREE, {"ssh": {"jump": "h3"}}, ("ssh", "jump"), "jump hosts form a cycle: h3 -> h3"),
        ([*ONE, _host("idle", "10.0.0.2")], {}, ("hosts", 1, "groups"), "host serves no group"),
        (_edit(ONE, 0, groups=[*ONE[0]["groups"], "storage_master"]) + [_host("s2", "10.0.0.2", "storage_master")],
         {}, ("hosts", 1, "groups"), "group 'storage_master' is part of 'storage'"),
        (_edit(THREE, 2, groups=["storage", "backups", "apps"]), {}, ("hosts",),
         "2 hosts in group 'dcs': etcd members keep a quorum only with an odd number"),
        (_edit(THREE, 2, groups=["dcs", "backups", "apps"]), {}, ("hosts",),
         "2 storage hosts would each run a SeaweedFS master"),
        ([_edit(THREE, 0, groups=["database", "storage", "identity", "proxy"])[0],
          _host("h2", "10.0.0.12", "database", "backups")], {}, ("hosts",),
         "2 database hosts need a consensus store"),
    ],
)
def test_cross_host_problems_name_their_key_path(
    hosts: list[dict[str, Any]], top: dict[str, Any], path: tuple[str | int, ...], text: str
) -> None:
    problems = _problems(hosts, **top)
    assert any(loc == ("platform", "topology", *path) and text in msg for loc, msg in problems), problems


def test_a_jump_host_may_serve_no_group() -> None:
    hosts = [_edit(THREE, i, ssh={"jump": "bastion"})[i] for i in range(3)] + [_host("bastion", "192.0.2.7")]
    assert _problems(hosts) == []


@pytest.mark.parametrize(
    ("host", "text"),
    [
        (_host("H1", "10.0.0.1", "apps"), "invalid host name"),
        (_host("h--1", "10.0.0.1", "apps"), "invalid host name"),
        (_host("h1", "10.0.0.300", "apps"), "invalid address"),
        (_host("h1", "0.0.0.0", "apps"), "cannot reach a host"),
        (_host("h1", "fe80::1", "apps"), "cannot reach a host"),
        (_host("h1", "10.0.0.1", "apps", "smtp"), "Input should be 'database'"),
        (_host("h1", "10.0.0.1", "apps", "apps"), "each group may appear only once"),
        (_host("h1", "10.0.0.1", "apps", root="var/lib"), "absolute path"),
        (_host("h1", "10.0.0.1", "apps", root="/var/../etc"), "absolute path"),
        (_host("h1", "10.0.0.1", "apps", ssh={"user": "Root"}), "invalid user name"),
        (_host("h1", "10.0.0.1", "apps", ssh={"port": 0}), "greater than or equal to 1"),
        (_host("h1", "10.0.0.1", "apps", ssh={"config_file": "c", "port": 2222}), "config_file excludes port"),
        (_host("h1", "10.0.0.1", "apps", ssh={"key_file": 'a"b'}), "single line"),
        (_host("h1", "10.0.0.1", "apps", sshd={}), "Extra inputs are not permitted"),
    ],
)
def test_structural_problems(host: dict[str, Any], text: str) -> None:
    with pytest.raises(ValidationError, match=text):
        Topology.model_validate({"hosts": [host]})


def test_addresses_are_canonical_and_ipv6_is_accepted() -> None:
    topo = Topology.model_validate({"hosts": [_host("h1", "FD00:0:0::0:1", *ONE[0]["groups"])]})
    assert topo.hosts[0].address == "fd00::1"


def test_host_ssh_settings_override_the_defaults() -> None:
    topo = Topology.model_validate({
        "ssh": {"user": "debian", "key_file": "keys/op", "known_hosts": "kh"},
        "hosts": [_edit(ONE, 0, ssh={"port": 2222, "user": "admin"})[0]],
    })
    assert topo.ssh_for(topo.hosts[0]) == SshSettings(user="admin", port=2222, key_file="keys/op", known_hosts="kh")
    own = Topology.model_validate({"ssh": {"user": "debian"}, "hosts": [_edit(ONE, 0, ssh={"config_file": "c"})[0]]})
    assert own.ssh_for(own.hosts[0]) == SshSettings(config_file="c")
    shared = Topology.model_validate({"ssh": {"config_file": "c"}, "hosts": ONE})
    assert shared.ssh_for(shared.hosts[0]) == SshSettings(config_file="c")


SPEC_YAML = """\
version: 1
platform:
  name: demo
  target: hosts
  topology:
    hosts:
      - name: h1
        address: 10.0.0.11
        groups: [database, storage, identity, proxy, backups]
      - name: h2
        address: 10.0.0.11
        groups: [apps]
"""


def test_problems_map_to_the_line_of_their_key() -> None:
    """What the loader will print once `platform.topology` is wired in: file, line and key path."""
    doc = compose(SPEC_YAML)
    topo = Topology.model_validate(doc.data["platform"]["topology"])
    (loc, msg), = topology_problems(topo)
    assert (_path(loc), doc.line_of(loc), msg) == (
        "platform.topology.hosts[1].address", 11, "duplicate address 10.0.0.11 (also hosts[0])")


def test_spec_problems() -> None:
    from govcloud_platform.spec.topology import spec_problems

    assert spec_problems("local", None, apps_wanted=True) == []
    (loc, msg), = spec_problems("hosts", None, apps_wanted=False)
    assert loc == ("platform", "target") and "needs `platform.topology`" in msg
    no_apps = Topology.model_validate({"hosts": [_edit(ONE, 0, groups=ONE[0]["groups"][:-1])[0]]})
    assert spec_problems("hosts", no_apps, apps_wanted=False) == []
    (loc, msg), = spec_problems("hosts", no_apps, apps_wanted=True)
    assert loc == ("platform", "topology", "hosts") and "no host serves group 'apps'" in msg
