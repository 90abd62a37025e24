"""Read a YAML or JSON file into plain data within fixed bounds, so that a hostile catalogue cannot hang or
exhaust the server: a size limit before parsing, then libyaml's event stream (iterative, no recursion) composed
here with a depth and node budget. Anchors, aliases and tags are refused outright (a catalogue needs none, and
aliases are how a few hundred bytes become 10^9 nodes). Plain scalars follow YAML 1.2's core schema (`yes`/`no`
stay strings). JSON goes through `json` after the same size limit, and its depth is checked without recursion."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from .errors import CatalogueError

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 16
MAX_NODES = 50_000
_INT = re.compile(r"[-+]?[0-9]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NULLS = {"", "~", "null", "Null", "NULL"}
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_text(path: Path, limit: int = MAX_BYTES) -> str:
    """The file's text, refused when larger than `limit` bytes (read no further than that)."""
    try:
        with path.open("rb") as f:
            raw = f.read(limit + 1)
    except OSError as exc:
        raise CatalogueError(f"cannot read the file ({exc.strerror})", str(path)) from None
    if len(raw) > limit:
        raise CatalogueError(f"larger than {limit} bytes: split it or remove what is not needed", str(path))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogueError(f"not UTF-8 text (byte {exc.start}): save it as UTF-8", str(path)) from None


def load(text: str, where: str, *, json_format: bool = False) -> Any:
    """Plain data (dict, list, str, int, float, bool, None) from YAML or JSON text."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise CatalogueError(f"larger than {MAX_BYTES} bytes", where)
    if json_format:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise CatalogueError(f"not valid JSON ({str(exc)[:120]})", where) from None
        _check_depth(data, where)
        return data
    return _compose(text, where)


def _check_depth(data: Any, where: str) -> None:
    stack: list[tuple[Any, int]] = [(data, 1)]
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if depth > MAX_DEPTH or count > MAX_NODES:
            raise CatalogueError(f"nested deeper than {MAX_DEPTH} levels or more than {MAX_NODES} values", where)
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children)


def _scalar(event: Any) -> Any:
    value: str = event.value
    if event.style or not event.implicit[0]:  # quoted or block scalars are always strings
        return value
    if value in _NULLS:
        return None
    if value in _BOOLS:
        return _BOOLS[value]
    if _INT.fullmatch(value):
        return int(value)
    if _FLOAT.fullmatch(value):
        return float(value)
    return value


def _compose(text: str, where: str) -> Any:
    """One pass over the events; containers on an explicit stack, every bound checked as events arrive."""
    stack: list[list[Any]] = []  # [container, pending key or _NO_KEY]
    root: Any = None
    nodes = 0
    done = False
    try:
        for event in yaml.parse(text, Loader=_SAFE_LOADER):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise CatalogueError(f"line {_line(event)}: anchors and aliases (& and *) are not allowed", where)
            tag = getattr(event, "tag", None)
            if tag not in (None, "!"):
                raise CatalogueError(f"line {_line(event)}: tags ({tag}) are not allowed", where)
            if isinstance(event, yaml.DocumentStartEvent) and done:
                raise CatalogueError("more than one document: keep one catalogue per file", where)
            if isinstance(event, yaml.ScalarEvent | yaml.CollectionStartEvent):
                nodes += 1
                if nodes > MAX_NODES:
                    raise CatalogueError(f"more than {MAX_NODES} values", where)
            if isinstance(event, yaml.CollectionStartEvent):
                if len(stack) >= MAX_DEPTH:
                    raise CatalogueError(f"line {_line(event)}: nested deeper than {MAX_DEPTH} levels", where)
                stack.append([{} if isinstance(event, yaml.MappingStartEvent) else [], _NO_KEY, _line(event)])
            elif isinstance(event, yaml.ScalarEvent):
                root = _add(stack, _scalar(event), event, where, root)
            elif isinstance(event, yaml.CollectionEndEvent):
                container = stack.pop()[0]
                root = _add(stack, container, event, where, root)
            elif isinstance(event, yaml.DocumentEndEvent):
                done = True
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark is not None else ""
        raise CatalogueError(f"{line}not valid YAML ({getattr(exc, 'problem', None) or exc})", where) from None
    return root


_NO_KEY = object()


def _add(stack: list[list[Any]], value: Any, event: Any, where: str, root: Any) -> Any:
    if not stack:
        return value
    top = stack[-1]
    container = top[0]
    if isinstance(container, list):
        container.append(value)
    elif top[1] is _NO_KEY:
        if not isinstance(value, str | int | bool) or isinstance(value, float):
            raise CatalogueError(f"line {_line(event)}: a key must be text", where)
        key = str(value) if not isinstance(value, str) else value
        if key in container:
            raise CatalogueError(f"line {_line(event)}: key {key!r} appears twice in one mapping", where)
        top[1] = key
    else:
        container[top[1]] = value
        top[1] = _NO_KEY
    return root


def _line(event: Any) -> int:
    mark = getattr(event, "start_mark", None)
    return int(mark.line) + 1 if mark is not None else 0
