"""CLI benchmark: each command as a whole process (what a user waits for), median of 10, on a box with 15
agencies, through the box's CLI agent and in its own process (GOVCLOUD_NO_AGENT=1), with `python -c pass` in
the same run as the floor.

Goals (issue 11): `agency add` <= 0.5 s; `agency list`, `agency show`, `status --json` <= 0.3 s.
Run: .venv/bin/python benchmarks/bench_cli.py"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import median_time
from tests.conftest import GOVCLOUD, make_box, teardown_box

RUNS = 10
GOALS = {"agency add": 0.5, "agency list": 0.3, "agency show": 0.3, "status --json": 0.3}


def cpu_load() -> float:
    return os.getloadavg()[0]


def add_times(handle: object, prefix: str, env: dict[str, str]) -> list[float]:
    times = []
    for i in range(RUNS):
        cmd = [GOVCLOUD, *handle.args("agency", "add", f"{prefix}-{i}", "--name", f"Bench {prefix} {i}")]  # type: ignore[attr-defined]
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    handle = make_box("benchcli")
    try:
        subprocess.run([GOVCLOUD, *handle.args("up", "--port-base", str(handle.port_base))], check=True,
                       capture_output=True)
        subprocess.run([GOVCLOUD, *handle.args("apply")], check=True, capture_output=True)
        for i in range(12):  # 15 agencies with the spec's three
            subprocess.run([GOVCLOUD, *handle.args("agency", "add", f"seed-{i}", "--name", f"Seed agency {i}")],
                           check=True, capture_output=True)
        agent_env = {**os.environ}
        local_env = {**os.environ, "GOVCLOUD_NO_AGENT": "1"}
        floor = median_time([sys.executable, "-c", "pass"], runs=RUNS)
        print(f"load average at start {cpu_load():.1f}; python -c pass {floor * 1000:.0f} ms (median of {RUNS})")
        print(f"{'command':<16} {'agent':>9} {'own process':>12} {'goal':>7}")
        rows = {
            "agency list": ["agency", "list"],
            "agency show": ["agency", "show", "health"],
            "status --json": ["--json", "status"],
        }
        for label, args in rows.items():
            cmd = [GOVCLOUD, *handle.args(*args)]
            a = median_time(cmd, runs=RUNS, env=agent_env)
            b = median_time(cmd, runs=RUNS, env=local_env)
            print(f"{label:<16} {a:8.3f}s {b:11.3f}s {GOALS[label]:6.1f}s")
        a = statistics.median(add_times(handle, "via-agent", agent_env))
        b = statistics.median(add_times(handle, "own-proc", local_env))
        print(f"{'agency add':<16} {a:8.3f}s {b:11.3f}s {GOALS['agency add']:6.1f}s")
        help_a = median_time([GOVCLOUD, "--help"], runs=RUNS)
        print(f"{'--help':<16} {'-':>9} {help_a:11.3f}s (never through the agent)")
        print(f"load average at end {cpu_load():.1f}")
    finally:
        teardown_box(handle)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
