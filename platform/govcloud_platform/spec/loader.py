"""Load govcloud.yaml within bounds (spec/reading.py: file kind and size; spec/bounded_yaml.py: nesting,
alias expansion, tags, agency count) and validate it with the pydantic models. Every problem is reported
with its file, line and key path; a file that breaks a bound is one problem, found before the rest of it
is read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from govcloud_platform.errors import SpecError, SpecProblem
from govcloud_platform.spec.bounded_yaml import YamlProblem, compose
from govcloud_platform.spec.brand import read_logo
from govcloud_platform.spec.models import MAX_AGENCIES, Spec
from govcloud_platform.spec.reading import MAX_BYTES, decode, read_bounded
from govcloud_platform.spec.sms import key_file_problem

Loc = tuple[str | int, ...]
_TOO_MANY = f"more than {MAX_AGENCIES:,} agencies, the limit of one spec; split the platform"


def _path(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _describe(value: Any) -> str:
    """What a YAML value is, for a type error: `got the number 12345`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}" + ("..." if len(value) > 40 else "")
    return "a mapping" if isinstance(value, dict) else "a list" if isinstance(value, list) else type(value).__name__


def _message(err: Any, loc: Loc) -> str:
    """pydantic's message, said in the spec's terms."""
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key (check spelling; `govcloud schema` lists the allowed keys)"
    if kind == "missing":
        return "required key is missing" + (" (add `version: 1` as the first line)" if loc == ("version",) else "")
    msg = str(err["msg"]).removeprefix("Value error, ")
    if kind == "string_type" and isinstance(err.get("input"), bool | int | float):
        return f"expected a string, got {_describe(err['input'])}; quote it if it is text"
    if kind.endswith("_type") or kind in ("literal_error", "enum"):
        return f"{msg}, got {_describe(err.get('input'))}"
    return msg


def _fail(problem: SpecProblem, hint: str | None = None) -> SpecError:
    return SpecError(str(problem), [problem], hint=hint)


def load_spec_text(text: str, file: str = "<spec>") -> Spec:
    """Parse and validate spec text; raise SpecError listing every problem."""
    if len(text) > MAX_BYTES:  # files are bounded when read; this is for text handed over directly
        raise _fail(SpecProblem(file, "", None, f"the text is longer than the limit of {MAX_BYTES:,} characters"))
    try:
        doc = compose(text, {("agencies",): (MAX_AGENCIES, _TOO_MANY)})
    except YamlProblem as exc:
        hint = "fix the YAML syntax" if exc.message.startswith("YAML syntax") else None
        raise _fail(SpecProblem(file, _path(exc.loc), exc.line, exc.message), hint) from None
    root = {} if doc.data is None else doc.data
    if not isinstance(root, dict):
        raise _fail(SpecProblem(file, "", 1, "the spec must be a mapping with `version`, `platform`, "
                                             "`quota_classes`, `agencies`"))
    problems: list[SpecProblem] = []
    try:
        spec = Spec.model_validate(root, strict=True)  # YAML types as written: no "18000" for 18000
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            problems.append(SpecProblem(file, _path(loc), doc.line_of(loc), _message(err, loc)))
    else:
        spec._folder = Path(file).resolve().parent if file != "<spec>" else None
        for loc, msg in [*spec.cross_check(), *_file_problems(spec)]:
            problems.append(SpecProblem(file, _path(loc), doc.line_of(loc), msg))
        if not problems:
            return spec
    first = problems[0]
    more = f" (and {len(problems) - 1} more problem(s); run `govcloud validate`)" if len(problems) > 1 else ""
    raise SpecError(f"{first}{more}", problems)


def _file_problems(spec: Spec) -> list[tuple[tuple[str | int, ...], str]]:
    """Files the spec names that are not there (a centre's catalogue, its SMS provider's key and CA), each at its
    key. A catalogue's content is checked where it is used (by the deploy: the running one stays when it is
    refused); the SMS key file here (only its owner may read it, one key), never quoting it."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for i, agency in enumerate(spec.agencies):
        path = spec.centre_catalogue(agency.slug)
        if path is not None and not path.is_file():
            problems.append((("agencies", i, "centre", "catalogue"),
                             f"no catalogue file {str(path)!r} (the path is relative to the spec file)"))
        sms = spec.centre_sms_files(agency.slug)
        if sms is not None:
            key, ca = sms
            problem = key_file_problem(key)
            if problem is not None:
                problems.append((("agencies", i, "centre", "sms", "key_file"), problem))
            if ca is not None and not ca.is_file():
                problems.append((("agencies", i, "centre", "sms", "ca_file"),
                                 f"no CA file {str(ca)!r} (the path is relative to the spec file)"))
    return problems


def load_spec(path: Path) -> Spec:
    """Load the spec file; a missing, unreadable, oversized or non-regular file is an input error that says
    what to do."""
    try:
        text = decode(read_bounded(path))
    except FileNotFoundError:
        hint = "run `govcloud init` to write an example, or pass --spec PATH"
        raise _fail(SpecProblem(str(path), "", None, "spec file not found"), hint) from None
    except YamlProblem as exc:
        raise _fail(SpecProblem(str(path), "", exc.line, exc.message)) from None
    except OSError as exc:
        raise _fail(SpecProblem(str(path), "", None, f"cannot read spec: {exc.strerror or exc}")) from None
    spec = load_spec_text(text, str(path))
    for i, agency in enumerate(spec.agencies):  # the logo files: relative to the spec, checked once here
        if agency.brand.logo is not None:
            try:
                agency.brand._logo_file = read_logo(path.parent, agency.brand.logo)
            except ValueError as exc:
                raise _fail(SpecProblem(str(path), f"agencies[{i}].brand.logo", None, str(exc))) from None
    return spec


def validate_file(path: Path) -> list[SpecProblem]:
    """Every problem of a spec file (empty when valid)."""
    try:
        load_spec(path)
    except SpecError as exc:
        if exc.hint and exc.problems:
            exc.problems[0].message += f" ({exc.hint})"
        return exc.problems or [SpecProblem(str(path), "", None, exc.message)]
    return []
