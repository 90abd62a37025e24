"""Apps benchmark: deploy time cold (first agency: installs the app into its shared venv) and warm (second
agency), an unchanged re-deploy, and RSS per running instance (the program and its children).

Run: .venv/bin/python benchmarks/bench_apps.py [portal opendata]"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from _common import rss_tree_mb
from tests.conftest import GOVCLOUD, make_box, teardown_box

AGENCIES = ("health", "revenue")


def deploy(handle: object, slug: str, app: str) -> tuple[float, int]:
    args = handle.args("--json", "app", "deploy", slug, app)  # type: ignore[attr-defined]
    start = time.perf_counter()
    out = subprocess.run([GOVCLOUD, *args], check=True, capture_output=True, text=True)
    return time.perf_counter() - start, int(json.loads(out.stdout)["changed"])


def main(apps: list[str]) -> None:
    handle = make_box("bench-apps")
    try:
        subprocess.run([GOVCLOUD, *handle.args("up", "--port-base", str(handle.port_base))], check=True,
                       capture_output=True)
        subprocess.run([GOVCLOUD, *handle.args("apply")], check=True, capture_output=True)
        for app in apps:
            cold, _ = deploy(handle, AGENCIES[0], app)
            warm, _ = deploy(handle, AGENCIES[1], app)
            again, changed = deploy(handle, AGENCIES[0], app)
            time.sleep(3)
            listed = json.loads(subprocess.run([GOVCLOUD, *handle.args("--json", "app", "list")], check=True,
                                               capture_output=True, text=True).stdout)["apps"]
            rss = [rss_tree_mb(int(a["pid"])) for a in listed if a["app"] == app and a["pid"]]
            print(f"{app:9s} cold deploy  {cold:7.1f} s   (first agency; installs into the shared venv)")
            print(f"{app:9s} warm deploy  {warm:7.1f} s   (second agency)")
            print(f"{app:9s} re-deploy    {again:7.1f} s   (changed={changed})")
            print(f"{app:9s} RSS/instance {max(rss) if rss else 0:7.0f} MiB (max of {len(rss)} instances)")
    finally:
        teardown_box(handle)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main(sys.argv[1:] or ["portal", "opendata"])
