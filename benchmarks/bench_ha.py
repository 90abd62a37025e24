"""High-availability benchmark (issue 13) on a 3-host lab laid out as tests/integration/test_hosts_ha.py does (h1:
storage, identity, proxy; h2 and h3: PostgreSQL under Patroni; etcd on all three): the database's failover when
the leader's host dies (`govcloud lab fail`: every process SIGKILLed at once and its link cut), median of 5.

A writer commits numbered rows in a loop through the agency's own multi-host credentials the whole time (libpq
finds the leader); for each fault it prints the window without an acknowledged write (the last commit before the
kill to the first after it), the time until the new leader took a write, how long the failed host took to return
as a synchronous replica after `lab heal`, and at the end how many acknowledged rows are missing (goal 0).

What this version cannot measure, and says so: the S3 write window when a volume host dies and the login
unavailability when an identity host dies (object storage and identity still run once on the hosts target).

Run: .venv/bin/python benchmarks/bench_ha.py"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time

import psycopg
from _common import rss_mb  # noqa: F401 - also puts the checkout on sys.path (tests.conftest)
from bench_hosts import rss_mib
from tests.integration.test_hosts_ha import conninfo, ha_lab
from tests.integration.test_lab import stop_lab

RUNS = 5


class Writer(threading.Thread):
    """Commits rows 1, 2, 3, ... and remembers which were acknowledged, and when."""

    def __init__(self, info: dict[str, object]) -> None:
        super().__init__(daemon=True)
        self.info, self.acked, self.times = info, [], []  # type: ignore[var-annotated]
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            try:
                with psycopg.connect(**self.info, autocommit=True) as conn:  # type: ignore[arg-type]
                    while not self.stop.is_set():
                        conn.execute("INSERT INTO acked VALUES (%s)", (n + 1,))
                        n += 1
                        self.acked.append(n)
                        self.times.append(time.monotonic())
                        time.sleep(0.05)
            except psycopg.Error:
                n = max(n, self.acked[-1] if self.acked else 0) + 1000  # a row that may or may not have landed
                time.sleep(0.2)

    def gap_around(self, moment: float) -> float:
        before = max((t for t in self.times if t <= moment), default=moment)
        after = min((t for t in self.times if t > moment), default=float("nan"))
        return after - before


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    print(f"load average at start {os.getloadavg()[0]:.1f}")
    ha = ha_lab("bha", "gcb-")
    lab = ha.lab
    try:
        t0 = time.monotonic()
        assert ha.cli("--json", "up", "--port-base", str(ha.port_base)).rc == 0
        print(f"cold up with Patroni and etcd: {time.monotonic() - t0:.1f} s")
        assert ha.cli("--json", "agency", "add", "bench", "--name", "Bench").rc == 0
        info = conninfo(ha.creds("bench"))
        with psycopg.connect(**info, autocommit=True) as conn:
            conn.execute("CREATE TABLE acked (n int PRIMARY KEY)")
        rss = {h["name"]: round(rss_mib(h["netns"])) for h in lab.doc["hosts"]}
        print(f"RSS per host (MiB): {rss}")
        writer = Writer(info)
        writer.start()
        failovers, windows, rejoins = [], [], []
        for run in range(RUNS):
            time.sleep(3)
            leader = next(h for h, r in ha.roles("database").items() if r == "leader")
            assert lab.cli("fail", leader).rc == 0
            killed = time.monotonic()  # the host is dead once the command returns (writes before it still land)
            while not any(t > killed for t in writer.times):
                assert time.monotonic() - killed < 180, "no write within 180 s"
                time.sleep(0.2)
            failovers.append(next(t for t in writer.times if t > killed) - killed)
            windows.append(writer.gap_around(killed))
            healed = time.monotonic()
            assert lab.cli("heal", leader, timeout=600).rc == 0
            while ha.roles("database").get(leader) != "sync_replica":
                assert time.monotonic() - healed < 300, "the failed host did not return"
                time.sleep(1)
            rejoins.append(time.monotonic() - healed)
            print(f"run {run + 1}: {leader} failed; first write {failovers[-1]:.1f} s after the kill, no write "
                  f"for {windows[-1]:.1f} s; back as sync replica {rejoins[-1]:.1f} s after `lab heal`")
        writer.stop.set()
        writer.join(10)
        with psycopg.connect(**info, autocommit=True) as conn:
            have = {r[0] for r in conn.execute("SELECT n FROM acked").fetchall()}
        lost = [n for n in writer.acked if n not in have]
        print(f"database failover (first write after the kill): median {statistics.median(failovers):.1f} s "
              f"(min {min(failovers):.1f}, max {max(failovers):.1f}; goal <= 30 s, repmgr's documented ~60 s)")
        print(f"write unavailability window: median {statistics.median(windows):.1f} s")
        print(f"failed host back as a synchronous replica after `lab heal`: median {statistics.median(rejoins):.1f} s")
        print(f"acknowledged writes: {len(writer.acked)}, lost: {len(lost)} (goal 0)")
        print("S3 write window when a volume host dies: not measured (object storage runs once on the hosts target)")
        print("login unavailability when an identity host dies: not measured (identity runs once)")
    finally:
        ha.cli("down", timeout=300)
        stop_lab(lab)


if __name__ == "__main__":
    main()
