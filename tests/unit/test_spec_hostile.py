"""Hostile spec files: every bound of the loader (size, file kind, nesting, alias expansion, tags, agency
count) answers with one problem naming file, line and key path, and the CLI with one line and exit 2.
Subprocesses get a 20 s timeout so that a hang fails the test (timings themselves are never asserted)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from govcloud_platform.errors import SpecError
from govcloud_platform.spec import load_spec, load_spec_text
from govcloud_platform.spec.bounded_yaml import MAX_DEPTH, YamlProblem
from govcloud_platform.spec.example import EXAMPLE_SPEC
from govcloud_platform.spec.reading import MAX_BYTES, read_bounded
from tests.conftest import Result, assert_one_error, run_cli

HEAD = EXAMPLE_SPEC.split("agencies:")[0] + "agencies:\n"
# ten lists of ten aliases of the previous list: 10^10 leaves from ~1 KB
LAUGHS = 'lol0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n' + "".join(
    f"lol{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 11)
)
DEEP_BLOCK = "".join(" " * i + "a:\n" for i in range(100)) + " " * 100 + "x\n"
DEEP_FLOW = "version: 1\nplatform: " + "[" * 100_000 + "]" * 100_000 + "\n"


def agencies_text(n: int) -> str:
    return HEAD + "".join(f"  - {{slug: agency-{i:06d}, name: Agency {i}, email: it@a{i}.gov.example}}\n"
                          for i in range(n))


def problem_of(text: str) -> str:
    with pytest.raises(SpecError) as info:
        load_spec_text(text, "g.yaml")
    assert len(info.value.problems) == 1, info.value.problems
    return str(info.value.problems[0])


def file_problem(path: Path) -> str:
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert len(info.value.problems) == 1, info.value.problems
    return str(info.value.problems[0])


def assert_one_line(result: Result, expected: str) -> None:
    """`validate` prints each problem as `<file>:<line>: <path>: <what>` on stderr; a hostile file is one."""
    lines = result.stderr.strip().splitlines()
    assert result.rc == 2 and len(lines) == 1 and expected in lines[0], (result.rc, result.stderr[-2000:])
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr


def test_billion_laughs_stops_at_the_expansion_bound() -> None:
    found = problem_of(LAUGHS)
    assert found == ("g.yaml:6: lol5[3]: the document expands to more than 500,000 nodes "
                     "(aliases repeating large parts?)")


def test_moderate_aliases_are_fine() -> None:
    text = HEAD + (
        "  - &first\n    slug: health\n    name: Ministry of Health\n    email: it@health.gov.example\n"
        "    services: &some [database, storage]\n"
        "  - slug: revenue\n    name: Revenue Board\n    email: it@revenue.gov.example\n    services: *some\n"
    )
    spec = load_spec_text(text, "g.yaml")
    assert [a.services for a in spec.agencies] == [["database", "storage"]] * 2


def test_merge_key_fills_an_agency_and_problems_keep_the_line_of_the_value() -> None:
    base = "  - &base\n    slug: health\n    name: Ministry of Health\n    email: it@health.gov.example\n"
    other = "  - <<: *base\n    slug: revenue\n"
    spec = load_spec_text(HEAD + base + "    services: [database]\n" + other, "g.yaml")
    assert (spec.agencies[1].slug, spec.agencies[1].name, spec.agencies[1].services) == (
        "revenue", "Ministry of Health", ["database"])
    with pytest.raises(SpecError) as info:
        load_spec_text(HEAD + base + "    quota: huge\n" + other, "g.yaml")
    quota_line = (HEAD + base).count("\n") + 1
    assert [str(p).split(": unknown")[0] for p in info.value.problems] == [
        f"g.yaml:{quota_line}: agencies[0].quota", f"g.yaml:{quota_line}: agencies[1].quota"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: &x [1, *x]\n", "g.yaml:1: a[1]: alias *x refers to the collection that contains it"),
        ("a: &x {b: *x}\n", "g.yaml:1: a.b: alias *x refers to the collection that contains it"),
        ("a: *nowhere\n", "g.yaml:1: a: alias *nowhere is not defined before it is used"),
        ("a: {<<: 1}\n", "g.yaml:1: a: the merge key `<<` takes a mapping or a list of mappings"),
    ],
)
def test_bad_aliases(text: str, expected: str) -> None:
    assert problem_of(text) == expected


def test_deep_block_nesting_stops_at_the_depth_bound() -> None:
    found = problem_of(DEEP_BLOCK)
    assert found.startswith(f"g.yaml:{MAX_DEPTH + 1}: " + ".".join(["a"] * MAX_DEPTH) + ": nested deeper than 32")


def test_deep_flow_nesting_is_one_problem() -> None:
    found = problem_of(DEEP_FLOW)
    assert found.startswith("g.yaml:2: platform")
    assert "nested deeper than 32" in found


def test_an_alias_cannot_nest_deeper_than_the_bound() -> None:
    deep = "".join(" " * i + "a:\n" for i in range(20))
    text = "x: &deep\n" + "".join("  " + line + "\n" for line in deep.splitlines()) + "  " + " " * 20 + "1\n"
    text += "y:\n" + "".join("  " * (i + 1) + "b:\n" for i in range(15)) + "  " * 16 + "*deep\n"
    assert "nested deeper than 32 levels" in problem_of(text)


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ("!!binary aGVsbG8=", "!!binary"),
        ('!!python/object/apply:os.system ["true"]', "!!python/object/apply:os.system"),
        ("!!python/name:os.system", "!!python/name:os.system"),
        ("!custom Revenue Board", "!custom"),
        ("!!timestamp 2024-01-01", "!!timestamp"),
        ("!!set {a, b}", "!!set"),
        ("!!omap [a: 1]", "!!omap"),
        ("!!str [a]", "!!str"),
    ],
)
def test_only_plain_data_tags(value: str, tag: str) -> None:
    found = problem_of(EXAMPLE_SPEC.replace("name: Revenue Board", f"name: {value}"))
    assert found.startswith(f"g.yaml:57: agencies[1].name: YAML tag {tag} is not allowed")


def test_core_tags_say_what_they_mean() -> None:
    text = EXAMPLE_SPEC.replace("name: Revenue Board", "name: !!str 12345").replace(
        "port_base: 18000", 'port_base: !!int "18000"')
    spec = load_spec_text(text)
    assert (spec.agencies[1].name, spec.platform.port_base) == ("12345", 18000)
    assert "g.yaml:9: platform.port_base: 'lots' is not a valid !!int" in problem_of(
        EXAMPLE_SPEC.replace("port_base: 18000", "port_base: !!int lots"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (EXAMPLE_SPEC + "---\nversion: 1\n", "g.yaml:65: more than one YAML document"),
        (EXAMPLE_SPEC.replace("    quota: large\n", "    quota: large\n    quota: standard\n"),
         "g.yaml:54: agencies[0].quota: duplicate key 'quota' (first at line 53)"),
        (EXAMPLE_SPEC.replace("version: 1", "version: 1\x00"),
         "g.yaml:3: YAML error: control characters are not allowed (#x0000)"),
        ("platform:\n  name: [unclosed\n", "YAML syntax error"),
    ],
)
def test_document_structure_problems(text: str, expected: str) -> None:
    assert expected in problem_of(text)


def test_more_agencies_than_the_limit_stop_at_the_first_one_over() -> None:
    found = problem_of(agencies_text(10_001))
    line = HEAD.count("\n") + 10_001
    assert found == (f"g.yaml:{line}: agencies: more than 10,000 agencies, the limit of one spec; "
                     "split the platform")


def test_the_limit_itself_is_valid() -> None:
    assert len(load_spec_text(agencies_text(10_000)).agencies) == 10_000


def test_dev_zero_is_refused_without_reading() -> None:
    assert file_problem(Path("/dev/zero")) == "/dev/zero: not a regular file (a device, FIFO or socket); " \
                                              "write the spec to a file"


@pytest.mark.timeout(20)
def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "spec.fifo"
    os.mkfifo(fifo)
    assert "not a regular file" in file_problem(fifo)


def test_directory_is_refused(tmp_path: Path) -> None:
    assert file_problem(tmp_path) == f"{tmp_path}: not a regular file (a directory); write the spec to a file"


def test_a_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(EXAMPLE_SPEC.encode() + b"#" * MAX_BYTES)
    assert file_problem(big).endswith(f"is larger than the limit of 8 MiB ({MAX_BYTES + len(EXAMPLE_SPEC):,} bytes); "
                                      "is this the spec?")


def test_a_file_that_lies_about_its_size_is_read_only_to_the_limit() -> None:
    """/proc files report size 0: the read itself stops at limit + 1 bytes."""
    assert os.stat("/proc/self/status").st_size == 0
    with pytest.raises(YamlProblem, match="larger than the limit"):
        read_bounded(Path("/proc/self/status"), limit=64)


def test_bom_and_crlf_are_fine(tmp_path: Path) -> None:
    spec = tmp_path / "windows.yaml"
    spec.write_bytes(b"\xef\xbb\xbf" + EXAMPLE_SPEC.replace("\n", "\r\n").encode())
    assert len(load_spec(spec).agencies) == 3
    bad = tmp_path / "bad.yaml"
    text = EXAMPLE_SPEC.replace("quota: large", "quota: huge").replace("\n", "\r\n")
    bad.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert file_problem(bad).startswith(f"{bad}:53: agencies[0].quota: unknown quota class 'huge'")


def test_text_handed_over_directly_is_bounded_too() -> None:
    assert "longer than the limit" in problem_of("#" * (MAX_BYTES + 1))


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.yaml"
    text = EXAMPLE_SPEC.replace("Revenue Board", "Recette g\xe9n\xe9rale")
    bad.write_bytes(text.encode("latin-1"))
    assert file_problem(bad) == f"{bad}:57: not UTF-8 text (byte 0xe9 at offset {text.index(chr(0xe9))})"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (LAUGHS, "g.yaml:6: lol5[3]: the document expands to more than 500,000 nodes"),
        (DEEP_BLOCK, f"g.yaml:{MAX_DEPTH + 1}: a.a."),
        (EXAMPLE_SPEC.replace("version: 1", "version: 1\x00"), "g.yaml:3: YAML error: special characters are not "
                                                                "allowed (#x0000)"),
        (EXAMPLE_SPEC.replace("name: Revenue Board", "name: !!binary aGk="), "g.yaml:57: agencies[1].name: YAML tag"),
        ("a: [\n", "YAML syntax error"),
    ],
)
def test_the_pure_python_parser_keeps_the_bounds(monkeypatch: pytest.MonkeyPatch, text: str, expected: str) -> None:
    """Without libyaml, PyYAML's own parser feeds the same composer."""
    import yaml

    monkeypatch.setattr(yaml, "CSafeLoader", None)
    assert load_spec_text(EXAMPLE_SPEC).agencies[2].slug == "city-council"
    assert expected in problem_of(text)


# --- through the real CLI -------------------------------------------------------------------------------


def test_cli_validate_dev_zero() -> None:
    assert_one_line(run_cli("--spec", "/dev/zero", "validate", timeout=20), "/dev/zero: not a regular file")


def test_cli_validate_json_dev_zero() -> None:
    result = run_cli("--spec", "/dev/zero", "--json", "validate", timeout=20)
    assert result.rc == 2 and result.json()["problems"][0]["message"].startswith("not a regular file")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (LAUGHS, "f.yaml:6: lol5[3]: the document expands to more than 500,000 nodes"),
        (DEEP_BLOCK, f"f.yaml:{MAX_DEPTH + 1}: a.a."),
        (DEEP_FLOW, "f.yaml:2: platform"),
        (agencies_text(100_000), f"f.yaml:{HEAD.count(chr(10)) + 10_001}: agencies: more than 10,000 agencies"),
    ],
    ids=["billion-laughs", "deep-block", "deep-flow", "100k-agencies"],
)
def test_cli_validate_hostile(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "f.yaml").write_text(text)
    result = run_cli("--spec", str(tmp_path / "f.yaml"), "validate", timeout=20)
    assert_one_line(result, expected)


@pytest.mark.timeout(30)
def test_cli_validate_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "spec.fifo")
    assert_one_line(run_cli("--spec", str(tmp_path / "spec.fifo"), "validate", timeout=20), "not a regular file")


@pytest.mark.parametrize("name", ["laughs", "dev-zero"])
def test_cli_apply_refuses_before_touching_the_box(tmp_path: Path, name: str) -> None:
    spec = Path("/dev/zero") if name == "dev-zero" else tmp_path / "f.yaml"
    if name == "laughs":
        spec.write_text(LAUGHS)
    home = tmp_path / "home"
    result = run_cli("--spec", str(spec), "--home", str(home), "apply", timeout=20)
    assert result.rc == 2
    assert_one_error(result)
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {spec}:")
    assert not home.exists()
