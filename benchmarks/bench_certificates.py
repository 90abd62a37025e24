"""Signed certificates (issue 16, item 1): certificates rendered and signed per second (goal >= 10 on 2 cores).

Each certificate: the HTML (English and Urdu, a QR code: `centre_core.certificates.render_html`), the PDF
(WeasyPrint, font subsets), then a PAdES B-T signature with its timestamp. The signature here is the TEST-ONLY
in-process stand-in (tests/centre_signing_kit.py: pyHanko, a throwaway EC key, pyHanko's dummy RSA timestamper): on the
box the signature is the platform's signing service's (`POST /sign/<agency>`), whose cost and round trip this does
not include. Reported: render alone, sign alone, both in one process and in N processes at once, and the offline
verification (`signing.verify`).

Run: .venv/bin/python benchmarks/bench_certificates.py [--count N] [--processes N]"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from datetime import UTC, datetime

from _common import ROOT

sys.path.insert(0, str(ROOT / "roles" / "centre" / "files" / "app"))


def _facts(i: int) -> object:
    from centre_core import certificates as c

    cert_id = c.new_id()
    return c.Facts(cert_id, "ABCD-EFGH-JKMN", "Health Department", {"en": "Trade licence", "ur": "تجارتی لائسنس"},
                   {"en": "Licence issued", "ur": "لائسنس جاری ہو گیا"}, datetime.now(UTC),
                   c.verify_url("https://centre.health.gov.example", cert_id),
                   [({"en": "Business name", "ur": "کاروبار کا نام"}, f"Ali Traders {i}"),
                    ({"en": "Kind of business", "ur": "کاروبار کی قسم"}, "shop")],
                   {"en": "Licensing office", "ur": "لائسنس دفتر"})


def _worker(count: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from tests.centre_signing_kit import ThrowawaySigner

    from centre_core import certificate_pdf
    from centre_core import certificates as c

    signer = ThrowawaySigner()
    signer.sign(certificate_pdf.render_pdf(c.render_html(_facts(0))))  # warm: fonts, imports
    start = time.perf_counter()
    for i in range(count):
        signer.sign(certificate_pdf.render_pdf(c.render_html(_facts(i))))  # type: ignore[arg-type]
    out.put(time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    from tests.centre_signing_kit import ThrowawaySigner

    from centre_core import certificate_pdf, signing
    from centre_core import certificates as c

    signer = ThrowawaySigner()
    first = time.perf_counter()
    pdf = certificate_pdf.render_pdf(c.render_html(_facts(0)))  # type: ignore[arg-type]
    cold = time.perf_counter() - first
    renders, signs, verifies = [], [], []
    for i in range(args.count):
        t0 = time.perf_counter()
        pdf = certificate_pdf.render_pdf(c.render_html(_facts(i)))  # type: ignore[arg-type]
        t1 = time.perf_counter()
        signed = signer.sign(pdf)
        t2 = time.perf_counter()
        assert signing.verify(signed, [signer.root_pem]).ok
        t3 = time.perf_counter()
        renders.append(t1 - t0)
        signs.append(t2 - t1)
        verifies.append(t3 - t2)
    print(f"cores {os.cpu_count()}, load {os.getloadavg()[0]:.1f}; PDF {len(pdf)} bytes, signed {len(signed)} bytes; "
          f"first render (fonts, imports) {cold:.2f} s")
    for name, values in (("render (HTML + WeasyPrint)", renders), ("sign (stand-in, in process)", signs),
                         ("verify offline (pyHanko)", verifies)):
        print(f"{name}: median {statistics.median(values) * 1000:.0f} ms, p95 "
              f"{sorted(values)[int(len(values) * 0.95) - 1] * 1000:.0f} ms")
    one = args.count / (sum(renders) + sum(signs))
    print(f"render + sign, one process: {one:.1f} per second")
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    workers = [multiprocessing.Process(target=_worker, args=(args.count, queue)) for _ in range(args.processes)]
    for w in workers:
        w.start()
    times = [queue.get() for _ in workers]
    for w in workers:
        w.join()
    print(f"render + sign, {args.processes} processes at once: {args.processes * args.count / max(times):.1f} per "
          f"second (goal >= 10)")


if __name__ == "__main__":
    main()
