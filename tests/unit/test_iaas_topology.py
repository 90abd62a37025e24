"""The openstack target's topology comes from the platform stack's outputs. The outputs here are those of the
real platform program run under Pulumi's mocks, with a mock cloud that gives ports addresses as Neutron
does (the one asked for, else the next free one of the subnet)."""

from __future__ import annotations

import ipaddress
from typing import Any

import pulumi
import pytest

from govcloud_platform.errors import InputError, OperationFailed
from govcloud_platform.hosts.inventory import inventory, ssh_config_text
from govcloud_platform.iaas.topology import topology_from_outputs
from govcloud_platform.spec import Spec, load_spec_text
from govcloud_platform.spec.example import EXAMPLE_SPEC
from govcloud_platform.spec.topology import topology_problems
from govcloud_stacks.programs import platform_program


class NeutronMocks(pulumi.runtime.Mocks):
    """Outputs are the inputs, plus what the cloud computes: a port's `all_fixed_ips` (DHCP from the
    subnet's CIDR for ports that ask for no address)."""

    def __init__(self, cidr: str) -> None:
        self.free = iter(ipaddress.ip_network(cidr).hosts())
        self.taken: set[str] = set()
        self.ports: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        outputs = dict(args.inputs)
        if args.typ == "openstack:networking/port:Port":
            self.ports.append(args.name)
            wanted = [f.get("ipAddress") for f in args.inputs.get("fixedIps", [])]
            address = wanted[0] if wanted and wanted[0] else self._dhcp()
            self.taken.add(address)
            outputs["allFixedIps"] = [address, "fd00::1"]
        return f"{args.name}-id", outputs

    def _dhcp(self) -> str:
        for candidate in self.free:
            address = str(candidate)
            if address not in self.taken and not address.endswith((".1", ".5", ".10")):
                return address
        raise AssertionError("subnet exhausted")

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {"id": "public-id", "name": args.args.get("name", "x")}, []


def _spec(**openstack: Any) -> Spec:
    raw = load_spec_text(EXAMPLE_SPEC).model_dump()
    raw["platform"]["openstack"].update(openstack)
    return Spec.model_validate(raw)


def platform_outputs(spec: Spec) -> dict[str, Any]:
    """Run the platform program under mocks and return its stack outputs, resolved."""
    mocks = NeutronMocks(spec.platform.openstack.services_cidr)
    pulumi.runtime.set_mocks(mocks, project=spec.platform.name, stack="platform", preview=False)
    captured: dict[str, Any] = {}

    @pulumi.runtime.test
    def run() -> Any:
        platform_program(spec)()
        root = pulumi.runtime.get_root_resource()
        assert root is not None
        return pulumi.Output.from_input(dict(root.outputs)).apply(captured.update)

    run()
    assert len(mocks.ports) == len(spec.platform.openstack.paas_vms), mocks.ports
    return captured


@pytest.fixture(scope="module")
def outputs() -> dict[str, Any]:
    return platform_outputs(_spec())


def test_platform_stack_exports_each_vm_address_and_the_login_user(outputs: dict[str, Any]) -> None:
    assert outputs["ssh_user"] == "debian"  # original_user of the VMs' image (Debian 12)
    hosts = outputs["paas_hosts"]
    assert set(hosts) == {"database", "storage", "identity", "backup", "bastion", "proxy"}
    assert hosts["proxy"] == "10.10.0.10" and hosts["bastion"] == "10.10.0.5"  # proxy_cidr, admin_cidr
    for role, address in hosts.items():
        assert ipaddress.ip_address(address) in ipaddress.ip_network("10.10.0.0/24"), (role, address)
    assert len(set(hosts.values())) == len(hosts)


def test_topology_from_the_platform_outputs(outputs: dict[str, Any]) -> None:
    topo = topology_from_outputs(outputs, key_file="/etc/govcloud/operator_ed25519",
                                 known_hosts="/etc/govcloud/known_hosts")
    assert topology_problems(topo) == []
    by_name = {h.name: h for h in topo.hosts}
    assert by_name["backup"].groups == ["backups"] and by_name["proxy"].groups == ["proxy"]
    assert by_name["bastion"].groups == []
    assert by_name["database"].address == outputs["paas_hosts"]["database"]
    for host in topo.hosts:
        ssh = topo.ssh_for(host)
        assert ssh.user == "debian", host.name
        assert ssh.jump == (None if host.name == "bastion" else "bastion"), host.name
    config = ssh_config_text(topo, base_dir=__import__("pathlib").Path("/"))
    assert "ProxyJump bastion" in config and "StrictHostKeyChecking yes" in config
    inv = inventory(topo, __import__("pathlib").Path("/"), __import__("pathlib").Path("/x/ssh_config"))
    assert set(inv["all"]["children"]["postgresql"]["children"]) == {"database"}


def test_bastion_reached_at_another_address_and_vms_still_by_their_fixed_one(outputs: dict[str, Any]) -> None:
    topo = topology_from_outputs(outputs, bastion_address="203.0.113.7")
    assert topo.host("bastion").address == "203.0.113.7"  # type: ignore[union-attr]
    assert topo.host("database").address == outputs["paas_hosts"]["database"]  # type: ignore[union-attr]


def test_a_range_for_admin_cidr_pins_no_bastion_address() -> None:
    outputs = platform_outputs(_spec(admin_cidr="10.10.0.0/28"))
    assert outputs["paas_hosts"]["bastion"] not in ("10.10.0.0", None)


@pytest.mark.parametrize(
    ("outputs", "error", "text"),
    [
        ({}, OperationFailed, "no `paas_hosts` output"),
        ({"paas_hosts": {"database": None, "bastion": "10.0.0.5"}}, OperationFailed, "no address for database"),
        ({"paas_hosts": {"database": "10.0.0.6", "bastion": "10.0.0.5"}}, InputError, "no host serves group"),
        ({"paas_hosts": {"cache": "10.0.0.6"}}, InputError, "no group serves role 'cache'"),
    ],
)
def test_outputs_that_make_no_topology(outputs: dict[str, Any], error: type[Exception], text: str) -> None:
    with pytest.raises(error, match=text.replace("`", ".").replace("(", ".")):
        topology_from_outputs(outputs)


def test_iaas_up_records_the_outputs_and_the_platform_commands_run_on_the_hosts_they_make(
        outputs: dict[str, Any], tmp_path: Any) -> None:
    """`iaas up` of the platform stack keeps the outputs the topology is made of (a Pulumi secret output never
    reaches the file); every platform command of the `openstack` target then sees the `hosts` target."""
    import json
    import stat
    from types import SimpleNamespace

    from govcloud_platform.iaas.runner import plain_outputs
    from govcloud_platform.iaas.topology import OUTPUTS_FILE, hosts_spec, record_outputs

    api = {name: SimpleNamespace(value=value, secret=False) for name, value in outputs.items()}
    api["ssh_user"] = SimpleNamespace(value="debian", secret=False)
    api["admin_password"] = SimpleNamespace(value="s3cr3t", secret=True)
    api["project_id"] = SimpleNamespace(value="p-1", secret=False)
    plain = plain_outputs(api)
    assert "admin_password" not in plain and plain["project_id"] == "p-1"
    raw = _spec(hosts={"key_file": "keys/operator", "known_hosts": "keys/known_hosts",
                       "bastion_address": "203.0.113.7", "root": "/srv/{host}/govcloud"}).model_dump()
    raw["platform"]["target"] = "openstack"
    spec = Spec.model_validate(raw)
    home = tmp_path / "home"
    with pytest.raises(InputError, match="run `govcloud iaas up` first"):
        hosts_spec(spec, home)
    path = record_outputs(home, plain)
    assert path == home / OUTPUTS_FILE and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert set(json.loads(path.read_text())) == {"paas_hosts", "ssh_user"}  # nothing else is kept
    seen = hosts_spec(spec, home)
    assert seen.platform.target == "hosts" and seen.platform.topology is not None
    topo = seen.platform.topology
    assert topo.host("bastion").address == "203.0.113.7"  # type: ignore[union-attr]
    assert topo.host("database").address == outputs["paas_hosts"]["database"]  # type: ignore[union-attr]
    assert {h.name: h.root for h in topo.hosts}["database"] == "/srv/database/govcloud"
    assert (topo.ssh.key_file, topo.ssh.known_hosts, topo.ssh.user) == ("keys/operator", "keys/known_hosts", "debian")
    local = load_spec_text(EXAMPLE_SPEC)
    assert hosts_spec(local, home) is local  # any other target as it is
    path.write_text("[1, 2")
    with pytest.raises(InputError, match="unreadable"):
        hosts_spec(spec, home)
