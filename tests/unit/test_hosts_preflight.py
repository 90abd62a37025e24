"""The hosts' preflight decisions: which ports each host must have free (derived from the box's port plan),
what the role's observations mean, and the one error naming the hosts. Pure; the role itself runs on real lab
hosts in tests/integration/test_hosts_check.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from govcloud_platform.box.network import LOOPBACK
from govcloud_platform.box.ports import NOT_ON_HOSTS, Ports, host_group
from govcloud_platform.errors import HostError
from govcloud_platform.hosts.preflight import (
    MIN_FREE_MB,
    HostNeed,
    PortNeed,
    host_needs,
    host_ports,
    problems,
    report,
    require_ready,
    role_vars,
)
from govcloud_platform.hosts.runner import HostOutcome, HostSsh
from govcloud_platform.spec.topology import Topology

BASE = 18000
LAB = {
    "ssh": {"key_file": "/lab/id_ed25519", "known_hosts": "/lab/known_hosts"},
    "hosts": [
        {"name": "h1", "address": "10.0.0.11", "groups": ["database", "dcs", "storage", "identity", "proxy"]},
        {"name": "h2", "address": "10.0.0.12", "groups": ["database", "dcs", "storage", "identity", "proxy"]},
        {"name": "h3", "address": "10.0.0.13", "groups": ["dcs", "storage", "backups", "apps"]},
        {"name": "gw", "address": "10.0.0.1", "groups": []},
    ],
}


def topo(**changes: Any) -> Topology:
    doc = {**LAB, "hosts": [dict(h) for h in LAB["hosts"]]}
    for name, groups in changes.items():
        next(h for h in doc["hosts"] if h["name"] == name)["groups"] = groups
    return Topology.model_validate(doc)


def labels(needs: list[PortNeed]) -> dict[str, tuple[int, str]]:
    return {n.label: (n.port, n.address) for n in needs}


def test_ports_of_a_host_come_from_the_port_plan() -> None:
    t = topo()
    h1 = labels(host_ports(t, t.hosts[0], BASE))
    assert h1["postgres"] == (BASE, "10.0.0.11")
    assert h1["idp_manager"] == (BASE + 2, LOOPBACK)  # never reachable from outside its host
    assert h1["proxy_https"] == (BASE + 8, "10.0.0.11")  # the edge proxy publishes on its address
    assert h1["weed_master_grpc"] == (BASE + 5 + 10000, "10.0.0.11")
    # every port of the plan belongs to one of h1's groups: nothing is left out, nothing invented
    # (but the console's: it is not placed on hosts yet, `ports.NOT_ON_HOSTS`; and the mail service's: h1 is not the
    # `mail` host)
    assert set(h1) == {label for _, label, _ in Ports(BASE).all()} - set(NOT_ON_HOSTS) - {"smtp"}
    h3 = labels(host_ports(t, t.hosts[2], BASE))
    assert set(h3) == {label for _, label, _ in Ports(BASE).all() if host_group(label) in t.hosts[2].groups}
    assert all(addr == "10.0.0.13" for _, addr in h3.values())


def test_only_named_masters_and_volume_servers_need_their_ports() -> None:
    t = topo(h1=["database", "dcs", "storage", "storage_master", "identity", "proxy"],
             h3=["dcs", "storage", "storage_volume", "backups", "apps"])
    h1, h2, h3 = (labels(host_ports(t, h, BASE)) for h in t.hosts[:3])
    assert "weed_master" in h1 and "weed_master" not in h2 and "weed_master_grpc" not in h3
    assert "weed_volume" in h3 and "weed_volume" not in h1 and "weed_volume_grpc" not in h2
    assert "weed_filer" in h1 and "weed_filer" in h2 and "s3_https" in h3  # every storage host


@pytest.mark.parametrize("label,group", [("postgres", "database"), ("s3_https", "storage"),
                                         ("weed_filer_grpc", "storage"), ("idp_https", "identity"),
                                         ("idp_manager", "identity"), ("proxy_https", "proxy")])
def test_host_group_of_each_port(label: str, group: str) -> None:
    assert host_group(label) == group


def test_jump_hosts_need_nothing_and_role_vars_carry_the_ports() -> None:
    needs = host_needs(topo(), BASE)
    assert [n.name for n in needs] == ["h1", "h2", "h3"]
    hv = role_vars(needs[2])
    assert hv["host_preflight_root"] == "/var/lib/govcloud"
    assert {"label": "s3_https", "port": BASE + 3, "address": "10.0.0.13"} in hv["host_preflight_ports"]


NEED = HostNeed("h2", "10.0.0.12", ("database",), "/var/lib/govcloud", (PortNeed("postgres", BASE, "10.0.0.12"),))
GOOD_ROOT = {"path": "/var/lib/govcloud", "exists": False, "is_dir": False, "probe": "/var/lib", "probe_is_dir": True,
             "writable": True, "read_only": False, "free_mb": 50_000}


def facts(**changes: Any) -> dict[str, Any]:
    root = {**GOOD_ROOT, **changes.pop("root", {})}
    return {"python": "3.11.2", "hostname": "h2", "root": root, "ports_checked": 1, "ports_busy": [], **changes}


def test_a_good_host_has_no_problem() -> None:
    assert problems(NEED, facts()) == []


@pytest.mark.parametrize("changes,expected", [
    ({"python": None}, "python3 not found on the host"),
    ({"python": "3.6.9"}, "python 3.6.9 is too old"),
    ({"python": "command not found"}, "python3 on the host answered no version ('command not found')"),
    ({"root": {"exists": True, "is_dir": False, "probe": "/var/lib/govcloud"}}, "exists and is not a directory"),
    ({"root": {"probe_is_dir": False, "probe": "/var/lib"}}, "cannot be created: /var/lib is not a directory"),
    ({"root": {"read_only": True}}, "read-only file system"),
    ({"root": {"writable": False}}, "cannot be created: /var/lib is not writable"),
    ({"root": {"exists": True, "is_dir": True, "writable": False, "probe": "/var/lib/govcloud"}}, "is not writable"),
    ({"root": {"free_mb": MIN_FREE_MB - 1}}, f"only {MIN_FREE_MB - 1} MiB free under /var/lib"),
    ({"ports_busy": [{"label": "postgres", "port": BASE, "address": "10.0.0.12", "state": "in_use"}]},
     f"port {BASE} (postgres) on 10.0.0.12 is in use"),
    ({"ports_busy": [{"label": "postgres", "port": BASE, "address": "10.0.0.12", "state": "error: EACCES"}]},
     f"port {BASE} (postgres) on 10.0.0.12 cannot be bound: error: EACCES"),
])
def test_each_problem_is_named(changes: dict[str, Any], expected: str) -> None:
    found = problems(NEED, facts(**changes))
    assert len(found) == 1 and expected in found[0], found


def test_what_ssh_merged_before_the_version_is_not_taken_for_it() -> None:
    """Over SSH the raw command's stderr comes on stdout: a pyenv shim racing another host's rehash said so
    before the version once, and the host was refused as 'too old'."""
    noisy = ("rm: cannot remove '/root/.pyenv/shims/tmp.E1': No such file or directory\n"
             "pyenv: cannot rehash: /root/.pyenv/shims isn't writable\n3.11.2")
    assert problems(NEED, facts(python=noisy)) == []


def test_an_address_the_host_does_not_hold_is_one_problem() -> None:
    busy = [{"label": lab, "port": p, "address": "10.0.0.99", "state": "not_held"}
            for lab, p in (("postgres", BASE), ("s3_https", BASE + 3))]
    assert problems(NEED, facts(ports_busy=busy)) == [
        f"address 10.0.0.99 is not held by the host (ports {BASE}, {BASE + 3} cannot be bound there): "
        "check its `address` in the topology"]


def test_no_facts_is_a_problem() -> None:
    assert problems(NEED, None) and problems(NEED, {})


SSH = HostSsh("h2", "10.0.0.12", "root", 22, "/lab/id_ed25519", "/lab/known_hosts")


def test_report_of_an_unreachable_host_says_what_to_check() -> None:
    out = report(NEED, SSH, HostOutcome("h2", "unreachable", "Find Python", "Connection timed out"))
    assert not out.reachable and not out.ok
    assert out.problems == ["unreachable at 'Find Python': Connection timed out (check the host's address, that sshd "
                            "listens on port 22 and the network; in a lab: `govcloud lab status`)"]
    assert out.as_dict() == {"name": "h2", "address": "10.0.0.12", "groups": ["database"], "ok": False,
                             "reachable": False, "problems": out.problems}


def test_report_of_a_reached_host_judges_its_facts() -> None:
    busy = [{"label": "postgres", "port": BASE, "address": "10.0.0.12", "state": "in_use"}]
    out = report(NEED, SSH, HostOutcome("h2", facts={"host_preflight": facts(ports_busy=busy)}))
    assert out.reachable and not out.ok and "in use" in out.problems[0]
    assert report(NEED, SSH, HostOutcome("h2", facts={"host_preflight": facts()})).ok


def test_require_ready_names_every_failed_host_once() -> None:
    ok = report(NEED, SSH, HostOutcome("h2", facts={"host_preflight": facts()}))
    require_ready([ok])  # nothing raised
    down = [report(HostNeed(n, a, (), "/r", ()), HostSsh(n, a, "root", 22, "/k", "/kh"),
                   HostOutcome(n, "auth", "Find Python", "Permission denied (publickey)"))
            for n, a in (("h1", "10.0.0.11"), ("h3", "10.0.0.13"))]
    with pytest.raises(HostError) as err:
        require_ready([down[0], ok, down[1]])
    assert err.value.hosts == ("h1", "h3") and err.value.exit_code == 1
    text = str(err.value)
    assert text.startswith("host preflight failed on 2 hosts: h1 (10.0.0.11), h3 (10.0.0.13): SSH login refused "
                           "at 'Find Python': Permission denied (publickey) (the key file /k is not accepted for root")
    assert text.count("Permission denied") == 1  # the same failure is said once for both hosts
    busy = report(NEED, SSH, HostOutcome("h2", facts={"host_preflight": facts()}))
    busy.problems = [f"port {p} (x) on 10.0.0.12 is in use: stop what holds it" for p in range(5)]
    with pytest.raises(HostError) as err:
        require_ready([busy, down[1]])
    text = str(err.value)  # every host named, each with its first problems: the line is not cut before h3
    assert "port 1 " in text and "port 2 " not in text and "and 3 more (`govcloud hosts check`" in text
    assert "h3 (10.0.0.13): SSH login refused" in text


def test_base_dir_resolves_relative_key_paths() -> None:
    t = Topology.model_validate({"ssh": {"key_file": "keys/op"}, "hosts": LAB["hosts"][:1]})
    assert HostSsh.of(t, t.hosts[0], Path("/srv/spec")).key_file == "/srv/spec/keys/op"


def test_a_root_too_deep_or_closed_to_the_services_users_is_named() -> None:
    from govcloud_platform.hosts.preflight import HostNeed, _root_problems

    ok = {"exists": True, "is_dir": True, "probe": "/srv/gc", "writable": True, "free_mb": 99999}
    short = HostNeed("h1", "10.0.0.1", ("database",), "/srv/gc", (), 1024)
    assert _root_problems(short, ok) == []
    deep = HostNeed("h1", "10.0.0.1", ("database",), "/srv/" + "d" * 80, (), 1024)
    assert "too deep" in _root_problems(deep, ok)[0]
    closed = _root_problems(short, {**ok, "closed": "/srv"})
    assert closed and "/srv is closed to other users" in closed[0] and "chmod o+x /srv" in closed[0]


def test_judged_in_a_run_reports_problems_from_the_facts_and_leaves_later_failures_to_the_caller() -> None:
    from govcloud_platform.hosts.preflight import judged

    busy = [{"label": "postgres", "port": BASE, "address": "10.0.0.12", "state": "in_use"}]
    # the role's own gate failed the host: the problems are govcloud's, word for word as `hosts check` says them
    gated = judged(NEED, SSH, HostOutcome("h2", "failed", "Refuse a host that cannot take its groups (judged in the "
                                          "run)", "port ... in use", facts={"host_preflight": facts(ports_busy=busy)}))
    assert gated.problems == problems(NEED, facts(ports_busy=busy)) and gated.reachable
    # unreachable before any fact: ssh's reason and what to check, as `hosts check` says it
    down = judged(NEED, SSH, HostOutcome("h2", "unreachable", "Find Python", "Connection timed out"))
    assert not down.reachable and down.problems[0].startswith("unreachable at 'Find Python'")
    # stopped before its facts because another host failed (any_errors_fatal): not blamed
    assert judged(NEED, SSH, HostOutcome("h2")).ok
    # ready, then a later play failed: the preflight has nothing to say (the deploy's error names that step)
    later = judged(NEED, SSH, HostOutcome("h2", "failed", "database on h2", "boom", facts={"host_preflight": facts()}))
    assert later.ok


def test_the_folded_play_stops_every_host_and_the_role_judges_with_govcloud_s_own_decision() -> None:
    import importlib.util

    from govcloud_platform.apps.runner import roles_path
    from govcloud_platform.hosts.preflight import play

    needs = host_needs(topo(), BASE)
    p = play(needs)
    assert p["any_errors_fatal"] is True and p["hosts"] == "h1:h2:h3" and p["roles"] == ["host_preflight"]
    assert role_vars(needs[0], judge=True)["host_preflight_judge"] is True
    assert role_vars(needs[0])["host_preflight_judge"] is False
    spec = importlib.util.spec_from_file_location(
        "gp", roles_path() / "host_preflight" / "filter_plugins" / "govcloud_preflight.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    judge = module.FilterModule().filters()["govcloud_preflight_problems"]
    assert judge(facts(), "/var/lib/govcloud", MIN_FREE_MB) == []
    assert judge(facts(root={"free_mb": 10}), "/var/lib/govcloud", MIN_FREE_MB) == problems(
        NEED, facts(root={"free_mb": 10}))
    assert judge(None, "/r", MIN_FREE_MB) == problems(NEED, None)
