"""Run a process: start it, list what is waiting at which desk, act on a task, let time pass, save and restore.

The script engine given to SpiffWorkflow never runs Python: expressions go to the restricted evaluator and
scripts (which `bpmn.load_process` refuses anyway) raise, so that even a workflow state tampered with in the
database cannot run code when restored. A workflow keeps the spec it started with: SpiffWorkflow's serializer
stores the spec inside the state, and the centre's view of it (desks, actions) is stored in the workflow's
own data at start (`centre`), so a later version of the BPMN file changes only new applications."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from functools import lru_cache
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.config import DEFAULT_CONFIG
from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.specs.event_definitions.simple import TerminateEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.util.task import TaskState

from . import expressions
from .bpmn import CITIZEN_DESK, Process
from .errors import ActionError, ExpressionError, NotFound, ProcessError
from .timers import ClockedDurationTimer

MAX_STATE_BYTES = 4 * 1024 * 1024
MAX_FIELDS = 20
MAX_FIELD_CHARS = 2000
_FIELD = re.compile(r"[a-z][a-z0-9_]{0,39}")
RESERVED = frozenset({"decision", "centre"})


class SafeEnvironment(BasePythonScriptEngineEnvironment):
    """Expressions through the restricted evaluator; no scripts, no services."""

    def evaluate(self, expression: str, context: Mapping[str, Any], external_context: Any = None) -> Any:
        data = dict(context)
        if isinstance(external_context, Mapping):
            data.update(external_context)
        return expressions.evaluate(expression, data)

    def execute(self, script: str, context: Any, external_context: Any = None) -> Any:
        raise ProcessError("script tasks are never run by the centre")

    def call_service(self, context: Any, **kwargs: Any) -> Any:
        raise ProcessError("service tasks are never run by the centre")


class SafeScriptEngine(PythonScriptEngine):
    """The engine of every workflow the centre runs; `now` is the time of the operation, passed in."""

    def __init__(self, now: datetime, holidays: Iterable[date] = (), zone: tzinfo | None = None) -> None:
        super().__init__(environment=SafeEnvironment())
        if now.tzinfo is None:
            raise ProcessError("the time given to a workflow must be timezone-aware")
        self.now = now
        self.holidays = tuple(holidays)
        self.zone = zone  # working days are counted in the agency's time zone (None: the time's own)

    def validate(self, expression: str) -> None:
        expressions.parse(expression)

    def evaluate(self, task: Any, expression: str, external_context: Any = None) -> Any:
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except ExpressionError as exc:
            raise ExpressionError(exc.message, f"step {task.task_spec.name}") from None

    def execute(self, task: Any, script: str, external_context: Any = None) -> Any:
        raise ProcessError("script tasks are never run by the centre", f"step {task.task_spec.name}")

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        raise ProcessError("service tasks are never run by the centre", f"step {task.task_spec.name}")


@lru_cache(maxsize=1)
def serializer() -> BpmnWorkflowSerializer:
    config = dict(DEFAULT_CONFIG)
    config[ClockedDurationTimer] = TimerConditionalEventDefinitionConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


@dataclass(frozen=True)
class TaskView:
    """A task waiting for someone: its id (stable across save/restore), step, desk and allowed actions."""

    id: str
    step: str
    name: str
    desk: str
    actions: tuple[str, ...]


@dataclass(frozen=True)
class Status:
    finished: bool
    outcome: str | None  # the end event reached (e.g. "issued", "rejected")
    ready: tuple[TaskView, ...]
    timers: tuple[tuple[str, str], ...]  # (boundary event, due time ISO) of armed timers


def start(process: Process, variables: Mapping[str, Any], now: datetime,
          holidays: Iterable[date] = (), zone: tzinfo | None = None) -> BpmnWorkflow:
    """A new workflow of `process`, its first steps run, with `variables` (answers, SLA days) as data."""
    workflow = BpmnWorkflow(process.spec, process.subprocess_specs, script_engine=SafeScriptEngine(now, holidays, zone))
    workflow.data["centre"] = {
        "process": process.process_id, "digest": process.digest,
        "steps": {s.id: {"name": s.name, "desk": s.desk, "actions": list(s.actions)} for s in process.steps.values()},
    }
    first = workflow.get_tasks(state=TaskState.READY)
    for task in first:
        task.data.update(_checked_fields(variables, allow_numbers=True))
    workflow.do_engine_steps()
    return workflow


def status(workflow: BpmnWorkflow) -> Status:
    steps = workflow.data.get("centre", {}).get("steps", {})
    ready = []
    for task in workflow.get_tasks(state=TaskState.READY, manual=True):
        step = steps.get(task.task_spec.bpmn_id)
        if step is not None:
            ready.append(TaskView(str(task.id), task.task_spec.bpmn_id, step["name"], step["desk"],
                                  tuple(step["actions"])))
    timers = tuple((t.task_spec.bpmn_id, str(t._get_internal_data("event_value")))
                   for t in workflow.get_tasks(state=TaskState.WAITING)
                   if isinstance(getattr(t.task_spec, "event_definition", None), ClockedDurationTimer))
    return Status(workflow.is_completed(), _outcome(workflow) if workflow.is_completed() else None,
                  tuple(ready), timers)


def act(workflow: BpmnWorkflow, task_id: str, action: str, desk: str, fields: Mapping[str, Any],
        now: datetime, holidays: Iterable[date] = (), zone: tzinfo | None = None) -> BpmnWorkflow:
    """Complete a ready task of `desk` with one of its actions; `fields` (comment, reason...) go to its data."""
    workflow.script_engine = SafeScriptEngine(now, holidays, zone)
    view = next((t for t in status(workflow).ready if t.id == task_id), None)
    if view is None:
        raise NotFound("no such task waiting in this application")
    if view.desk != desk:
        who = "the applicant" if view.desk == CITIZEN_DESK else f"desk {view.desk!r}"
        raise ActionError(f"this task is for {who}")
    if action not in view.actions:
        raise ActionError(f"action {action!r} is not one of {', '.join(view.actions)}")
    task = next(t for t in workflow.get_tasks(state=TaskState.READY, manual=True) if str(t.id) == task_id)
    task.data.update(_checked_fields(fields))
    task.data["decision"] = action
    task.run()
    workflow.do_engine_steps()
    return workflow


def advance(workflow: BpmnWorkflow, now: datetime, holidays: Iterable[date] = (),
            zone: tzinfo | None = None) -> BpmnWorkflow:
    """Let time pass to `now`: timers due by then fire (an SLA escalation moves the task to its supervisor)."""
    workflow.script_engine = SafeScriptEngine(now, holidays, zone)
    workflow.refresh_timers()
    workflow.do_engine_steps()
    return workflow


def forget(workflow: BpmnWorkflow, names: Iterable[str]) -> BpmnWorkflow:
    """Remove the variables `names` (a closed application's answers, at the end of its retention) from the data of
    every task and of the workflow, so the stored state no longer holds them; the rest (the centre's view of the
    process, the decisions, the SLA days) stays, so the state is still restored and its status read."""
    gone = set(names) - {"centre"}
    for task in workflow.get_tasks():
        for name in gone:
            task.data.pop(name, None)
    for name in gone:
        workflow.data.pop(name, None)
    return workflow


def dump(workflow: BpmnWorkflow) -> str:
    return str(serializer().serialize_json(workflow))


def restore(state: str, now: datetime, holidays: Iterable[date] = (), zone: tzinfo | None = None) -> BpmnWorkflow:
    """A saved workflow, with the centre's engine (never SpiffWorkflow's default one)."""
    if len(state) > MAX_STATE_BYTES:
        raise ProcessError(f"workflow state larger than {MAX_STATE_BYTES} bytes")
    workflow = serializer().deserialize_json(state)
    workflow.script_engine = SafeScriptEngine(now, holidays, zone)
    return workflow


def _outcome(workflow: BpmnWorkflow) -> str | None:
    ends = [t for t in workflow.get_tasks(state=TaskState.COMPLETED) if isinstance(t.task_spec, EndEvent)]
    terminating = [t for t in ends if isinstance(t.task_spec.event_definition, TerminateEventDefinition)]
    chosen = (terminating or ends)[-1:] if ends else []
    return str(chosen[0].task_spec.bpmn_id) if chosen else None


def _checked_fields(fields: Mapping[str, Any], allow_numbers: bool = False) -> dict[str, Any]:
    """Data that enters a workflow: few, short, plain values under simple names (never `decision`)."""
    if len(fields) > MAX_FIELDS * (5 if allow_numbers else 1):
        raise ActionError(f"more than {MAX_FIELDS} fields")
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if not isinstance(key, str) or not _FIELD.fullmatch(key) or key in RESERVED:
            raise ActionError(f"field name {key!r} is not allowed (lowercase letters, digits, _)")
        if isinstance(value, str):
            if len(value) > MAX_FIELD_CHARS:
                raise ActionError(f"field {key!r} is longer than {MAX_FIELD_CHARS} characters")
        elif not (value is None or isinstance(value, bool) or (allow_numbers and isinstance(value, int | float))):
            raise ActionError(f"field {key!r} must be text")
        out[key] = value
    return out
