"""The `ec2` target under Pulumi's mocks: the example spec with `target: ec2` plans with zero violations and the
expected resources per agency, in the same document as on OpenStack; an unencrypted volume or a world-open SSH
port exits 3 naming the policy; the components' inputs; the provider's configuration (the aws plugin, the
cloud's endpoints, never a call to AWS); the hosts topology from the platform stack's outputs."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pulumi
import pytest
from typer.testing import CliRunner

from govcloud_cli.main import app
from govcloud_platform.errors import GovCloudError
from govcloud_platform.iaas.offline import record
from govcloud_platform.iaas.plan import PlannedResource
from govcloud_platform.spec import Spec, load_spec_text
from govcloud_platform.spec.example import EXAMPLE_SPEC

GOVCLOUD = Path(sys.executable).with_name("govcloud")
TAGS = {"govcloud:agency", "govcloud:platform"}
# What one agency's stack holds on ec2 (peering on), and one app's.
AGENCY_TYPES = Counter({
    "govcloud:tenant:AgencyTenant": 1, "aws:ec2/vpc:Vpc": 1, "aws:ec2/subnet:Subnet": 1,
    "aws:ec2/internetGateway:InternetGateway": 1, "aws:ec2/vpcPeeringConnection:VpcPeeringConnection": 1,
    "aws:ec2/route:Route": 1, "aws:ec2/routeTable:RouteTable": 1,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": 1,
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": 1, "aws:ec2/keyPair:KeyPair": 1, "aws:iam/group:Group": 3,
    "aws:iam/groupPolicy:GroupPolicy": 3, "aws:iam/user:User": 1, "aws:iam/userPolicy:UserPolicy": 1,
})
APP_TYPES = Counter({
    "govcloud:app:AppDeployment": 1, "aws:ec2/securityGroup:SecurityGroup": 1,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": 2,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": 1, "aws:ebs/volume:Volume": 1,
    "aws:ec2/instance:Instance": 1, "aws:ec2/volumeAttachment:VolumeAttachment": 1,
})


def _raw(**ec2: Any) -> dict[str, Any]:
    raw = load_spec_text(EXAMPLE_SPEC).model_dump()
    raw["platform"]["target"] = "ec2"
    raw["platform"]["ec2"].update(ec2)
    raw["agencies"][0]["apps"] = ["portal"]
    return raw


def _write(tmp_path: Path, raw: dict[str, Any]) -> Path:
    path = tmp_path / "govcloud.yaml"
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


def _plan(spec: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(app, ["--spec", str(spec), "--json", "iaas", "plan", "--offline", *extra])
    code = result.exit_code
    if isinstance(result.exception, GovCloudError):
        code = result.exception.exit_code
    elif result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return code, json.loads(result.stdout)


@pytest.fixture(scope="module")
def example_plan(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any]]:
    return _plan(_write(tmp_path_factory.mktemp("ec2"), _raw()))


def test_example_spec_on_ec2_plans_with_zero_violations_and_the_expected_resources(
        example_plan: tuple[int, dict[str, Any]]) -> None:
    code, doc = example_plan
    assert code == 0, doc["violations"]
    assert doc["violations"] == []
    assert set(doc) == {"resources", "violations"}  # the openstack target's document
    assert all(set(r) == {"stack", "type", "name", "urn", "inputs"} for r in doc["resources"])
    by_stack: dict[str, Counter[str]] = {}
    for r in doc["resources"]:
        by_stack.setdefault(r["stack"], Counter())[r["type"]] += 1
    assert set(by_stack) == {"platform", "agency-health", "app-health-portal", "agency-revenue",
                             "agency-city-council"}
    for slug in ("health", "revenue", "city-council"):
        assert by_stack[f"agency-{slug}"] == AGENCY_TYPES, slug
    assert by_stack["app-health-portal"] == APP_TYPES
    platform = by_stack["platform"]
    assert platform["aws:ec2/instance:Instance"] == 6 and platform["aws:ebs/volume:Volume"] == 6
    assert platform["aws:ec2/networkInterface:NetworkInterface"] == 6
    assert all(r["urn"].startswith(f"urn:pulumi:{r['stack']}::govcloud-demo::") for r in doc["resources"])
    assert not [r for r in doc["resources"] if r["type"].startswith("openstack:")]


def test_every_taggable_resource_carries_both_labels(example_plan: tuple[int, dict[str, Any]]) -> None:
    _, doc = example_plan
    tagged = [r for r in doc["resources"] if "tags" in r["inputs"]]
    assert len(tagged) > 40
    for r in tagged:
        assert TAGS <= set(r["inputs"]["tags"]), r["urn"]
        assert r["inputs"]["tags"]["govcloud:platform"] == "govcloud-demo", r["urn"]
        want = r["stack"].split("-", 1)[1].rsplit("-portal", 1)[0] if r["stack"] != "platform" else "platform"
        assert r["inputs"]["tags"]["govcloud:agency"] == want, r["urn"]


def test_agency_filter_on_ec2(tmp_path: Path) -> None:
    code, doc = _plan(_write(tmp_path, _raw()), "--agency", "health")
    assert code == 0
    assert {r["stack"] for r in doc["resources"]} == {"agency-health", "app-health-portal"}


def _rogue_volume() -> None:
    import pulumi_aws as aws

    aws.ebs.Volume("rogue-volume", size=10, availability_zone="one", region="eucalyptus",
                   tags={"govcloud:agency": "health", "govcloud:platform": "govcloud-demo"})


def _rogue_ssh() -> None:
    import pulumi_aws as aws

    group = aws.ec2.SecurityGroup("rogue-sg", vpc_id="vpc-1", region="eucalyptus",
                                  tags={"govcloud:agency": "health", "govcloud:platform": "govcloud-demo"})
    aws.vpc.SecurityGroupIngressRule("rogue-ssh", security_group_id=group.id, ip_protocol="tcp", from_port=22,
                                     to_port=22, cidr_ipv4="0.0.0.0/0", region="eucalyptus",
                                     tags={"govcloud:agency": "health", "govcloud:platform": "govcloud-demo"})


@pytest.mark.parametrize(("policy", "program"), [
    ("encrypted-volumes-only", _rogue_volume),
    ("no-public-admin-ports", _rogue_ssh),
])
def test_unencrypted_volume_or_world_open_ssh_exits_3_naming_the_policy(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str, program: Any) -> None:
    from govcloud_stacks import programs

    original = programs.stack_defs

    def with_rogue(spec: Any, agency: str | None = None) -> list[programs.StackDef]:
        return [*original(spec, agency), programs.StackDef("rogue", "agency", "health", program)]

    monkeypatch.setattr(programs, "stack_defs", with_rogue)
    code, doc = _plan(_write(tmp_path, _raw()))
    assert code == 3, doc["violations"]
    names = {v["policy"] for v in doc["violations"]}
    assert policy in names, names
    assert all(v["resource"].startswith("urn:pulumi:rogue::") for v in doc["violations"]), doc["violations"]


SPEC_CASES = [
    ("no-public-admin-ports", {"admin_cidr": "0.0.0.0/0"}),  # SSH of every VM open to the world
    ("no-public-ingress", {"proxy_cidr": "0.0.0.0/0"}),
    ("data-residency", {"region": "us-east-1"}),
    ("data-residency", {"availability_zone": "abroad-1a"}),
    ("quota-fits-capacity", {"capacity": {"cores": 10}}),
]


@pytest.mark.parametrize(("policy", "changes"), SPEC_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(SPEC_CASES)])
def test_violating_ec2_spec_exits_3_naming_the_policy(tmp_path: Path, policy: str, changes: dict[str, Any]) -> None:
    code, doc = _plan(_write(tmp_path, _raw(**changes)))
    assert code == 3, doc["violations"]
    matching = [v for v in doc["violations"] if v["policy"] == policy]
    assert matching, doc["violations"]
    if policy in ("data-residency", "quota-fits-capacity"):
        assert "platform.ec2." in matching[0]["message"], matching[0]


def test_real_exit_code_3_from_the_console_script(tmp_path: Path) -> None:
    spec = _write(tmp_path, _raw(admin_cidr="0.0.0.0/0"))
    env = {"PATH": f"{GOVCLOUD.parent}:/usr/bin:/bin", "GOVCLOUD_HOME": str(tmp_path / "home")}
    out = subprocess.run([str(GOVCLOUD), "--spec", str(spec), "--json", "iaas", "plan", "--offline"],
                         capture_output=True, text=True, env=env, timeout=180)
    assert out.returncode == 3, out.stderr
    assert "no-public-admin-ports" in out.stderr


def test_without_pulumi_cli_ec2_verbs_say_how_to_install_and_exit_1(tmp_path: Path) -> None:
    spec = _write(tmp_path, _raw())
    env = {"PATH": f"{GOVCLOUD.parent}:/usr/bin:/bin", "GOVCLOUD_HOME": str(tmp_path / "home")}
    out = subprocess.run([str(GOVCLOUD), "--spec", str(spec), "iaas", "up"], capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.returncode == 1, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "get.pulumi.com" in lines[0], lines


def test_the_runner_picks_the_aws_plugin_with_the_clouds_endpoints_and_no_aws_calls() -> None:
    from govcloud_platform.iaas.providers import provider_for

    spec = Spec.model_validate(_raw(endpoints={"ec2": "http://127.0.0.1:5000/", "s3": "http://127.0.0.1:5000/",
                                               "iam": "http://127.0.0.1:5000/", "sts": "http://127.0.0.1:5000/"}))
    provider = provider_for(spec)
    assert (provider.name, provider.plugin) == ("ec2", "aws")
    from importlib.metadata import version

    assert provider.plugin_version == version("pulumi-aws")  # the plugin of the SDK the programs use
    config = provider.config(spec)
    for flag in ("skipCredentialsValidation", "skipRequestingAccountId", "skipMetadataApiCheck",
                 "skipRegionValidation", "s3UsePathStyle"):
        assert config[f"aws:{flag}"] == "true", flag
    assert config["aws:region"] == "eucalyptus"
    assert json.loads(config["aws:endpoints"]) == [{k: "http://127.0.0.1:5000/" for k in ("ec2", "s3", "iam", "sts")}]
    openstack = Spec.model_validate(load_spec_text(EXAMPLE_SPEC).model_dump())
    assert provider_for(openstack).plugin == "openstack"  # unchanged


def test_ec2_settings_have_defaults_and_refuse_bad_values() -> None:
    from pydantic import ValidationError

    from govcloud_platform.spec.ec2 import Ec2Settings

    assert Ec2Settings().zone == "one"
    for bad in ({"amis": {"Debian 12": "debian"}}, {"instance_types": {"SCS-2V-4": "big"}},
                {"agency_cidr_pool": "10.10.0.0/16"}, {"app_flavor": "SCS-64V-512"},
                {"endpoints": {"ec2": "compute:8773"}}):
        with pytest.raises(ValidationError):
            Ec2Settings.model_validate(bad)


# --- the components, one stack at a time -------------------------------------------------------------------


def _spec() -> Spec:
    return Spec.model_validate(_raw())


def _of(resources: list[PlannedResource], type_suffix: str) -> list[PlannedResource]:
    return [r for r in resources if r.type.endswith(type_suffix)]


@pytest.fixture(scope="module")
def tenant() -> list[PlannedResource]:
    from govcloud_stacks.ec2_programs import agency_program

    spec = _spec()
    return record("govcloud-demo", [("agency-revenue", agency_program(spec, spec.agencies[1], 1))])


@pytest.fixture(scope="module")
def portal() -> list[PlannedResource]:
    from govcloud_stacks.ec2_programs import app_program

    spec = _spec()
    return record("govcloud-demo", [("app-health-portal", app_program(spec, spec.agencies[0], "portal"))])


def test_tenant_vpc_from_the_pool_peered_and_closed(tenant: list[PlannedResource]) -> None:
    vpc = _of(tenant, ":Vpc")[0]
    assert vpc.inputs["cidrBlock"] == "10.64.1.0/24", vpc.urn  # the second agency's /24
    subnet = _of(tenant, ":Subnet")[0]
    assert subnet.inputs["cidrBlock"] == "10.64.1.0/24" and subnet.inputs["availabilityZone"] == "one"
    assert subnet.inputs["mapPublicIpOnLaunch"] is False
    routes = {r["cidrBlock"] for r in _of(tenant, ":RouteTable")[0].inputs["routes"]}
    assert routes == {"0.0.0.0/0", "10.10.0.0/24"}  # the internet, the platform's services over the peering
    assert _of(tenant, ":Route")[0].inputs["destinationCidrBlock"] == "10.64.1.0/24"
    group = _of(tenant, ":DefaultSecurityGroup")[0]
    assert [(i["self"], i["protocol"]) for i in group.inputs["ingress"]] == [(True, "-1")]
    assert "cidrBlocks" not in group.inputs["ingress"][0]


def test_tenant_iam_groups_and_eucalyptus_quota(tenant: list[PlannedResource]) -> None:
    from govcloud_policies.aws import quotas

    groups = sorted(g.inputs["name"] for g in _of(tenant, ":Group"))
    assert groups == ["govcloud-demo-revenue-admins", "govcloud-demo-revenue-members", "govcloud-demo-revenue-readers"]
    for policy in _of(tenant, ":GroupPolicy"):
        doc = json.loads(policy.inputs["policy"])
        scoped = [s for s in doc["Statement"] if s["Sid"] == "OwnAgency"]
        for st in scoped:
            assert st["Condition"]["StringEquals"]["aws:ResourceTag/govcloud:agency"] == "revenue"
    quota = _of(tenant, ":UserPolicy")[0]
    doc = json.loads(quota.inputs["policy"])
    assert {s["Effect"] for s in doc["Statement"]} == {"Limit"}
    granted = quotas(quota.type, quota.inputs)
    assert (granted["cores"], granted["instances"], granted["ram_mb"], granted["volume_gb"]) == (8, 4, 16384, 200)


def test_app_open_only_to_the_proxy_with_encrypted_disks_and_the_same_cloud_init(
        portal: list[PlannedResource]) -> None:
    from govcloud_stacks.cloud_init import cloud_init

    rules = {r.name: r.inputs for r in _of(portal, ":SecurityGroupIngressRule")}
    assert (rules["health-portal-sg-app"]["cidrIpv4"], rules["health-portal-sg-app"]["fromPort"]) == \
        ("10.10.0.10/32", 8000)
    assert rules["health-portal-sg-ssh"]["cidrIpv4"] == "10.10.0.5/32"
    volume = _of(portal, ":Volume")[0]
    assert volume.inputs["encrypted"] is True and volume.inputs["size"] == 20
    vm = _of(portal, ":Instance")[0]
    assert vm.inputs["userData"] == cloud_init("portal", "health", "govcloud-demo", "gov.example")
    assert vm.inputs["rootBlockDevice"]["encrypted"] is True
    assert (vm.inputs["instanceType"], vm.inputs["ami"]) == ("t2.medium", "emi-0000d012")
    assert vm.inputs["subnetId"] == "agency-health-subnet_id" and vm.inputs["keyName"] == "agency-health-keypair"
    assert vm.inputs["metadataOptions"]["httpTokens"] == "required"


def test_without_peering_no_route_to_the_platform() -> None:
    from govcloud_stacks.ec2_programs import agency_program

    spec = Spec.model_validate(_raw(vpc_peering=False))
    resources = record("govcloud-demo", [("agency-health", agency_program(spec, spec.agencies[0], 0))])
    assert not _of(resources, ":VpcPeeringConnection") and not _of(resources, ":Route")


# --- the hosts topology from the platform stack's outputs ------------------------------------------------------


class VpcMocks(pulumi.runtime.Mocks):
    """Outputs are the inputs, plus what EC2 computes: a network interface's `private_ip` (the one asked for,
    else the next free address of the subnet)."""

    def __init__(self, cidr: str) -> None:
        self.free = (str(a) for a in ipaddress.ip_network(cidr).hosts() if not str(a).endswith((".1", ".5", ".10")))
        self.interfaces = 0

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        outputs = dict(args.inputs)
        if args.typ == "aws:ec2/networkInterface:NetworkInterface":
            self.interfaces += 1
            wanted = args.inputs.get("privateIps") or []
            outputs["privateIp"] = wanted[0] if wanted else next(self.free)
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {"id": "x-id"}, []


def test_topology_from_the_ec2_platform_outputs() -> None:
    from govcloud_platform.iaas.topology import topology_from_outputs
    from govcloud_platform.spec.topology import topology_problems
    from govcloud_stacks.ec2_programs import platform_program

    spec = _spec()
    mocks = VpcMocks(spec.platform.ec2.services_cidr)
    pulumi.runtime.set_mocks(mocks, project=spec.platform.name, stack="platform", preview=False)
    captured: dict[str, Any] = {}

    @pulumi.runtime.test
    def run() -> Any:
        platform_program(spec)()
        root = pulumi.runtime.get_root_resource()
        assert root is not None
        return pulumi.Output.from_input(dict(root.outputs)).apply(captured.update)

    run()
    assert mocks.interfaces == 6
    hosts = captured["paas_hosts"]
    assert hosts["proxy"] == "10.10.0.10" and hosts["bastion"] == "10.10.0.5"
    assert captured["ssh_user"] == "debian"
    topo = topology_from_outputs(captured, key_file="/k", known_hosts="/kh")
    assert topology_problems(topo) == []
    assert {h.name: h.address for h in topo.hosts}["database"] == hosts["database"]
    assert topo.ssh_for(topo.host("database")).jump == "bastion"  # type: ignore[arg-type]


def test_hosts_spec_reads_the_ec2_hosts_block(tmp_path: Path) -> None:
    from govcloud_platform.iaas.topology import hosts_spec, record_outputs

    spec = Spec.model_validate(_raw(hosts={"bastion_address": "203.0.113.9"}))
    paas = {"database": "10.10.0.20", "storage": "10.10.0.21", "identity": "10.10.0.22", "backup": "10.10.0.23",
            "bastion": "10.10.0.5", "proxy": "10.10.0.10"}
    record_outputs(tmp_path, {"paas_hosts": paas, "ssh_user": "debian"})
    seen = hosts_spec(spec, tmp_path)
    assert seen.platform.target == "hosts" and seen.platform.topology is not None
    assert seen.platform.topology.host("bastion").address == "203.0.113.9"  # type: ignore[union-attr]


def test_parallel_ec2_plan_is_identical_to_the_sequential_one() -> None:
    """Enough agencies for the forked workers: the merged plan is the sequential one, as on OpenStack."""
    from govcloud_platform.iaas import offline

    raw = _raw(capacity={"cores": 10})  # and a stack-level violation over all stacks
    raw["agencies"] = [{"slug": f"gen-{i:03d}", "name": f"Agency {i}", "email": f"it@a{i}.gov.example",
                        "apps": ["portal"] if i % 4 == 0 else []} for i in range(52)]
    spec = Spec.model_validate(raw)
    sequential = offline.plan(spec, workers=1)
    assert len(sequential.stacks) >= offline.PARALLEL_MIN_STACKS
    assert json.dumps(offline.plan(spec, workers=2).as_json()) == json.dumps(sequential.as_json())
    assert {v.policy for v in sequential.violations} == {"quota-fits-capacity"}
