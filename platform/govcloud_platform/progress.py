"""How long operations tell what they are doing: one callback type, and the one that says nothing. The CLI
passes a callback that prints on stderr; the core never prints."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str], None]


def quiet(_: str) -> None:
    """The progress callback of a caller that wants none."""
    return None
