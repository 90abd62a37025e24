"""Offline plan wall time and peak RSS for 10, 100 and 1000 generated agencies.

Each size runs in a fresh subprocess (pulumi's runtime is global state, and peak RSS must not carry over).
Generated agencies alternate the example's quota classes; every fourth one runs the `portal` app, so the
plan holds the platform stack, one stack per agency and one per app. Goals: 1000 agencies <= 20 s and
t(1000)/t(100) <= 11."""

from __future__ import annotations

import json
import subprocess
import sys
import time

SIZES = (10, 100, 1000)

CHILD = r"""
import json, resource, sys, time
from govcloud_platform.spec import Spec
from govcloud_platform.spec.example import EXAMPLE_SPEC
from govcloud_platform.spec import load_spec_text

n = int(sys.argv[1])
base = load_spec_text(EXAMPLE_SPEC).model_dump()
base["agencies"] = [
    {"slug": f"agency-{i:04d}", "name": f"Agency {i}", "email": f"it@a{i}.gov.example",
     "quota": "large" if i % 3 == 0 else "standard", "apps": ["portal"] if i % 4 == 0 else []}
    for i in range(n)
]
spec = Spec.model_validate(base)
t0 = time.perf_counter()
from govcloud_platform.iaas.offline import plan
p = plan(spec)
wall = time.perf_counter() - t0
rss_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rss_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"agencies": n, "stacks": len(p.stacks), "resources": len(p.resources),
                  "violations": len(p.violations), "mandatory": len(p.mandatory), "wall_s": wall,
                  "peak_rss_mb": max(rss_self, rss_children) / 1024}))
"""


def run(n: int) -> dict[str, float]:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, str(n)], check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - t0
    return result


def main() -> None:
    results = {}
    print(f"{'agencies':>8} {'stacks':>6} {'resources':>9} {'plan s':>7} {'process s':>9} {'peak RSS MB':>11} "
          f"{'violations':>10}")
    for n in SIZES:
        r = run(n)
        results[n] = r
        print(f"{n:>8} {r['stacks']:>6} {r['resources']:>9} {r['wall_s']:>7.2f} {r['process_s']:>9.2f} "
              f"{r['peak_rss_mb']:>11.0f} {r['violations']:>10}")
    ratio = results[1000]["wall_s"] / results[100]["wall_s"]
    print(f"t(1000)/t(100) = {ratio:.2f}  (goal <= 11)")
    print(f"t(1000) = {results[1000]['wall_s']:.2f} s  (goal <= 20 s)")


if __name__ == "__main__":
    main()
