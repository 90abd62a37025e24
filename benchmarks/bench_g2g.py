"""G2G round trip (issue 16, data sharing between agencies; goal p95 <= 100 ms on the box): the health department's
centre (A, in this process) asks the trade office's centre (B, gunicorn as the role runs it, 1 worker, 4 threads, on
127.0.0.1) whether a business is registered, on one real PostgreSQL 15 (TLS, the box's CA; a database each). One round
trip is `g2g_store.ask` whole: A signs the request (RS256, the key and certificate the box CA issues at deploy), POSTs
it (a new HTTP connection each time, as the centre does), B verifies the signature and the certificate against the
platform CA, checks the grant, records the nonce, runs the declared query over `--records` closed applications,
logs, signs its answer; A verifies the answer and logs it. Also: signing and verifying alone (CPU), and
the answer's lookup alone.

Run: .venv/bin/python benchmarks/bench_g2g.py [--requests N] [--records N]"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime

from _common import ROOT  # also puts the checkout on sys.path (tests.conftest)

sys.path[:0] = [str(ROOT / "roles" / "centre" / "files" / "app"), str(ROOT / "roles" / "app_common" / "files")]

import psycopg  # noqa: E402
from cryptography import x509  # noqa: E402
from psycopg.types.json import Jsonb  # noqa: E402
from tests.g2g_kit import directory_docs  # noqa: E402
from tests.integration._centre import centre_database  # noqa: E402
from tests.integration._centre_server import centre_server, free_port  # noqa: E402

from centre_core import catalogue, g2g, g2g_store, references, store  # noqa: E402
from centre_core.g2g_keys import FileSigner  # noqa: E402
from centre_web.g2g import transport  # noqa: E402

CATALOGUE = ROOT / "tests" / "integration" / "g2g_catalogue" / "catalogue.yaml"


def pct(values: list[float], p: int) -> float:
    return sorted(values)[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def line(name: str, ms: list[float]) -> str:
    return (f"{name} (ms, {len(ms)}): p50 {pct(ms, 50):.1f}  p95 {pct(ms, 95):.1f}  p99 {pct(ms, 99):.1f}  "
            f"mean {statistics.mean(ms):.1f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--records", type=int, default=10_000, help="closed applications in B's database")
    args = parser.parse_args()
    print(f"load average at start {os.getloadavg()[0]:.1f}")
    with centre_database("benchg2g") as (box, root):
        with box.pg_admin() as admin:
            admin.execute("CREATE DATABASE trade")
        keys = {slug: box.ca.issue(f"g2g-{slug}", [f"{slug}.g2g.govcloud"], client=True)
                for slug in ("health", "trade")}
        port = free_port()
        docs = directory_docs(f"http://127.0.0.1:{port}/api/g2g/requests")
        (root / "g2g-trade.json").write_text(json.dumps(docs["trade"]))
        info = box.pg_conninfo("trade")
        (root / "trade").mkdir()
        env = root / "trade" / "centre.env"
        env.write_text("\n".join([
            "AGENCY_SLUG=trade", "AGENCY_NAME=Trade Office", "PUBLIC_URL=http://127.0.0.1", "PUBLIC_HOST=127.0.0.1",
            f"SECRET_KEY={secrets.token_hex(32)}", f"DB_HOST={info['host']}", f"DB_PORT={info['port']}",
            "DB_NAME=trade", "DB_USER=postgres", f"DB_PASSWORD={info['password']}", f"CA_FILE={info['sslrootcert']}",
            f"TRACKING_KEY={secrets.token_hex(32)}", f"G2G_DIRECTORY={root / 'g2g-trade.json'}",
            f"G2G_CERT_FILE={keys['trade'][0]}", f"G2G_KEY_FILE={keys['trade'][1]}", f"G2G_CA_FILE={box.ca.cert_file}",
            ""]))
        env.chmod(0o600)
        now = datetime.now(UTC)
        with psycopg.connect(**info, autocommit=True) as b:
            store.migrate(b)
            ref = store.submit(b, catalogue.load_samples(), "trade_licence",
                               {"business_name": "Ali Traders", "business_kind": "shop"}, None, now)
            for desk, action in (("clerk", "accept"), ("licensing_officer", "approve")):
                store.act(b, ref, store.view(b, ref).ready[0].id, action, desk, "staff-1", {}, now)
            started = time.perf_counter()
            version = b.execute("SELECT process_version_id FROM applications WHERE reference = %s", (ref,)).fetchone()
            with b.cursor().copy("COPY applications (reference, service_id, process_version_id, status, outcome, "
                                 "answers, submitted_at, updated_at) FROM STDIN") as copy:
                for i in range(args.records - 1):
                    copy.write_row((references.new_reference(), "trade_licence", version[0], "closed", "issued",
                                    Jsonb({"business_name": f"Business {i}", "business_kind": "shop"}), now, now))
            b.execute("ANALYZE applications")
            print(f"B: {args.records} closed trade licences ({time.perf_counter() - started:.1f} s to copy)")
            with box.pg_admin("centre") as a:
                store.migrate(a)
                loaded = catalogue.load(CATALOGUE)
                a_ref = store.submit(a, loaded, "food_permit", {"business_name": "Ali Traders", "g2g_consent": "yes"},
                                     None, now)
                app_id = a.execute("SELECT id FROM applications WHERE reference = %s", (a_ref,)).fetchone()[0]
                mine = g2g.directory(docs["health"])
                grant = mine.asks["business_registered"]
                signer = FileSigner(keys["health"][1], keys["health"][0])
                ca = x509.load_pem_x509_certificate(box.ca.cert_file.read_bytes())
                answers = {"business_name": "Ali Traders", "g2g_consent": "yes"}
                with centre_server(root / "trade", port=port):
                    send = transport(str(box.ca.cert_file))
                    for _ in range(20):  # warm-up: the worker's first requests load the app
                        g2g_store.ask(a, b"k" * 32, mine, ca, signer, grant, a_ref, app_id, answers, send,
                                      datetime.now(UTC))
                    trips = []
                    for i in range(args.requests):
                        asked = answers if i % 2 == 0 else {**answers, "business_name": f"Business {i * 7 % 9999}"}
                        start = time.perf_counter()
                        result = g2g_store.ask(a, b"k" * 32, mine, ca, signer, grant, a_ref, app_id, asked, send,
                                               datetime.now(UTC))
                        trips.append((time.perf_counter() - start) * 1000)
                        assert result["found"] is True
                    print(line("G2G round trip (sign, POST, verify, grant, nonce, query, log, sign, verify, log)",
                               trips))
                    print(f"  goal p95 <= 100 ms: {'met' if pct(trips, 95) <= 100 else 'NOT met'}")
                claims = g2g.request_claims(grant, a_ref, "Ali Traders", True, "n" * 24, datetime.now(UTC))
                signs, verifies = [], []
                for _ in range(200):
                    start = time.perf_counter()
                    token = g2g.sign(claims, signer)
                    signs.append((time.perf_counter() - start) * 1000)
                    start = time.perf_counter()
                    g2g.verify(token, ca, datetime.now(UTC))
                    verifies.append((time.perf_counter() - start) * 1000)
                print(line("sign alone (RS256, 2048-bit key)", signs))
                print(line("verify alone (certificate against the CA, then the signature)", verifies))
                lookups = []
                for i in range(200):
                    start = time.perf_counter()
                    b.execute("SELECT id, updated_at FROM applications WHERE service_id = %s AND status = 'closed' "
                              "AND outcome = %s AND erased_at IS NULL AND answers @> %s "
                              "ORDER BY updated_at DESC LIMIT 1",
                              ("trade_licence", "issued", Jsonb({"business_name": f"Business {i}"}))).fetchone()
                    lookups.append((time.perf_counter() - start) * 1000)
                print(line(f"the declared query alone over {args.records} records", lookups))
                plan = b.execute("EXPLAIN SELECT id FROM applications WHERE service_id = 'trade_licence' AND "
                                 "status = 'closed' AND outcome = 'issued' AND erased_at IS NULL AND answers @> %s",
                                 (Jsonb({"business_name": "Business 7"}),)).fetchall()
                print("  its plan: " + " / ".join(r[0].strip() for r in plan[:3]))
                print(f"log rows: A {len(g2g_store.entries(a))}, B {len(g2g_store.entries(b))}")
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
