"""A registry as an older govcloud left it, for the tests of the registry's migrations (`state.registry.MIGRATIONS`)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from govcloud_platform.state.registry import MIGRATIONS, Registry


def older_registry(home: Path, version: int) -> Registry:
    """The registry of `home` written at schema `version` (its first migrations only) with one ready agency,
    `health`, then opened by today's code, which migrates it to the latest version."""
    conn = sqlite3.connect(home / "registry.db")
    for script in MIGRATIONS[:version]:
        for statement in script.split(";\n"):
            if statement.strip():
                conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {int(version)}")
    conn.execute("INSERT INTO agencies VALUES ('health', 'H', 'a@b.cd', 'standard', '[]', 'ready', 'x', 'x')")
    conn.commit()
    conn.close()
    return Registry(home)
