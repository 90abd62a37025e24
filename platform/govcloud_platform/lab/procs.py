"""Processes of a lab host: those whose network namespace is the host's (what `ip netns pids` lists), found
and signalled without ever matching a process by name. Signals go through a pidfd opened before the
namespace is checked again, so a pid reused by an unrelated process in the meantime is never signalled."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

NETNS_RUN = Path("/run/netns")


def netns_id(netns: str) -> tuple[int, int] | None:
    """(device, inode) of the namespace's handle, or None when it does not exist."""
    try:
        st = os.stat(NETNS_RUN / netns)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def _in(pid: int, ident: tuple[int, int]) -> bool:
    try:
        st = os.stat(f"/proc/{pid}/ns/net")
    except OSError:  # gone, or a kernel thread
        return False
    return (st.st_dev, st.st_ino) == ident


def netns_pids(netns: str) -> list[int]:
    """Every process in the namespace (as `ip netns pids`)."""
    ident = netns_id(netns)
    if ident is None:
        return []
    return sorted(int(p) for p in os.listdir("/proc") if p.isdigit() and _in(int(p), ident))


def pid_in_netns(pid: int, netns: str) -> bool:
    ident = netns_id(netns)
    return ident is not None and _in(pid, ident)


def signal_netns(netns: str, sig: int) -> int:
    """Send `sig` to every process of the namespace; returns how many were signalled."""
    ident = netns_id(netns)
    if ident is None:
        return 0
    count = 0
    for pid in netns_pids(netns):
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            if _in(pid, ident):  # still the same process (the pidfd pins it), still in the namespace
                signal.pidfd_send_signal(fd, sig)
                count += 1
        except ProcessLookupError:
            pass
        finally:
            os.close(fd)
    return count


def stop_netns(netns: str, grace_s: float = 10.0) -> list[int]:
    """SIGTERM every process of the namespace, SIGKILL what is left after `grace_s`; returns the pids that
    survived even that (empty on success)."""
    if not netns_pids(netns):
        return []
    signal_netns(netns, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while netns_pids(netns) and time.monotonic() < deadline:
        time.sleep(0.05)
    for _ in range(20):
        if not netns_pids(netns):
            return []
        signal_netns(netns, signal.SIGKILL)
        time.sleep(0.05)
    return netns_pids(netns)


def kill_netns(netns: str) -> None:
    """SIGKILL every process of the namespace, repeatedly until none is left (a host that crashes)."""
    for _ in range(50):
        if signal_netns(netns, signal.SIGKILL) == 0:
            return
        time.sleep(0.02)


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
