"""Load govcloud.yaml with ruamel (to keep line numbers) and validate it with the pydantic models.
Every problem is reported with its file, key path and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from govcloud_platform.errors import SpecError, SpecProblem
from govcloud_platform.spec.models import Spec


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    return yaml


def _plain(node: Any) -> Any:
    """ruamel's commented containers to plain dicts and lists."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _line_of(root: Any, loc: tuple[str | int, ...]) -> int | None:
    """1-based line of the deepest node of `loc` that exists in the document."""
    node = root
    line: int | None = None
    for part in loc:
        lc = getattr(node, "lc", None)
        if isinstance(node, dict) and part in node:
            if lc is not None:
                try:
                    line = lc.key(part)[0] + 1
                except (KeyError, TypeError):
                    pass
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            if lc is not None:
                try:
                    line = lc.item(part)[0] + 1
                except (KeyError, TypeError, IndexError):
                    pass
            node = node[part]
        else:
            break
    if line is None and getattr(root, "lc", None) is not None:
        line = root.lc.line + 1
    return line


def _path(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_spec_text(text: str, file: str = "<spec>") -> Spec:
    """Parse and validate spec text; raise SpecError listing every problem."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        root = _yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = SpecProblem(file, "", line, f"YAML syntax error: {exc.problem or exc.context}")
        raise SpecError(f"{problem}", [problem], hint="fix the YAML syntax") from None
    except YAMLError as exc:
        problem = SpecProblem(file, "", None, f"YAML error: {exc}")
        raise SpecError(str(problem), [problem]) from None
    if root is None:
        root = {}
    if not isinstance(root, dict):
        problem = SpecProblem(file, "", 1, "the spec must be a mapping with `platform`, `quota_classes`, `agencies`")
        raise SpecError(str(problem), [problem])
    problems: list[SpecProblem] = []
    try:
        spec = Spec.model_validate(_plain(root))
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key (check spelling; `govcloud schema` lists the allowed keys)"
            problems.append(SpecProblem(file, _path(loc), _line_of(root, loc), msg))
    else:
        for loc, msg in spec.cross_check():
            problems.append(SpecProblem(file, _path(loc), _line_of(root, loc), msg))
        if not problems:
            return spec
    first = problems[0]
    more = f" (and {len(problems) - 1} more problem(s); run `govcloud validate`)" if len(problems) > 1 else ""
    raise SpecError(f"{first}{more}", problems)


def load_spec(path: Path) -> Spec:
    """Load the spec file; a missing or unreadable file is an input error that says what to do."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problem = SpecProblem(str(path), "", None, "spec file not found")
        hint = "run `govcloud init` to write an example, or pass --spec PATH"
        raise SpecError(str(problem), [problem], hint=hint) from None
    except (OSError, UnicodeDecodeError) as exc:
        problem = SpecProblem(str(path), "", None, f"cannot read spec: {exc}")
        raise SpecError(str(problem), [problem]) from None
    return load_spec_text(text, str(path))


def validate_file(path: Path) -> list[SpecProblem]:
    """Every problem of a spec file (empty when valid)."""
    try:
        load_spec(path)
    except SpecError as exc:
        if exc.hint and exc.problems:
            exc.problems[0].message += f" ({exc.hint})"
        return exc.problems or [SpecProblem(str(path), "", None, exc.message)]
    return []
