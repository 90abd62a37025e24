"""Pure decisions of the catalogue's pages (catalogue_pages.py): what an uploaded file is worth before it is read,
how a problem's place is shown to the manager, the download's file name, and the catalogue one service's edited
texts make. No I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from centre_core.catalogue import Catalogue
from centre_core.installed import MAX_ARCHIVE_BYTES

# What the page takes (and nginx lets through: 12m). A catalogue's own limits (catalogue.yaml and each BPMN file
# 1 MiB, 501 files) are checked again when it is read; this one is on the compressed file as sent.
MAX_UPLOAD = min(8 * 1024 * 1024, MAX_ARCHIVE_BYTES)
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")
GZIP_MAGIC = b"\x1f\x8b"
_PLAIN = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Refusal:
    """A file refused before it is read: the key of its text (texts_staff.py) and the values it names."""

    key: str
    values: dict[str, object] = field(default_factory=dict)


def check_upload(name: str | None, size: int | None, head: bytes) -> Refusal | None:
    """None when the upload may be read as a catalogue archive: a file was sent, not empty, at most MAX_UPLOAD
    bytes, named .tar.gz (what the download and `centre_catalogue_export` write) and starting as gzip does."""
    if name is None or size is None:
        return Refusal("cat_no_file")
    if size == 0:
        return Refusal("cat_empty")
    if size > MAX_UPLOAD:
        return Refusal("cat_too_large", {"mib": MAX_UPLOAD // (1024 * 1024)})
    if not name.lower().endswith(ARCHIVE_SUFFIXES) or head[:2] != GZIP_MAGIC:
        return Refusal("cat_wrong_type")
    return None


def plain_name(name: str) -> str:
    """The uploaded file's name as shown and recorded: its last part, plain characters, at most 80."""
    last = name.replace("\\", "/").rsplit("/", 1)[-1]
    return (_PLAIN.sub("_", last).strip("._") or "catalogue.tar.gz")[:80]


def stale(seen: str, in_use: str) -> bool:
    """Whether a preview's confirmation comes too late: the version in use when the preview was shown (the form's
    `base`; missing in a form from before this check) is no longer the one in use, so the changes the manager
    saw are not the ones installing would make."""
    return not seen or seen != in_use


def where_shown(where: str, saved_at: str, shown: str) -> str:
    """A problem's place with the server's temporary path replaced by the uploaded file's name: `trade.tar.gz:
    catalogue.yaml`, `trade.tar.gz: trade_licence.bpmn` (a place outside the upload is dropped)."""
    if not where:
        return ""
    if where.startswith(saved_at):
        rest = where[len(saved_at):].lstrip(":").lstrip("/")
        return f"{shown}: {rest.rsplit('/', 1)[-1]}" if rest else shown
    return ""


def download_name(version: str) -> str:
    """`catalogue-<version>.tar.gz` (the version folder's name, e.g. v-0123abcd...; plain characters only)."""
    return f"catalogue-{plain_name(version)}.tar.gz" if version else "catalogue.tar.gz"


# The texts a manager may change in the page (the form's fields) and where each sits in a service.
EDIT_FIELDS: dict[str, tuple[str, ...]] = {
    "description_en": ("description", "en"), "description_ur": ("description", "ur"),
    "fee": ("fee", "amount"), "sla": ("sla_working_days",)}


def edit(current: Catalogue, service_id: str, form: Mapping[str, str]) -> tuple[Catalogue | None, list[str]]:
    """The catalogue with one service's plain-language texts (English and Urdu description, fee, SLA) as the form
    gives them: (the new catalogue, []) or (None, the fields refused, in the form's order). The rules are the
    catalogue model's own (the same as a file's): the form's values are put into the catalogue's data and it is
    validated whole."""
    data: dict[str, Any] = current.model_dump(mode="json")
    index = next((i for i, s in enumerate(data["services"]) if s["id"] == service_id), None)
    if index is None:
        raise KeyError(service_id)
    service = data["services"][index]
    for name, path in EDIT_FIELDS.items():
        node = service
        for key in path[:-1]:
            node = node[key]
        value = str(form.get(name, "")).strip()
        node[path[-1]] = value.replace(",", "") if name in ("fee", "sla") else value
    try:
        return Catalogue.model_validate(data), []
    except ValidationError as exc:
        wrong = set()
        for error in exc.errors():
            loc = tuple(error["loc"])
            if loc[:2] == ("services", index):
                wrong |= {name for name, path in EDIT_FIELDS.items() if loc[2:2 + len(path)] == path}
        return None, [name for name in EDIT_FIELDS if name in wrong] or list(EDIT_FIELDS)


@dataclass(frozen=True)
class Change:
    """What a new catalogue does to one service: `added`, `removed`, or `changed` with the keys of the catalogue
    file that differ (`process` when its BPMN file's content differs, whatever its name)."""

    service_id: str
    kind: str
    keys: tuple[str, ...] = ()


def changes(old: Catalogue, old_processes: Mapping[str, str], new: Catalogue,
            new_processes: Mapping[str, str]) -> list[Change]:
    """The services a new catalogue adds, removes or changes, in the new catalogue's order then the removed ones
    (`*_processes`: service id -> the digest of its BPMN file)."""
    found: list[Change] = []
    before = {s.id: s for s in old.services}
    for service in new.services:
        was = before.get(service.id)
        if was is None:
            found.append(Change(service.id, "added"))
            continue
        a, b = was.model_dump(mode="json"), service.model_dump(mode="json")
        keys = [k for k in b if k != "process" and a.get(k) != b.get(k)]
        if old_processes.get(service.id) != new_processes.get(service.id):
            keys.append("process")
        if keys:
            found.append(Change(service.id, "changed", tuple(keys)))
    ids = {s.id for s in new.services}
    found += [Change(s.id, "removed") for s in old.services if s.id not in ids]
    return found
