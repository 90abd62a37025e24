"""Signing benchmark on a box of its own running only the signing service (`govcloud up --service signing`): PDFs
signed per second through `POST /sign/<agency>` over HTTPS (PAdES B-T, the box's own TSA) with 1, 2 and 4 clients
at once (the issue's goal: at least 10 per second on 2 cores), the latency of one signature, and the `/tsa` round
trip (RFC 3161 over HTTPS, a new TLS connection each, and on one kept-alive session). Also the signature in-process
(no HTTP) on one core, and the time `up` takes to bring the service ready.
Run: .venv/bin/python benchmarks/bench_signing.py  (about 60 s; takes the box lock: flock /work/helpers/box.lock)"""

from __future__ import annotations

import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from asn1crypto import tsp
from tests.conftest import GOVCLOUD, make_box, teardown_box

from govcloud_platform.brokers.signing import SigningBroker
from govcloud_platform.signing.sample import minimal_pdf

SECONDS = 8.0  # per concurrency level
TSA_ROUNDS = 200


def timed_up(args: list[str]) -> float:
    """Seconds from the start of `govcloud up` to its "signing: ready" line (a box running only signing stops later,
    at the registry's backup step, which needs the storage and database: not measured)."""
    start = time.perf_counter()
    proc = subprocess.Popen([GOVCLOUD, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    ready = None
    for line in proc.stderr:
        if ready is None and "signing: ready" in line:
            ready = time.perf_counter() - start
    proc.wait()
    if ready is None:
        raise RuntimeError("govcloud up did not bring signing ready")
    return ready


def session(ca: str) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.verify = ca
    return s


def sign_for(seconds: float, clients: int, url: str, ca: str, secret: str, pdf: bytes) -> tuple[int, list[float]]:
    """Signatures completed by `clients` threads (one kept-alive session each) in `seconds`, and their latencies."""
    stop = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/pdf"}

    def client() -> list[float]:
        times = []
        with session(ca) as s:
            while time.monotonic() < stop:
                start = time.perf_counter()
                resp = s.post(url, data=pdf, headers=headers, timeout=60)
                resp.raise_for_status()
                times.append(time.perf_counter() - start)
        return times

    with ThreadPoolExecutor(clients) as pool:
        latencies = [t for part in pool.map(lambda _: client(), range(clients)) for t in part]
    return len(latencies), latencies


def tsa_round_trips(url: str, ca: str, keep_alive: bool) -> list[float]:
    req = tsp.TimeStampReq({"version": "v1", "message_imprint": {"hash_algorithm": {"algorithm": "sha256"},
                                                                 "hashed_message": bytes(32)}, "cert_req": True})
    body, headers = req.dump(), {"Content-Type": "application/timestamp-query"}
    times = []
    kept = session(ca)
    for _ in range(TSA_ROUNDS):
        start = time.perf_counter()
        if keep_alive:
            resp = kept.post(url, data=body, headers=headers, timeout=10)
        else:
            with session(ca) as s:
                resp = s.post(url, data=body, headers=headers, timeout=10)
        assert resp.status_code == 200 and resp.content
        times.append(time.perf_counter() - start)
    kept.close()
    return times


def in_process(pdf: bytes, root: Path, n: int = 30) -> float:
    from tests.signing_kit import make_kit

    from govcloud_platform.signing import pades

    kit = make_kit(root)
    signer, stamper = kit.agency("bench"), kit.timestamper()
    pades.sign_pdf(pdf, signer, stamper)
    start = time.perf_counter()
    for _ in range(n):
        pades.sign_pdf(pdf, signer, stamper)
    return n / (time.perf_counter() - start)


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000


def main() -> None:
    pdf = minimal_pdf("govcloud benchmark certificate " + "x" * 40)
    padded = minimal_pdf("x" * 15000)  # ~15 KB, the size of the centre's rendered certificate
    handle = make_box("bench-signing")
    try:
        cold = timed_up(handle.args("up", "--service", "signing", "--port-base", str(handle.port_base)))
        subprocess.run([GOVCLOUD, *handle.args("down")], check=True, capture_output=True)
        warm = timed_up(handle.args("up", "--service", "signing"))
        print(f"govcloud up --service signing: new box {cold:.2f} s, after down {warm:.2f} s (CLI process, to ready)")
        box = handle.box()
        broker = SigningBroker()
        creds = broker.new_credentials(box, "bench")
        start = time.perf_counter()
        broker.provision(box, "bench", "Bench Agency", box.spec.resolve_quota("standard"), creds)
        print(f"agency key and certificate made in {time.perf_counter() - start:.3f} s")
        doc = broker.bind(box, "bench", creds)
        for label, body in (("0.7 KB PDF", pdf), ("15 KB PDF", padded)):
            for clients in (1, 2, 4):
                n, lat = sign_for(SECONDS, clients, doc["sign_url"], doc["ca_file"], doc["secret"], body)
                print(f"sign {label}, {clients} client(s): {n / SECONDS:.1f} PDFs/s; latency median "
                      f"{statistics.median(lat) * 1000:.0f} ms, p95 {pct(lat, 0.95):.0f} ms")
        for keep in (False, True):
            rt = tsa_round_trips(doc["tsa_url"], doc["ca_file"], keep)
            print(f"/tsa round trip ({'kept-alive session' if keep else 'new TLS connection each'}): median "
                  f"{statistics.median(rt) * 1000:.1f} ms, p95 {pct(rt, 0.95):.1f} ms ({TSA_ROUNDS} requests)")
        print(f"in-process PAdES signature (one thread, no HTTP): {in_process(pdf, handle.root / 'kit'):.1f}/s")
    finally:
        teardown_box(handle)


if __name__ == "__main__":
    main()
