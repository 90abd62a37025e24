"""The console's script clients in the registry (table `console_clients`, migration 8): which OIDC client of the IdP
is a script's, and the standing the console gives its tokens. Only storage: `console_scripts` registers the clients
in the IdP and decides what may be recorded; the console (`console/app.py`) reads a token's client here at every
API call, so a removed client's tokens are refused at once, before they expire."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from govcloud_platform.errors import ConflictError
from govcloud_platform.state.registry import Registry, now
from govcloud_platform.text import printable

OPERATOR, ADMIN, MEMBER = "operator", "admin", "member"
ROLES = (OPERATOR, ADMIN, MEMBER)


@dataclass(frozen=True)
class ScriptClient:
    name: str
    client_id: str
    role: str  # operator, or an agency's admin or member
    agency: str | None  # None for an operator's
    created_by: str
    created_at: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "client_id": self.client_id, "role": self.role, "agency": self.agency,
                "created_by": self.created_by, "created_at": self.created_at}


_SELECT = "SELECT name, client_id, role, agency, created_by, created_at FROM console_clients"


def add(registry: Registry, name: str, client_id: str, role: str, agency: str | None, created_by: str) -> ScriptClient:
    """Record a client (the caller checked the name, the role and the agency); ConflictError if the name or the
    client id is taken."""
    try:
        with registry.connect() as conn:
            conn.execute("INSERT INTO console_clients (name, client_id, role, agency, created_by, created_at) "
                         "VALUES (?, ?, ?, ?, ?, ?)",
                         (name, client_id, role, agency, printable(created_by, 200), now()))
    except sqlite3.IntegrityError:
        raise ConflictError(f"script client {name!r} exists",
                            hint="`govcloud console client list` shows them; remove it first") from None
    found = get(registry, name)
    assert found is not None
    return found


def get(registry: Registry, name: str) -> ScriptClient | None:
    with registry.connect() as conn:
        row = conn.execute(_SELECT + " WHERE name = ?", (name,)).fetchone()
    return ScriptClient(*row) if row else None


def by_client_id(registry: Registry, client_id: str) -> ScriptClient | None:
    """The script client a token's `client_id` names, or None (not a script's: its tokens are no key)."""
    with registry.connect() as conn:
        row = conn.execute(_SELECT + " WHERE client_id = ?", (client_id,)).fetchone()
    return ScriptClient(*row) if row else None


def every(registry: Registry, agency: str | None = None) -> list[ScriptClient]:
    """Every client by name, or an agency's."""
    with registry.connect() as conn:
        rows = conn.execute(_SELECT + (" WHERE agency = ?" if agency else "") + " ORDER BY name",
                            (agency,) if agency else ()).fetchall()
    return [ScriptClient(*r) for r in rows]


def delete(registry: Registry, name: str) -> bool:
    with registry.connect() as conn:
        return conn.execute("DELETE FROM console_clients WHERE name = ?", (name,)).rowcount > 0
