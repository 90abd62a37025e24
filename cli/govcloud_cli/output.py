"""Rendering: one JSON document on stdout with --json; rich tables and progress on stderr for humans."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Options:
    """Global options, stored on ctx.obj by the root callback."""

    spec_path: Path
    home: Path
    json: bool = False
    debug: bool = False
    actor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=False)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, sort_keys=False) + "\n")
    sys.stdout.flush()


def info(message: str) -> None:
    """A line for humans on stderr (plain text, markup allowed)."""
    console().print(message)


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    from rich.table import Table

    t = Table(title=title, title_justify="left", header_style="bold")
    for col in columns:
        t.add_column(col, overflow="fold")  # never cut a value (endpoints, paths) with an ellipsis
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    console().print(t)


def emit(opts: Options, data: Any, title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """JSON for machines, a table for humans."""
    if opts.json:
        emit_json(data)
    else:
        table(title, columns, rows)


def mark(ok: bool | None) -> str:
    return {True: "[green]yes[/green]", False: "[red]NO[/red]", None: "-"}[ok]


@contextmanager
def progress(opts: Options, label: str) -> Iterator[Any]:
    """A status spinner on stderr for humans (silent with --json); yields a callback(str)."""
    if opts.json or not sys.stderr.isatty():
        def plain(msg: str) -> None:
            if not opts.json:
                sys.stderr.write(f"{label}: {msg}\n")
            else:
                sys.stderr.write(f"{msg}\n")
            sys.stderr.flush()

        yield plain
        return
    con = console()
    with con.status(label) as status:
        def update(msg: str) -> None:
            status.update(f"{label}: {msg}")
            con.print(f"  {msg}")

        yield update
