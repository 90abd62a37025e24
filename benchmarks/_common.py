"""Helpers shared by the benchmarks: timing, process-tree RSS, a private box on free ports."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_time(cmd: list[str], runs: int = 5, env: dict[str, str] | None = None) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def rss_mb(pids: list[int]) -> float:
    """Resident memory of these processes (those still alive), in MiB."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def rss_tree_mb(root_pid: int) -> float:
    """Resident memory of a process and all its descendants, in MiB."""
    tree = _children()
    todo, pids = [root_pid], []
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo += tree.get(pid, [])
    return rss_mb(pids)


def box_rss_mb(home: Path) -> float:
    pid = int((home / "supervisor" / "supervisord.pid").read_text())
    return rss_tree_mb(pid)
