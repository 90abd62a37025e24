"""`down` names what still holds a port after it: the process found through /proc (a real socket here)."""

from __future__ import annotations

import os
import socket

from govcloud_platform.box.runtime import port_holders


def test_the_process_listening_on_a_port_is_named() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        [line] = port_holders([port])
        assert line.startswith(f"{port}: pid {os.getpid()} (") and "python" in line, line


def test_a_port_nobody_listens_on_says_so() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening
    assert port_holders([port]) == [f"{port}: held by no process found"]


def test_a_database_alone_binds_none_of_the_clusters_ports() -> None:
    from govcloud_platform.box.ports import HA_ONLY, Ports, unbound_labels

    assert unbound_labels(True, s3_edge=True, idp_edge=True) == ()
    assert unbound_labels(True) == ("s3_edge", "idp_edge")  # the edge's ports: only in front of clusters
    assert set(unbound_labels(False, s3_edge=True, idp_edge=True)) == set(HA_ONLY) \
        == {"etcd_client", "etcd_peer", "patroni_api", "pgbackrest_tls"}
    assert set(unbound_labels(False)) <= {label for _, label, _ in Ports(30000).all()}


def test_down_counts_listeners_not_ports_taken_by_outgoing_connections() -> None:
    """A connection whose ephemeral source port is one of the plan's makes a bind test fail; only LISTEN counts."""
    from govcloud_platform.box.ports import listens

    head = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    v4 = head + (
        "   0: 0B00E70A:B86B 0C00E70A:1F90 01 00000000:00000000 00:00000000 00000000     0        0 1 1\n"  # connected
        "   1: 0100007F:7530 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1\n"  # 127.0.0.1
        "   2: 00000000:7531 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1\n")  # 0.0.0.0
    v6 = head + ("   0: 0000000000000000FFFF00000B00E70A:7532 00000000000000000000000000000000:0000 0A "
                 "00000000:00000000 00:00000000 00000000     0        0 4 1\n")  # ::ffff:10.231.0.11
    assert not listens([v4], 0xB86B, "10.231.0.11")  # 47211 taken by an outgoing connection only
    assert listens([v4], 30000, "127.0.0.1") and not listens([v4], 30000, "10.231.0.11")
    assert listens([v4], 30001, "10.231.0.11")  # the wildcard address
    assert listens([v4, v6], 30002, "10.231.0.11") and not listens([v4, v6], 30002, "10.231.0.12")
