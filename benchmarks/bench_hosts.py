"""Hosts benchmark (issue 12), first part: `govcloud hosts check` (the read-only preflight over SSH with Ansible)
on a 3-host lab: cold (the first run after `lab up`), warm (median of 5), the same in-process (without Python's
start-up and imports), and with one host crashed (what a failure costs: ssh's connect time-out). The issue's
other figures (cold `up`, `up` with nothing to change, `apply` of 100 agencies, RSS per host) need the services
deployed on the hosts, which is not built yet.

Run: .venv/bin/python benchmarks/bench_hosts.py"""

from __future__ import annotations

import os
import statistics
import subprocess
import time

import _common  # noqa: F401 - puts the checkout on sys.path (tests.conftest)
from tests.conftest import GOVCLOUD
from tests.integration.test_lab import start_lab, stop_lab

RUNS = 5


def main() -> None:
    print(f"load average at start {os.getloadavg()[0]:.1f}")
    lab = None
    try:
        t0 = time.perf_counter()
        lab = start_lab("bh", 3)
        lab_s = time.perf_counter() - t0
        cmd = [GOVCLOUD, "--spec", str(lab.spec), "--json", "hosts", "check"]

        def check(expect: int = 0) -> float:
            start = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
            seconds = time.perf_counter() - start
            assert proc.returncode == expect, proc.stderr
            return seconds

        cold = check()
        warm = [check() for _ in range(RUNS)]

        from govcloud_platform.hosts.preflight import check_hosts
        from govcloud_platform.spec import load_spec

        spec = load_spec(lab.spec)
        assert spec.platform.topology is not None
        inproc = []
        for _ in range(RUNS):
            start = time.perf_counter()
            reports = check_hosts(spec.platform.topology, lab.spec.parent, spec.platform.port_base)
            inproc.append(time.perf_counter() - start)
            assert all(r.ok for r in reports), [r.problems for r in reports]

        assert lab.cli("fail", "h2").rc == 0
        try:
            crashed = check(expect=1)
        finally:
            assert lab.cli("heal", "h2").rc == 0
        print(f"lab up --hosts 3 (CLI):                  {lab_s:6.2f} s")
        print(f"hosts check, cold (CLI, first after up): {cold:6.2f} s")
        print(f"hosts check, warm (CLI, median of {RUNS}):    {statistics.median(warm):6.2f} s "
              f"(min {min(warm):.2f}, max {max(warm):.2f})")
        print(f"hosts check, warm (in-process, median):  {statistics.median(inproc):6.2f} s "
              f"(min {min(inproc):.2f}, max {max(inproc):.2f})")
        print(f"hosts check, h2 crashed (CLI, exit 1):   {crashed:6.2f} s")
        print(f"load average at end {os.getloadavg()[0]:.1f}")
    finally:
        if lab is not None:
            stop_lab(lab)


if __name__ == "__main__":
    main()
