"""An exclusive, process-wide lock on the box: a second operator gets ConflictError (exit 4)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from govcloud_platform.errors import ConflictError


@contextmanager
def box_lock(home: Path, command: str, wait: float = 0.0) -> Iterator[None]:
    """Hold `<home>/.lock` for the duration; fail fast with who holds it."""
    import time

    home.mkdir(parents=True, exist_ok=True)
    path = home / ".lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = Path(path).read_text().strip() or "another govcloud command"
                    raise ConflictError(
                        f"the box at {home} is locked by {holder}",
                        hint="wait for it to finish, then re-run",
                    ) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} ({command})\n".encode())
        yield
    finally:
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        os.close(fd)
