"""Web console benchmark on a box of its own with the console enabled (`govcloud up`): bytes of every page (as an
operator signed in through the IdP, English and Urdu), p50/p95 of the time one request takes over a kept-alive
HTTPS connection through nginx (the client's wall time on the same machine: the server's time and the loopback) for
`GET /api/agencies` with an operator's bearer token, the agencies page, the overview and one agency's usage, with
`--agencies N` agencies in the registry (100 by default; but for the first, written into the registry directly, as
`agency add` records them: the console reads only the registry for these, and onboarding 100 agencies' services
would take minutes), and the RSS of the console's processes (gunicorn's master and workers). The second slice:
`--audit N` audit entries (10,000 by default, one agency's in 100) and 100 onboarding requests in the registry; the
requests' and the audit log's pages' bytes; p50/p95 of `GET /api/requests`, `GET /api/audit` (the newest 200),
`GET /api/audit?agency=` (one agency's, through the whole table) and `GET /api/audit.csv`.
Run: .venv/bin/python benchmarks/bench_console.py [--agencies 100] [--requests 200] [--audit 10000]  (about 2 min)"""

from __future__ import annotations

import argparse
import statistics
import time

from _common import rss_tree_mb
from tests import console_kit as kit
from tests.conftest import make_box, teardown_box

from govcloud_platform.box.supervisor import Supervisor
from govcloud_platform.onboarding import AgencyRequest, Onboarding
from govcloud_platform.state import onboarding_requests
from govcloud_platform.state.registry import READY, Registry


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agencies", type=int, default=100)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--audit", type=int, default=10_000)
    args = parser.parse_args()
    handle = make_box("bench-console", kit.ENABLED)
    try:
        start = time.perf_counter()
        up = handle.cli("up", "--port-base", str(handle.port_base), timeout=600)
        assert up.rc == 0, up.stderr[-1000:]
        print(f"govcloud up (every service and the console): {time.perf_counter() - start:.1f} s")
        box = handle.box()
        Onboarding(box, actor="bench").add(AgencyRequest("bench-first", "Bench first", "it@bench.example",
                                                         "standard", ["database", "storage", "identity"]))
        registry = Registry(box.home)
        for i in range(args.agencies - 1):
            registry.save_agency(f"bench-{i:04d}", f"Bench agency {i}", f"it@bench-{i}.example", "standard",
                                 ["database", "storage", "identity", "backups"], READY)
        with registry.connect() as conn:  # one transaction: the entries as `Registry.audit` writes them
            conn.execute("BEGIN")
            for i in range(args.audit):
                registry.audit("agency credentials", "bench-first" if i % 100 == 0 else f"bench-{i % 90:04d}",
                               "shown masked", f"console:user-{i % 7}")
            conn.execute("COMMIT")
        for i in range(100):
            onboarding_requests.file(registry, f"bench-req-{i:03d}", f"Requested {i}", "it@req.example", "standard",
                                     ["portal"], "operator")
        registry.close()
        session, landed = kit.sign_in(box, *kit.operator(handle))
        assert landed.status_code == 200
        print(f"agencies in the registry: {args.agencies}")
        for lang in ("en", "ur"):
            sizes = []
            for path in ("/", "/agencies", "/agencies/bench-first", "/agencies/bench-first/usage", "/requests",
                         "/requests/new", "/requests/1", "/audit"):
                resp = session.get(kit.url(box, f"/{lang}{path}"), timeout=10)
                assert resp.status_code == 200
                sizes.append(f"{path} {len(resp.content) / 1024:.1f} KB")
            print(f"page bytes ({lang}): " + ", ".join(sizes) + "; stylesheet "
                  f"{len(session.get(kit.url(box, '/static/console.css'), timeout=10).content) / 1024:.1f} KB")
        token = kit.access_token(box, *kit.operator(handle))
        session.headers["Authorization"] = f"Bearer {token}"
        for label, path in (("GET /api/agencies", "/api/agencies"), ("agencies page /en/agencies", "/en/agencies"),
                            ("overview /en/ (status cached 10 s)", "/en/"),
                            ("GET /api/requests (100)", "/api/requests"),
                            ("GET /api/audit (the newest 200)", "/api/audit"),
                            ("GET /api/audit?agency=bench-first (one agency's, 1 in 100)",
                             "/api/audit?agency=bench-first"),
                            ("GET /api/audit.csv (the newest 200)", "/api/audit.csv"),
                            ("audit page /en/audit", "/en/audit"),
                            ("GET /api/agencies/bench-first/usage (measured on the servers)",
                             "/api/agencies/bench-first/usage")):
            samples = []
            for _ in range(args.requests):
                t0 = time.perf_counter()
                resp = session.get(kit.url(box, path), timeout=10)
                samples.append(time.perf_counter() - t0)
                assert resp.status_code == 200
            p50, p95 = percentiles(samples)
            print(f"{label}: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({args.requests} requests, {len(resp.content)} B)")
        pid = int(Supervisor(box).info()["console"]["pid"])  # type: ignore[call-overload]
        print(f"console RSS (gunicorn master + workers): {rss_tree_mb(pid):.0f} MB")
    finally:
        teardown_box(handle)


if __name__ == "__main__":
    main()
