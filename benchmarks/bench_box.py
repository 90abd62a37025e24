"""Box benchmark: `govcloud --help` vs `openstack --help`, cold and warm `up`, idle RSS, `down`.

Run: .venv/bin/python benchmarks/bench_box.py   (installs python-openstackclient into its own venv once)"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT, box_rss_mb, median_time
from tests.conftest import GOVCLOUD, make_box, teardown_box

OSC_VENV = ROOT / "benchmarks" / ".venv-osc"


def openstack_cli() -> str:
    exe = OSC_VENV / "bin" / "openstack"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(OSC_VENV)], check=True)
        subprocess.run([str(OSC_VENV / "bin" / "pip"), "install", "-q", "python-openstackclient"], check=True)
    return str(exe)


def main() -> None:
    osc = openstack_cli()
    subprocess.run([GOVCLOUD, "--help"], capture_output=True, check=True)  # warm the page cache
    subprocess.run([osc, "--help"], capture_output=True, check=True)
    t_gc = median_time([GOVCLOUD, "--help"])
    t_os = median_time([osc, "--help"], runs=3)
    print(f"govcloud --help   {t_gc * 1000:8.0f} ms (median of 5)")
    print(f"openstack --help  {t_os * 1000:8.0f} ms (median of 3)")
    print(f"ratio             {t_gc / t_os:8.3f}   (goal <= 0.2)")

    handle = make_box("bench")
    try:
        args = handle.args("up", "--port-base", str(handle.port_base))
        start = time.perf_counter()
        subprocess.run([GOVCLOUD, *args], check=True, capture_output=True)
        cold = time.perf_counter() - start
        warm = median_time([GOVCLOUD, *handle.args("up")], runs=3)
        time.sleep(5)  # let the services settle to idle
        rss = box_rss_mb(handle.home)
        start = time.perf_counter()
        subprocess.run([GOVCLOUD, *handle.args("down")], check=True, capture_output=True)
        down = time.perf_counter() - start
        print(f"cold up           {cold:8.1f} s    (goal <= 20 s; empty box dir -> all healthy)")
        print(f"warm up           {warm:8.2f} s    (goal <= 2 s; median of 3)")
        print(f"idle RSS          {rss:8.0f} MiB  (goal <= 1024 MiB; supervisord and every child)")
        print(f"down              {down:8.1f} s    (15 s of it: SeaweedFS's filer draining its own gRPC streams)")
    finally:
        teardown_box(handle)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
