"""The attacker's suite: real clients try to cross from one agency (or an unprivileged local user, or a
citizen without a code or token) into what another agency owns. Every attempt is recorded in a matrix of
attempts and successes per class, printed at the end of the run (and written as JSON next to the test boxes):
the goal is 0 successes. A new service or app is covered by adding a row to the class's parametrized table.

Classes: names (crafted slugs and app names), local (an unprivileged local user, and each app's system user),
oidc (cross-client login, code and token exchange, introspection, refresh), database (privilege escalation
from an agency's roles), s3 (another agency's bucket through every API family), citizen (the Citizen's Centre
through the agency's TLS proxy, as a citizen without the link or code: saved answers, the tracking throttle)."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import TEST_ROOT, BoxHandle

CLASSES = ("names", "local", "oidc", "database", "s3", "citizen")
# class -> [(attempt, succeeded)]
MATRIX: dict[str, list[tuple[str, bool]]] = defaultdict(list)


@dataclass
class Attempt:
    """What one attack did: `succeeded` is set by the body when the server's answer is not an exception (an
    HTTP status, a row count); left unset, a body that returns counts as a success and one that raises one
    of the `denied` exceptions as a denial."""

    succeeded: bool | None = None
    detail: str = ""


@contextmanager
def attack(cls: str, what: str, denied: tuple[type[BaseException], ...] = (Exception,)) -> Iterator[Attempt]:
    """Run one attack, record it in the matrix, and fail the test if it succeeded. An AssertionError inside
    the body is the test's own failure, never a denial."""
    assert cls in CLASSES, cls
    attempt = Attempt()
    try:
        yield attempt
    except AssertionError:
        raise
    except denied as exc:
        attempt.succeeded = False
        attempt.detail = attempt.detail or type(exc).__name__
    else:
        if attempt.succeeded is None:
            attempt.succeeded = True
    MATRIX[cls].append((what, bool(attempt.succeeded)))
    assert not attempt.succeeded, f"attack succeeded [{cls}] {what}: {attempt.detail}"


def matrix_rows() -> list[dict[str, Any]]:
    return [{"class": cls, "attempts": len(MATRIX[cls]), "successes": sum(ok for _, ok in MATRIX[cls]),
             "succeeded": [what for what, ok in MATRIX[cls] if ok]} for cls in CLASSES]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not any(MATRIX.values()):
        return
    rows = matrix_rows()
    terminalreporter.section("attacker's matrix (goal: 0 successes)")
    terminalreporter.write_line(f"{'class':<10} {'attempts':>9} {'successes':>10}")
    for row in rows:
        terminalreporter.write_line(f"{row['class']:<10} {row['attempts']:>9} {row['successes']:>10}")
        for what in row["succeeded"]:
            terminalreporter.write_line(f"    succeeded: {what}")
    total = sum(r["attempts"] for r in rows), sum(r["successes"] for r in rows)
    terminalreporter.write_line(f"{'all':<10} {total[0]:>9} {total[1]:>10}")
    try:
        TEST_ROOT.mkdir(parents=True, exist_ok=True)
        (TEST_ROOT / f"security-matrix-{os.getpid()}.json").write_text(json.dumps(rows, indent=1) + "\n")
    except OSError:
        pass


# --- shared targets: two agencies on the session box, the attacker and the victim ----------------------
VICTIM, INTRUDER = "sec-victim", "sec-intruder"


@pytest.fixture(scope="session")
def tenants(box: BoxHandle) -> dict[str, dict[str, Any]]:
    """Credentials (`agency credentials --json --show-secrets`) of the victim and the intruder agency, both
    onboarded through the CLI on the session box."""
    out: dict[str, dict[str, Any]] = {}
    for slug in (VICTIM, INTRUDER):
        added = box.cli("agency", "add", slug, "--name", f"Security {slug}", "--email", f"it@{slug}.example")
        assert added.rc == 0, added.stderr
        creds = box.cli("--json", "agency", "credentials", slug, "--show-secrets")
        assert creds.rc == 0, creds.stderr
        out[slug] = creds.json()
    return out
