"""The house has no import cycle: every module of the core and the CLI, every import (at the top and inside
functions, which run sooner or later), and not one strongly connected group of more than one module."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"govcloud_platform": ROOT / "platform", "govcloud_cli": ROOT / "cli"}


def modules() -> dict[str, Path]:
    out = {}
    for package, base in PACKAGES.items():
        for path in (base / package).rglob("*.py"):
            name = ".".join(path.relative_to(base).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = path
    return out


def imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The project modules `name` imports (`from a.b import c` counts a.b.c when that is a module)."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def test_no_module_imports_itself_through_others() -> None:
    mods = modules()
    known = set(mods)
    # a package's __init__ re-exporting its submodules is not a dependency of the submodules on each other
    graph = {name: {t for t in imports(path, name, known) if not name.startswith(t + ".")}
             for name, path in mods.items()}
    assert len(graph) > 80
    assert cycles(graph) == []


def test_the_core_never_imports_the_cli() -> None:
    mods = modules()
    known = set(mods)
    offenders = [(name, t) for name, path in mods.items() if name.startswith("govcloud_platform")
                 for t in imports(path, name, known) if t.startswith("govcloud_cli")]
    assert offenders == []
