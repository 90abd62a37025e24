"""Web console benchmark on a box of its own with the console enabled (`govcloud up`): bytes of every page (as an
operator signed in through the IdP, English and Urdu), p50/p95 of the time one request takes over a kept-alive
HTTPS connection through nginx (the client's wall time on the same machine: the server's time and the loopback) for
`GET /api/agencies` with an operator's bearer token, the agencies page, the overview and one agency's usage, with
`--agencies N` agencies in the registry (100 by default; but for the first, written into the registry directly, as
`agency add` records them: the console reads only the registry for these, and onboarding 100 agencies' services
would take minutes), and the RSS of the console's processes (gunicorn's master and workers). The second slice:
`--audit N` audit entries (10,000 by default, one agency's in 100) and 100 onboarding requests in the registry; the
requests' and the audit log's pages' bytes; p50/p95 of `GET /api/requests`, `GET /api/audit` (the newest 200),
`GET /api/audit?agency=` (one agency's, through the whole table) and `GET /api/audit.csv`. Usage over time: every
agency's last 31 days of samples as the sampler leaves them (every 15 minutes for 2 days, hourly before: ~900 rows
an agency), then p50/p95 of `GET /api/agencies/<a>/usage` (the background figures; the first request measures once),
`.../usage/history` (30 days), the usage page (charts and table) and `GET /api/chargeback.csv` (every agency's month).
The agency's page (its credentials and its newest audit entries) and its backups page: the first agency has a
backups service and one backup run; the cost of reading its runs from restic (what every request of the backups
page paid before the console kept the list: `backup_runs.read_runs`), the first request (it reads them) and then
p50/p95 of the page and `GET /api/agencies/<a>/backups` (the kept list); the agency page's audit reading alone for an
agency with no entry (a scan of the whole table: there is no index on `target`).
Run: .venv/bin/python benchmarks/bench_console.py [--agencies 100] [--requests 200] [--audit 10000]  (about 2 min)"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time

from _common import rss_tree_mb
from tests import console_kit as kit
from tests.conftest import make_box, teardown_box

from govcloud_platform.backups.agency import run_backup
from govcloud_platform.box.supervisor import Supervisor
from govcloud_platform.console import auditlog, backup_runs
from govcloud_platform.console.data import Platform
from govcloud_platform.onboarding import AgencyRequest, Onboarding
from govcloud_platform.state import onboarding_requests, usage_samples
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
                                                         "standard", ["database", "storage", "identity", "backups"]))
        t0 = time.perf_counter()
        run_backup(box, "bench-first", actor="bench")
        print(f"one backup of bench-first: {time.perf_counter() - t0:.1f} s")
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
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        times = [now - dt.timedelta(minutes=15 * i) for i in range(2 * 96)]
        times += [now.replace(minute=0, second=0) - dt.timedelta(hours=h) for h in range(49, 31 * 24)]
        slugs = ["bench-first", *(f"bench-{i:04d}" for i in range(args.agencies - 1))]
        with registry.connect() as conn:
            conn.execute("BEGIN")
            for k, slug in enumerate(slugs):
                for j, at in enumerate(times):
                    b = 2 ** 30 + k * 2 ** 20 + j * 1000
                    usage_samples.record(registry, usage_samples.Sample(
                        slug, usage_samples.iso(at), 1 if j < 192 else 4, b, b + 10, b // 2, b // 2, b // 4,
                        b // 4, j % 9, j))
            conn.execute("COMMIT")
        month = (now - dt.timedelta(days=10)).strftime("%Y-%m")
        print(f"usage samples: {len(times)} an agency, {len(times) * len(slugs)} in all; chargeback month {month}")
        registry.close()
        session, landed = kit.sign_in(box, *kit.operator(handle))
        assert landed.status_code == 200
        print(f"agencies in the registry: {args.agencies}")
        for lang in ("en", "ur"):
            sizes = []
            for path in ("/", "/agencies", "/agencies/bench-first", "/agencies/bench-first/usage",
                         "/agencies/bench-first/backups", "/requests", "/requests/new", "/requests/1", "/audit"):
                resp = session.get(kit.url(box, f"/{lang}{path}"), timeout=10)
                assert resp.status_code == 200
                sizes.append(f"{path} {len(resp.content) / 1024:.1f} KB")
            print(f"page bytes ({lang}): " + ", ".join(sizes) + "; stylesheet "
                  f"{len(session.get(kit.url(box, '/static/console.css'), timeout=10).content) / 1024:.1f} KB")
        reads = []
        for _ in range(20):  # what each request of the backups page paid before the console kept the list
            t0 = time.perf_counter()
            listing = backup_runs.read_runs(box, "bench-first")
            reads.append(time.perf_counter() - t0)
        assert listing.error is None and listing.runs, listing
        p50, p95 = percentiles(reads)
        print(f"reading bench-first's runs from restic (backup list --agency): p50 {p50:.1f} ms, p95 {p95:.1f} ms")
        platform = Platform(box)
        for slug in ("bench-first", "bench-0095"):
            q = auditlog.of_agency(slug)
            took = []
            for _ in range(50):
                t0 = time.perf_counter()
                found, _ = platform.audit(q, [slug])
                took.append(time.perf_counter() - t0)
            p50, p95 = percentiles(took)
            print(f"the agency page's audit reading of {slug} ({len(found)} entries of {args.audit}): "
                  f"p50 {p50:.2f} ms, p95 {p95:.2f} ms")
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
                            ("GET /api/agencies/bench-first/usage (the background figures)",
                             "/api/agencies/bench-first/usage"),
                            ("GET /api/agencies/bench-first/usage/history (30 days)",
                             "/api/agencies/bench-first/usage/history"),
                            ("usage page /en/agencies/bench-first/usage (3 charts, 48-row table)",
                             "/en/agencies/bench-first/usage"),
                            ("usage page, 400 days", "/en/agencies/bench-first/usage?days=400"),
                            ("agency page /en/agencies/bench-first (credentials, newest audit entries)",
                             "/en/agencies/bench-first"),
                            ("backups page /en/agencies/bench-first/backups (the kept list)",
                             "/en/agencies/bench-first/backups"),
                            ("GET /api/agencies/bench-first/backups (the kept list)",
                             "/api/agencies/bench-first/backups"),
                            (f"GET /api/chargeback.csv?month={month} ({len(slugs)} agencies)",
                             f"/api/chargeback.csv?month={month}")):
            samples = []
            first = time.perf_counter()
            session.get(kit.url(box, path), timeout=60)  # a first request (the usage API measures once)
            if "usage" in path or "backups" in path:
                print(f"  first request of {path}: {(time.perf_counter() - first) * 1000:.0f} ms")
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
