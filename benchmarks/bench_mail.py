"""Mail benchmark on a box of its own running only the mail service: the time `govcloud up --service mail` takes to
bring Postfix ready (a new box: its CA, configuration and queue made; then a restart after `down`), and the messages
per second one agency submits through smtplib (STARTTLS verified, AUTH) into the box's Maildir: over one SMTP
session, and one session per message; "delivered" counts until the last copy is in the Maildir.
Run: .venv/bin/python benchmarks/bench_mail.py  (about 30 s)"""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

from tests.conftest import GOVCLOUD, make_box, teardown_box
from tests.mail_kit import connect, message

from govcloud_platform.brokers.mail import MailBroker
from govcloud_platform.mailbox import delivered

ONE_SESSION, PER_MESSAGE = 300, 50


def timed_up(args: list[str]) -> float:
    """Seconds from the start of the `govcloud up` process to its "mail: ready" line (a box running only mail stops
    later, at the registry's backup step, which needs the storage and database: not measured here)."""
    start = time.perf_counter()
    proc = subprocess.Popen([GOVCLOUD, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    ready = None
    for line in proc.stderr:
        if ready is None and "mail: ready at" in line:
            ready = time.perf_counter() - start
    proc.wait()
    if ready is None:
        raise RuntimeError("govcloud up did not bring mail ready")
    return ready


def wait_delivered(home: Path, to: str, n: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while len(delivered(home, to)) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(delivered(home, to))}/{n} delivered to {to}")
        time.sleep(0.05)


def main() -> None:
    handle = make_box("bench-mail")
    try:
        cold = timed_up(handle.args("up", "--service", "mail", "--port-base", str(handle.port_base)))
        subprocess.run([GOVCLOUD, *handle.args("down")], check=True, capture_output=True)
        warm = timed_up(handle.args("up", "--service", "mail"))
        print(f"govcloud up --service mail: new box {cold:.2f} s, after down {warm:.2f} s (CLI process, to ready)")
        box = handle.box()
        broker = MailBroker()
        creds = broker.new_credentials(box, "bench")
        start = time.perf_counter()
        broker.provision(box, "bench", "Bench", box.spec.resolve_quota("standard"), creds)
        print(f"SMTP login provisioned in {time.perf_counter() - start:.3f} s")
        mail = broker.bind(box, "bench", creds)

        to = f"one-{uuid.uuid4().hex[:8]}@example.org"
        start = time.perf_counter()
        with connect(mail) as smtp:
            for i in range(ONE_SESSION):
                smtp.send_message(message(mail["from_address"], to, f"m{i}"))
        accepted = time.perf_counter() - start
        wait_delivered(handle.home, to, ONE_SESSION)
        landed = time.perf_counter() - start
        print(f"one session:  {ONE_SESSION} messages accepted in {accepted:.2f} s = {ONE_SESSION / accepted:.0f}/s; "
              f"all in the Maildir after {landed:.2f} s = {ONE_SESSION / landed:.0f}/s")

        to = f"each-{uuid.uuid4().hex[:8]}@example.org"
        start = time.perf_counter()
        for i in range(PER_MESSAGE):
            with connect(mail) as smtp:
                smtp.send_message(message(mail["from_address"], to, f"m{i}"))
        accepted = time.perf_counter() - start
        wait_delivered(handle.home, to, PER_MESSAGE)
        landed = time.perf_counter() - start
        print(f"session each: {PER_MESSAGE} messages accepted in {accepted:.2f} s = {PER_MESSAGE / accepted:.0f}/s "
              f"(connect + STARTTLS + AUTH each); all delivered after {landed:.2f} s")
    finally:
        teardown_box(handle)


if __name__ == "__main__":
    main()
