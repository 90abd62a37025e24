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

    assert unbound_labels(True) == ()
    assert set(unbound_labels(False)) == {"etcd_client", "etcd_peer", "patroni_api", "pgbackrest_tls"} == set(HA_ONLY)
    assert set(unbound_labels(False)) <= {label for _, label, _ in Ports(30000).all()}
