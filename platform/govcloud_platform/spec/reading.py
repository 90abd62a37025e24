"""Read the spec file within bounds: a regular file, at most MAX_BYTES, UTF-8. `validate /dev/zero` read
until memory ran out, and a FIFO without a writer blocked forever."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from govcloud_platform.spec.bounded_yaml import YamlProblem

MAX_BYTES = 8 * 1024 * 1024  # a spec with 10,000 agencies in block style is ~1.6 MiB


def read_bounded(path: Path, limit: int = MAX_BYTES) -> bytes:
    """The bytes of a regular file of at most `limit` bytes. Devices (/dev/zero), FIFOs, sockets and
    directories are refused before a byte is read (O_NONBLOCK: opening a FIFO does not wait for a writer),
    and the read stops at limit+1 bytes even if the file grows or lies about its size (/proc)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "a device, FIFO or socket"
            raise YamlProblem(None, (), f"not a regular file ({kind}); write the spec to a file")
        if st.st_size > limit:
            raise YamlProblem(None, (), _too_large(st.st_size, limit))
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise YamlProblem(None, (), _too_large(None, limit))
        return b"".join(chunks)
    finally:
        os.close(fd)


def _too_large(size: int | None, limit: int) -> str:
    got = f" ({size:,} bytes)" if size is not None else ""
    return f"the file is larger than the limit of {limit // (1024 * 1024)} MiB{got}; is this the spec?"


def decode(data: bytes) -> str:
    """UTF-8 text (a leading BOM dropped); a bad byte is reported with its line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise YamlProblem(line, (), f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None
