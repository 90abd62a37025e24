"""`govcloud validate` of a generated spec with 1,000 and 10,000 agencies (and any --sizes).

Each size is written as a block-style govcloud.yaml (the example's platform and quota classes, agencies
like the example's, every fourth with an app and every fifth with its own backup schedule) and validated
by the real command in a fresh process (wall and CPU time: the CPU time is steadier on a shared machine),
then by `load_spec_text` in this process (its CPU time, without the interpreter's start-up). Growth must
be linear: t(10000)/t(1000) near 10 (a quadratic check shows ~100). `--repeat N` keeps the best of N
runs for each figure."""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from govcloud_platform.spec import load_spec_text
from govcloud_platform.spec.example import EXAMPLE_SPEC

SIZES = (1000, 10000)
GOVCLOUD = str(Path(sys.executable).parent / "govcloud")


def spec_text(n: int) -> str:
    head = EXAMPLE_SPEC.split("agencies:")[0]
    lines = [head + "agencies:"]
    for i in range(n):
        lines += [f"  - slug: agency-{i:05d}", f"    name: Agency {i}", f"    email: it@a{i}.gov.example",
                  f"    quota: {'large' if i % 3 == 0 else 'standard'}",
                  "    services: [database, storage, identity, backups]"]
        if i % 4 == 0:
            lines.append("    apps: [portal]")
        if i % 5 == 0:
            lines.append('    backup_schedule: "15 3 * * 1-5"')
    return "\n".join(lines) + "\n"


def measure(n: int, path: Path) -> dict[str, float]:
    text = spec_text(n)
    path.write_text(text)
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([GOVCLOUD, "--spec", str(path), "validate"], capture_output=True, text=True)
    cli = time.perf_counter() - t0
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"validate of {n} agencies failed (rc {proc.returncode}): {proc.stderr.strip()[:300]}")
    p0 = time.process_time()
    load_spec_text(text, str(path))
    inproc = time.process_time() - p0
    return {"bytes": len(text.encode()), "cli_s": cli, "cpu_s": cpu, "load_s": inproc}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="agency counts")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size, best kept (default: %(default)s)")
    args = parser.parse_args()
    best: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "govcloud.yaml"
        for _ in range(args.repeat):
            for n in args.sizes:
                r = measure(n, path)
                best[n] = {k: min(v, best[n][k]) for k, v in r.items()} if n in best else r
    print(f"{'agencies':>8} {'spec KiB':>8} {'validate s':>10} {'its CPU s':>9} {'in-process CPU s':>16}"
          f"   (load 1m {os.getloadavg()[0]:.2f})")
    for n in args.sizes:
        r = best[n]
        print(f"{n:>8} {r['bytes'] / 1024:>8.0f} {r['cli_s']:>10.2f} {r['cpu_s']:>9.2f} {r['load_s']:>16.2f}")
    if len(args.sizes) >= 2:
        lo, hi = min(args.sizes), max(args.sizes)
        print(f"t({hi})/t({lo}) = {best[hi]['load_s'] / best[lo]['load_s']:.1f} in-process "
              f"(linear: {hi / lo:.0f})")


if __name__ == "__main__":
    main()
