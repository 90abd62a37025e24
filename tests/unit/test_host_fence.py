"""The host fence's decisions (`box.fence`): when a silent peer is fenced and let back, who watches whom."""

from __future__ import annotations

import argparse

import pytest

from govcloud_platform.box import fence
from govcloud_platform.box.fence import PROBE_S, SILENT_S, Watch
from govcloud_platform.hosts.placement import placement_for
from govcloud_platform.spec.topology import Topology

CORE = ["database", "dcs", "storage", "identity", "proxy"]


def topo(*hosts: tuple[str, list[str]]) -> Topology:
    return Topology.model_validate(
        {"hosts": [{"name": n, "address": f"10.0.0.{i + 1}", "groups": g} for i, (n, g) in enumerate(hosts)]})


def rounds(watch: Watch, start: float, replies: str) -> list[tuple[float, str]]:
    """Feed one probe round per character ('y' a reply, '.' none); the actions with their times."""
    out = []
    for i, c in enumerate(replies):
        now = start + (i + 1) * PROBE_S
        action = watch.observe(now, c == "y")
        if action:
            out.append((now, action))
    return out


def test_a_peer_is_fenced_once_silent_for_silent_s_and_not_before() -> None:
    w = Watch("h2", "10.0.0.2", last_reply=0.0)
    missed = int(SILENT_S / PROBE_S)
    assert rounds(w, 0.0, "." * (missed - 1)) == [] and not w.fenced
    assert w.observe(missed * PROBE_S, False) == "fence" and w.fenced
    assert w.observe(missed * PROBE_S + 10, False) is None  # fenced once, not again


def test_a_late_reply_resets_the_silence() -> None:
    w = Watch("h2", "10.0.0.2", last_reply=0.0)
    pattern = ("." * (int(SILENT_S / PROBE_S) - 1) + "y") * 4
    assert rounds(w, 0.0, pattern) == [] and not w.fenced


def test_a_fenced_peer_comes_back_at_its_first_reply() -> None:
    w = Watch("h2", "10.0.0.2", last_reply=0.0, fenced=True)
    assert w.observe(10.0, False) is None and w.fenced
    assert w.observe(10.5, True) == "lift" and not w.fenced


def test_a_peer_let_back_is_fenced_again_only_after_silent_s() -> None:
    w = Watch("h2", "10.0.0.2", last_reply=0.0, fenced=True)
    assert w.observe(10.0, True) == "lift"
    assert rounds(w, 10.0, "." * (int(SILENT_S / PROBE_S) - 1)) == []
    assert w.observe(10.0 + SILENT_S, False) == "fence"


def test_every_host_of_a_highly_available_topology_watches_all_the_others() -> None:
    three = topo(("h1", ["storage", "proxy", "backups", "dcs"]), ("h2", CORE), ("h3", ["database", "dcs",
                                                                                       "storage", "identity"]))
    assert fence.peers(placement_for(three, "h1"), three, "10.0.0.1") == [("h2", "10.0.0.2"), ("h3", "10.0.0.3")]
    assert fence.peers(placement_for(three, "h3"), three, "10.0.0.3") == [("h1", "10.0.0.1"), ("h2", "10.0.0.2")]
    assert fence.peers(placement_for(three, None), three, "10.0.0.9") == []  # the operator's home runs nothing


def test_no_fence_where_no_service_survives_a_host() -> None:
    two = topo(("h1", ["database", "storage", "identity", "proxy", "backups"]), ("h2", ["apps"]))
    assert fence.peers(placement_for(two, "h1"), two, "10.0.0.1") == []
    assert fence.peers(None, None, "127.0.0.1") == []  # a box on one machine


def test_peers_on_the_command_line() -> None:
    assert fence.parse_peer("h2=10.0.0.2") == ("h2", "10.0.0.2")
    assert fence.parse_peer("h6=fd00:0::6") == ("h6", "fd00::6")
    for bad in ("h2", "=10.0.0.2", "h2=not-an-address"):
        with pytest.raises(argparse.ArgumentTypeError):
            fence.parse_peer(bad)
