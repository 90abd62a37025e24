"""Typed errors. Each carries the exit code the CLI returns and a message that says what to do."""

from __future__ import annotations


class GovCloudError(Exception):
    """Base error: one clear line for the user, and a documented exit code."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class OperationFailed(GovCloudError):
    """An operation against a real service failed (exit 1)."""

    exit_code = 1


class ServiceError(OperationFailed):
    """A shared service is down, unready or answered with an error."""


class ProvisioningError(OperationFailed):
    """A broker could not provision or bind."""


class MissingDependency(OperationFailed):
    """A binary or tool we need is not installed; the message names the package."""


class InputError(GovCloudError):
    """Bad input from the user: a spec, an argument, a name (exit 2)."""

    exit_code = 2


class SpecError(InputError):
    """The spec file is invalid. `problems` lists every problem with its key path and line."""

    def __init__(self, message: str, problems: list[SpecProblem] | None = None, *, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.problems = problems or []


class PolicyViolation(GovCloudError):
    """A mandatory policy was violated (exit 3)."""

    exit_code = 3


class ConflictError(GovCloudError):
    """The requested change conflicts with what exists, or a lock is held (exit 4)."""

    exit_code = 4


class SpecProblem:
    """One problem in a spec file: where it is and what is wrong."""

    def __init__(self, file: str, path: str, line: int | None, message: str) -> None:
        self.file = file
        self.path = path
        self.line = line
        self.message = message

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "path": self.path, "line": self.line, "message": self.message}


EXIT_CODES = {
    0: "success",
    1: "operation failed (a service is down, a command failed)",
    2: "bad input (invalid spec, unknown agency, bad argument)",
    3: "policy violation",
    4: "conflict (a lock is held, or the change conflicts with what exists)",
}


def last_line(output: bytes | str | None, default: str = "") -> str:
    """The line that says why a command failed: its last line naming an error (ERROR, Fatal, error), else its
    last line, else `default`; at most 300 characters (a message, never a dump). The one helper every adapter
    of a command line (pgBackRest, restic, pg_dump, weed, pulumi) reports failures with."""
    text = output.decode(errors="replace") if isinstance(output, bytes) else (output or "")
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR" in line or "Fatal" in line or "error" in line.lower()]
    return ((errors or lines or [default])[-1])[:300]
