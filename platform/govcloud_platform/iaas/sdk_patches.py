"""Patches of the Pulumi SDK's internals for the offline plan (iaas/offline.py), applied only for the duration
of a plan and restored afterwards. Whoever upgrades pulumi looks here first: each patch names the SDK function
it replaces and why; tests/unit/test_iaas_plan.py (output equality, sequential vs forked) and the component
tests catch an SDK whose internals moved."""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

_T = TypeVar("_T")
_R = TypeVar("_R")


def finish(coro: Any) -> Any:
    """Run a coroutine that never waits (serializing plain values) to its end, without an event loop."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("offline plan: a mock's result holds a value that must be awaited")


@contextmanager
def inline_executor(loop: Any) -> Iterator[None]:
    """Make the loop's `run_in_executor` call the function at once (the SDK sends every monitor call through
    the default thread pool; under mocks that is a thread hop and several loop turns per resource)."""

    def run_inline(executor: Any, func: Callable[..., Any], *args: Any) -> Any:
        fut = loop.create_future()
        try:
            fut.set_result(func(*args))
        except Exception as exn:  # noqa: BLE001 - handed to the awaiting SDK code, as the pool would
            fut.set_exception(exn)
        return fut

    loop.run_in_executor = run_inline
    try:
        yield
    finally:
        del loop.run_in_executor


_GC_HELD = [0]


@contextmanager
def quiet_gc() -> Iterator[None]:
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


def _contains_unknowns_fn() -> Callable[..., bool]:
    """`pulumi.runtime.rpc.contains_unknowns` without its recursive closure made on every call (a reference
    cycle, four objects for the cyclic GC to free, several times per resource); plain values first."""
    from pulumi.output import Unknown

    def contains_unknowns(val: Any, seen: set[int] | None = None) -> bool:
        if not isinstance(val, dict | list):
            return isinstance(val, Unknown)
        if seen is None:
            seen = set()
        if id(val) in seen:
            return False
        seen.add(id(val))
        items = val.values() if isinstance(val, dict) else val
        return any(contains_unknowns(v, seen) for v in items)

    return contains_unknowns


def _plain_create_urn(original: Callable[..., Any]) -> Callable[..., Any]:
    """`create_urn` for plain strings builds its URN at once; the SDK chains three outputs through the loop
    for it on every registration (where it only serves a run without monitor)."""
    from pulumi import Output
    from pulumi.runtime import settings

    def create_urn(name: Any, type_: Any, parent: Any = None, project: str | None = None,
                   stack: str | None = None) -> Any:
        if not (isinstance(name, str) and isinstance(type_, str) and (parent is None or isinstance(parent, str))):
            return original(name, type_, parent, project, stack)
        if parent is None:
            prefix = f"urn:pulumi:{stack or settings.get_stack()}::{project or settings.get_project()}::"
        else:
            prefix = parent[: parent.rfind("::")] + "$"
        return Output.from_input(f"{prefix}{type_}::{name}")

    return create_urn


def _transfer_properties(res: Any, props: Any, custom: bool) -> dict[str, Any]:
    """`pulumi.runtime.rpc.transfer_properties` the way the SDK's own `resource_output` makes a resource's
    `urn` and `id`: one future of the output's data per property, where the SDK makes four futures and a task
    that gathers them (providers declare every output property, so this is ~40 per instance)."""
    import asyncio

    from pulumi.output import Output, _OutputData

    def resolve(r: Any, fut: asyncio.Future[Any], value: Any, is_known: bool, is_secret: bool, deps: Any,
                failed: Exception | None) -> None:
        if failed is not None:
            fut.set_exception(failed)
            return
        resources = set(deps) if deps else set()
        resources.add(r)
        fut.set_result(_OutputData(resources=resources, value=value, is_known=is_known, is_secret=is_secret))

    resolvers: dict[str, Any] = {}
    for name in props:
        if name == "urn" or (name == "id" and custom):
            continue  # handled by the SDK itself
        fut: asyncio.Future[Any] = asyncio.Future()
        resolvers[name] = functools.partial(resolve, res, fut)
        res.__dict__[name] = Output._from_data(fut)
    return resolvers


def _memo(fn: Callable[[_T], _R]) -> Callable[[_T], _R]:
    """Cache a pure function of a type annotation (the SDK unwraps the same few annotations for every
    property of every resource)."""
    cache: dict[_T, _R] = {}

    def cached(typ: _T) -> _R:
        try:
            return cache[typ]
        except KeyError:
            cache[typ] = out = fn(typ)
            return out
        except TypeError:  # unhashable annotation
            return fn(typ)

    return cached


@contextmanager
def fast_sdk() -> Iterator[None]:
    """Skip the SDK's work that means nothing under mocks (stack traces, a mock URN per resource, debug
    messages nobody logs), its cyclic garbage and repeated type unwrapping; keep the cyclic GC off the
    heap while planning."""
    import logging

    import pulumi._types as types
    import pulumi.runtime.resource as resource
    from pulumi import log
    from pulumi.runtime import rpc
    from pulumi.runtime.proto import source_pb2

    empty = source_pb2.StackTrace()
    saved = (resource._get_stack_trace, rpc.contains_unknowns, resource.create_urn, types.unwrap_type,
             types.unwrap_optional_type, log.debug, rpc.transfer_properties)
    resource._get_stack_trace = lambda: empty
    rpc.contains_unknowns = _contains_unknowns_fn()
    resource.create_urn = _plain_create_urn(resource.create_urn)
    rpc.transfer_properties = _transfer_properties
    for fn in ("unwrap_type", "unwrap_optional_type"):
        setattr(types, fn, _memo(getattr(types, fn)))
    if not logging.getLogger().isEnabledFor(logging.DEBUG):  # where the mock engine sends SDK debug messages
        log.debug = lambda *args, **kwargs: None
    try:
        with quiet_gc():
            yield
    finally:
        (resource._get_stack_trace, rpc.contains_unknowns, resource.create_urn, types.unwrap_type,
         types.unwrap_optional_type, log.debug, rpc.transfer_properties) = saved




@contextmanager
def collect_resources(created: list[Any]) -> Iterator[None]:
    """Note every resource object the programs construct (`release` frees them after their stack)."""
    import pulumi.resource as resource_module

    register = resource_module.register_resource

    def noting(res: Any, *args: Any, **kwargs: Any) -> Any:
        created.append(res)
        return register(res, *args, **kwargs)

    resource_module.register_resource = noting
    try:
        yield
    finally:
        resource_module.register_resource = register


def release(created: list[Any]) -> None:
    """Once a stack has drained, what it registered is recorded as plain data: empty its resource objects,
    which breaks the resource <-> output reference cycles, so reference counting frees the stack's outputs,
    tasks and futures at once instead of leaving ~80 objects per resource to the cyclic GC."""
    for res in created:
        res.__dict__.clear()
    created.clear()


async def drain() -> None:
    """The SDK's `wait_for_rpcs`, but waiting for all pending outputs at once: the SDK waits for the first of
    them to finish, again and again, which is quadratic in the number of outputs."""
    import asyncio

    from pulumi.runtime.settings import SETTINGS
    from pulumi.runtime.stack import wait_for_rpcs

    while True:
        await wait_for_rpcs(await_all_outstanding_tasks=False)
        pending = list(SETTINGS.outputs)  # finished outputs leave the set, failed ones stay
        if not pending:
            return
        await asyncio.wait(pending)
        for task in pending:
            if task.cancelled() or task.exception() is not None:
                SETTINGS.outputs.discard(task)
                await task  # re-raises, as wait_for_rpcs does
