"""The mail service on the hosts target (docs/mail.md, docs/topology.md): the `mail` group (one host), where the
service is placed, the ports and certificates that follow, the deploy's play, and the checks of what the control's
mail broker sends to the mail host (`box smtp-logins`). The real Postfix on a lab host: test_hosts_deploy.py."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from govcloud_platform.box import placement as record
from govcloud_platform.box.context import Box
from govcloud_platform.box.platform_secrets import host_certificates, needed_by
from govcloud_platform.box.ports import Ports
from govcloud_platform.box.services import hosts_services
from govcloud_platform.brokers.mail import MailBroker, check_login_change, on_a_host
from govcloud_platform.errors import SpecError
from govcloud_platform.hosts.deploy import plan, plays
from govcloud_platform.hosts.placement import host_losses, instances, place, placement_for
from govcloud_platform.hosts.preflight import host_ports
from govcloud_platform.hosts.verify import expected_ports
from govcloud_platform.lab.plan import spread_groups
from govcloud_platform.spec import load_spec_text
from govcloud_platform.spec.example import EXAMPLE_SPEC
from govcloud_platform.spec.topology import Topology, topology_problems

BASE = 30000
CORE = ["database", "storage", "identity", "proxy", "backups"]


def topo(*groups: list[str]) -> Topology:
    return Topology.model_validate(
        {"hosts": [{"name": f"h{i + 1}", "address": f"10.0.0.{i + 11}", "groups": g} for i, g in enumerate(groups)]})


def hosts_spec(groups: dict[str, list[str]], services: str = "[database, storage, identity, backups, mail]") -> str:
    hosts = "".join(f"      - {{name: {n}, address: 10.0.0.{i + 11}, groups: [{', '.join(g)}]}}\n"
                    for i, (n, g) in enumerate(groups.items()))
    return (EXAMPLE_SPEC.replace("target: local ", "target: hosts ")
            .replace("services: [database, storage, identity, backups]", f"services: {services}")
            .replace("  openstack:", f"  topology:\n    hosts:\n{hosts}  openstack:", 1))


def test_an_agency_with_mail_on_the_hosts_target_needs_a_mail_host() -> None:
    with pytest.raises(SpecError) as info:
        load_spec_text(hosts_spec({"h1": CORE}), "g.yaml")
    assert [(p.path, p.message) for p in info.value.problems if "mail" in p.message] == [
        ("platform.topology.hosts",
         "agencies have the mail service but no host serves group 'mail': add 'mail' to one host's groups")]
    spec = load_spec_text(hosts_spec({"h1": CORE, "h2": ["mail"]}), "g.yaml")
    assert "mail" in spec.agencies[0].services
    # a mail host without any agency asking for mail is fine (Postfix runs, nobody has a login yet)
    load_spec_text(hosts_spec({"h1": [*CORE, "mail"]}, "[database]"), "g.yaml")


def test_the_mail_group_is_served_by_one_host_at_most() -> None:
    problems = topology_problems(topo(CORE, ["mail"], ["mail", "apps"]))
    assert [msg for _, msg in problems if "'mail'" in msg] == [
        "2 hosts in group 'mail' (h2, h3): the mail service runs on one host; keep it in one host's groups"]
    assert topology_problems(topo([*CORE, "mail"])) == []


def test_mail_is_placed_on_the_mail_host_only_where_there_is_one() -> None:
    without = topo(CORE)
    assert "mail" not in place(without) and "smtp" in record.unbound_ports(placement_for(without, "h1"))
    t = topo(CORE, ["apps", "mail"])
    placed = {s: h.name for s, h in place(t).items()}
    assert placed["mail"] == "h2" and list(placed) == ["storage", "proxy", "database", "identity", "backups", "mail",
                                                        "apps"]
    assert [h.name for h in instances(t)["mail"]] == ["h2"]
    mine, theirs = placement_for(t, "h2"), placement_for(t, "h1")
    assert mine.here == ("mail", "apps") and mine.runs("mail") and not theirs.runs("mail")
    assert theirs.address_of("mail") == "10.0.0.12"  # where the apps and the control's brokers connect
    assert "smtp" not in record.unbound_ports(mine) and "smtp" not in record.unbound_ports(theirs)
    assert ("h2", ["mail", "apps"]) in host_losses(t)  # one instance: its host's loss stops it


def test_the_placement_record_keeps_mail_and_refuses_it_unplaced() -> None:
    t = topo(CORE, ["mail"])
    doc = placement_for(t, "h2").to_json()
    assert doc["here"] == ["mail"] and doc["services"]["mail"] == {"host": "h2", "address": "10.0.0.12"}
    assert record.Placement.from_json(doc) == placement_for(t, "h2")
    del doc["services"]["mail"]
    with pytest.raises(ValueError, match="'here' lists a service that 'services' does not place"):
        record.Placement.from_json(doc)


def test_a_host_runs_mail_with_the_boxs_own_service_under_its_supervisord() -> None:
    assert [s.name for s in hosts_services()] == list(record.ALL)
    assert record.ALL.index("backups") < record.ALL.index("mail") < record.ALL.index("apps")


def test_the_mail_host_binds_smtp_on_its_address_and_gets_its_certificate_only() -> None:
    t = topo(CORE, ["mail"])
    smtp = Ports(BASE).smtp
    assert [(p.label, p.port, p.address) for p in host_ports(t, t.hosts[1], BASE)] == [("smtp", smtp, "10.0.0.12")]
    assert "smtp" not in {p.label for p in host_ports(t, t.hosts[0], BASE)}
    expected = expected_ports(t, placement_for(t, None), BASE, t.hosts[1])
    assert [(p.label, p.address) for p in expected] == [("smtp", "10.0.0.12")]
    assert needed_by(["mail"]) == []  # Postfix holds no platform secret
    (cert,) = host_certificates(["mail"], "10.0.0.12")
    assert (cert.name, cert.ips, cert.client) == ("mail", ("10.0.0.12",), False)


def test_the_deploy_has_a_mail_play_on_the_mail_host_after_the_backups() -> None:
    t = topo(CORE, ["mail"])
    plans = plan(t, {"h1": "10.0.0.1", "h2": "10.0.0.1"})
    h2 = next(p for p in plans if p.name == "h2")
    assert h2.services == ("mail",) and h2.secrets == () and h2.certs == ("mail.pem", "mail.key")
    assert [(p["hosts"], p["roles"]) for p in plays(plans)][-2:] == [("h1", ["gc_backups"]), ("h2", ["gc_mail"])]
    assert (Path(__file__).parents[2] / "roles" / "gc_mail" / "tasks" / "main.yml").is_file()


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7])
def test_every_lab_layout_has_one_mail_host(n: int) -> None:
    assert sum("mail" in g for g in spread_groups(n)) == 1


@pytest.mark.parametrize(("data", "password", "error"), [
    ({"slug": "alpha", "password": "s3cret-x"}, True, None),
    ({"slug": "alpha"}, False, None),
    ({"slug": "alpha"}, True, "expected"),
    ({"slug": "alpha", "password": "x", "more": 1}, True, "expected"),
    (["alpha"], False, "expected"),
    ({"slug": "Alpha"}, False, "invalid slug"),
    ({"slug": "a--b"}, False, "invalid slug"),
    ({"slug": "ok-slug x"}, False, "invalid slug"),
    ({"slug": 7}, False, "must be a string"),
    ({"slug": "alpha", "password": ""}, True, "one line"),
    ({"slug": "alpha", "password": "two\nlines"}, True, "one line"),
    ({"slug": "alpha", "password": "x" * 257}, True, "one line"),
    ({"slug": "alpha", "password": 5}, True, "one line"),
])
def test_what_the_mail_host_accepts_on_stdin(data: Any, password: bool, error: str | None) -> None:
    if error is None:
        assert check_login_change(data, password=password) == (data["slug"], data.get("password", ""))
        return
    with pytest.raises(ValueError, match=error) as info:
        check_login_change(data, password=password)
    assert "s3cret" not in str(info.value) and "two" not in str(info.value)  # never echoes a password


def test_the_controls_broker_goes_to_the_mail_host_and_hands_out_its_address(tmp_path: Path) -> None:
    t = topo(CORE, ["mail"])
    box = Box(home=tmp_path, spec=load_spec_text(EXAMPLE_SPEC))
    box.placement = placement_for(t, None)  # the control's: runs nothing
    assert on_a_host(box)
    creds = MailBroker().bind(box, "health", {"password": "p"})
    assert (creds["host"], creds["username"], creds["from_address"]) == (
        "10.0.0.12", "ag-health", "noreply@health.gov.example")
    assert not on_a_host(SimpleNamespace(placement=placement_for(t, "h2"), runs=placement_for(t, "h2").runs))
    assert not on_a_host(SimpleNamespace(placement=None, runs=lambda s: True))  # one machine


def test_smtp_logins_runs_only_in_a_mail_hosts_home_and_never_echoes_its_input(tmp_path: Path) -> None:
    """The hidden command the control calls over SSH: refused in a home that is not the mail host's (one machine,
    the control, another host), and on the mail host's, bad input is refused without the password in the error."""
    import json

    from govcloud_platform.box.placement import FILE
    from tests.conftest import assert_one_error, run_cli

    t = topo(CORE, ["mail"])
    spec = tmp_path / "g.yaml"
    spec.write_text(EXAMPLE_SPEC)
    env = {"GOVCLOUD_NO_AGENT": "1"}
    for name, here in (("one-machine", None), ("control", None), ("h1", "h1"), ("h2", "h2")):
        home = tmp_path / name
        home.mkdir()
        (home / "box.json").write_text(json.dumps({"port_base": 18000}))
        if name != "one-machine":
            (home / FILE).write_text(json.dumps(placement_for(t, here).to_json()))
        result = run_cli("--spec", str(spec), "--home", str(home), "box", "smtp-logins", "set", env=env, timeout=60,
                         input=json.dumps({"slug": "Bad Slug", "password": "hunter2-secret"}))
        assert result.rc == 2, (name, result.stderr)
        assert_one_error(result)
        assert "hunter2" not in result.stderr + result.stdout
        wanted = "bad input on stdin: invalid slug" if name == "h2" else "is no mail host of the hosts target"
        assert wanted in result.stderr, (name, result.stderr)
