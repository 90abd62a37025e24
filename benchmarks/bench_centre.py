"""Citizen's Centre benchmark (issue 14): on a real PostgreSQL 15 (TLS, the box's CA) and the centre's Django
site (the citizen's side, in process through Django's test client: server time, no network):

- applications submitted per second (`store.submit`: the BPMN process started by SpiffWorkflow, the state
  saved, the audit chain appended under its lock), one process and two processes at once (2 cores);
- the tracking lookup with 100,000 applications in the database: a citizen's POST of reference + one-time code
  (`store.track`: the latest code under a row lock, its HMAC checked) and the status page that follows
  (`store.view`: the workflow restored, the flow of steps rendered), p50 / p95 / p99 over 500 lookups; the same
  through the API (`GET /api/applications/<ref>` with `X-Access-Code`: throttle, check, status, a new code);
- bytes of each citizen page (HTML; the stylesheet once), English and Urdu.
The 100,000 applications are copies of real submitted ones (each with its own reference, workflow state,
ready task and tracking code): submitting them one by one would take most of an hour.

Run: .venv/bin/python benchmarks/bench_centre.py [--applications N] [--lookups N]"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import re
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import ROOT  # also puts the checkout on sys.path (tests.conftest)

# the centre's code as the role ships it and the shared design beside it, as pyproject.toml gives them to pytest
sys.path[:0] = [str(ROOT / "roles" / "centre" / "files" / "app"), str(ROOT / "roles" / "app_common" / "files")]

from tests.integration._centre import centre_database, setup_django  # noqa: E402

from centre_core import catalogue, references, store  # noqa: E402
from govcloud_platform.box.context import Box  # noqa: E402
from govcloud_platform.spec import load_spec_text  # noqa: E402
from govcloud_platform.spec.example import EXAMPLE_SPEC  # noqa: E402

SERVICES = ("trade_licence", "birth_certificate", "building_permit")
PAGE_BUDGET = 100 * 1024


def answers_for(loaded: catalogue.Loaded, service_id: str) -> dict[str, str]:
    service = loaded.catalogue.service(service_id)
    assert service is not None
    out = {}
    for q in service.questions:
        out[q.id] = {"email": "a@example.pk", "phone": "+923001234567", "date": "2020-01-02", "number": "3",
                     "choice": (q.choices or ("x",))[0]}.get(q.kind, "Ali Traders")
    return out


def _submit_many(box_home: str, port_base: int, n: int, queue: Any) -> None:
    box = Box(home=Path(box_home), spec=load_spec_text(EXAMPLE_SPEC), port_base=port_base, create=False)
    loaded = catalogue.load_samples()
    with box.pg_admin("centre") as conn:
        start = time.perf_counter()
        for i in range(n):
            service = SERVICES[i % len(SERVICES)]
            store.submit(conn, loaded, service, answers_for(loaded, service), "a@example.pk", datetime.now(UTC))
        queue.put(time.perf_counter() - start)


def submissions_per_second(box: Box, n: int, workers: int) -> float:
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_submit_many, args=(str(box.home), box.port_base, n, queue)) for _ in range(workers)]
    start = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    wall = time.perf_counter() - start
    assert all(p.exitcode == 0 for p in procs)
    return workers * n / wall


def fill(box: Box, total: int) -> int:
    """Copies of the submitted applications up to `total`: each its own reference, workflow state, ready task
    and (unused) tracking code, as a submitted application has."""
    with box.pg_admin("centre", autocommit=False) as conn:
        have = conn.execute("SELECT count(*) FROM applications").fetchone()[0]
        missing = max(total - have, 0)
        template = conn.execute("SELECT id FROM applications ORDER BY id LIMIT 1").fetchone()[0]
        first = conn.execute("SELECT max(id) FROM applications").fetchone()[0] + 1
        buf = io.StringIO()
        now = datetime.now(UTC).isoformat()
        for _ in range(missing):
            buf.write(f"{references.new_reference()}\t{now}\n")
        conn.execute("CREATE TEMP TABLE refs (reference text, at timestamptz)")
        with conn.cursor().copy("COPY refs FROM STDIN") as copy:
            copy.write(buf.getvalue())
        conn.execute("INSERT INTO applications (reference, service_id, process_version_id, status, answers, email, "
                     "submitted_at, updated_at) SELECT r.reference, a.service_id, a.process_version_id, a.status, "
                     "a.answers, a.email, r.at, r.at FROM refs r, applications a WHERE a.id = %s "
                     "ON CONFLICT (reference) DO NOTHING", (template,))
        conn.execute("INSERT INTO workflow_states (application_id, state, next_timer, updated_at) "
                     "SELECT n.id, w.state, w.next_timer, w.updated_at FROM applications n, workflow_states w "
                     "WHERE n.id >= %s AND w.application_id = %s", (first, template))
        conn.execute("INSERT INTO tasks (id, application_id, step, name, desk, actions, state, created_at) "
                     "SELECT gen_random_uuid(), n.id, t.step, t.name, t.desk, t.actions, t.state, t.created_at "
                     "FROM applications n, tasks t WHERE n.id >= %s AND t.application_id = %s AND t.state = 'ready'",
                     (first, template))
        conn.execute("INSERT INTO tracking_codes (application_id, digest, expires_at, created_at) "
                     "SELECT n.id, md5(n.reference), now(), now() FROM applications n WHERE n.id >= %s", (first,))
        conn.commit()
        conn.autocommit = True
        conn.execute("ANALYZE")
        return int(conn.execute("SELECT count(*) FROM applications").fetchone()[0])


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--applications", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=500)
    parser.add_argument("--submissions", type=int, default=150, help="per process")
    args = parser.parse_args()
    print(f"load average at start {os.getloadavg()[0]:.1f}")
    with centre_database("bench-centre") as (box, root):
        run(box, root, args)
    print(f"load average at end {os.getloadavg()[0]:.1f}")


def run(box: Box, root: Path, args: argparse.Namespace) -> None:
    setup_django(box, root)
    from centre_web import runtime

    for workers in (1, 2):
        rate = submissions_per_second(box, args.submissions, workers)
        print(f"applications submitted per second, {workers} process{'es' if workers > 1 else ''}: "
              f"{rate:6.1f}  (goal >= 20)")

    started = time.perf_counter()
    total = fill(box, args.applications)
    print(f"applications in the database: {total} (copies made in {time.perf_counter() - started:.1f} s)")

    from django.test import Client

    conn, key = runtime.connection(), runtime.tracking_key()
    sample = [r[0] for r in conn.execute(
        "SELECT reference FROM applications ORDER BY random() LIMIT %s", (args.lookups,)).fetchall()]
    track_only, page, api = [], [], []
    for i, reference in enumerate(sample):
        code = store.issue_code(conn, key, reference, runtime.now())
        # a citizen per lookup (its own address): each lookup is counted by the per-client throttle, as in production
        client = Client(HTTP_HOST="centre.test", HTTP_ACCEPT_LANGUAGE="en", secure=True,
                        HTTP_X_FORWARDED_FOR=f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}")
        start = time.perf_counter()
        response = client.post("/en/track/", {"reference": references.display(reference), "code": code})
        assert response.status_code == 302, response.status_code
        status = client.get(response["Location"])
        page.append(time.perf_counter() - start)
        assert status.status_code == 200 and references.display(reference).encode() in status.content
        code = store.issue_code(conn, key, reference, runtime.now())
        start = time.perf_counter()
        outcome, _seen = store.track(conn, key, reference, code, runtime.now())
        track_only.append(time.perf_counter() - start)
        assert outcome.name == "OK"
        code = store.issue_code(conn, key, reference, runtime.now())
        start = time.perf_counter()
        response = client.get(f"/api/applications/{reference}", HTTP_X_ACCESS_CODE=code)
        api.append(time.perf_counter() - start)
        assert response.status_code == 200 and response.json()["steps"], response.status_code
    for name, values in (("POST reference + code, then the status page", page), ("store.track alone", track_only),
                         ("GET /api/applications/<ref> with X-Access-Code (a new code issued back)", api)):
        ms = [v * 1000 for v in values]
        print(f"tracking lookup, {total} applications, {name} (ms, {len(ms)} lookups): p50 {pct(ms, 50):.1f}  "
              f"p95 {pct(ms, 95):.1f}  p99 {pct(ms, 99):.1f}  (goal p95 <= 50)")

    client = Client(HTTP_HOST="centre.test", secure=True)
    css = len(client.get("/centre.css").content)
    print(f"stylesheet /centre.css: {css} bytes (fetched once, then cached)")
    for lang in ("en", "ur"):
        for url in (f"/{lang}/", f"/{lang}/services/trade_licence/", f"/{lang}/track/"):
            body = client.get(url, HTTP_ACCEPT_LANGUAGE=lang).content
            first = re.search(rb'href="(/[a-z]{2}/services/trade_licence/apply/[a-z_0-9]+/)"', body)
            print(f"page {url:40s} {len(body):6d} bytes; with the stylesheet {len(body) + css:6d} "
                  f"(budget {PAGE_BUDGET})")
            if first:
                question = client.get(first.group(1).decode(), HTTP_ACCEPT_LANGUAGE=lang).content
                print(f"page {first.group(1).decode():40s} {len(question):6d} bytes; with the stylesheet "
                      f"{len(question) + css:6d}")
    print(f"median lookup page time {statistics.median(page) * 1000:.1f} ms")
    print("app RSS per agency: bench_apps.py measures the deployed centre (README)")


if __name__ == "__main__":
    main()
