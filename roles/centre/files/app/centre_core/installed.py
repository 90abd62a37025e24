"""An agency's catalogue on disk: read a catalogue from a folder, a catalogue file or an archive (checked whole
before anything is used), install it as a new version beside the running one, and switch to it at once.

Layout under the instance's catalogue root: one folder per version, named by the digest of its files
(`v-<sha256 prefix>`), and `current`, a symbolic link to the version in use (the centre reads
`current/catalogue.yaml`). Switching replaces the link with one rename, so a reader sees the old catalogue or
the new one, never a mix; a catalogue that does not load is never installed, and the running one stays."""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .catalogue import Loaded, export, load
from .errors import CatalogueError, CentreError

MAX_ARCHIVE_BYTES = 32 * 1024 * 1024
MAX_MEMBERS = 501  # catalogue.yaml and at most one process per service
MAX_MEMBER_BYTES = 1024 * 1024
CURRENT = "current"
VERSION_NAME = re.compile(r"v-[0-9a-f]{16}")  # a version folder's name (`install`)


@contextmanager
def read_source(source: Path) -> Iterator[Loaded]:
    """The catalogue at `source`: a folder holding catalogue.yaml, a catalogue.yaml (or .json) file, or a .tar.gz
    archive of such a folder (flat: regular files only). Loaded and checked; CatalogueError or ProcessError
    name the file and key. An archive is unpacked into a private temporary folder, removed on exit."""
    if source.is_dir():
        yield load(source / "catalogue.yaml")
    elif source.name.endswith((".tar.gz", ".tgz", ".tar")):
        with tempfile.TemporaryDirectory(prefix="centre-catalogue-") as tmp:
            _unpack(source, Path(tmp))
            try:
                loaded = load(Path(tmp) / "catalogue.yaml")
            except CentreError as exc:  # name the archive, not the temporary folder
                where = exc.where.replace(tmp, f"{source}:")
                if isinstance(exc, CatalogueError):
                    raise CatalogueError(exc.message, where, exc.problems) from None
                raise type(exc)(exc.message, where) from None
            yield loaded
    else:
        yield load(source)


def digest(folder: Path) -> str:
    """SHA-256 over the names and contents of the files of an exported catalogue (its version)."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        h.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def current(root: Path) -> Path | None:
    """The version folder in use (None: nothing installed yet)."""
    link = root / CURRENT
    return link.resolve() if link.is_symlink() else None


def install(loaded: Loaded, root: Path, owner: tuple[int, int] | None = None) -> tuple[Path, bool]:
    """Write `loaded` as a version folder under `root` (not switched to yet): (its folder, whether it differs
    from the current one). `owner` (uid, gid): who the files are given to when written by root."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    if owner is not None:
        os.chown(root, *owner)
    staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=root))
    try:
        export(loaded, staging)
        version = root / f"v-{digest(staging)[:16]}"
        if version.exists():
            shutil.rmtree(staging)
        else:
            for path in (staging, *staging.iterdir()):
                path.chmod(0o700 if path.is_dir() else 0o600)
                if owner is not None:
                    os.chown(path, *owner)
            staging.rename(version)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return version, current(root) != version.resolve()


def switch(root: Path, version: Path, keep: int = 3, owner: tuple[int, int] | None = None) -> None:
    """Make `version` the catalogue in use (one atomic rename of the link), then remove old versions beyond
    the `keep` newest (the one in use always stays)."""
    link_tmp = root / f".{CURRENT}.{os.getpid()}"
    link_tmp.unlink(missing_ok=True)
    link_tmp.symlink_to(version.name)
    if owner is not None:
        os.chown(link_tmp, *owner, follow_symlinks=False)
    link_tmp.rename(root / CURRENT)
    versions = sorted((p for p in root.glob("v-*") if p.is_dir() and p.resolve() != version.resolve()),
                      key=lambda p: p.stat().st_mtime, reverse=True)
    for old in versions[keep - 1:]:
        shutil.rmtree(old, ignore_errors=True)


def export_archive(loaded: Loaded, target: Path) -> Path:
    """catalogue.yaml and the processes as one .tar.gz (flat), which `read_source` reads back."""
    with tempfile.TemporaryDirectory(prefix="centre-export-") as tmp:
        export(loaded, Path(tmp))
        with tarfile.open(target, "w:gz") as tar:
            for path in sorted(Path(tmp).iterdir()):
                info = tarfile.TarInfo(path.name)
                data = path.read_bytes()
                info.size, info.mode, info.mtime = len(data), 0o644, 0
                tar.addfile(info, io.BytesIO(data))
    return target


def _unpack(archive: Path, into: Path) -> None:
    """Only flat regular files with plain names, few and small: anything else is refused, nothing unpacked
    outside `into`."""
    where = str(archive)
    if archive.stat().st_size > MAX_ARCHIVE_BYTES:
        raise CatalogueError(f"the archive is larger than {MAX_ARCHIVE_BYTES // (1024 * 1024)} MiB", where)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = 0
            for member in tar:
                members += 1
                name = member.name.removeprefix("./")
                if member.isdir() and name in ("", "."):
                    continue
                if members > MAX_MEMBERS:
                    raise CatalogueError(f"more than {MAX_MEMBERS} files in the archive", where)
                if not member.isfile() or "/" in name or name.startswith(".") or not name:
                    raise CatalogueError(f"{member.name}: only the catalogue's files, side by side, may be in it "
                                         "(no folders, links or devices)", where)
                if member.size > MAX_MEMBER_BYTES:
                    raise CatalogueError(f"{name}: larger than {MAX_MEMBER_BYTES // 1024} KiB", where)
                handle = tar.extractfile(member)
                assert handle is not None
                (into / name).write_bytes(handle.read(MAX_MEMBER_BYTES + 1))
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise CatalogueError(f"not a readable archive ({exc})", where) from None
