"""Each component under Pulumi's mocks: every registration recorded, inputs asserted with the URN.

The offline plan's recorder is the Mocks class (one mocked session per test: settings are reset by
`record`), so these tests and the plan see the same thing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from govcloud_platform.iaas.offline import record
from govcloud_platform.iaas.plan import PlannedResource
from govcloud_platform.spec import Spec, load_spec_text
from govcloud_platform.spec.example import EXAMPLE_SPEC
from govcloud_stacks.programs import agency_program, app_program, platform_program


def _spec(**openstack: Any) -> Spec:
    raw = load_spec_text(EXAMPLE_SPEC).model_dump()
    raw["platform"]["openstack"].update(openstack)
    raw["agencies"][0]["apps"] = ["portal"]
    return Spec.model_validate(raw)


def _run(stack: str, program: Callable[[], None]) -> list[PlannedResource]:
    return record("govcloud-demo", [(stack, program)])


def _of(resources: list[PlannedResource], type_suffix: str) -> list[PlannedResource]:
    return [r for r in resources if r.type.endswith(type_suffix)]


@pytest.fixture(scope="module")
def platform() -> list[PlannedResource]:
    return _run("platform", platform_program(_spec()))


@pytest.fixture(scope="module")
def tenant() -> list[PlannedResource]:
    spec = _spec()
    return _run("agency-health", agency_program(spec, spec.agencies[0], 0))


@pytest.fixture(scope="module")
def app() -> list[PlannedResource]:
    spec = _spec()
    return _run("app-health-portal", app_program(spec, spec.agencies[0], "portal"))


def test_components_have_type_tokens_and_children_named_after_them(
    platform: list[PlannedResource], tenant: list[PlannedResource], app: list[PlannedResource]
) -> None:
    for resources, token, name in ((platform, "govcloud:foundation:PlatformFoundation", "foundation"),
                                   (tenant, "govcloud:tenant:AgencyTenant", "health"),
                                   (app, "govcloud:app:AppDeployment", "health-portal")):
        comp = [r for r in resources if r.type == token]
        assert len(comp) == 1 and comp[0].name == name, [r.urn for r in resources[:3]]
        for r in resources:
            if r.custom:
                assert r.name.startswith(f"{name}-"), r.urn
                assert r.parent == comp[0].urn, r.urn


def test_platform_has_every_scs_mandatory_flavor(platform: list[PlannedResource]) -> None:
    flavors = {r.inputs["name"]: r for r in _of(platform, ":Flavor")}
    for name in ("SCS-1V-4", "SCS-2V-8", "SCS-4V-16", "SCS-8V-32", "SCS-2V-4-20s", "SCS-1L-1"):
        assert name in flavors, sorted(flavors)
    f = flavors["SCS-2V-8"]
    assert (f.inputs["vcpus"], f.inputs["ram"]) == (2, 8192), f.urn
    assert f.inputs["extraSpecs"]["scs:name-v2"] == "SCS-2V-8", f.urn
    assert f.inputs["extraSpecs"]["scs:cpu-type"] == "shared-core", f.urn


def test_platform_images_carry_scs_0102_metadata(platform: list[PlannedResource]) -> None:
    """Every mandatory property of scs-0102 v1 (the list the policy checks), and the policy passes them."""
    from govcloud_policies import PolicyContext
    from govcloud_policies.rules_compliance import scs_image_metadata
    from govcloud_policies.scs_0102 import MANDATORY_PROPERTIES

    images = _of(platform, ":Image")
    assert images
    for img in images:
        props = img.inputs["properties"]
        for key in MANDATORY_PROPERTIES:
            assert props.get(key), f"{img.urn}: {key} missing"
        assert img.inputs["visibility"] == "public", img.urn
        assert scs_image_metadata(PolicyContext(platform="gc"), img.type, img.inputs) == [], img.urn


def test_platform_paas_vms_have_encrypted_volumes(platform: list[PlannedResource]) -> None:
    vms = {r.inputs["name"].rsplit("-", 1)[-1] for r in _of(platform, ":Instance")}
    assert {"database", "storage", "identity", "backup", "bastion", "proxy"} <= vms
    for vol in _of(platform, ":Volume"):
        assert vol.inputs["volumeType"] == "encrypted", vol.urn
    vt = _of(platform, ":VolumeTypeV3")[0]
    assert vt.inputs["name"] == "encrypted", vt.urn


def test_only_the_proxy_is_public_and_only_on_web_ports(platform: list[PlannedResource]) -> None:
    public = [r for r in _of(platform, ":SecGroupRule") if r.inputs.get("remoteIpPrefix") in ("0.0.0.0/0", "::/0")]
    assert public
    for r in public:
        assert "-proxy-" in r.name and r.inputs["portRangeMin"] in (80, 443), r.urn


def test_tenant_project_groups_roles_and_quotas(tenant: list[PlannedResource]) -> None:
    project = _of(tenant, "identity/project:Project")
    assert [p.inputs.get("isDomain", False) for p in project] == [True, False], [p.urn for p in project]
    groups = sorted(g.inputs["name"] for g in _of(tenant, ":GroupV3"))
    assert groups == ["govcloud-demo-health-admins", "govcloud-demo-health-members", "govcloud-demo-health-readers"]
    assert len(_of(tenant, ":RoleAssignment")) == 3
    compute = _of(tenant, ":QuotaSetV2")[0]
    assert (compute.inputs["cores"], compute.inputs["instances"], compute.inputs["ram"]) == (24, 10, 49152), \
        compute.urn
    volume = _of(tenant, ":QuoteSetV3")[0]
    assert volume.inputs["gigabytes"] == 200, volume.urn
    assert _of(tenant, ":QuotaV2"), "network quota missing"


def test_tenant_network_routed_and_default_group_closed(tenant: list[PlannedResource]) -> None:
    subnet = _of(tenant, ":Subnet")[0]
    assert subnet.inputs["cidr"] == "10.64.0.0/24", subnet.urn
    router = _of(tenant, ":Router")[0]
    assert router.inputs["externalNetworkId"] == "public-id", router.urn
    for r in _of(tenant, ":SecGroupRule"):
        if r.inputs["direction"] == "ingress":
            assert "remoteIpPrefix" not in r.inputs and r.inputs["remoteGroupId"], r.urn
    assert _of(tenant, ":Keypair")


def test_tenant_resources_are_labelled(tenant: list[PlannedResource]) -> None:
    for r in tenant:
        tags = r.inputs.get("tags")
        if tags is not None:
            assert "govcloud:agency=health" in tags and "govcloud:platform=govcloud-demo" in tags, r.urn


def test_shared_domain_mode_creates_no_domain() -> None:
    spec = _spec(domain_mode="shared")
    resources = _run("agency-health", agency_program(spec, spec.agencies[0], 0))
    assert not [r for r in resources if r.inputs.get("isDomain")], [r.urn for r in resources]


def test_app_open_only_to_the_proxy_with_encrypted_volume(app: list[PlannedResource]) -> None:
    ingress = [r for r in _of(app, ":SecGroupRule") if r.inputs["direction"] == "ingress"]
    app_rule = next(r for r in ingress if r.name.endswith("-sg-app"))
    assert app_rule.inputs["remoteIpPrefix"] == "10.10.0.10/32", app_rule.urn
    assert app_rule.inputs["portRangeMin"] == 8000, app_rule.urn
    vm = _of(app, ":Instance")[0]
    assert vm.inputs["userData"].startswith("#cloud-config"), vm.urn
    assert "GOVCLOUD_APP=portal" in vm.inputs["userData"], vm.urn
    assert vm.inputs["flavorName"] == "SCS-2V-4", vm.urn
    assert _of(app, ":Volume")[0].inputs["volumeType"] == "encrypted"
    port = _of(app, ":Port")[0]
    assert port.inputs["networkId"] == "agency-health-network_id", port.urn


def test_read_resource_is_recorded_in_its_stack() -> None:
    """`Resource.get` goes through the mock monitor's ReadResource, called inline like every monitor call."""

    def program() -> None:
        import pulumi_openstack as openstack

        external = openstack.networking.Network.get("external", "ext-id")
        openstack.networking.Subnet("subnet", network_id=external.id, cidr="10.0.0.0/24")

    read, subnet = _run("agency-x", program)
    assert (read.stack, read.name, read.custom) == ("agency-x", "external", False)
    assert read.urn == ("urn:pulumi:agency-x::govcloud-demo::pulumi:pulumi:Stack$"
                        "openstack:networking/network:Network::external")
    assert subnet.inputs == {"cidr": "10.0.0.0/24", "networkId": "ext-id"}
