"""The flow of steps a citizen sees on the tracking page, drawn from the service's BPMN: the user tasks in the
order the process reaches them from its start, and the end events (the possible outcomes). A step reached only
through an SLA timer (e.g. an escalated review) is marked as such and comes right after the step it escalates:
the page shows it only while the application is there."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree

from centre_core.engine import TaskView

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
_TASKS = {"userTask", "manualTask"}
Steps = tuple[tuple[tuple[str, bool], ...], dict[str, str]]
_VERSIONS: dict[str, tuple[Steps, dict[str, str]]] = {}  # process digest -> (steps, task names); bounded
_MAX_VERSIONS = 256


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@lru_cache(maxsize=64)
def _ordered(path: Path, mtime: float) -> Steps:
    return order(etree.parse(str(path), _parser()).getroot())


def steps_of_version(digest: str, load: Callable[[], bytes]) -> tuple[Steps, dict[str, str]]:
    """The steps (as `steps_of`) and the task names of the process version an application started on, which may
    not be the catalogue's current one: its BPMN (`load`, from the database) is read once per version."""
    found = _VERSIONS.get(digest)
    if found is None:
        root = etree.fromstring(load(), _parser())
        process = root.find(f"{BPMN}process")
        names = {str(el.get("id")): str(el.get("name") or el.get("id"))
                 for el in (process if process is not None else []) if etree.QName(el).localname in _TASKS}
        if len(_VERSIONS) >= _MAX_VERSIONS:
            _VERSIONS.clear()
        found = _VERSIONS[digest] = (order(root), names)
    return found


def steps_of(path: Path) -> tuple[tuple[tuple[str, bool], ...], dict[str, str]]:
    """((user task id, reached only by a timer) in order, end event id -> name) of a BPMN file (one that
    centre_core.bpmn loaded)."""
    return _ordered(path, path.stat().st_mtime)


def order(root: etree._Element) -> tuple[tuple[tuple[str, bool], ...], dict[str, str]]:
    process = root.find(f"{BPMN}process")
    if process is None:
        return (), {}
    kinds = {str(el.get("id")): etree.QName(el).localname for el in process}
    names = {str(el.get("id")): str(el.get("name") or el.get("id")) for el in process}
    after: dict[str, list[str]] = {}
    for flow in process.iter(f"{BPMN}sequenceFlow"):
        after.setdefault(str(flow.get("sourceRef")), []).append(str(flow.get("targetRef")))
    boundaries: dict[str, list[str]] = {}
    for event in process.iter(f"{BPMN}boundaryEvent"):
        boundaries.setdefault(str(event.get("attachedToRef")), []).append(str(event.get("id")))
    starts = [i for i, k in kinds.items() if k == "startEvent"]
    main = _reach(starts, after)
    tasks: list[tuple[str, bool]] = []
    for node in main:
        if kinds.get(node) not in _TASKS:
            continue
        tasks.append((node, False))
        for event in boundaries.get(node, []):  # escalation steps follow the step they escalate
            tasks += [(n, True) for n in _reach([event], after) if kinds.get(n) in _TASKS and n not in main
                      and (n, True) not in tasks]
    ends = {node: names[node] for node in _reach(starts + [b for bs in boundaries.values() for b in bs], after)
            if kinds.get(node) == "endEvent"}
    return tuple(tasks), ends


def _reach(starts: list[str], after: dict[str, list[str]]) -> list[str]:
    """Breadth-first order of the nodes reached from `starts` along sequence flows."""
    seen: list[str] = []
    queue = deque(starts)
    while queue:
        node = queue.popleft()
        if node in seen:
            continue
        seen.append(node)
        queue.extend(after.get(node, []))
    return seen


@dataclass(frozen=True)
class Shown:
    """A step as the tracking page and the API show it: its id, its name in each language, where it stands."""

    id: str
    names: dict[str, str]  # "en", "ur"
    here: bool
    done: bool


def progress(order: tuple[tuple[str, bool], ...], ready: tuple[TaskView, ...], done: frozenset[str],
             names: Mapping[str, str], localised: Mapping[str, Any]) -> list[Shown]:
    """Pure: the steps shown for an application: its process version's steps in order (an escalation step only
    while the application is there, or was), then any task waiting that the order lacks. `names` are the BPMN's
    (one language), `localised` the catalogue's `steps` ({en, ur}), which win."""
    here = {task.step for task in ready}
    shown = [Shown(step, name_of(step, names, localised, step), step in here, step in done)
             for step, escalation in order if not escalation or step in here or step in done]
    steps = dict(order)
    shown += [Shown(task.step, name_of(task.step, names, localised, task.name), True, False) for task in ready
              if task.step not in steps]
    return shown


def name_of(step: str, names: Mapping[str, str], localised: Mapping[str, Any], fallback: str) -> dict[str, str]:
    """A step's or an outcome's name in each language: the catalogue's text, else the BPMN's name in both."""
    text = localised.get(step)
    if text is not None:
        return {"en": str(text.en), "ur": str(text.ur)}
    plain = names.get(step, fallback)
    return {"en": plain, "ur": plain}
