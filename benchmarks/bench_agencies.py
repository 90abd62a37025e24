"""Onboarding benchmark: 1, 10 and 100 agencies on a running box; median per agency, totals, linearity,
and the box's RSS with 100 agencies.   Run: .venv/bin/python benchmarks/bench_agencies.py"""

from __future__ import annotations

import statistics
import subprocess
import time

from _common import box_rss_mb
from tests.conftest import GOVCLOUD, make_box, teardown_box

from govcloud_platform.onboarding import AgencyRequest, Onboarding


def onboard(ob: Onboarding, prefix: str, n: int) -> tuple[float, list[float]]:
    each = []
    start = time.perf_counter()
    for i in range(n):
        t = time.perf_counter()
        ob.add(AgencyRequest(f"{prefix}-{i:03d}", f"Bench Agency {prefix} {i}", f"it@{prefix}{i}.example"))
        each.append(time.perf_counter() - t)
    return time.perf_counter() - start, each


def main() -> None:
    handle = make_box("bench-agencies")
    try:
        subprocess.run([GOVCLOUD, *handle.args("up", "--port-base", str(handle.port_base))], check=True,
                       capture_output=True)
        box = handle.box()
        ob = Onboarding(box)
        rss0 = box_rss_mb(handle.home)
        results = {}
        for n, prefix in ((1, "one"), (10, "ten"), (100, "hun")):
            total, each = onboard(ob, prefix, n)
            results[n] = total
            print(f"{n:4d} agencies: total {total:7.2f} s, median {statistics.median(each):.3f} s/agency, "
                  f"max {max(each):.3f} s")
        ratio = results[100] / results[10]
        print(f"t(100)/t(10) = {ratio:.2f}   (10.0 is linear; goals: <= 0.5 s/agency, 100 agencies <= 30 s)")
        time.sleep(3)
        print(f"box RSS: {rss0:.0f} MiB idle with no agencies, {box_rss_mb(handle.home):.0f} MiB with 111 agencies")
        start = time.perf_counter()
        doctor = ob.doctor()
        print(f"doctor over 111 agencies: {time.perf_counter() - start:.2f} s, healthy={doctor['healthy']}")
    finally:
        teardown_box(handle)


if __name__ == "__main__":
    main()
