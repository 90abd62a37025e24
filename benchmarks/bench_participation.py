"""E-participation and transparency benchmark (issue 16, items 4 and 5), on a real PostgreSQL 15 (TLS) and the
centre's Django site in process (Django's test client: server time, no network):

- a citizen's comment on a paragraph (`POST /<lang>/participate/consultations/<slug>/<n>/`: CSRF, the text cleaned,
  the per-client throttle counted under a row lock, the row inserted), p50 / p95 / p99, each comment from its own
  address (so the throttle counts but never refuses);
- the results' export (`participation_store.opendata_files`: counts per paragraph, the approved comments, polls,
  proposals, as CSV and JSON) with N approved comments (default 10,000, inserted with COPY);
- the transparency figures (`transparency.opendata_files`, pure) over M applications (default 100,000 records
  made in memory: the computation, not the query) and the query that reads them from the database.

Run: .venv/bin/python benchmarks/bench_participation.py [--comments N] [--posts N] [--records M]"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from _common import ROOT  # also puts the checkout on sys.path (tests.conftest)

sys.path[:0] = [str(ROOT / "roles" / "centre" / "files" / "app"), str(ROOT / "roles" / "app_common" / "files")]

from tests.integration._centre import centre_database, setup_django  # noqa: E402

URDU = "اس پیراگراف میں فیس کی شرح بہت زیادہ ہے، اسے کم کیا جائے۔"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(args: argparse.Namespace) -> None:
    from django.test import Client

    from centre_core import catalogue, participation, participation_store, transparency, transparency_store
    from centre_web import runtime

    conn = runtime.connection()
    today = runtime.now().date()
    draft = participation.check_draft("bench", "Bench", "بینچ", "\n\n".join(f"Paragraph {i}." for i in range(20)),
                                      "", today.isoformat(), today.isoformat())
    assert isinstance(draft, participation.Draft)
    cid = participation_store.create_consultation(conn, draft, "staff:bench", runtime.now())
    times = []
    token_re = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
    for i in range(args.posts):
        c = Client(enforce_csrf_checks=True, HTTP_HOST="centre.test", HTTP_X_FORWARDED_FOR=f"10.{i // 250}.{i % 250}.1")
        page = c.get(f"/ur/participate/consultations/bench/{i % 20 + 1}/").content.decode()
        token = token_re.search(page)
        assert token is not None
        start = time.perf_counter()
        answer = c.post(f"/ur/participate/consultations/bench/{i % 20 + 1}/",
                        {"comment": URDU, "csrfmiddlewaretoken": token[1]})
        times.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200, answer.status_code
    print(f"comment POST ({args.posts}): p50 {pct(times, .5):.1f} ms, p95 {pct(times, .95):.1f} ms, "
          f"p99 {pct(times, .99):.1f} ms")

    start = time.perf_counter()
    with conn.cursor().copy("COPY consultation_comments (consultation_id, paragraph, text, language, state, "
                            "created_at) FROM STDIN") as copy:
        for i in range(args.comments):
            copy.write_row((cid, i % 20 + 1, f"{URDU} {i}", "ur", "approved", runtime.now()))
    print(f"{args.comments} approved comments inserted with COPY in {time.perf_counter() - start:.2f} s")
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        files = participation_store.opendata_files(conn)
        runs.append(time.perf_counter() - start)
    sizes = ", ".join(f"{k.split('/')[-1]} {len(v) / 1024:.0f} KB" for k, v in files.items())
    print(f"results export with {args.comments + args.posts} comments: median {statistics.median(runs):.3f} s "
          f"({sizes})")

    loaded = catalogue.load_samples()
    rng = random.Random(7)
    zone = runtime.calendar().zone
    services = [s.id for s in loaded.catalogue.services]
    now = datetime.now(UTC)
    records = []
    for _ in range(args.records):
        sent = now - timedelta(days=rng.uniform(0, 120))
        closed = sent + timedelta(days=rng.uniform(0, 40)) if rng.random() < 0.8 else None
        records.append(transparency.Record(rng.choice(services), sent, closed if closed and closed < now else None,
                                           rng.choice(["complaint", "suggestion", None])))
    ratings = [transparency.Rating("grievance", rng.randint(1, 5), now - timedelta(days=rng.uniform(0, 90)))
               for _ in range(args.records // 10)]
    start = time.perf_counter()
    figures = transparency.opendata_files(records, ratings, loaded.catalogue, now.astimezone(zone).date(), zone)
    took = time.perf_counter() - start
    sizes = ", ".join(f"{k.split('/')[-1]} {len(v) / 1024:.0f} KB" for k, v in figures.items())
    print(f"transparency figures over {args.records} applications and {len(ratings)} ratings: {took:.2f} s ({sizes})")
    # the same applications in the database (copies: a version row, COPY), then the query the daily job runs
    import json

    from centre_core import references

    version = conn.execute("INSERT INTO process_versions (service_id, process_id, digest, bpmn) VALUES "
                           "('grievance', 'bench', 'bench', '') RETURNING id").fetchone()
    assert version is not None
    start = time.perf_counter()
    with conn.cursor().copy("COPY applications (reference, service_id, process_version_id, status, answers, "
                            "submitted_at, updated_at) FROM STDIN") as copy:
        for r in records:
            copy.write_row((references.new_reference(), r.service_id, version[0],
                            "closed" if r.closed_at else "in_progress",
                            json.dumps({"details": "...", "kind": r.category or "complaint", "email": "a@b.pk"}),
                            r.submitted_at, r.closed_at or r.submitted_at))
    print(f"{len(records)} applications copied in {time.perf_counter() - start:.1f} s")
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        found = transparency_store.records(conn, loaded.catalogue, now - timedelta(days=90), now)
        runs.append(time.perf_counter() - start)
    print(f"transparency query ({len(found)} of {len(records)} applications in the window): median "
          f"{statistics.median(runs):.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--comments", type=int, default=10_000)
    parser.add_argument("--posts", type=int, default=300)
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    print(f"load average at start {os.getloadavg()[0]:.1f}")
    with centre_database("bench-participation") as (box, root):
        setup_django(box, root)
        run(args)
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

