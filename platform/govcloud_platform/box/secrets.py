"""Generated secrets of the box: one 0600 file each in a 0700 directory. Never printed or logged."""

from __future__ import annotations

import os
import secrets as _secrets
from collections.abc import Callable
from pathlib import Path

from govcloud_platform.errors import BoxDamaged


def write_private(path: Path, data: str | bytes, mode: int = 0o600) -> None:
    """Atomically write a file with exactly `mode`: only its owner's (0600) unless it is meant to be shared, and
    never more open than that while it is written, whatever the umask."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    raw = data.encode() if isinstance(data, str) else data
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, raw)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def new_password(nbytes: int = 24) -> str:
    """URL- and shell-safe random secret."""
    return _secrets.token_urlsafe(nbytes).replace("-", "x").replace("_", "y")


class SecretStore:
    """`create=False` (a box opened by any command but `up`, or any home of a host of the hosts target): a
    missing secret is refused, never generated; a new value would not match what the services were set up
    with. `hint`: what to do then."""

    def __init__(self, directory: Path, create: bool = True,
                 hint: str = "run `govcloud up`: it makes the box's own secrets again") -> None:
        self.directory = directory
        self.create = create
        self.hint = hint

    def _path(self, name: str) -> Path:
        if not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise ValueError(f"bad secret name {name!r}")
        return self.directory / name

    def get(self, name: str) -> str | None:
        try:
            return self._path(name).read_text().strip()
        except FileNotFoundError:
            return None

    def get_or_create(self, name: str, generate: Callable[[], str] = new_password) -> str:
        value = self.get(name)
        if value is None and not self.create:
            raise BoxDamaged(f"the box secret {self._path(name)} is missing", hint=self.hint)
        if value is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            os.chmod(self.directory, 0o700)
            value = generate()
            write_private(self._path(name), value + "\n")
        return value

    def put(self, name: str, value: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        write_private(self._path(name), value + "\n")

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)
