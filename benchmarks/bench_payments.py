"""E-payments benchmark (issue 16): on a real PostgreSQL 15 (TLS, the box's CA) and the centre served by gunicorn
(one worker, 4 threads, as the role runs it) on loopback:

- bills paid per second at the counter, in process (`payments_store.pay`: the bill locked, the decision, the
  receipt signed ES256, the payment and the audit entry written in one transaction);
- the provider's notification round trip: `POST /api/payments/notify` signed (HMAC-SHA256, timestamp, nonce) for a
  fresh open bill each time, over HTTP to gunicorn: signature checked, nonce recorded, bill paid, receipt signed;
  p50 / p95 / p99 over N notifications, sequentially, and the rate with 4 clients at once.

Run: .venv/bin/python benchmarks/bench_payments.py [--bills N] [--notices N]"""

from __future__ import annotations

import argparse
import secrets
import shutil
import statistics
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime

from _common import ROOT  # also puts the checkout on sys.path (tests.conftest)

sys.path[:0] = [str(ROOT / "roles" / "centre" / "files" / "app"), str(ROOT / "roles" / "app_common" / "files")]

from tests.integration._centre import centre_database, setup_django  # noqa: E402
from tests.integration._centre_server import centre_server, free_port  # noqa: E402

from centre_core import catalogue, payments, payments_store, store  # noqa: E402

SECRET = secrets.token_urlsafe(32)
ANSWERS = {"business_name": "Ali Traders", "business_kind": "shop", "email": "ali@example.pk"}


def _bills(conn: object, loaded: catalogue.Loaded, n: int) -> list[payments_store.Bill]:
    service = loaded.catalogue.service("trade_licence")
    assert service is not None
    out = []
    for _ in range(n):
        ref = store.submit(conn, loaded, "trade_licence", ANSWERS, None, datetime.now(UTC))  # type: ignore[arg-type]
        out.append(payments_store.ensure_bill(conn, ref, service, datetime.now(UTC)))  # type: ignore[arg-type]
    return out


def _notify(url: str, bill: payments_store.Bill) -> float:
    body = payments.notice_body(payments.Notice(bill.bill_ref, "pd-" + secrets.token_hex(8), bill.amount_minor,
                                                bill.currency, "paid"))
    headers = {"Content-Type": "application/json", **payments.signed_headers(SECRET.encode(), body,
                                                                              datetime.now(UTC))}
    start = time.perf_counter()
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=30) as answer:
        assert answer.status == 200
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bills", type=int, default=200)
    parser.add_argument("--notices", type=int, default=200)
    args = parser.parse_args()
    with centre_database("benchpay") as (box, root):
        from centre_web import pay, receipts, runtime

        key = root / "receipt.pem"
        key.write_bytes(receipts.new_key_pem())
        key.chmod(0o600)
        folder = root / "catalogue"
        shutil.copytree(catalogue.SAMPLES, folder)
        path = folder / "catalogue.yaml"
        path.write_text(path.read_text().replace('fee: {amount: "1500.00", currency: PKR}',
                                                 'fee: {amount: "1500.00", currency: PKR, billed_at: submission}', 1))
        port = free_port()
        setup_django(box, root, {"PUBLIC_URL": f"http://127.0.0.1:{port}", "CATALOGUE": str(path),
                                 "RECEIPT_KEY_FILE": str(key), "PAY_URL": "http://127.0.0.1:9/m/health",
                                 "PAY_SECRET": SECRET})
        loaded = catalogue.load(path)
        conn = runtime.connection()
        bills = _bills(conn, loaded, args.bills + 2 * args.notices)
        counter, online, parallel = (bills[:args.bills], bills[args.bills:args.bills + args.notices],
                                     bills[args.bills + args.notices:])
        start = time.perf_counter()
        for n, bill in enumerate(counter):
            payments_store.pay(conn, bill.bill_ref, payments.Channel.COUNTER, f"counter:B{n}", bill.amount_minor,
                               bill.currency, "staff:bench", datetime.now(UTC), pay._sign, "health")
        elapsed = time.perf_counter() - start
        print(f"counter: {len(counter)} bills paid in {elapsed:.2f} s: {len(counter) / elapsed:.0f}/s, "
              f"{1000 * elapsed / len(counter):.1f} ms each (receipt signed, audited)")
        with centre_server(root, port=port) as base:
            url = f"{base}/api/payments/notify"
            _notify(url, online[0])  # warm up the worker (Django's first request)
            times = sorted(_notify(url, bill) for bill in online[1:])
            q = statistics.quantiles(times, n=100)
            print(f"notification round trip over HTTP ({len(times)}, sequential): p50 {1000 * q[49]:.1f} ms, "
                  f"p95 {1000 * q[94]:.1f} ms, p99 {1000 * q[98]:.1f} ms")
            chunks = [parallel[i::4] for i in range(4)]
            start = time.perf_counter()
            workers = [threading.Thread(target=lambda c=c: [_notify(url, b) for b in c]) for c in chunks]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            elapsed = time.perf_counter() - start
            print(f"notifications, 4 clients at once: {len(parallel)} in {elapsed:.2f} s: "
                  f"{len(parallel) / elapsed:.0f}/s")
        paid = conn.execute("SELECT count(*) FROM bills WHERE state = 'paid'").fetchone()
        print(f"bills paid in the database: {paid[0] if paid else 0} of {len(bills)}")
        conn.close()


if __name__ == "__main__":
    main()
