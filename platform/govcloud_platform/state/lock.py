"""Exclusive locks on files: a second holder gets ConflictError (exit 4) naming who holds the lock."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from govcloud_platform.errors import ConflictError


class LockHeld(ConflictError):
    """The box's lock is held by another command: a conflict of the moment (exit 4 as every conflict), which a
    caller that may wait (the console's jobs) can tell from the others."""


@contextmanager
def file_lock(path: Path, holder: str, busy: Callable[[str], ConflictError], wait: float = 0.0,
              poll: float = 0.1) -> Iterator[None]:
    """Hold an flock on `path` for the duration, writing `holder` into it; after `wait` seconds raise
    `busy(<what the current holder wrote>)`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise busy(path.read_text().strip()) from None
                time.sleep(poll)
        os.ftruncate(fd, 0)
        os.write(fd, f"{holder}\n".encode())
        yield
    finally:
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        os.close(fd)


@contextmanager
def box_lock(home: Path, command: str, wait: float = 0.0, reentrant: bool = False) -> Iterator[None]:
    """Hold `<home>/.lock` for the duration; fail fast with who holds it. `reentrant`: a step that may run
    inside another command of this same process that already holds it (app remove inside agency remove)."""

    def busy(current: str) -> ConflictError:
        return LockHeld(
            f"the box at {home} is locked by {current or 'another govcloud command'}",
            hint="wait for it to finish, then re-run",
        )

    key = (os.getpid(), str(home.resolve()))
    if reentrant and key in _HELD:
        yield
        return
    with file_lock(home / ".lock", f"pid {os.getpid()} ({command})", busy, wait):
        _HELD.add(key)
        try:
            yield
        finally:
            _HELD.discard(key)


_HELD: set[tuple[int, str]] = set()
