"""Rendering: one JSON document on stdout with --json; rich tables and progress on stderr for humans.

Text shown to humans may come from users or servers (names, the audit log, error messages): it is never read as
rich markup and every control or bidi character is shown escaped (`govcloud_platform.text.printable`). Styles
are given as `rich.text.Text` objects (`mark`), never as markup inside data."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govcloud_platform.text import printable

if TYPE_CHECKING:
    from govcloud_platform.spec import Spec


@dataclass
class Options:
    """Global options, stored on ctx.obj by the root callback."""

    spec_path: Path
    home: Path
    json: bool = False
    debug: bool = False
    actor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunState:
    """What the error funnel needs after Typer has returned: whether to show tracebacks (from --debug) and the
    box the command opened (to name the service behind a client library's exception)."""

    debug: bool = False
    box: Any = None


RUN = RunState()


def read_spec(path: Path) -> Spec:
    """The spec at --spec; errors exit 2 (the loader bounds nesting; a RecursionError is caught all the same)."""
    from govcloud_platform.errors import SpecError, SpecProblem
    from govcloud_platform.spec import load_spec

    try:
        return load_spec(path)
    except RecursionError:
        problem = SpecProblem(str(path), "", None, "nested too deeply to be a spec")
        raise SpecError(str(problem), [problem]) from None


def console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=False)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, sort_keys=False) + "\n")
    sys.stdout.flush()


def safe(value: Any) -> Any:
    """A cell or line for rich: Text objects (our own styles) as they are; anything else as literal text."""
    from rich.text import Text

    if isinstance(value, Text):
        return value
    return Text(printable("" if value is None else str(value)))


def info(message: str) -> None:
    """A line for humans on stderr (literal text: no markup, controls escaped)."""
    console().print(safe(message))


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    from rich.table import Table

    t = Table(title=title, title_justify="left", header_style="bold")
    for col in columns:
        t.add_column(col, overflow="fold")  # never cut a value (endpoints, paths) with an ellipsis
    for row in rows:
        t.add_row(*(safe(v) for v in row))
    console().print(t)


def emit(opts: Options, data: Any, title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """JSON for machines, a table for humans."""
    if opts.json:
        emit_json(data)
    else:
        table(title, columns, rows)


def mark(ok: bool | None) -> Any:
    from rich.text import Text

    return {True: Text("yes", style="green"), False: Text("NO", style="red"), None: Text("-")}[ok]


def platform_spec(opts: Options) -> Spec:
    """The spec as the platform's commands see it (`up`, `status`, `agency ...`: all but `iaas`, `lab`, `init`):
    on the `openstack` target, the `hosts` target made of the VMs `iaas up` recorded in --home."""
    from govcloud_platform.iaas.topology import hosts_spec

    return hosts_spec(read_spec(opts.spec_path), opts.home)


@contextmanager
def progress(opts: Options, label: str) -> Iterator[Any]:
    """A status spinner on stderr for humans (silent with --json); yields a callback(str)."""
    if opts.json or not sys.stderr.isatty():
        def plain(msg: str) -> None:
            if not opts.json:
                sys.stderr.write(f"{label}: {printable(msg)}\n")
            else:
                sys.stderr.write(f"{printable(msg)}\n")
            sys.stderr.flush()

        yield plain
        return
    con = console()
    with con.status(safe(label)) as status:
        def update(msg: str) -> None:
            status.update(safe(f"{label}: {msg}"))
            con.print(safe(f"  {msg}"))

        yield update
