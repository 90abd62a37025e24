"""The CLI agent's spare `weed shell` is used only while the master it was started against still listens: a
master restarted since (`up` after a flag change, supervisord after a crash) has a new listening socket, and a
shell of the old one would wait for it forever (an `apply` timed out after 30 s)."""

from __future__ import annotations

from govcloud_platform.box.ports import listening_inode

HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
TCP = HEADER + (
    "   0: 0100007F:4E21 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 411 1 0 100 0 0 10 0\n"
    "   1: 0100007F:4E21 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 977 1 0 20 4 30 10 -1\n"
    "   2: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 512 1 0 100 0 0 10 0\n"
)
TCP6 = HEADER + (
    "   0: 00000000000000000000000000000000:4E22 00000000000000000000000000000000:0000 0A 00000000:00000000 "
    "00:00000000 00000000     0        0 733 1 0 100 0 0 10 0\n"
)


def test_the_listener_of_a_port_is_its_listening_socket() -> None:
    assert listening_inode([TCP, TCP6], 0x4E21) == 411  # not the established connection on the same port
    assert listening_inode([TCP, TCP6], 0x4E22) == 733  # IPv6 table
    assert listening_inode([TCP, TCP6], 9999) is None
    assert listening_inode([], 0x4E21) is None


def test_a_restarted_master_has_another_listener() -> None:
    restarted = TCP.replace(" 411 ", " 418 ")
    assert listening_inode([restarted], 0x4E21) != listening_inode([TCP], 0x4E21)
