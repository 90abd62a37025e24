"""Commands against a --home that holds no box, and `init` into places it cannot write: exit 2, one line,
nothing created (the CLI as a subprocess; no servers)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from govcloud_platform.spec.example import EXAMPLE_SPEC
from tests.conftest import Result, assert_one_error, run_cli

# Every command that needs a box (only `up` makes one).
BOX_COMMANDS = [
    ["status"], ["doctor"], ["apply"], ["down"], ["logs", "database"], ["verify"], ["box", "destroy", "--yes"],
    ["agency", "list"], ["agency", "show", "health"], ["agency", "credentials", "health"], ["agency", "usage"],
    ["agency", "add", "health", "--name", "Health"], ["agency", "remove", "health"],
    ["app", "list"], ["app", "status", "health", "portal"], ["app", "deploy", "health", "portal"],
    ["app", "remove", "health", "portal"], ["app", "demo", "health", "centre"],
    ["backup", "list"], ["backup", "status"], ["backup", "run"], ["backup", "verify"],
    ["backup", "restore", "--registry"], ["backup", "restore", "--agency", "health", "--yes"],
]


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _cli_in(cwd: Path, *args: str) -> Result:
    """run_cli from `cwd` (a relative or empty --home resolves there)."""
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return run_cli(*args, timeout=120)
    finally:
        os.chdir(old)


@pytest.fixture
def place(tmp_path: Path) -> Path:
    (tmp_path / "govcloud.yaml").write_text(EXAMPLE_SPEC)
    (tmp_path / "a-file").write_text("not a box")
    (tmp_path / "empty-dir").mkdir()
    return tmp_path


@pytest.mark.parametrize("command", BOX_COMMANDS, ids=lambda c: "-".join(c[:2]))
def test_a_missing_box_is_refused_and_nothing_is_created(place: Path, command: list[str]) -> None:
    before = _tree(place)
    result = _cli_in(place, "--home", str(place / "nothere"), "--spec", str(place / "govcloud.yaml"), *command)
    assert result.rc == 2, result.stderr
    assert_one_error(result)
    assert f"no box at {place / 'nothere'}" in result.stderr and "govcloud up" in result.stderr
    assert _tree(place) == before


@pytest.mark.parametrize(("home", "says"), [
    ("", "--home is empty"),
    ("a-file", "is not a directory"),
    ("empty-dir", "no box at"),  # a directory without box.json: not a box (nor the current directory)
    (".", "no box at"),
    ("/proc/nope/x", "no box at"),
])
@pytest.mark.parametrize("command", [["agency", "list"], ["box", "destroy", "--yes"]], ids=lambda c: "-".join(c[:2]))
def test_odd_homes_are_refused_without_a_trace(place: Path, home: str, says: str, command: list[str]) -> None:
    before = _tree(place)
    result = _cli_in(place, "--home", home, "--spec", str(place / "govcloud.yaml"), *command)
    assert result.rc == 2, result.stderr
    assert_one_error(result)
    assert says in result.stderr
    assert _tree(place) == before  # `--home ""` used to write a registry into the current directory


@pytest.mark.parametrize(("spec", "says"), [
    ("nodir/sub/govcloud.yaml", "does not exist"),
    ("a-file/govcloud.yaml", "is not a directory"),
    ("empty-dir", "is a directory"),
    ("/proc/nope.yaml", "cannot write"),
    ("/sys/nope.yaml", "cannot write"),
    ("", "--spec is empty"),
])
def test_init_where_it_cannot_write_leaves_nothing(place: Path, spec: str, says: str) -> None:
    before = _tree(place)
    result = _cli_in(place, "--spec", spec, "init", "--force")
    assert result.rc == 2, result.stderr
    assert_one_error(result)
    assert says in result.stderr
    assert _tree(place) == before


def test_init_writes_into_an_existing_directory(place: Path) -> None:
    result = _cli_in(place, "--spec", "new.yaml", "init")
    assert result.rc == 0, result.stderr
    assert (place / "new.yaml").read_text() == EXAMPLE_SPEC


@pytest.mark.parametrize("actor", ["", "   ", "\x1b[2Jmallory", "eve\u202eevil", "two\nlines"])
def test_a_hostile_actor_is_refused(place: Path, actor: str) -> None:
    result = _cli_in(place, "--actor", actor, "--home", "nothere", "agency", "list")
    assert result.rc == 2, result.stderr
    assert_one_error(result)
    assert "--actor" in result.stderr and "\x1b" not in result.stderr and "\u202e" not in result.stderr


@pytest.mark.parametrize(("args", "says"), [
    (["logs"], "Missing argument"),
    (["agency", "add", "x"], "Missing option '--name'"),
    (["nosuch"], "No such command"),
    (["--nosuch"], "No such option"),
    (["logs", "database", "-n", "99999999999999999999"], "--lines"),
    (["logs", "database", "-n", "0"], "--lines"),
    (["up", "--port-base", "abc"], "--port-base"),
])
def test_usage_errors_are_one_line_too(place: Path, args: list[str], says: str) -> None:
    result = _cli_in(place, "--home", "nothere", *args)
    assert result.rc == 2, result.stderr
    assert_one_error(result)
    assert says in result.stderr


def test_a_deeply_nested_spec_is_bad_input(place: Path) -> None:
    (place / "deep.yaml").write_text("[" * 5000 + "]" * 5000 + "\n")
    for args in (["validate"], ["iaas", "plan", "--offline"]):
        result = _cli_in(place, "--spec", "deep.yaml", *args)
        assert result.rc == 2, result.stderr
        assert "nested deeper than" in result.stderr and "unexpected" not in result.stderr


def test_an_argument_that_is_not_utf8_is_bad_input(place: Path) -> None:
    result = _cli_in(place, "--home", "nothere", "agency", "show", "bad\udcffslug")
    assert result.rc == 2, result.stderr
    assert_one_error(result)
    assert "not valid UTF-8" in result.stderr
