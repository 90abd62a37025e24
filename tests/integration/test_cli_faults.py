"""A box service stopped under the CLI: every command fails with exit 1 and exactly one `error:` line that names
the service and says what to run, never a server's HTML page or `unexpected <Exception>`. Each test restarts
what it stopped (`govcloud up`), leaving the session box healthy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from govcloud_platform.box.supervisor import Supervisor
from tests.conftest import BoxHandle, Result, assert_one_error

pytestmark = pytest.mark.integration

COMMANDS = [
    ["agency", "add", "faultless", "--name", "Fault Test"],
    ["doctor"],
    ["apply"],
    ["status"],
    ["agency", "usage"],
]


def _check(result: Result, service: str) -> str:
    assert result.rc == 1, result.stderr
    assert_one_error(result)
    line = result.stderr.strip().splitlines()[-1]
    assert service in line and "govcloud up" in line, line
    assert "unexpected" not in line and "<html" not in result.stderr.lower(), result.stderr
    return line


@pytest.fixture
def agency(box: BoxHandle) -> Iterator[str]:
    """An onboarded agency (so that `usage` and `doctor` have something to ask the services about)."""
    added = box.cli("agency", "add", "faults", "--name", "Fault Tests")
    assert added.rc == 0, added.stderr
    yield "faults"
    up = box.cli("up")
    assert up.rc == 0, up.stderr


@pytest.mark.parametrize(("program", "service"), [
    ("database", "database"), ("idp-fastcgi", "identity"), ("nginx", "identity"), ("storage", "storage"),
])
def test_a_stopped_service_gives_one_line_naming_it(box: BoxHandle, agency: str, program: str,
                                                    service: str) -> None:
    Supervisor(box.box()).stop(program)
    lines = {" ".join(args[:2]): _check(box.cli(*args), service) for args in COMMANDS}
    print(f"\n{program} stopped:\n" + "\n".join(f"  {cmd}: {line}" for cmd, line in lines.items()))
    up = box.cli("up")
    assert up.rc == 0, up.stderr


def test_the_idp_failing_during_an_add_is_one_line_not_its_error_page(box: BoxHandle, agency: str) -> None:
    failed = box.cli("agency", "add", "idpfault", "--name", "IdP Fault",
                     env={"GOVCLOUD_TEST_FAULT": "before:identity:stop:idp-fastcgi"})
    line = _check(failed, "identity")
    assert "HTTP 502" in line
    for args in (["doctor"], ["agency", "usage", agency]):
        _check(box.cli(*args), "identity")
    assert box.cli("up").rc == 0
    again = box.cli("agency", "add", "idpfault", "--name", "IdP Fault")
    assert again.rc == 0, again.stderr
