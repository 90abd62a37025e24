"""Apps benchmark: deploy time cold (first agency: installs the app into its shared venv) and warm (second
agency), an unchanged re-deploy, and RSS per running instance (every supervisord program of the instance,
e.g. documents' web, worker and redis, with their children). The bench box gets its own, empty virtualenv
cache (GOVCLOUD_APPS_CACHE under the box's directory), so that cold means a real install even on a host whose
cache is warm.

Run: .venv/bin/python benchmarks/bench_apps.py [portal opendata messaging documents centre]"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _common import rss_tree_mb
from tests.conftest import GOVCLOUD, make_box, teardown_box

AGENCIES = ("health", "revenue")
DEFAULT_APPS = ["portal", "opendata", "messaging", "documents", "centre"]


def deploy(handle: object, slug: str, app: str) -> tuple[float, int]:
    args = handle.args("--json", "app", "deploy", slug, app)  # type: ignore[attr-defined]
    env = {**os.environ, "GOVCLOUD_APPS_CACHE": str(handle.root / "venv-cache")}  # type: ignore[attr-defined]
    start = time.perf_counter()
    out = subprocess.run([GOVCLOUD, *args], check=True, capture_output=True, text=True, env=env)
    return time.perf_counter() - start, int(json.loads(out.stdout)["changed"])


def instance_rss_mb(handle: object, slug: str, app: str) -> float:
    from govcloud_platform.box.supervisor import Supervisor
    from govcloud_platform.names import app_program

    main_program = app_program(slug, app)
    info = Supervisor(handle.box()).info()  # type: ignore[attr-defined]
    pids = [int(p["pid"]) for name, p in info.items()
            if (name == main_program or name.startswith(main_program + "-")) and p.get("pid")]
    return sum(rss_tree_mb(pid) for pid in pids)


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
            rss = [instance_rss_mb(handle, slug, app) for slug in AGENCIES]
            print(f"{app:9s} cold deploy  {cold:7.1f} s   (first agency; installs into the shared venv)")
            print(f"{app:9s} warm deploy  {warm:7.1f} s   (second agency)")
            print(f"{app:9s} re-deploy    {again:7.1f} s   (changed={changed})")
            print(f"{app:9s} RSS/instance {max(rss):7.0f} MiB (max of {len(rss)} instances)", flush=True)
    finally:
        teardown_box(handle)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main(sys.argv[1:] or DEFAULT_APPS)
