"""`status` and `down` on the hosts (`hosts.remote`): the command lines, what a host's reply means, the merge
into the box's shapes, and the order hosts stop in."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from govcloud_platform.box.placement import Placement, Where
from govcloud_platform.hosts.remote import (
    Reply,
    down_order,
    merge_down,
    merge_status,
    parse_reply,
    remote_command,
    ssh_argv,
)
from govcloud_platform.hosts.runner import HostSsh

PLACED = Placement((), {"storage": Where("h1", "10.0.0.11"), "database": Where("h2", "10.0.0.12"),
                        "identity": Where("h1", "10.0.0.11"), "backups": Where("h2", "10.0.0.12")})


def test_remote_command_and_ssh_argv() -> None:
    remote = remote_command("/opt/v/bin/govcloud", "/srv/my root/box", "status")
    assert remote == ["env", "GOVCLOUD_NO_AGENT=1", "/opt/v/bin/govcloud", "--spec", "/srv/my root/box/spec.yaml",
                      "--home", "/srv/my root/box", "--json", "status"]
    argv = ssh_argv(HostSsh("h1", "10.0.0.11", "root", 22, "/k", "/kh"), Path("/run/x/ssh_config"), remote)
    assert argv[:-1] == ["ssh", "-F", "/run/x/ssh_config", "-T", "-o", "BatchMode=yes", "h1"]
    assert shlex.split(argv[-1]) == remote  # one string for the host's shell, quoted
    own = ssh_argv(HostSsh("h1", "10.0.0.11", "root", 22, None, None, "/home/me/.ssh/cfg"), Path("/x"), remote)
    assert own[1:3] == ["-F", "/home/me/.ssh/cfg"]


def test_down_runs_only_where_a_home_was_deployed() -> None:
    import subprocess

    from govcloud_platform.hosts.remote import if_deployed

    line = if_deployed("/nonexistent/my box", ["echo", "ran"])
    assert line.startswith("if test -f '/nonexistent/my box/spec.yaml'; then exec echo ran; else echo ")
    out = subprocess.run(["sh", "-c", line], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == {"stopped": [], "listening_ports": []}
    assert subprocess.run(["sh", "-c", if_deployed("/", ["echo", "ran"]).replace("/spec.yaml", "")],
                          capture_output=True, text=True).stdout == "ran\n"


def test_parse_reply() -> None:
    ok = parse_reply("h1", 1, json.dumps({"services": []}), "")
    assert ok.doc == {"services": []} and ok.error is None and ok.rc == 1  # unhealthy, still a report
    ssh = parse_reply("h1", 255, "", "ssh: connect to host 10.0.0.11 port 22: No route to host\n")
    assert ssh.doc is None
    assert ssh.error == "not reachable over SSH: ssh: connect to host 10.0.0.11 port 22: No route to host"
    bad = parse_reply("h1", 2, "", "progress\nerror: no box at /srv/box\n  hint\n")
    assert bad.error == "no box at /srv/box"
    assert parse_reply("h1", 1, "", "").error == "exit 1, no output"


def _entry(name: str, healthy: bool = True) -> dict[str, object]:
    return {"name": name, "healthy": healthy, "endpoint": f"e-{name}", "pid": 7, "detail": "ok"}


def test_merge_status_keeps_the_box_shape_and_adds_the_host() -> None:
    h1 = {"ca_file": "/srv/box/ca/ca.pem", "services": [_entry("storage"), _entry("identity")]}
    replies = {"h1": Reply("h1", h1),
               "h2": Reply("h2", {"ca_file": "x", "services": [_entry("database"), _entry("backups", False)]}, rc=1)}
    doc = merge_status(PLACED, replies, "/c/ca/ca.pem", {})
    assert set(doc) == {"ca_file", "services"} and doc["ca_file"] == "/c/ca/ca.pem"
    assert [(s["name"], s["host"], s["healthy"]) for s in doc["services"]] == [
        ("storage", "h1", True), ("database", "h2", True), ("identity", "h1", True), ("backups", "h2", False)]
    assert set(doc["services"][0]) == {"name", "healthy", "endpoint", "pid", "detail", "host", "role"}
    assert doc["services"][0]["role"] == "single"  # a service that runs once, whose host reported no role


def test_merge_status_of_a_host_that_did_not_answer() -> None:
    replies = {"h1": Reply("h1", None, "not reachable over SSH: Connection timed out", 255),
               "h2": Reply("h2", {"services": [_entry("database")]})}
    doc = merge_status(PLACED, replies, "/c", {"storage": "https://10.0.0.11:1"})
    by = {s["name"]: s for s in doc["services"]}
    assert by["storage"] == {"name": "storage", "healthy": False, "endpoint": "https://10.0.0.11:1", "pid": None,
                             "detail": "h1: not reachable over SSH: Connection timed out", "host": "h1",
                             "role": "unknown"}
    assert by["backups"]["detail"] == "h2: the host did not report it" and by["database"]["healthy"]


def test_merge_status_lists_each_hosts_fence() -> None:
    """Each answering host's fence (`box.fence.describe`) under `fences`, with its host; none without fences."""
    from govcloud_platform.box.fence import describe, problems

    replies = {"h1": Reply("h1", {"services": [_entry("storage")], "fence": describe(["h2"], True, ["h2"])}),
               "h2": Reply("h2", {"services": [_entry("database")], "fence": describe(["h1"], False, ["h1"])})}
    doc = merge_status(PLACED, replies, "/c", {})
    assert doc["fences"] == [{"host": "h1", "running": True, "peers": ["h2"], "fenced": ["h2"]},
                             {"host": "h2", "running": False, "peers": ["h1"], "fenced": []}]  # a dead fence: none
    assert problems(doc["fences"]) == ["h2: the host fence is not running (`govcloud up` starts it)"]
    assert problems(doc["fences"], fenced_too=True)[1] == "h1: holds h2 fenced (it has not answered for 2.5 s)"
    assert "fences" not in merge_status(PLACED, {"h1": Reply("h1", {"services": []})}, "/c", {})


def test_down_order_stops_dependents_first() -> None:
    assert down_order(PLACED) == ["h2", "h1"]  # h1 runs storage: last
    three = Placement((), {"storage": Where("a", "1.1.1.1"), "database": Where("b", "1.1.1.2"),
                           "identity": Where("c", "1.1.1.3"), "backups": Where("b", "1.1.1.2")})
    assert down_order(three) == ["c", "b", "a"]
    one = Placement((), {s: Where("a", "1.1.1.1") for s in ("storage", "database", "identity", "backups")})
    assert down_order(one) == ["a"]


def test_merge_down() -> None:
    result = merge_down([Reply("h2", {"stopped": ["pgbackrest", "postgres"], "listening_ports": []}),
                         Reply("h1", None, "not reachable over SSH: x", 255)])
    assert result.stopped == ["h2: pgbackrest", "h2: postgres"] and result.errors == ["h1: not reachable over SSH: x"]
    assert [h["host"] for h in result.hosts] == ["h2", "h1"] and result.listening_ports == []
    left = merge_down([Reply("h1", {"stopped": [], "listening_ports": [30001]})])
    assert left.listening_ports == ["h1:30001"]
