"""Hostile, missing and odd arguments on a real box (found by fuzzing every command): each is refused with its
exit code and one line, nothing is created, and user text is never replayed raw to a terminal."""

from __future__ import annotations

import sqlite3

import pytest

from tests.conftest import BoxHandle, assert_one_error

pytestmark = pytest.mark.integration

ESC = "\x1b[31mred\x1b[0m"
RLO = "Health\u202eyenom"


@pytest.fixture(scope="module")
def agency(box: BoxHandle) -> str:
    added = box.cli("agency", "add", "hostile", "--name", "Hostile Tests")
    assert added.rc == 0, added.stderr
    return "hostile"


CASES = [
    # (arguments, exit code, text of the error line); {a} is an onboarded agency
    (["agency", "add", "{a}", "--name", "Hostile Tests", "--email", ""], 2, "--email is empty"),
    (["agency", "add", "{a}", "--name", "Hostile Tests", "--email", "not-an-email"], 2, "invalid email"),
    (["agency", "add", "other", "--name", "   "], 2, "is only spaces"),
    (["agency", "add", "other", "--name", ESC], 2, "control character"),
    (["agency", "add", "other", "--name", RLO], 2, "bidi override"),
    (["agency", "add", "other", "--name", "tab\there"], 2, "control character"),
    (["--actor", ESC, "agency", "list"], 2, "--actor"),
    (["--actor", "   ", "agency", "list"], 2, "--actor"),
    (["app", "remove", "nosuch", "portal"], 2, "unknown agency 'nosuch'"),
    (["app", "remove", "{a}", "nosuch"], 2, "unknown app 'nosuch'"),
    (["app", "remove", ESC, "portal"], 2, "unknown agency"),
    (["app", "list", "--agency", "nosuch"], 2, "unknown agency 'nosuch'"),
    (["verify", "--agency", "nosuch"], 2, "unknown agency 'nosuch'"),
    (["verify", "--app", "nosuch"], 2, "unknown app 'nosuch'"),
    (["logs", "database", "-n", "99999999999999999999"], 2, "--lines"),
    (["logs", "nosuch"], 2, "unknown service 'nosuch'"),
    (["agency", "usage", ""], 2, "is empty"),
    (["agency", "show", "bad\udcffbyte"], 2, "not valid UTF-8"),
    (["agency", "show", RLO], 2, "unknown agency"),
    (["backup", "run", "--agency", ""], 2, "--agency is empty"),
    (["backup", "list", "--agency", ""], 2, "--agency is empty"),
    (["backup", "verify", "--agency", ""], 2, "--agency is empty"),
    (["backup", "restore", "--platform", "--to", ""], 2, "--to is empty"),
    (["backup", "restore", "--registry", "--to", "2026-01-01"], 2, "not for --registry"),
    (["backup", "restore"], 2, "say what to restore"),
    (["iaas", "plan", "--offline", "--agency", ""], 2, "--agency is empty"),
    (["app", "deploy", "nosuch", "portal"], 2, "unknown agency 'nosuch'"),
]


@pytest.mark.parametrize(("args", "rc", "says"), CASES, ids=[" ".join(c[0])[:50] for c in CASES])
def test_bad_input_is_one_line_and_changes_nothing(box: BoxHandle, agency: str, args: list[str], rc: int,
                                                   says: str) -> None:
    before = box.cli("--json", "agency", "list").json()
    result = box.cli(*[a.replace("{a}", agency) for a in args])
    assert result.rc == rc, result.stderr
    assert_one_error(result)
    assert says in result.stderr, result.stderr
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr
    assert box.cli("--json", "agency", "list").json() == before


def test_user_text_is_shown_literally_and_old_audit_rows_escaped(box: BoxHandle, agency: str) -> None:
    markup = box.cli("agency", "add", "markup", "--name", "[red]Ministry[/red] of Markup")
    assert markup.rc == 0, markup.stderr
    listed = box.cli("agency", "list")
    assert "[red]Ministry[/red] of Markup" in listed.stderr + listed.stdout
    # A registry written by an earlier release may hold raw escapes: `agency show` must not replay them.
    with sqlite3.connect(box.home / "registry.db") as conn:
        conn.execute("INSERT INTO audit (at, actor, command, target, result, detail) VALUES (?, ?, ?, ?, ?, ?)",
                     ("2026-01-01T00:00:00+00:00", f"{ESC}\x1b[2J", "agency add", agency, f"ok{RLO}", ""))
    shown = box.cli("agency", "show", agency)
    assert shown.rc == 0, shown.stderr
    out = shown.stdout + shown.stderr
    assert "\x1b" not in out and "\u202e" not in out
    assert "\\x1b[31mred" in out


def test_read_only_commands_create_nothing_in_the_box(box: BoxHandle, agency: str) -> None:
    def paths() -> set[str]:
        return {str(p.relative_to(box.home)) for p in box.home.rglob("*")
                if not p.name.startswith(("registry.db-", ".")) and "/logs/" not in f"/{p.relative_to(box.home)}"
                and not str(p.relative_to(box.home)).startswith(("pg/data", "s3/", "idp/", "pgbackrest/"))}

    for args in (["agency", "list"], ["agency", "show", agency], ["status"], ["doctor"], ["logs", "database"],
                 ["app", "list"], ["verify"], ["agency", "usage", agency]):
        before = paths()
        result = box.cli(*args)
        assert result.rc in (0, 1), (args, result.stderr)
        assert paths() - before == set(), args
