"""Import a catalogue into this centre (what `centre_catalogue_import` and a deploy's `centre_converge` do): read
and check it whole, write it as a new version beside the running one, record its processes by digest in one
database transaction, then switch `current` to it (one rename). Anything refused on the way changes nothing:
the running catalogue stays."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.conf import settings

from centre_core import catalogue, installed, store

from . import runtime


class NoRoot(Exception):
    """This centre has no catalogue root (CATALOGUE_ROOT) to install into."""


def root() -> Path:
    if not settings.CENTRE_CATALOGUE_ROOT:
        raise NoRoot("this centre has no CATALOGUE_ROOT in its settings: nothing to import into")
    return Path(settings.CENTRE_CATALOGUE_ROOT)


def import_catalogue(source: Path, actor: str = "system", origin: str = "command") -> str | None:
    """Install and switch to the catalogue at `source` (a folder, a catalogue.yaml or a .tar.gz). Returns what
    changed ("catalogue v-...: services a, b"), or None when it is the one in use already. A switch is recorded
    in the audit trail: by `actor` (a staff member's `staff:<subject>`, else `system`), from `origin`."""
    return switch_to(prepare(source), actor, origin)


def prepare(source: Path) -> Path:
    """The first half of an import: the catalogue at `source` read and checked whole, then written as a version
    folder beside the one in use (not switched to: the staff pages show what it changes first). Returns its
    folder (the one in use when it is the same catalogue)."""
    target = root()
    with installed.read_source(source) as loaded:
        version, _ = installed.install(loaded, target, _owner(target))
    return version


def switch_to(version: Path, actor: str, origin: str) -> str | None:
    """The second half: the version folder read and checked again, its processes recorded (one transaction), then
    switched to and the switch audited. None when it is the one in use already."""
    target = root()
    loaded = catalogue.load(version / "catalogue.yaml")
    added = store.record_processes(runtime.connection(), loaded)  # one transaction
    if installed.current(target) == version.resolve():
        return None
    installed.switch(target, version, owner=_owner(target))
    store.record_catalogue_change(runtime.connection(), runtime.now(), actor, {
        "version": version.name, "services": [s.id for s in loaded.catalogue.services], "processes_added": added,
        "origin": origin})
    services = ", ".join(s.id for s in loaded.catalogue.services)
    return f"catalogue {version.name} ({services})" + (f", processes {' '.join(added)}" if added else "")


def staged(name: str) -> Path | None:
    """A version folder written by `prepare` (its name as the preview page sent it back: `v-` and 16 hex digits),
    still there; None for anything else."""
    if not installed.VERSION_NAME.fullmatch(name):
        return None
    folder = root() / name
    return folder if folder.is_dir() and not folder.is_symlink() else None


def install_edited(edited: catalogue.Catalogue, actor: str, origin: str) -> str | None:
    """Install `edited` (the catalogue in use with some of its texts changed; the same processes) exactly as an
    import: written with its BPMN files to a private folder, then `import_catalogue` reads it back, checks it whole,
    installs and switches to it."""
    current = runtime.loaded()
    with tempfile.TemporaryDirectory(prefix="centre-edit-") as tmp:
        catalogue.export(catalogue.Loaded(catalogue=edited, processes=current.processes, folder=current.folder),
                         Path(tmp))
        return import_catalogue(Path(tmp), actor, origin)


def export_bytes() -> bytes:
    """The catalogue in use as the .tar.gz that `centre_catalogue_export <name>.tar.gz` writes (the same
    function writes it), for the staff pages' download."""
    with tempfile.TemporaryDirectory(prefix="centre-download-") as tmp:
        target = Path(tmp) / "catalogue.tar.gz"
        installed.export_archive(runtime.loaded(), target)
        return target.read_bytes()


def _owner(target: Path) -> tuple[int, int] | None:
    """Run as root (a deploy), the files go to the instance's user: the owner of the instance folder."""
    if os.geteuid() != 0:
        return None
    info = target.parent.stat()
    return info.st_uid, info.st_gid
