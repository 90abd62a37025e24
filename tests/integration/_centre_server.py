"""The centre's citizen pages served for real over HTTP on 127.0.0.1, by gunicorn as the role runs it (one worker,
a few threads, `--chdir` the app), from the env file `_centre.setup_django` wrote: the test process and the
server share the database and the tracking key, so a test can issue a tracking code in-process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "roles" / "centre" / "files" / "app"
DESIGN_PARENT = APP.parents[2] / "app_common" / "files"  # the shared design, installed beside the code by the role


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def centre_server(root: Path, threads: int = 4, port: int | None = None) -> Iterator[str]:
    """gunicorn serving the centre configured by `root/centre.env`; yields its base URL (http://127.0.0.1:port,
    on `port` when given: a centre whose PUBLIC_URL is its own address). Its log goes to `root/gunicorn.log`
    (quoted when it does not come up)."""
    port = port or free_port()
    log = root / "gunicorn.log"
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    env["CENTRE_ENV_FILE"] = str(root / "centre.env")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads",
             str(threads), "--forwarded-allow-ips", "127.0.0.1", "--chdir", str(APP),
             "--pythonpath", str(DESIGN_PARENT), "centre_web.wsgi:application"],
            env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not come up on {base}:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
