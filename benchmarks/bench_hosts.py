"""Hosts benchmark (issue 12): `govcloud hosts check` (the read-only preflight over SSH with Ansible) on a 3-host
lab: cold (the first run after `lab up`), warm (median of 5), the same in-process (without Python's start-up and
imports), and with one host crashed (what a failure costs: ssh's connect time-out); then the shared services
deployed onto the lab: cold `up`, `up` with nothing to change (median of 5: its preflight is the deploy run's
first play), `status`, `verify` (testinfra over SSH, median of 3), an app (the centre) deployed on the apps' host
over SSH and published by the edge (first deploy, nothing to change, `app list`, remove), `down`, and the RSS of
each host (the sum over the processes of its network namespace), and `apply` of 100 new agencies on the lab
against the same on a box on this machine (the ratio; goal <= 1.5).

Run: .venv/bin/python benchmarks/bench_hosts.py"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from _common import rss_mb  # also puts the checkout on sys.path (tests.conftest)
from tests.conftest import GOVCLOUD
from tests.integration.test_lab import LabHandle, start_lab, stop_lab, traversable_tmp

from govcloud_platform.box.ports import free_port_base

RUNS = 5


def main() -> None:
    print(f"load average at start {os.getloadavg()[0]:.1f}")
    lab = None
    try:
        t0 = time.perf_counter()
        lab = start_lab("bh", 3, root=traversable_tmp("gcb-"))  # short socket paths
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
        deployed(lab)
        print(f"load average at end {os.getloadavg()[0]:.1f}")
    finally:
        if lab is not None:
            stop_lab(lab)


def rss_mib(netns: str) -> float:
    """The resident memory of every process in a network namespace (sshd included), MiB."""
    pids = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True, check=True).stdout.split()
    return rss_mb([int(p) for p in pids])


def apply_100(home: Path, spec_path: Path) -> float:
    """`apply` (in process, as bench_agencies) of 100 new agencies through the box at `home`: the spec's own
    agencies first, untimed."""
    from bench_agencies import with_agencies

    from govcloud_platform.box.context import Box
    from govcloud_platform.onboarding import Onboarding
    from govcloud_platform.spec import load_spec

    spec = load_spec(spec_path)
    Onboarding(Box(home=home, spec=spec, create=False)).apply(prune=False)
    applier = Onboarding(Box(home=home, spec=with_agencies(spec, "hb", 100), create=False))
    start = time.perf_counter()
    report = applier.apply(prune=False)
    seconds = time.perf_counter() - start
    assert len(report["added"]) == 100, report
    return seconds


def apply_100_on_a_box() -> float:
    from tests.conftest import make_box, teardown_box

    handle = make_box("bench-hosts-box")
    try:
        subprocess.run([GOVCLOUD, *handle.args("up", "--port-base", str(handle.port_base))], check=True,
                       capture_output=True)
        return apply_100(handle.home, handle.spec_path)
    finally:
        teardown_box(handle)


BENCH_AGENCY = "bench-hosts"  # no test or other box uses its system user (gc-bench-hosts)


def deployed(lab: LabHandle) -> None:
    """Cold up, up with nothing to change, status, RSS per host, down: on the same lab."""
    home = lab.root / "c"
    base = [GOVCLOUD, "--spec", str(lab.spec), "--home", str(home), "--json"]
    env = {**os.environ, "GOVCLOUD_NO_AGENT": "1"}

    def timed(*args: str) -> float:
        start = time.perf_counter()
        proc = subprocess.run([*base, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env)
        seconds = time.perf_counter() - start
        assert proc.returncode == 0, proc.stderr[-2000:]
        return seconds

    try:
        cold = timed("up", "--port-base", str(free_port_base()))
        again = [timed("up") for _ in range(RUNS)]
        status = timed("status")
        verify = [timed("verify") for _ in range(3)]
        rss = {h["name"]: rss_mib(h["netns"]) for h in lab.doc["hosts"]}
        # an app on the apps' host over SSH, published by the edge (its virtualenv is in the machine's cache)
        timed("agency", "add", BENCH_AGENCY, "--name", "Bench Hosts")
        app_cold = timed("app", "deploy", BENCH_AGENCY, "centre")
        app_again = timed("app", "deploy", BENCH_AGENCY, "centre")
        app_list = timed("app", "list")
        rss_app = {h["name"]: rss_mib(h["netns"]) for h in lab.doc["hosts"]}
        app_remove = timed("app", "remove", BENCH_AGENCY, "centre", "--purge-data")
        on_lab = apply_100(home, lab.spec)
        rss_after = {h["name"]: rss_mib(h["netns"]) for h in lab.doc["hosts"]}
        down = timed("down")
        print(f"up, cold (CLI, 3-host lab):              {cold:6.2f} s")
        print(f"up, nothing to change (median of {RUNS}):     {statistics.median(again):6.2f} s "
              f"(min {min(again):.2f}, max {max(again):.2f})")
        print(f"status (CLI, every host over ssh):       {status:6.2f} s")
        print(f"verify (CLI, testinfra over ssh, median of 3): {statistics.median(verify):6.2f} s "
              f"(min {min(verify):.2f}, max {max(verify):.2f})")
        print(f"down (CLI, every host):                  {down:6.2f} s")
        print("RSS per host (MiB, all processes of its netns): "
              + ", ".join(f"{n} {v:.0f}" for n, v in rss.items()) + "; with 100+ agencies: "
              + ", ".join(f"{n} {v:.0f}" for n, v in rss_after.items()))
        print(f"app deploy centre over ssh: first {app_cold:.2f} s, nothing to change {app_again:.2f} s, "
              f"app list {app_list:.2f} s (its health through the edge), remove --purge-data {app_remove:.2f} s; "
              "RSS with it: " + ", ".join(f"{n} {v:.0f}" for n, v in rss_app.items()))
        on_box = apply_100_on_a_box()
        print(f"apply +100 agencies: lab {on_lab:.2f} s, box {on_box:.2f} s, ratio {on_lab / on_box:.2f} "
              "(goal <= 1.5)")
    finally:
        subprocess.run([*base, "down"], capture_output=True, stdin=subprocess.DEVNULL, env=env, check=False)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
