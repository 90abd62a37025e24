"""Offline plan wall time and peak RSS for 10, 100 and 1000 generated agencies, on the openstack target and on
the ec2 target (the same spec with `platform.target: ec2`).

Each run is a fresh subprocess (pulumi's runtime is global state, and peak RSS must not carry over); it
reports the plan's wall time, its CPU time (the process and its forked workers) and the peak RSS of the
process or its largest worker. Generated agencies alternate the example's quota classes; every fourth one
runs the `portal` app, so the plan holds the platform stack, one stack per agency and one per app.
`--repeat N` runs every size N times (interleaved) and prints the best and the median: on a shared machine
the wall time follows the load average, printed with each run; the CPU time much less so.
Goals: 1000 agencies <= 20 s and t(1000)/t(100) <= 11 (openstack); ec2 <= 1.2x openstack at the same size.
`--targets openstack` runs only the first (as before the ec2 target existed)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SIZES = (10, 100, 1000)
TARGETS = ("openstack", "ec2")

CHILD = r"""
import json, resource, sys, time
from govcloud_platform.spec import Spec
from govcloud_platform.spec.example import EXAMPLE_SPEC
from govcloud_platform.spec import load_spec_text

n = int(sys.argv[1])
base = load_spec_text(EXAMPLE_SPEC).model_dump()
base["platform"]["target"] = sys.argv[2]
base["agencies"] = [
    {"slug": f"agency-{i:04d}", "name": f"Agency {i}", "email": f"it@a{i}.gov.example",
     "quota": "large" if i % 3 == 0 else "standard", "apps": ["portal"] if i % 4 == 0 else []}
    for i in range(n)
]
spec = Spec.model_validate(base)
t0 = time.perf_counter()
c0 = sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
         for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
from govcloud_platform.iaas.offline import plan
p = plan(spec)
wall = time.perf_counter() - t0
cpu = sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
          for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) - c0
rss_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rss_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"agencies": n, "stacks": len(p.stacks), "resources": len(p.resources),
                  "violations": len(p.violations), "mandatory": len(p.mandatory), "wall_s": wall,
                  "cpu_s": cpu, "peak_rss_mb": max(rss_self, rss_children) / 1024}))
"""


def run(n: int, target: str = "openstack") -> dict[str, float]:
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, str(n), target], check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - t0
    result["load"] = load
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES),
                        help="agency counts (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size, interleaved (default: %(default)s)")
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=TARGETS,
                        help="targets to plan (default: %(default)s)")
    args = parser.parse_args()

    runs: dict[tuple[str, int], list[dict[str, float]]] = {(t, n): [] for t in args.targets for n in args.sizes}
    print(f"{'target':>9} {'agencies':>8} {'stacks':>6} {'resources':>9} {'plan s':>7} {'cpu s':>6} {'process s':>9} "
          f"{'peak RSS MB':>11} {'violations':>10} {'load 1m':>7}")
    for _ in range(args.repeat):
        for n in args.sizes:
            for target in args.targets:
                r = run(n, target)
                runs[(target, n)].append(r)
                print(f"{target:>9} {n:>8} {r['stacks']:>6} {r['resources']:>9} {r['wall_s']:>7.2f} {r['cpu_s']:>6.2f} "
                      f"{r['process_s']:>9.2f} {r['peak_rss_mb']:>11.0f} {r['violations']:>10} {r['load']:>7.2f}",
                      flush=True)

    best = {k: min(r["wall_s"] for r in rs) for k, rs in runs.items()}
    median = {k: statistics.median(r["wall_s"] for r in rs) for k, rs in runs.items()}
    if args.repeat > 1:
        print("summary (plan s): " + ", ".join(
            f"{t} {n}: best {best[(t, n)]:.2f} median {median[(t, n)]:.2f} "
            f"(peak RSS {max(r['peak_rss_mb'] for r in runs[(t, n)]):.0f} MB)" for (t, n) in runs))
    for target in args.targets:
        if (target, 100) in runs and (target, 1000) in runs:
            print(f"{target}: t(1000)/t(100) = {best[(target, 1000)] / best[(target, 100)]:.2f} best, "
                  f"{median[(target, 1000)] / median[(target, 100)]:.2f} median  (goal <= 11)")
        if (target, 1000) in runs:
            print(f"{target}: t(1000) = {best[(target, 1000)]:.2f} s best, {median[(target, 1000)]:.2f} s median"
                  "  (goal <= 20 s)")
    if set(TARGETS) <= set(args.targets):
        for n in args.sizes:
            os_best, ec2_best = best[("openstack", n)], best[("ec2", n)]
            os_cpu = min(r["cpu_s"] for r in runs[("openstack", n)])
            ec2_cpu = min(r["cpu_s"] for r in runs[("ec2", n)])
            print(f"{n} agencies: ec2 {ec2_best:.2f} s / openstack {os_best:.2f} s = {ec2_best / os_best:.2f}x wall, "
                  f"{ec2_cpu / os_cpu:.2f}x cpu  (goal ec2 <= 1.2x openstack)")


if __name__ == "__main__":
    main()
