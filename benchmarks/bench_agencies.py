"""Onboarding benchmark on a running box: `agency add` one at a time (1 and 10 agencies in process, 5 through
the CLI), and `apply` of a spec that adds 10 and then 100 agencies (storage batched in one session). Prints
median per agency, totals, t(100)/t(10), and the box's RSS with 100+ agencies.
Run: .venv/bin/python benchmarks/bench_agencies.py"""

from __future__ import annotations

import statistics
import subprocess
import time

from _common import box_rss_mb
from tests.conftest import GOVCLOUD, make_box, teardown_box

from govcloud_platform.box.context import Box
from govcloud_platform.onboarding import AgencyRequest, Onboarding
from govcloud_platform.spec import Agency, Spec


def with_agencies(spec: Spec, prefix: str, n: int) -> Spec:
    extra = [Agency(slug=f"{prefix}-{i:03d}", name=f"Agency {prefix} {i}", email=f"it@{prefix}{i}.example")
             for i in range(n)]
    return spec.model_copy(update={"agencies": [*spec.agencies, *extra]})


def main() -> None:
    handle = make_box("bench-agencies")
    try:
        subprocess.run([GOVCLOUD, *handle.args("up", "--port-base", str(handle.port_base))], check=True,
                       capture_output=True)
        box = handle.box()
        rss0 = box_rss_mb(handle.home)
        ob = Onboarding(box)
        ob.apply(prune=False)  # the spec's own agencies first, so that the timed applies add only new ones
        for n, prefix in ((1, "one"), (10, "ten")):
            each = []
            for i in range(n):
                start = time.perf_counter()
                ob.add(AgencyRequest(f"{prefix}-{i:03d}", f"Agency {prefix} {i}", f"it@{prefix}{i}.example"))
                each.append(time.perf_counter() - start)
            print(f"agency add x{n:<3}  total {sum(each):7.2f} s   median {statistics.median(each):.3f} s/agency")
        cli = []
        for i in range(5):  # what an operator sees: a whole `govcloud agency add` process, imports included
            start = time.perf_counter()
            subprocess.run([GOVCLOUD, *handle.args("agency", "add", f"cli-{i:03d}", "--name", f"CLI {i}")],
                           check=True, capture_output=True)
            cli.append(time.perf_counter() - start)
        print(f"govcloud agency add (CLI process) x5  median {statistics.median(cli):.3f} s")
        totals = {}
        spec = box.spec
        for n, prefix in ((10, "a10"), (100, "a100")):
            spec = with_agencies(spec, prefix, n)
            applier = Onboarding(Box(home=box.home, spec=spec))
            start = time.perf_counter()
            report = applier.apply(prune=False)
            totals[n] = time.perf_counter() - start
            assert len(report["added"]) == n, report
            print(f"apply +{n:<3}        total {totals[n]:7.2f} s   {totals[n] / n:.3f} s/agency")
        print(f"t(100)/t(10) = {totals[100] / totals[10]:.2f}  (10.0 = linear)")
        print("goals: <= 0.5 s per agency, 100 agencies <= 30 s, linear")
        time.sleep(3)
        count = len(Onboarding(box).registry.agencies())
        print(f"box RSS: {rss0:.0f} MiB with no agencies, {box_rss_mb(handle.home):.0f} MiB with {count} agencies")
        start = time.perf_counter()
        doctor = Onboarding(Box(home=box.home, spec=spec)).doctor()
        print(f"doctor over {count} agencies: {time.perf_counter() - start:.2f} s, healthy={doctor['healthy']}")
    finally:
        teardown_box(handle)


if __name__ == "__main__":
    main()
