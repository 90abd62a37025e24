"""The offline plan: run the stacks' inline programs under `pulumi.runtime.set_mocks` (no CLI, no cloud),
record every registration, then run the CrossGuard policies' own `validate` on what was recorded.

Speed (measured, see benchmarks/bench_iaas_plan.py): registration costs ~0.8 ms of CPU per resource in the
SDK's asyncio machinery. What we cut around it: the SDK sends every monitor call through the loop's default
thread pool (a thread hop and extra loop turns per resource; we call the monitor inline, and our monitor
never pumps the loop); each stack runs and drains alone (its outputs and futures die with it, instead of a
heap of every stack's live futures, and its registration order depends on no other stack); the drain waits
for all pending outputs at once (the SDK's wait is quadratic in them); a drained stack's resource objects
are emptied, so reference counting frees its outputs (not the cyclic GC, which is held off the frozen heap);
work meaningless under mocks (stack traces, mock URNs, debug messages) is skipped, and a resource's
properties are made the way the SDK makes its `urn` (one future each, not four and a task). All stacks
share one mocked session (each under its own root, URNs rewritten to its stack); with enough stacks they
are split over forked workers, and the merged result is identical to the sequential one."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from govcloud_platform.iaas.plan import Plan, PlannedResource, Verdict
from govcloud_platform.iaas.sdk_patches import (
    collect_resources,
    drain,
    fast_sdk,
    finish,
    inline_executor,
    quiet_gc,
    release,
)
from govcloud_platform.spec import Spec

_T = TypeVar("_T")
_R = TypeVar("_R")

STACK_TYPE = "pulumi:pulumi:Stack"
STACK_REFERENCE = "pulumi:pulumi:StackReference"
# What app stacks read from their agency's stack (openstack: project, network; ec2: the VPC).
REFERENCED_OUTPUTS = ("project_id", "network_id", "subnet_id", "keypair", "vpc_id")


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
                outputs = {k: f"{name}-{k}" for k in REFERENCED_OUTPUTS}
                return f"{args.name}", {"name": args.inputs.get("name", args.name), "outputs": outputs}
            recorder.record(args.typ, args.name, args.inputs, bool(getattr(args, "custom", True)))
            return f"{args.name}-id", args.inputs  # outputs are the inputs (the monitor reuses their wire form)

        def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
            name = args.args.get("name", "x")
            return {"id": f"{name}-id", "name": name}, []

    return RecordingMocks()


SESSION = "offline-plan"


def _monitor(mocks: Any, recorder: _Recorder) -> Any:
    """The SDK's MockMonitor, minus its event-loop round trips: the SDK calls the monitor through
    `run_in_executor`, which `inline_executor` makes a direct call on the loop's thread, so the monitor must
    not pump the loop itself (MockMonitor's `_sync_await` would re-enter it)."""
    from pulumi.runtime import rpc
    from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, _resolve_callbacks
    from pulumi.runtime.proto import provider_pb2, resource_pb2

    class RecordingMonitor(MockMonitor):
        def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
            urn = self.make_urn(request.parent, request.type, request.name)
            if request.type == STACK_TYPE:
                recorder.resolve(request.type, request.name, urn, request.parent)
                return resource_pb2.RegisterResourceResponse(urn=urn)
            inputs = rpc.deserialize_properties(request.object)
            args = MockResourceArgs(typ=request.type, name=request.name, inputs=inputs,
                                    provider=request.provider, resource_id=request.importId,
                                    custom=request.custom or False,
                                    transforms=_resolve_callbacks(request.transforms) if request.transforms else None)
            mock_id, state = self.mocks.new_resource(args)
            id_ = mock_id or ""
            recorder.resolve(request.type, request.name, urn, request.parent)
            # outputs that are the inputs are answered with the request's own serialized form
            obj = request.object if state is inputs else finish(rpc.serialize_properties(state, {}))
            self.resources[urn] = MockMonitor.ResourceRegistration(urn, id_, state)
            return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=obj)

        def ReadResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
            urn = self.make_urn(request.parent, request.type, request.name)
            inputs = rpc.deserialize_properties(request.properties)
            args = MockResourceArgs(typ=request.type, name=request.name, inputs=inputs,
                                    provider=request.provider, resource_id=request.id)
            mock_id, state = self.mocks.new_resource(args)
            recorder.resolve(request.type, request.name, urn, request.parent)
            obj = request.properties if state is inputs else finish(rpc.serialize_properties(state, {}))
            self.resources[urn] = MockMonitor.ResourceRegistration(urn, mock_id or "", state)
            return resource_pb2.ReadResourceResponse(urn=urn, properties=obj)

        def Invoke(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
            args = rpc.deserialize_properties(request.args)
            if request.tok == "pulumi:pulumi:getResource":
                reg = self.resources.get(args["urn"])
                if reg is None:
                    raise Exception(f"unknown resource {args['urn']}")
                ret = reg._asdict()
                failures = None
            else:
                ret, raw = self.mocks.call(MockCallArgs(token=request.tok, args=args, provider=request.provider))
                failures = [provider_pb2.CheckFailure(property=p, reason=r) for p, r in raw or []]
            return resource_pb2.ResourceInvokeResponse(failures=failures,
                                                       **{"return": finish(rpc.serialize_properties(ret, {}))})

    return RecordingMonitor(mocks)


def record(project: str, stacks: Sequence[tuple[str, Callable[[], None]]]) -> list[PlannedResource]:
    """Run every (stack name, program) in one mocked session; return what they registered, in order.

    Each program gets its own synthetic root `pulumi:pulumi:Stack` (named like the real one), so URNs
    below it are those of a real run once the session's stack name is replaced by the program's."""
    import pulumi
    from pulumi.runtime import settings
    from pulumi.runtime.stack import Stack, run_pulumi_func
    from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

    class StackRoot(Stack):
        def __init__(self, name: str) -> None:  # Stack.__init__ insists on a single root per process
            pulumi.ComponentResource.__init__(self, STACK_TYPE, name, None, None)
            self.outputs = {}
            self._async_program = None
            self._async_program_registration_closed = False
            self._outputs_registered = False

    recorder = _Recorder(SESSION)
    mocks = _mocks(recorder)

    async def run_all() -> None:
        for stack, program in stacks:
            name = f"{project}-{stack}"
            recorder.roots[name] = stack
            settings.ROOT.set(None)  # a root of its own, not a child of the previous stack's root
            root = StackRoot(name)
            settings.ROOT.set(root)
            try:
                program()
            finally:
                root._finish()
            await drain()  # one stack at a time: its registration order owes nothing to the others
            release(created)

    created: list[Any] = []
    with fast_sdk(), inline_executor(_ensure_event_loop()), collect_resources(created):
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
    """Split stacks over forked workers (programs are closures: fork, not spawn). This process records the
    first stack before forking, which imports the provider SDK's modules once for all, then takes a share.

    A worker that has not answered `CHILD_GRACE_S` plus three times this process's own share after is
    killed and its share recorded here (a worker is a copy of a process that may hold threads and locks):
    a plan is never left hanging."""
    import multiprocessing
    import time

    first = record(project, stacks[:1])
    rest = list(range(1, len(stacks)))
    chunks = [rest[i::workers] for i in range(workers)]
    ctx = multiprocessing.get_context("fork")
    global _FORK_STACKS
    _FORK_STACKS = (project, stacks)
    spawned: list[tuple[list[int], Any, Any]] = []
    try:
        for chunk in chunks[1:]:
            receive, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_worker, args=(chunk, send), daemon=True)
            proc.start()
            send.close()
            spawned.append((chunk, proc, receive))
        began = time.monotonic()
        own = _record_chunk(chunks[0])
        deadline = time.monotonic() + CHILD_GRACE_S + 3 * (time.monotonic() - began)
        others = [_answer(chunk, receive, deadline) for chunk, _, receive in spawned]
    finally:
        _FORK_STACKS = None
        for _, proc, receive in spawned:
            receive.close()
            if proc.is_alive():
                proc.kill()
            proc.join()
    order = {name: i for i, (name, _) in enumerate(stacks)}
    merged = [r for part in (first, own, *others) for r in part]
    merged.sort(key=lambda r: order[r.stack])  # stable: keeps registration order within a stack
    return merged


CHILD_GRACE_S = 60.0


def _worker(chunk: list[int], send: Any) -> None:
    """A forked worker: the parent's event loop shares its epoll and self-pipe with the parent (and every
    sibling), so it records on a loop of its own, and sends its share back."""
    import asyncio

    asyncio.set_event_loop(asyncio.new_event_loop())
    send.send(_record_chunk(chunk))
    send.close()


def _answer(chunk: list[int], receive: Any, deadline: float) -> list[PlannedResource]:
    """A worker's share, or, from a worker dead or silent past the deadline, the share recorded here."""
    import time

    try:
        if receive.poll(max(0.0, deadline - time.monotonic())):
            answer: list[PlannedResource] = receive.recv()
            return answer
    except (EOFError, OSError):
        pass
    return _record_chunk(chunk)


PARALLEL_MIN_STACKS = 64  # below this, forking workers does not pay (small specs stay in-process)

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
    from govcloud_stacks.naming import project_name
    from govcloud_stacks.programs import stack_defs

    defs = [(d.name, d.program) for d in stack_defs(spec, agency)] + list(extra)
    if workers is None:
        workers = min(os.cpu_count() or 1, 4) if len(defs) >= PARALLEL_MIN_STACKS else 1
    project = project_name(spec)
    with quiet_gc():  # recording and the policies over every recorded resource share one huge heap
        if workers > 1:
            resources = _record_parallel(project, defs, workers)
        else:
            resources = record(project, defs)
        verdicts = evaluate(resources, PolicyContext.from_spec(spec))
    return Plan(resources=resources, violations=verdicts, stacks=[name for name, _ in defs])
