"""Read a YAML document into plain data (dicts, lists, str, int, float, bool, None) within fixed bounds, and
remember the line of every key and list item so that a problem can name its line.

Why not a YAML library's own loader: a loader expands aliases without a budget (a "billion laughs" file of
a few hundred bytes builds 10^9 nodes), recurses once per nesting level (RecursionError), constructs any
tag it knows (`!!binary` gives bytes, `!!python/...` in unsafe loaders runs code) and, for ruamel's
round-trip loader, parses at ~100 KB/s (10,000 agencies took 13 s). Here libyaml (PyYAML's C parser,
installed with ansible-core) only produces the event stream, which is iterative and fast, and this module
composes the document itself: one pass, no recursion, and every bound checked while the events arrive, so
a hostile file fails after reading no more than it must. Scalars are resolved by the YAML 1.2 core schema
(`yes`/`no`/`on` are strings, as with ruamel's YAML 1.2 loader before; dates are strings too)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 32  # the spec itself needs 5 levels (platform.services.backups.schedule)
MAX_NODES = 500_000  # after alias expansion; 10,000 agencies with every key set are ~250,000 nodes

_CORE = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {f"{_CORE}{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq")} | {"!"}
_MAP_TAG = ("!", f"{_CORE}map")
_SEQ_TAG = ("!", f"{_CORE}seq")
_TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels (the spec needs 5)"
_NOT_PLAIN = "the spec holds only strings, numbers, booleans, null, lists and mappings"
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT_RE = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT_RE = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_SPECIAL_FLOATS = {".inf": math.inf, ".Inf": math.inf, ".INF": math.inf, "+.inf": math.inf, "+.Inf": math.inf,
                   "+.INF": math.inf, "-.inf": -math.inf, "-.Inf": -math.inf, "-.INF": -math.inf,
                   ".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan}
_NUMBER_START = frozenset("0123456789+-.")

Loc = tuple[str | int, ...]


class YamlProblem(Exception):
    """The file or document breaks a rule of this reader; `line` is 1-based (None when the whole file is
    concerned), `loc` the key path where it happened."""

    def __init__(self, line: int | None, loc: Loc, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.loc = loc
        self.message = message


@dataclass
class Document:
    """Plain data plus the line of each key and item: `lines[id(container)]` is a dict key -> line for a
    mapping and a list of lines for a sequence (shared when an alias repeats a container)."""

    data: Any
    line: int
    lines: dict[int, Any]

    def line_of(self, loc: Loc) -> int:
        """1-based line of the deepest part of `loc` that exists in the document."""
        node = self.data
        line = self.line
        for part in loc:
            table = self.lines.get(id(node))
            if table is None:
                break
            if isinstance(node, dict) and part in node:
                line = table.get(part, line)
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                line = table[part]
            else:
                break
            node = node[part]
        return line


_MERGE = object()
_NO_KEY = object()


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag


def _resolve_plain(value: str) -> Any:
    """YAML 1.2 core schema for an untagged plain scalar."""
    if value in _NULLS:
        return None
    if value in _BOOLS:
        return _BOOLS[value]
    if value[0] in _NUMBER_START:
        if _INT_RE.fullmatch(value):
            return _to_int(value)
        if _FLOAT_RE.fullmatch(value):
            return float(value)
        if value in _SPECIAL_FLOATS:
            return _SPECIAL_FLOATS[value]
    return value


def _to_int(value: str) -> int:
    if value[:2] == "0o":
        return int(value[2:], 8)
    if value[:2] == "0x":
        return int(value[2:], 16)
    return int(value)


def _scalar(value: str, tag: str | None, plain: bool, line: int, loc: Loc) -> Any:
    """The value of a scalar: untagged plain scalars by the core schema, quoted ones and `!` as strings,
    the core tags (`!!str`, `!!int`, ...) when the text fits them; any other tag is refused."""
    if tag is None:
        return _resolve_plain(value) if plain else value
    if tag not in _ALLOWED_TAGS:
        raise YamlProblem(line, loc, f"YAML tag {_tag_name(tag)} is not allowed: {_NOT_PLAIN}")
    kind = tag[len(_CORE):]
    if tag == "!" or kind == "str":
        return value
    resolved = _resolve_plain(value) if value else None
    fits = {
        "int": isinstance(resolved, int) and not isinstance(resolved, bool),
        "float": isinstance(resolved, int | float) and not isinstance(resolved, bool),
        "bool": isinstance(resolved, bool),
        "null": resolved is None,
    }.get(kind, False)
    if not fits:
        raise YamlProblem(line, loc, f"{value!r} is not a valid {_tag_name(tag)}")
    return float(resolved) if kind == "float" else resolved  # type: ignore[arg-type]


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    return f"the number {value}"


class _Frame:
    """A collection being composed. A mapping holds its pending key (_NO_KEY, _MERGE or the key)."""

    __slots__ = ("anchor", "data", "height", "key", "key_line", "limit", "line", "lines", "loc", "merges", "size")

    def __init__(self, data: Any, lines: Any, line: int, anchor: str | None, loc: Loc,
                 limit: tuple[int, str] | None) -> None:
        self.data = data
        self.lines = lines
        self.line = line
        self.anchor = anchor
        self.loc = loc
        self.limit = limit
        self.key: Any = _NO_KEY if isinstance(data, dict) else None
        self.key_line = 0
        self.merges: list[tuple[dict[str, Any], dict[str, int]]] = []
        self.size = 1  # nodes after alias expansion, this one included
        self.height = 1


class _Composer:
    """Builds plain data from parser events with an explicit stack (no recursion), checking every bound as
    each event arrives."""

    def __init__(self, item_limits: dict[Loc, tuple[int, str]]) -> None:
        self.item_limits = item_limits
        self.anchors: dict[str, tuple[Any, Any, int, int]] = {}  # name -> (data, lines table, size, height)
        self.lines: dict[int, Any] = {}
        self.stack: list[_Frame] = []
        self.total = 0
        self.root: Any = None
        self.root_line = 1
        self.documents = 0

    def where(self) -> Loc:
        """Key path of the node being composed."""
        if not self.stack:
            return ()
        top = self.stack[-1]
        if isinstance(top.data, list):
            return (*top.loc, len(top.data))
        return (*top.loc, top.key) if isinstance(top.key, str) else top.loc

    def count(self, n: int, line: int) -> None:
        self.total += n
        if self.total > MAX_NODES:
            raise YamlProblem(line, self.where(), f"the document expands to more than {MAX_NODES:,} nodes "
                                                  "(aliases repeating large parts?)")

    def awaiting_key(self) -> bool:
        return bool(self.stack) and self.stack[-1].key is _NO_KEY  # only mappings ever hold _NO_KEY

    def scalar(self, event: Any) -> None:
        line = event.start_mark.line + 1
        self.total += 1
        if self.total > MAX_NODES:
            self.count(0, line)
        tag = event.tag
        plain = tag is None and event.implicit[0]
        if self.stack and self.stack[-1].key is _NO_KEY:
            top = self.stack[-1]
            if plain and event.value == "<<":
                top.key, top.key_line = _MERGE, line
                return
            key = event.value if tag is None and not plain else _scalar(event.value, tag, plain, line, top.loc)
            if not isinstance(key, str):
                raise YamlProblem(line, top.loc, f"the key {event.value!r} is {_describe(key)}; keys must be "
                                                 "strings (quote it)")
            top.key, top.key_line = key, line
            if event.anchor is not None:
                self.anchors[event.anchor] = (key, None, 1, 0)
            return
        if tag is None:  # the common case, kept short: 10,000 agencies are ~150,000 scalars
            value = _resolve_plain(event.value) if plain else event.value
        else:
            value = _scalar(event.value, tag, plain, line, self.where())
        if event.anchor is not None:
            self.anchors[event.anchor] = (value, None, 1, 0)
        self.add(value, None, line, 1, 0)

    def start(self, data: Any, table: Any, event: Any) -> None:
        line = event.start_mark.line + 1
        self.count(1, line)
        if event.tag is not None and event.tag not in (_MAP_TAG if isinstance(data, dict) else _SEQ_TAG):
            raise YamlProblem(line, self.where(), f"YAML tag {_tag_name(event.tag)} is not allowed here: {_NOT_PLAIN}")
        if len(self.stack) >= MAX_DEPTH:
            raise YamlProblem(line, self.where(), _TOO_DEEP)
        if self.awaiting_key():
            raise YamlProblem(line, self.stack[-1].loc, "a mapping key must be a string, not a list or mapping")
        loc = self.where()
        limit = self.item_limits.get(loc) if isinstance(data, list) else None
        self.stack.append(_Frame(data, table, line, event.anchor, loc, limit))

    def end(self) -> None:
        frame = self.stack.pop()
        data = frame.data
        if frame.merges:
            # `<<`: the mapping's own keys win, then the sources in the order given (YAML merge key)
            merged: dict[str, Any] = {}
            merged_lines: dict[str, int] = {}
            for source, source_lines in reversed(frame.merges):
                merged.update(source)
                merged_lines.update(source_lines)
            merged.update(data)
            merged_lines.update(frame.lines)
            data, frame.lines = merged, merged_lines
        self.lines[id(data)] = frame.lines
        if frame.anchor is not None:
            self.anchors[frame.anchor] = (data, frame.lines, frame.size, frame.height)
        self.add(data, frame.lines, frame.line, frame.size, frame.height)

    def alias(self, event: Any) -> None:
        line = event.start_mark.line + 1
        if event.anchor not in self.anchors:
            inside = any(f.anchor == event.anchor for f in self.stack)
            what = "refers to the collection that contains it" if inside else "is not defined before it is used"
            raise YamlProblem(line, self.where(), f"alias *{event.anchor} {what}")
        data, table, size, height = self.anchors[event.anchor]
        if len(self.stack) + height > MAX_DEPTH:
            raise YamlProblem(line, self.where(), _TOO_DEEP)
        self.count(size, line)
        if self.awaiting_key():
            if not isinstance(data, str):
                raise YamlProblem(line, self.stack[-1].loc, "a mapping key must be a string")
            self.stack[-1].key, self.stack[-1].key_line = data, line
            return
        self.add(data, table, line, size, height)

    def add(self, value: Any, table: Any, line: int, size: int, height: int) -> None:
        """Attach a finished node (scalar, collection or alias) to the collection being composed."""
        if not self.stack:
            self.root, self.root_line = value, line
            return
        top = self.stack[-1]
        top.size += size
        if height >= top.height:
            top.height = height + 1
        if isinstance(top.data, list):
            if top.limit is not None and len(top.data) >= top.limit[0]:
                raise YamlProblem(line, top.loc, top.limit[1])
            top.data.append(value)
            top.lines.append(line)
        elif top.key is _MERGE:
            sources = value if isinstance(value, list) else [value]
            if not all(isinstance(s, dict) for s in sources):
                raise YamlProblem(top.key_line, top.loc, "the merge key `<<` takes a mapping or a list of mappings")
            top.merges += [(s, self.lines.get(id(s), {})) for s in sources]
            top.key = _NO_KEY
        else:
            if top.key in top.data:
                raise YamlProblem(top.key_line, (*top.loc, top.key),
                                  f"duplicate key {top.key!r} (first at line {top.lines[top.key]})")
            top.data[top.key] = value
            top.lines[top.key] = top.key_line
            top.key = _NO_KEY

    def document(self, event: Any) -> None:
        self.documents += 1
        if self.documents > 1:
            raise YamlProblem(event.start_mark.line + 1, (), "more than one YAML document (a second `---`); the spec "
                                                             "is one document")


def compose(text: str, item_limits: dict[Loc, tuple[int, str]] | None = None) -> Document:
    """Compose one YAML document from `text`. Raises YamlProblem for syntax errors, nesting deeper than
    MAX_DEPTH, more than MAX_NODES nodes after alias expansion, recursive or undefined aliases, tags other
    than plain data, non-string or duplicate keys, more than one document, and a sequence at `loc` with
    more items than `item_limits[loc] = (limit, message)` (checked as items arrive: a spec with 100,000
    agencies stops at the first one over)."""
    import yaml
    from yaml import events as ev

    # libyaml when PyYAML was built with it (its wheels are); the pure-Python parser, ~20x slower, otherwise
    loader_cls = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
    composer = _Composer(item_limits or {})
    handlers = {
        ev.ScalarEvent: composer.scalar,
        ev.MappingStartEvent: lambda e: composer.start({}, {}, e),
        ev.SequenceStartEvent: lambda e: composer.start([], [], e),
        ev.MappingEndEvent: lambda e: composer.end(),
        ev.SequenceEndEvent: lambda e: composer.end(),
        ev.AliasEvent: composer.alias,
        ev.DocumentStartEvent: composer.document,
    }
    loader = None
    try:
        loader = loader_cls(text)  # the pure parser checks the characters here
        while True:
            event = loader.get_event()
            handler = handlers.get(type(event))
            if handler is not None:
                handler(event)
            elif type(event) is ev.StreamEndEvent:
                break
    except UnicodeEncodeError as exc:  # lone surrogates in a str that did not come from a file
        raise YamlProblem(text[: exc.start].count("\n") + 1, (), "not valid Unicode text") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        if exc.problem == "exceeded maximum nesting depth":  # libyaml's own bound (10,000 flow levels)
            raise YamlProblem(line, composer.where(), _TOO_DEEP) from None
        raise YamlProblem(line, (), f"YAML syntax error: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:  # ReaderError: a character YAML does not allow (NUL, other controls)
        reason = getattr(exc, "reason", None) or str(exc).splitlines()[0]
        character = getattr(exc, "character", None)
        code = ord(character) if isinstance(character, str) and len(character) == 1 else character
        which = f" (#x{code:04x})" if isinstance(code, int) else ""
        raise YamlProblem(_reader_line(exc, text, loader_cls is not yaml.SafeLoader), (),
                          f"YAML error: {reason}{which}") from None
    finally:
        if loader is not None:
            loader.dispose()
    return Document(composer.root, composer.root_line, composer.lines)


def _reader_line(exc: Exception, text: str, in_bytes: bool) -> int | None:
    """Line of a ReaderError: libyaml counts bytes of the UTF-8 text, the pure parser characters."""
    position = getattr(exc, "position", None)
    if not isinstance(position, int):
        return None
    if in_bytes:
        return text.encode()[:position].count(b"\n") + 1
    return text[:position].count("\n") + 1
