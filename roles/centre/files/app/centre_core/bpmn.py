"""Load a BPMN file safely into a SpiffWorkflow process spec, with what the centre needs to know of it.

Only a subset of BPMN is accepted, by an allow-list of elements checked before SpiffWorkflow sees the file:
lanes (desks), none start events, none/terminate end events, user/manual/none tasks, exclusive and parallel
gateways, sequence flows with conditions, interrupting or not timer boundary events with a duration, plus
documentation, annotations and the diagram. Everything that could run code or reach out (script, service,
business-rule, send/receive tasks, call activities, extension elements, data objects, message/signal events)
is refused at load with the element, its id and its line. Every condition and timer expression is parsed by
the restricted evaluator at load, so a file with `__import__(...)` in a condition never loads. The XML itself
is parsed without DTDs or entities (no billion laughs, no external entities) and within size bounds."""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser import BpmnParser, BpmnValidator
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import DurationTimerEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException

from . import expressions
from .errors import ExpressionError, ProcessError
from .timers import ClockedDurationTimer

MAX_BYTES = 512 * 1024
MAX_ELEMENTS = 5_000
CITIZEN_DESK = "citizen"  # the lane whose tasks the applicant does (e.g. provide a missing document)
DEFAULT_ACTION = "done"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_DIAGRAM_NS = {"http://www.omg.org/spec/BPMN/20100524/DI", "http://www.omg.org/spec/DD/20100524/DC",
               "http://www.omg.org/spec/DD/20100524/DI"}
_ALLOWED = {
    "definitions", "process", "collaboration", "participant", "laneSet", "lane", "childLaneSet", "flowNodeRef",
    "startEvent", "endEvent", "terminateEventDefinition", "userTask", "manualTask", "task", "exclusiveGateway",
    "parallelGateway", "boundaryEvent", "timerEventDefinition", "timeDuration", "sequenceFlow",
    "conditionExpression", "incoming", "outgoing", "documentation", "textAnnotation", "text", "association",
}
_USER_TASKS = {"userTask", "manualTask"}
_WHY = {
    "scriptTask": "script tasks would run code on the server; model the step as a user task",
    "serviceTask": "service tasks call out of the process; integrations go through the centre's API",
    "businessRuleTask": "business-rule (DMN) tasks are not supported yet",
    "callActivity": "call activities are not supported yet: keep the process in one file",
    "extensionElements": "extension elements (e.g. pre/post scripts) are not run by the centre",
    "timeDate": "only timer durations are supported (timeDuration), the deadline follows the SLA",
    "timeCycle": "only timer durations are supported (timeDuration)",
}
_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                              huge_tree=False, remove_comments=True, remove_pis=True)


@dataclass(frozen=True)
class Step:
    """A user task as the centre sees it: the desk (lane id) that does it and the actions it offers."""

    id: str
    name: str
    desk: str
    actions: tuple[str, ...]


@dataclass(frozen=True)
class Process:
    """A loaded process: its spec for SpiffWorkflow, the digest of the file it came from (its version) and
    the steps, desks and timer variables read from the XML."""

    process_id: str
    name: str
    digest: str
    spec: Any
    steps: dict[str, Step]
    desks: dict[str, str]  # lane id -> lane name
    timer_variables: frozenset[str]
    subprocess_specs: dict[str, Any] = field(default_factory=dict)


def load_process(xml: bytes, where: str) -> Process:
    """Check and parse one BPMN file (as bytes); ProcessError says which element and line is refused."""
    if len(xml) > MAX_BYTES:
        raise ProcessError(f"larger than {MAX_BYTES} bytes", where)
    if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:
        raise ProcessError("a DOCTYPE or ENTITY declaration is not allowed in a BPMN file", where)
    try:
        root = etree.fromstring(xml, _XML_PARSER)
    except etree.XMLSyntaxError as exc:
        raise ProcessError(f"line {exc.lineno}: not well-formed XML ({exc.msg})", where) from None
    process = _check_elements(root, where)
    _validate_schema(root, where)
    lanes, desks = _lanes(process, where)
    timer_variables = _check_expressions(process, where)
    steps = _steps(process, lanes, where)
    parser = BpmnParser()
    try:
        parser.add_bpmn_xml(etree.ElementTree(root), filename=where)
        spec = parser.get_spec(process.get("id"))
    except ValidationException as exc:
        line = f"line {exc.line_number}: " if getattr(exc, "line_number", "") else ""
        raise ProcessError(f"{line}{exc} (element {getattr(exc, 'id', '')!r})", where) from None
    except SpiffWorkflowException as exc:
        raise ProcessError(f"not a process the engine can run: {exc}", where) from None
    _clock_timers(spec)
    return Process(process_id=str(process.get("id")), name=str(process.get("name") or process.get("id")),
                   digest=hashlib.sha256(xml).hexdigest(), spec=spec, steps=steps, desks=desks,
                   timer_variables=frozenset(timer_variables))


def _local(el: Any) -> tuple[str, str]:
    q = etree.QName(el)
    return q.namespace or "", q.localname


def _check_elements(root: Any, where: str) -> Any:
    """The allow-list, before anything else reads the tree; returns the one executable process."""
    ns, name = _local(root)
    if (ns, name) != (BPMN_NS, "definitions"):
        raise ProcessError("the root element must be bpmn:definitions", where)
    count = 0
    for el in root.iter():
        count += 1
        if count > MAX_ELEMENTS:
            raise ProcessError(f"more than {MAX_ELEMENTS} elements", where)
        ns, name = _local(el)
        if ns in _DIAGRAM_NS:
            continue
        if ns != BPMN_NS or name not in _ALLOWED:
            why = _WHY.get(name, "the centre supports user tasks, gateways, lanes and timer boundary events only")
            raise ProcessError(f"line {el.sourceline}: <{name}> (id {el.get('id')!r}) is refused: {why}", where)
        if name == "boundaryEvent" and el.find(f"{{{BPMN_NS}}}timerEventDefinition") is None:
            raise ProcessError(f"line {el.sourceline}: boundary event {el.get('id')!r} must be a timer", where)
        if name == "timerEventDefinition" and el.find(f"{{{BPMN_NS}}}timeDuration") is None:
            raise ProcessError(f"line {el.sourceline}: timer {el.get('id')!r} needs a timeDuration", where)
        if name in ("startEvent",) and len(el.xpath("bpmn:*[contains(local-name(), 'EventDefinition')]",
                                                     namespaces={"bpmn": BPMN_NS})):
            raise ProcessError(f"line {el.sourceline}: start event {el.get('id')!r} must be a plain start", where)
    processes = root.findall(f"{{{BPMN_NS}}}process")
    if len(processes) != 1 or not processes[0].get("id"):
        raise ProcessError("a BPMN file must hold exactly one process, with an id", where)
    return processes[0]


@lru_cache(maxsize=1)
def _validator() -> BpmnValidator:
    return BpmnValidator()


def _validate_schema(root: Any, where: str) -> None:
    try:
        _validator().validate(etree.ElementTree(root), where)
    except ValidationException as exc:
        raise ProcessError(f"line {getattr(exc, 'line_number', '?')}: not valid BPMN 2.0 ({exc})", where) from None


def _lanes(process: Any, where: str) -> tuple[dict[str, str], dict[str, str]]:
    """Node id -> lane id (the innermost lane wins) and lane id -> name."""
    lanes: dict[str, str] = {}
    desks: dict[str, str] = {}
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):
        lane_id = lane.get("id") or ""
        if not lane_id.replace("_", "").isalnum() or not lane_id.isascii():
            raise ProcessError(f"line {lane.sourceline}: lane id {lane_id!r} must be letters, digits and _", where)
        desks[lane_id] = lane.get("name") or lane_id
        for ref in lane.findall(f"{{{BPMN_NS}}}flowNodeRef"):
            lanes[(ref.text or "").strip()] = lane_id
    return lanes, desks


def _check_expressions(process: Any, where: str) -> set[str]:
    """Every condition and timer through the restricted parser; returns the variables timers read."""
    timer_variables: set[str] = set()
    for tag in ("conditionExpression", "timeDuration"):
        for el in process.iter(f"{{{BPMN_NS}}}{tag}"):
            text = (el.text or "").strip()
            try:
                used = expressions.names(text)
            except ExpressionError as exc:
                raise ExpressionError(f"line {el.sourceline}: {exc.message}", where) from None
            if tag == "timeDuration":
                timer_variables |= used
    return timer_variables


def _steps(process: Any, lanes: dict[str, str], where: str) -> dict[str, Step]:
    flows = [(f.get("sourceRef"), f.get("targetRef"), f) for f in process.iter(f"{{{BPMN_NS}}}sequenceFlow")]
    kinds = {el.get("id"): _local(el)[1] for el in process}
    steps: dict[str, Step] = {}
    for el in process:
        if _local(el)[1] not in _USER_TASKS:
            continue
        task_id = str(el.get("id"))
        if task_id not in lanes:
            raise ProcessError(f"line {el.sourceline}: task {task_id!r} is in no lane: put it in its desk's lane",
                               where)
        actions: list[str] = []
        for source, target, _ in flows:
            if source == task_id and kinds.get(target) == "exclusiveGateway":
                actions += [a for s, _, f in flows if s == target and (a := _decision(f)) and a not in actions]
        steps[task_id] = Step(task_id, str(el.get("name") or task_id), lanes[task_id],
                              tuple(actions) or (DEFAULT_ACTION,))
    return steps


def _decision(flow: Any) -> str | None:
    """`decision == "accept"` on a gateway's outgoing flow makes "accept" an action of the task before it."""
    cond = flow.find(f"{{{BPMN_NS}}}conditionExpression")
    if cond is None:
        return None
    node = ast.parse((cond.text or "").strip(), mode="eval").body
    if (isinstance(node, ast.Compare) and isinstance(node.left, ast.Name) and node.left.id == "decision"
            and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq)
            and isinstance(node.comparators[0], ast.Constant) and isinstance(node.comparators[0].value, str)):
        return node.comparators[0].value
    return None


def _clock_timers(spec: Any) -> None:
    """SpiffWorkflow's duration timers read the wall clock; ours read the time the caller passes in."""
    for task_spec in spec.task_specs.values():
        definition: Any = getattr(task_spec, "event_definition", None)
        if type(definition) is DurationTimerEventDefinition:
            task_spec.event_definition = ClockedDurationTimer(
                definition.name, definition.expression, description=definition.description)
