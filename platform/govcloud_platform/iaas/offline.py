"""The offline plan: run the stacks' inline programs under `pulumi.runtime.set_mocks` (no CLI, no cloud),
record every registration, then run the CrossGuard policies' own `validate` on what was recorded.

Speed (measured, see benchmarks/bench_iaas_plan.py): registration costs ~1 ms per resource in the SDK.
Two things matter: the cyclic GC, which rescans the SDK's many live futures and made 1000 agencies
quadratic (we freeze the heap and raise the threshold while planning), and the SDK's capture of a stack
trace for every resource (source positions are meaningless under mocks, so we skip it). Each stack runs in
its own mocked session (fresh settings, the right stack name in URNs) in one process; with `workers > 1`
stacks are split across forked processes."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from govcloud_platform.iaas.plan import Plan, PlannedResource, Verdict
from govcloud_platform.spec import Spec

STACK_TYPE = "pulumi:pulumi:Stack"
STACK_REFERENCE = "pulumi:pulumi:StackReference"


class _Recorder:
    """Collects registrations and attributes each to its stack through its parent chain."""

    def __init__(self, session: str) -> None:
        self.session = session
        self.resources: list[PlannedResource] = []
        self._pending: dict[tuple[str, str], PlannedResource] = {}
        self._stack_of: dict[str, str] = {}  # session URN -> stack
        self.roots: dict[str, str] = {}  # root name -> stack

    def record(self, typ: str, name: str, inputs: dict[str, Any], custom: bool) -> None:
        res = PlannedResource("", typ, name, "", "", custom, _plain(inputs))
        self._pending[(typ, name)] = res
        self.resources.append(res)

    def resolve(self, typ: str, name: str, urn: str, parent: str) -> None:
        if typ == STACK_TYPE:  # set_mocks' own root stays unattributed: nothing is created under it
            self._stack_of[urn] = self.roots.get(name, self.session)
            return
        stack = self._stack_of.get(parent, self.session)
        self._stack_of[urn] = stack
        res = self._pending.pop((typ, name), None)
        if res is not None:
            res.stack, res.urn, res.parent = stack, self._real(urn, stack), self._real(parent, stack)

    def _real(self, urn: str, stack: str) -> str:
        """The URN the resource has in its own stack (the session shares one stack name)."""
        return urn.replace(f"urn:pulumi:{self.session}::", f"urn:pulumi:{stack}::", 1)


def _plain(value: Any) -> Any:
    """Inputs as JSON-able data (mocks hand back resource references and unknowns as objects)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _mocks(recorder: _Recorder) -> Any:
    import pulumi

    class RecordingMocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
            if args.typ == STACK_REFERENCE:
                name = str(args.inputs.get("name", args.name)).rsplit("/", 1)[-1]
                outputs = {k: f"{name}-{k}" for k in ("project_id", "network_id", "subnet_id", "keypair")}
                return f"{args.name}", {"name": args.inputs.get("name", args.name), "outputs": outputs}
            recorder.record(args.typ, args.name, args.inputs, bool(getattr(args, "custom", True)))
            return f"{args.name}-id", dict(args.inputs)

        def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
            name = args.args.get("name", "x")
            return {"id": f"{name}-id", "name": name}, []

    return RecordingMocks()


def _monitor(mocks: Any, recorder: _Recorder) -> Any:
    from pulumi.runtime.mocks import MockMonitor

    class RecordingMonitor(MockMonitor):
        def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
            response = super().RegisterResource(request)
            recorder.resolve(request.type, request.name, response.urn, request.parent)
            return response

    return RecordingMonitor(mocks)


_GC_HELD = [0]


@contextmanager
def _quiet_gc() -> Iterator[None]:
    """Hold the cyclic GC off a heap of millions of live SDK objects (it made planning quadratic).
    Re-entrant: only the outermost use collects, freezes and restores."""
    if _GC_HELD[0]:
        _GC_HELD[0] += 1
        try:
            yield
        finally:
            _GC_HELD[0] -= 1
        return
    saved_threshold = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(200_000, 50, 1000)
    _GC_HELD[0] = 1
    try:
        yield
    finally:
        _GC_HELD[0] = 0
        gc.set_threshold(*saved_threshold)
        gc.unfreeze()


@contextmanager
def _fast_sdk() -> Iterator[None]:
    """Skip per-resource stack traces and keep the cyclic GC off the SDK's live futures while planning."""
    import pulumi.runtime.resource as resource
    from pulumi.runtime.proto import source_pb2

    empty = source_pb2.StackTrace()
    saved_trace = resource._get_stack_trace
    resource._get_stack_trace = lambda: empty
    try:
        with _quiet_gc():
            yield
    finally:
        resource._get_stack_trace = saved_trace


SESSION = "offline-plan"


def record(project: str, stacks: Sequence[tuple[str, Callable[[], None]]]) -> list[PlannedResource]:
    """Run every (stack name, program) in one mocked session; return what they registered, in order.

    Each program gets its own synthetic root `pulumi:pulumi:Stack` (named like the real one), so URNs
    below it are those of a real run once the session's stack name is replaced by the program's."""
    import pulumi
    from pulumi.runtime import settings
    from pulumi.runtime.stack import Stack, run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    class StackRoot(Stack):
        def __init__(self, name: str) -> None:  # Stack.__init__ insists on a single root per process
            pulumi.ComponentResource.__init__(self, STACK_TYPE, name, None, None)
            self.outputs = {}
            self._async_program = None
            self._async_program_registration_closed = False
            self._outputs_registered = False

    recorder = _Recorder(SESSION)
    mocks = _mocks(recorder)

    def run_all() -> None:
        for stack, program in stacks:
            name = f"{project}-{stack}"
            recorder.roots[name] = stack
            root = StackRoot(name)
            settings.ROOT.set(root)
            try:
                program()
            finally:
                root._finish()

    with _fast_sdk():
        settings.ROOT.set(None)
        pulumi.runtime.set_mocks(mocks, project=project, stack=SESSION, preview=False,
                                 monitor=_monitor(mocks, recorder))
        settings.SETTINGS.rpc_manager.clear()
        settings.SETTINGS.outputs.clear()
        try:
            _sync_await(run_pulumi_func(run_all))
        finally:
            settings.ROOT.set(None)
    return recorder.resources


def _record_parallel(project: str, stacks: Sequence[tuple[str, Callable[[], None]]], workers: int,
                     ) -> list[PlannedResource]:
    """Split stacks over forked workers (programs are closures: fork, not spawn)."""
    import multiprocessing

    chunks = [list(range(i, len(stacks), workers)) for i in range(workers)]
    ctx = multiprocessing.get_context("fork")
    global _FORK_STACKS
    _FORK_STACKS = (project, stacks)
    try:
        with ctx.Pool(workers) as pool:
            parts = pool.map(_record_chunk, chunks)
    finally:
        _FORK_STACKS = None
    order = {name: i for i, (name, _) in enumerate(stacks)}
    merged = [r for part in parts for r in part]
    merged.sort(key=lambda r: order[r.stack])  # stable: keeps registration order within a stack
    return merged


_FORK_STACKS: tuple[str, Sequence[tuple[str, Callable[[], None]]]] | None = None


def _record_chunk(indexes: list[int]) -> list[PlannedResource]:
    assert _FORK_STACKS is not None
    project, stacks = _FORK_STACKS
    return record(project, [stacks[i] for i in indexes])


def _sink(verdicts: list[Verdict], policy: str, level: str, default: str) -> Callable[..., None]:
    """The `report_violation` callback of one policy on one resource (or stack)."""

    def report(message: str, urn: str | None = None) -> None:
        verdicts.append(Verdict(policy, level, urn or default, message))

    return report


def evaluate(resources: Sequence[PlannedResource], ctx: Any, scope: str = "all stacks") -> list[Verdict]:
    """Every policy of the pack, called through its own `validate(args, report)`."""
    from pulumi_policy import (
        PolicyCustomTimeouts,
        PolicyResource,
        PolicyResourceOptions,
        ResourceValidationArgs,
        ResourceValidationPolicy,
        StackValidationArgs,
    )

    from govcloud_policies import RULES, build_policies

    levels = {r.name: r.level for r in RULES}
    policies = build_policies(ctx)
    opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    verdicts: list[Verdict] = []
    custom = [r for r in resources if r.custom]
    args = [ResourceValidationArgs(r.type, r.inputs, r.urn, r.name, opts, None) for r in custom]
    for policy in policies:
        level = levels[policy.name]
        if isinstance(policy, ResourceValidationPolicy):
            for res, arg in zip(custom, args, strict=True):
                policy.validate(arg, _sink(verdicts, policy.name, level, res.urn))
        else:
            stack_args = StackValidationArgs(
                [PolicyResource(r.type, r.inputs, r.urn, r.name, opts, None, None, [], {}) for r in custom]
            )
            policy.validate(stack_args, _sink(verdicts, policy.name, level, scope))
    return verdicts


def plan(spec: Spec, agency: str | None = None, workers: int | None = None,
         extra: Sequence[tuple[str, Callable[[], None]]] = ()) -> Plan:
    """The offline plan of the spec (or of one agency's stacks)."""
    from govcloud_policies import PolicyContext
    from govcloud_stacks.programs import project_name, stack_defs

    defs = [(d.name, d.program) for d in stack_defs(spec, agency)] + list(extra)
    if workers is None:
        workers = min(os.cpu_count() or 1, 4) if len(defs) >= 200 else 1
    project = project_name(spec)
    with _quiet_gc():  # recording and the policies over every recorded resource share one huge heap
        if workers > 1:
            resources = _record_parallel(project, defs, workers)
        else:
            resources = record(project, defs)
        verdicts = evaluate(resources, PolicyContext.from_spec(spec))
    return Plan(resources=resources, violations=verdicts, stacks=[name for name, _ in defs])
