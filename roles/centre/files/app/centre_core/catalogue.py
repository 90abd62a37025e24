"""The service catalogue as data: what a citizen can apply for, in English and Urdu, with its process.

A catalogue is one YAML (or JSON) file listing services; each names its process, a BPMN file in the same
folder. Loading checks the file within bounds (bounded.py), the model (pydantic, unknown keys refused), and
each process (bpmn.py), and that every timer variable a process reads is given by its service
(`step_sla_working_days`), so that an error says which file, which key and what to do, and nothing of a bad
catalogue is used. `export` writes the catalogue and its processes to a folder that `load` reads back."""

from __future__ import annotations

import re
import shutil
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import bounded
from .bpmn import Process, load_process
from .errors import CatalogueError, ProcessError

SAMPLES = Path(__file__).parent / "samples"
Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,39}$")]
Text = Annotated[str, Field(min_length=1, max_length=2000)]
_BPMN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,80}\.bpmn$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Localised(Strict):
    """Every text a citizen reads, in both languages of the centre."""

    en: Text
    ur: Text


class RetentionClass(StrEnum):
    """How long a closed application's records are kept (RETENTION_YEARS)."""

    short = "short"
    standard = "standard"
    long = "long"
    permanent = "permanent"


# How many years after its application closed a document of each class is kept (None: for ever). The archive's
# deletion (centre_core.retention, the timers' job) reads these; docs/centre.md says them to citizens' offices.
RETENTION_YEARS: dict[RetentionClass, int | None] = {
    RetentionClass.short: 2, RetentionClass.standard: 7, RetentionClass.long: 25, RetentionClass.permanent: None}


class Document(Strict):
    id: Slug
    name: Localised
    required: bool = True
    media_types: tuple[Literal["application/pdf", "image/jpeg", "image/png"], ...] = (
        "application/pdf", "image/jpeg", "image/png")
    max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, le=20 * 1024 * 1024)


class Question(Strict):
    """One question of the application form (one page each on the citizen's side)."""

    id: Slug
    label: Localised
    hint: Localised | None = None
    # `mobile`: a mobile number in E.164 that the centre's text messages go to (the first such answer); `phone`:
    # any phone number, kept as an answer only
    kind: Literal["text", "long_text", "email", "phone", "mobile", "date", "number", "choice"] = "text"
    choices: tuple[Slug, ...] = ()
    choice_labels: dict[str, Localised] = {}
    required: bool = True

    @model_validator(mode="after")
    def _choices(self) -> Question:
        if (self.kind == "choice") != bool(self.choices):
            raise ValueError("a choice question needs choices, and only a choice question has them")
        if set(self.choice_labels) - set(self.choices):
            raise ValueError("choice_labels names a choice that is not in choices")
        return self


class Fee(Strict):
    amount: Decimal = Field(ge=0, le=10_000_000, decimal_places=2)
    currency: Literal["PKR"] = "PKR"
    # When the fee becomes a bill to pay (centre_core.payments): `submission`, or the id of a step (BPMN user task)
    # of the process: the bill is made once the application reaches it. None: the fee is only shown.
    billed_at: Slug | None = None

    @model_validator(mode="after")
    def _billed(self) -> Fee:
        if self.billed_at is not None and self.amount <= 0:
            raise ValueError("billed_at needs an amount above 0")
        return self


class Office(Strict):
    name: Localised
    address: Localised | None = None
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", max_length=200)] | None = None
    phone: Annotated[str, Field(pattern=r"^\+?[0-9 ()-]{5,30}$")] | None = None


class Service(Strict):
    id: Slug
    name: Localised
    description: Localised
    eligibility: tuple[Localised, ...] = ()
    documents: tuple[Document, ...] = ()
    questions: tuple[Question, ...] = Field(default=(), max_length=50)
    fee: Fee
    sla_working_days: int = Field(ge=1, le=365)
    step_sla_working_days: dict[Slug, Annotated[int, Field(ge=1, le=365)]] = {}
    office: Office
    retention: RetentionClass
    process: str
    # What citizens read for the process's steps and outcomes (BPMN task / end event id -> text): the BPMN's
    # own names are one language only. A step not named here shows the BPMN's name.
    steps: dict[Slug, Localised] = {}
    # After it closes: the citizen may reopen it within this many days (none: never), and is asked for a
    # satisfaction rating 1-5 (the grievance service: centre_core.grievance).
    reopen_within_days: int | None = Field(default=None, ge=1, le=90)
    satisfaction_rating: bool = False

    @field_validator("process")
    @classmethod
    def _process_name(cls, value: str) -> str:
        if not _BPMN_NAME.match(value):
            raise ValueError("must be the name of a .bpmn file in the catalogue's folder (no path)")
        return value

    @model_validator(mode="after")
    def _unique_parts(self) -> Service:
        for what, ids in (("document", [d.id for d in self.documents]), ("question", [q.id for q in self.questions])):
            dup = {i for i in ids if ids.count(i) > 1}
            if dup:
                raise ValueError(f"{what} ids must be unique: {', '.join(sorted(dup))}")
        return self


class Catalogue(Strict):
    format: Literal[1] = 1
    services: tuple[Service, ...] = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _unique(self) -> Catalogue:
        ids = [s.id for s in self.services]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"service ids must be unique: {', '.join(sorted(dup))}")
        return self

    def service(self, service_id: str) -> Service | None:
        return next((s for s in self.services if s.id == service_id), None)


class Loaded(BaseModel):
    """A catalogue and its processes (service id -> Process), all checked together."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)
    catalogue: Catalogue
    processes: dict[str, Process]
    folder: Path


def parse(data: Any, where: str) -> Catalogue:
    try:
        return Catalogue.model_validate(data)
    except ValidationError as exc:
        problems = tuple(f"{_key(data, e['loc'])}: {e['msg']}" for e in exc.errors())
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise CatalogueError(f"{problems[0]}{more}", where, problems) from None


def load(path: Path) -> Loaded:
    """Read a catalogue file and its processes; CatalogueError or ProcessError name the file and key."""
    where = str(path)
    text = bounded.read_text(path)
    catalogue = parse(bounded.load(text, where, json_format=path.suffix == ".json"), where)
    processes: dict[str, Process] = {}
    for service in catalogue.services:
        bpmn_path = path.parent / service.process
        try:
            xml = bpmn_path.read_bytes() if bpmn_path.stat().st_size <= 1024 * 1024 else b"x" * (1024 * 1024 + 1)
        except OSError as exc:
            raise CatalogueError(f"services.{service.id}.process: cannot read {service.process} ({exc.strerror})",
                                 where) from None
        process = load_process(xml, str(bpmn_path))
        missing = process.timer_variables - set(service.step_sla_working_days)
        if missing:
            raise CatalogueError(f"services.{service.id}.step_sla_working_days: add {', '.join(sorted(missing))} "
                                 f"(working days), read by the timers of {service.process}", where)
        unknown = set(service.steps) - {str(ts.bpmn_id) for ts in process.spec.task_specs.values()
                                         if getattr(ts, "bpmn_id", None)}
        if unknown:
            raise CatalogueError(f"services.{service.id}.steps: {', '.join(sorted(unknown))} is not a step or "
                                 f"end event of {service.process}", where)
        steps = {str(ts.bpmn_id) for ts in process.spec.task_specs.values() if getattr(ts, "bpmn_id", None)}
        if service.fee.billed_at not in (None, "submission") and service.fee.billed_at not in steps:
            raise CatalogueError(f"services.{service.id}.fee.billed_at: {service.fee.billed_at} is not "
                                 f"'submission' nor a step of {service.process}", where)
        processes[service.id] = process
    return Loaded(catalogue=catalogue, processes=processes, folder=path.parent)


def load_samples() -> Loaded:
    return load(SAMPLES / "catalogue.yaml")


def dump(catalogue: Catalogue) -> str:
    """YAML text that `load` reads back to an equal catalogue (defaults written out)."""
    return str(yaml.safe_dump(catalogue.model_dump(mode="json"), allow_unicode=True, sort_keys=False, width=110))


def export(loaded: Loaded, folder: Path) -> Path:
    """Write catalogue.yaml and each process file into `folder` (e.g. to ship to other agencies)."""
    folder.mkdir(parents=True, exist_ok=True)
    for service in loaded.catalogue.services:
        shutil.copyfile(loaded.folder / service.process, folder / service.process)
    target = folder / "catalogue.yaml"
    target.write_text(dump(loaded.catalogue), encoding="utf-8")
    return target


def _key(data: Any, loc: tuple[Any, ...]) -> str:
    """services.trade_licence.fee.amount rather than services.1.fee.amount where the id is known."""
    parts: list[str] = []
    node = data
    for part in loc:
        if isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node):
            item = node[part]
            sid = item.get("id") if isinstance(item, dict) else None
            parts.append(str(sid) if isinstance(sid, str) and sid else str(part))
            node = item
        else:
            parts.append(str(part))
            node = node.get(part) if isinstance(node, dict) else None
    return ".".join(parts) or "(top)"


__all__ = ["Catalogue", "CatalogueError", "Loaded", "ProcessError", "Service", "dump", "export", "load", "parse"]
