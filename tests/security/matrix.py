"""The attacker's matrix: every attempt, by class, and whether it succeeded (goal: 0 successes). Its own module so
that an attack run outside tests/security (the HA lab's, in tests/integration/test_hosts_ha.py) lands in the same
matrix: the summary hook in tests/security/conftest.py prints it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

CLASSES = ("names", "local", "oidc", "database", "s3", "citizen", "cluster", "mail", "console")
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
