"""Typed errors of the centre's core. Each says where (file, key or element) and what to do, in one line, so
that a command or a page can show it as it is."""

from __future__ import annotations


class CentreError(Exception):
    """Base of every error the core raises on purpose; `where` names the file, key or element concerned."""

    def __init__(self, message: str, where: str = "") -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.message = message
        self.where = where


class CatalogueError(CentreError):
    """A catalogue file breaks a rule: nothing of it is used. `problems`: every rule it breaks that was found in
    one reading (each "key: what to do"), where the message shows the first."""

    def __init__(self, message: str, where: str = "", problems: tuple[str, ...] = ()) -> None:
        super().__init__(message, where)
        self.problems = problems or (message,)


class ProcessError(CentreError):
    """A BPMN file is malformed or uses what the centre refuses (scripts, services, unknown elements)."""


class ExpressionError(ProcessError):
    """An expression of a BPMN file (gateway condition, timer) is outside the restricted language."""


class ActionError(CentreError):
    """A task action that the process does not allow now (wrong task, wrong desk, unknown action)."""


class NotFound(CentreError):
    """No such application, task or code (deliberately vague towards citizens)."""
