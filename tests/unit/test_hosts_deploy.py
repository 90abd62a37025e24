"""The hosts deploy's decisions (`hosts.deploy`): who runs what, who may connect, the plays, what a run means;
and the roles' contracts (every public variable documented, each service role a thin wrapper of the shared
one, nothing that kills by name)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from govcloud_platform.apps.runner import roles_path
from govcloud_platform.box.platform_secrets import S3_ADMIN, S3_BACKUP, WEED_JWT
from govcloud_platform.errors import HostError
from govcloud_platform.hosts.deploy import (
    ROLES,
    HostPlan,
    allow_from_for,
    control_addresses,
    host_vars,
    missing_secrets,
    outcome,
    plan,
    plays,
    shared_vars,
)
from govcloud_platform.hosts.runner import HostOutcome, HostsRun, HostSsh
from govcloud_platform.spec.topology import Topology

BOTH = ["database", "dcs", "storage", "identity", "proxy"]


def lab3() -> Topology:
    return Topology.model_validate({"hosts": [
        {"name": "h1", "address": "10.231.8.11", "groups": BOTH, "root": "/srv/h1"},
        {"name": "h2", "address": "10.231.8.12", "groups": BOTH},
        {"name": "h3", "address": "10.231.8.13", "groups": ["dcs", "storage", "backups", "apps"]}]})


CONTROL = {"h1": "10.231.8.1", "h2": "10.231.8.1", "h3": "10.231.8.1"}


def test_plan_runs_each_service_on_its_host_with_its_home_and_placement() -> None:
    plans = {p.name: p for p in plan(lab3(), CONTROL)}
    assert set(plans) == {"h1", "h2", "h3"}  # h3 runs the apps' front, h1 and h2 the edges that publish it
    # two database hosts: PostgreSQL under Patroni on both, etcd on the three dcs hosts
    # and, with the database under Patroni, an IdP portal on both identity hosts (sharing it)
    assert plans["h1"].services == ("storage", "proxy", "dcs", "database", "identity")
    assert plans["h2"].services == ("storage", "proxy", "dcs", "database", "identity", "backups")  # storage: a cluster
    assert plans["h3"].services == ("storage", "dcs", "apps")
    assert {c for c in plans["h3"].certs if not c.startswith(("weed-", "s3."))} == {"etcd.key", "etcd.pem"}
    assert plans["h1"].home == "/srv/h1/box" and plans["h2"].home == "/var/lib/govcloud/box"
    assert plans["h1"].placement["here"] == ["storage", "proxy", "dcs", "database", "identity"]
    assert plans["h2"].placement["services"]["storage"] == {"host": "h1", "address": "10.231.8.11"}


def test_allow_from_is_the_control_and_every_other_host_in_use() -> None:
    plans = {p.name: p for p in plan(lab3(), CONTROL)}
    assert plans["h1"].allow_from == ("10.231.8.1/32", "10.231.8.12/32", "10.231.8.13/32")
    assert plans["h2"].allow_from == ("10.231.8.1/32", "10.231.8.11/32", "10.231.8.13/32")  # the apps' host too


def test_a_control_behind_nat_is_admitted_at_the_address_the_hosts_see() -> None:
    probed = control_addresses(lab3(), lab3().hosts, probe=lambda address: "10.231.8.1")
    assert probed == CONTROL  # by default: the kernel's source address toward each host
    natted = Topology.model_validate({**lab3().model_dump(), "control_address": "198.51.100.7"})

    def never(address: str) -> str:
        raise AssertionError("no probe when the topology says where the control is")

    where = control_addresses(natted, natted.hosts, probe=never)
    assert set(where.values()) == {"198.51.100.7"}
    assert "198.51.100.7/32" in plan(natted, where)[0].allow_from
    with pytest.raises(ValueError, match="invalid address 'gateway'"):
        Topology.model_validate({**lab3().model_dump(), "control_address": "gateway"})


def test_allow_from_drops_the_hosts_own_address_and_duplicates() -> None:
    t = lab3()
    h1 = t.hosts[0]
    assert allow_from_for(h1, t.hosts, "10.231.8.11") == ("10.231.8.12/32", "10.231.8.13/32")
    assert allow_from_for(h1, [h1, h1], "10.231.8.1") == ("10.231.8.1/32",)


def test_plays_follow_the_start_order_each_on_its_host() -> None:
    got = plays(plan(lab3(), CONTROL))  # three storage hosts: a storage cluster on all three
    assert [(p["hosts"], p["roles"]) for p in got] == [
        ("h1:h2:h3", ["gc_storage"]), ("h1:h2", ["gc_proxy"]),  # an edge on every proxy host, before the S3 clients
        ("h1:h2:h3", ["gc_dcs"]), ("h1:h2", ["gc_database"]), ("h1:h2", ["gc_identity"]), ("h2", ["gc_backups"]),
        ("h3", ["gc_apps"])]
    assert all(p["gather_facts"] is False for p in got)


def test_variables_carry_no_secret_value() -> None:
    plans = plan(lab3(), CONTROL)
    hv = host_vars(plans)
    assert hv["h1"]["platform_service_allow_from"] == ["10.231.8.1/32", "10.231.8.12/32", "10.231.8.13/32"]
    assert hv["h2"]["platform_service_address"] == "10.231.8.12"
    shared = shared_vars(port_base=30000, spec_file=Path("/s/lab.yaml"), control_home=Path("/c"),
                         govcloud="/v/bin/govcloud")
    assert shared["platform_service_port_base"] == 30000 and "platform_service_secrets" not in shared
    assert all(isinstance(n, str) and "/" not in n for h in hv.values() for n in h["platform_service_secrets"])


def test_the_idps_host_alone_holds_no_superuser_password() -> None:
    alone = Topology.model_validate({"hosts": [
        {"name": "db", "address": "10.0.0.1", "groups": ["database", "storage", "backups", "proxy"]},
        {"name": "idp", "address": "10.0.0.2", "groups": ["identity"]}]})
    by_host = {p.name: (p.services, set(p.secrets)) for p in plan(alone, {"db": "10.0.0.9", "idp": "10.0.0.9"})}
    assert by_host["idp"] == (("identity",), {"idp-db-password", "idp-manager-password", "idp-signing-key"})


def test_each_host_gets_only_its_services_secrets_never_the_registry_key() -> None:
    by_host = {p.name: (p.services, set(p.secrets)) for p in plan(lab3(), CONTROL)}
    assert by_host["h1"][0] == ("storage", "proxy", "dcs", "database", "identity")
    assert by_host["h3"][0] == ("storage", "dcs", "apps")
    h1, h3 = by_host["h1"][1], by_host["h3"][1]
    assert h3 == {*S3_ADMIN, *S3_BACKUP, *WEED_JWT}  # storage's only (etcd and the apps' front hold none)
    assert {"idp-signing-key", "idp-manager-password"} <= h1  # a portal of two: the same keys as the other
    # it makes the IdP's role and operator (the IdP's host holds no superuser password: see the next test)
    assert {"idp-db-password", "idp-operator-password"} <= h1
    assert "registry.key" not in h1 | h3  # the agencies' credentials stay on the control
    h2 = by_host["h2"][1]
    assert missing_secrets(plan(lab3(), CONTROL), sorted(h1 | h2)) == []
    assert missing_secrets(plan(lab3(), CONTROL), sorted(h1)) == sorted(h2 - h1)


def _ssh(name: str) -> HostSsh:
    return HostSsh(name, f"10.0.0.{name[-1]}", "root", 22, "/k", "/known")


def _plans() -> list[HostPlan]:
    return plan(lab3(), CONTROL)


def test_outcome_changed_or_nothing_changed() -> None:
    ssh = {n: _ssh(n) for n in ("h1", "h2")}
    run = HostsRun("successful", 0, 3.0, {"h1": HostOutcome("h1", changed=2), "h2": HostOutcome("h2")})
    result = outcome(run, ssh, 4.0, _plans())
    assert result.changed and result.changed_hosts == ["h1"]
    still = HostsRun("successful", 0, 3.0, {"h1": HostOutcome("h1"), "h2": HostOutcome("h2")})
    assert outcome(still, ssh, 4.0, _plans()).changed is False


def test_outcome_keeps_what_each_hosts_up_reported_as_its_status() -> None:
    """The status `up` shows comes from the hosts' own `up` (no second round over SSH)."""
    from govcloud_platform.box.placement import Placement, Where
    from govcloud_platform.hosts.remote import Reply, merge_status

    ssh = {n: _ssh(n) for n in ("h1", "h2")}
    entry = {"name": "database", "healthy": True, "endpoint": "postgresql://10.0.0.2:1", "pid": 7, "detail": "ok"}
    run = HostsRun("successful", 0, 3.0, {"h1": HostOutcome("h1"), "h2": HostOutcome(
        "h2", facts={"_platform_service_reported": [entry, "junk"]})})
    result = outcome(run, ssh, 4.0, _plans())
    assert result.reported == {"h1": [], "h2": [entry]}
    placement = Placement((), {"database": Where("h2", "10.0.0.2"), "storage": Where("h1", "10.0.0.1")})
    doc = merge_status(placement, {h: Reply(h, {"services": e}) for h, e in result.reported.items()}, "ca", {})
    by_name = {s["name"]: s for s in doc["services"]}
    assert by_name["database"] == {**entry, "host": "h2", "role": "single"}
    assert by_name["storage"]["healthy"] is False and by_name["storage"]["host"] == "h1"


def test_outcome_names_each_failed_host_and_step() -> None:
    ssh = {n: _ssh(n) for n in ("h1", "h2")}
    run = HostsRun("failed", 2, 3.0, {
        "h1": HostOutcome("h1"),
        "h2": HostOutcome("h2", "failed", "Bring database up", "govcloud up --service database failed on h2 "
                          "(exit 1): port 30000 is in use")})
    with pytest.raises(HostError) as err:
        outcome(run, ssh, 4.0, _plans())
    text = str(err.value)
    assert text.startswith("deploying the shared services failed on 1 host: h2 (10.0.0.2): failed at "
                           "'Bring database up': govcloud up --service database failed on h2"), text
    assert err.value.hosts == ("h2",)
    run = HostsRun("failed", 2, 3.0, {"h1": HostOutcome("h1"), "h2": HostOutcome("h2", "unreachable", "x", "y")})
    with pytest.raises(HostError, match=r"h2 \(10.0.0.2\): unreachable at 'x': y \(check the host's address"):
        outcome(run, ssh, 4.0, _plans())


ROLE_DIRS = ["platform_service", *ROLES.values()]


@pytest.mark.parametrize("role", ROLE_DIRS)
def test_every_public_variable_is_documented(role: str) -> None:
    base = roles_path() / role
    spec = yaml.safe_load((base / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    defaults_file = base / "defaults" / "main.yml"
    defaults = yaml.safe_load(defaults_file.read_text()) if defaults_file.exists() else {}
    assert set(defaults) <= set(spec), set(defaults) - set(spec)
    used = set(re.findall(r"\b(platform_service_[a-z_]+)\b", "".join(
        p.read_text() for p in (base / "tasks").glob("*.yml"))))
    if role == "platform_service":
        assert {u for u in used if not u.startswith("platform_service_up")} <= set(spec)


@pytest.mark.parametrize("service", list(ROLES))
def test_service_roles_are_thin_wrappers_of_the_shared_role(service: str) -> None:
    tasks = yaml.safe_load((roles_path() / ROLES[service] / "tasks" / "main.yml").read_text())
    assert tasks == [{"name": service, "ansible.builtin.include_role": {"name": "platform_service"},
                      "vars": {"platform_service_name": service}}]


def test_no_role_kills_by_name_or_logs_a_secret() -> None:
    text = "".join(p.read_text() for r in ROLE_DIRS for p in (roles_path() / r).rglob("*.yml"))
    assert not re.search(r"\b(pkill|killall|pgrep)\b", text)
    tasks = yaml.safe_load((roles_path() / "platform_service" / "tasks" / "deploy.yml").read_text())
    files = [t for t in tasks if "govcloud_box_files" in t]
    assert len(files) == 1 and files[0]["no_log"] is True  # secrets and the CA key go through this task only
    assert not any("ansible.builtin.copy" in t for t in tasks)


def test_a_second_up_leaves_the_ports_of_its_own_services_to_the_hosts() -> None:
    from govcloud_platform.hosts.deploy import preflight_needs
    from govcloud_platform.hosts.placement import placement_for
    from govcloud_platform.hosts.preflight import host_needs

    t = lab3()
    needs = host_needs(t, 30000)
    assert preflight_needs(needs, None, t) == needs  # a first deploy checks every port
    again = {n.name: n for n in preflight_needs(needs, placement_for(t, None), t)}
    h1 = {p.label for p in again["h1"].ports}  # h1 runs storage, the database, an IdP portal: its ports its own
    assert "idp_https" not in h1 and "s3_https" not in h1 and "postgres" not in h1
    h3 = {p.label for p in again["h3"].ports}  # h3 runs etcd and storage (a cluster): its ports are its own
    assert "etcd_client" not in h3 and "s3_https" not in h3
    assert all("proxy_https" not in {p.label for p in again[h].ports} for h in ("h1", "h2"))  # each edge's own
    moved = placement_for(lab3(), None)
    moved.services["apps"] = moved.services["storage"]  # another placement: check everything
    assert preflight_needs(needs, moved, t) == needs


def test_the_preflight_is_folded_into_the_deploy_only_where_this_home_deployed_as_placed_today() -> None:
    from govcloud_platform.hosts.deploy import deployed_here
    from govcloud_platform.hosts.placement import placement_for

    t = lab3()
    assert not deployed_here(None, t)  # a first deploy: its own preflight run, before anything is written
    assert deployed_here(placement_for(t, None), t)
    moved = placement_for(t, None)
    moved.services["apps"] = moved.services["storage"]
    assert not deployed_here(moved, t)
