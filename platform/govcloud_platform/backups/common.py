"""Shared pieces: the backup record (stable interface of `backup list`), run ids, locks, child processes."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from govcloud_platform.box.context import LOOPBACK, Box
from govcloud_platform.errors import ConflictError, GovCloudError, OperationFailed, ServiceError
from govcloud_platform.progress import Progress, quiet  # noqa: F401 - the backups modules take them from here


@dataclass(frozen=True)
class BackupRecord:
    """One backup as `govcloud --json backup list` prints it (keep these keys stable)."""

    id: str
    scope: str  # "platform" or "agency:<slug>"
    type: str  # full | diff | incr (platform) or logical (agency)
    started: str  # ISO 8601, UTC
    finished: str
    bytes: int  # size of what the backup holds (database size for pgBackRest, dump + objects for agencies)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def parse_time(text: str) -> dt.datetime:
    """ISO 8601 (or `YYYY-MM-DD HH:MM:SS[+TZ]`); naive times are UTC."""
    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def new_run_id(moment: dt.datetime | None = None) -> str:
    stamp = (moment or utcnow()).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(2)}"


def backups_dir(box: Box, *parts: str) -> Path:
    """`<home>/backups/...`: traversable (postgres reaches its scratch clusters), not listable by others."""
    path = box.dir("backups", *parts)
    os.chmod(box.home / "backups", 0o711)  # noqa: S103 - no listing; files inside are 0600 or postgres's
    return path


@contextmanager
def backup_lock(box: Box, scope: str, wait: float = 120.0) -> Iterator[None]:
    """One backup or restore per scope at a time (pgBackRest refuses two backups of a stanza anyway).
    Separate from the box lock, so that a long backup never blocks onboarding."""
    from govcloud_platform.state.lock import file_lock

    def busy(current: str) -> ConflictError:
        return ConflictError(f"{scope} is busy: {current or 'another backup'}",
                             hint="wait for it to finish, then re-run")

    path = backups_dir(box, "locks") / f"{scope.replace(':', '_')}.lock"
    with file_lock(path, f"pid {os.getpid()} since {iso(utcnow())}", busy, wait, poll=0.2):
        yield


def free_port(address: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def storage_alive(box: Box) -> bool:
    """A cheap probe of the S3 endpoint: a TCP connection AND a TLS handshake with the box's certificate. A
    SeaweedFS that is shutting down keeps its port open for ~15 s while failing every handshake."""
    import ssl

    ctx = ssl.create_default_context(cafile=str(box.ca_file))
    ctx.check_hostname = False  # the CA is ours and the address the box's; the chain is still verified
    try:
        storage, port = box.s3_front
        with socket.create_connection((storage, port), timeout=2) as raw, \
                ctx.wrap_socket(raw, server_hostname=storage):
            return True
    except OSError:
        return False


def require_storage(box: Box, what: str) -> None:
    if not storage_alive(box):
        raise ServiceError(
            f"{what}: object storage at {box.s3_endpoint} is not answering",
            hint="run `govcloud up`, then re-run",
        )


class StorageWatch:
    """Kill a pipeline whose object storage went away: restic and pgBackRest retry for minutes otherwise.
    `lost` tells afterwards that this is why the pipeline died."""

    def __init__(self, box: Box, procs: Sequence[subprocess.Popen[Any]], grace: float = 8.0) -> None:
        self.box = box
        self.procs = procs
        self.grace = grace
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> StorageWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        down_since: float | None = None
        while not self._stop.wait(1.0):
            if storage_alive(self.box):
                down_since = None
                continue
            down_since = down_since or time.monotonic()
            if time.monotonic() - down_since >= self.grace:
                self.lost = True
                for proc in self.procs:
                    if proc.poll() is None:
                        proc.kill()
                return


def rolled_back(exc: Exception, what: str, state: str) -> GovCloudError:
    """The error of a restore that was rolled back: the same kind (same exit code), one line saying so."""
    if not isinstance(exc, GovCloudError):
        exc = OperationFailed(f"{type(exc).__name__}: {exc}")
    exc.message = f"{what} failed and was rolled back ({state}): {exc.message}"
    exc.hint = exc.hint or "fix the cause, then re-run the restore"
    exc.args = (exc.message,)
    return exc


