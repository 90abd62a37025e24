"""Invitations of staff to an agency in the registry (table `invitations`, migration 9). Only storage: who may
invite, what a token is and when one may be used are `console.membership`'s; creating the IdP user is the console's.

A token is never stored: only its SHA-256 (`token_hash`), so a copy of the registry opens no invitation. Using one
is a conditional `UPDATE` (pending and not expired), so a link used twice at once creates one user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from govcloud_platform.state.registry import Registry, now
from govcloud_platform.text import printable

PENDING, ACCEPTED, REVOKED = "pending", "accepted", "revoked"


@dataclass(frozen=True)
class Invitation:
    id: int
    agency: str
    email: str
    role: str
    state: str
    invited_by: str
    created_at: str
    expires_at: str
    login: str
    closed_by: str
    closed_at: str

    def as_dict(self) -> dict[str, Any]:
        """What the API shows (never the token nor its hash)."""
        return {"id": self.id, "agency": self.agency, "email": self.email, "role": self.role, "state": self.state,
                "invited_by": self.invited_by, "created_at": self.created_at, "expires_at": self.expires_at,
                "login": self.login or None, "closed_by": self.closed_by or None, "closed_at": self.closed_at or None}


_SELECT = ("SELECT id, agency, email, role, state, invited_by, created_at, expires_at, login, closed_by, closed_at "
           "FROM invitations")


def create(registry: Registry, agency: str, email: str, role: str, token_hash: str, invited_by: str,
           expires_at: str) -> Invitation:
    """Store a pending invitation (the caller validated every field and made the token)."""
    with registry.connect() as conn:
        cur = conn.execute(
            "INSERT INTO invitations (agency, email, role, token_hash, state, invited_by, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (agency, email, role, token_hash, PENDING, printable(invited_by, 200), now(), expires_at))
        found = get(registry, int(cur.lastrowid or 0))
    assert found is not None
    return found


def get(registry: Registry, invitation_id: int) -> Invitation | None:
    with registry.connect() as conn:
        row = conn.execute(_SELECT + " WHERE id = ?", (invitation_id,)).fetchone()
    return Invitation(*row) if row else None


def by_token_hash(registry: Registry, token_hash: str) -> Invitation | None:
    with registry.connect() as conn:
        row = conn.execute(_SELECT + " WHERE token_hash = ?", (token_hash,)).fetchone()
    return Invitation(*row) if row else None


def of_agency(registry: Registry, agency: str) -> list[Invitation]:
    """The agency's invitations, the newest first."""
    with registry.connect() as conn:
        rows = conn.execute(_SELECT + " WHERE agency = ? ORDER BY id DESC", (agency,)).fetchall()
    return [Invitation(*r) for r in rows]


def claim(registry: Registry, invitation_id: int, login: str, at: str) -> bool:
    """Mark a pending, unexpired invitation accepted by `login` (at `at`, an ISO time); False when it was used,
    revoked or expired meanwhile (one statement: two uses at once cannot both win)."""
    with registry.connect() as conn:
        cur = conn.execute(
            "UPDATE invitations SET state = ?, login = ?, closed_by = ?, closed_at = ? "
            "WHERE id = ? AND state = ? AND expires_at > ?",
            (ACCEPTED, login, printable(login, 200), at, invitation_id, PENDING, at))
    return cur.rowcount == 1


def release(registry: Registry, invitation_id: int) -> None:
    """A claim whose IdP user could not be made (the login was taken, the IdP failed) is pending again."""
    with registry.connect() as conn:
        conn.execute("UPDATE invitations SET state = ?, login = '', closed_by = '', closed_at = '' "
                     "WHERE id = ? AND state = ?", (PENDING, invitation_id, ACCEPTED))


def revoke(registry: Registry, invitation_id: int, by: str) -> bool:
    """Withdraw a pending invitation; False when it was no longer pending."""
    with registry.connect() as conn:
        cur = conn.execute("UPDATE invitations SET state = ?, closed_by = ?, closed_at = ? WHERE id = ? AND state = ?",
                           (REVOKED, printable(by, 200), now(), invitation_id, PENDING))
    return cur.rowcount == 1


def reissue(registry: Registry, invitation_id: int, token_hash: str, expires_at: str, at: str
            ) -> tuple[str, str] | None:
    """Give a usable invitation (pending, not expired at `at`) a new token and expiry: the old token opens nothing
    any more. Its old hash and expiry (to put them back if the new link cannot be mailed), or None when it was not
    usable (one transaction: a use or a withdrawal at once wins or loses whole)."""
    with registry.connect() as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT token_hash, expires_at FROM invitations WHERE id = ? AND state = ? "
                               "AND expires_at > ?", (invitation_id, PENDING, at)).fetchone()
            if row is not None:
                conn.execute("UPDATE invitations SET token_hash = ?, expires_at = ? WHERE id = ?",
                             (token_hash, expires_at, invitation_id))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return (str(row[0]), str(row[1])) if row is not None else None


def put_back(registry: Registry, invitation_id: int, token_hash: str, old: tuple[str, str]) -> None:
    """Undo `reissue` (its new link was not mailed): the old token and expiry again, if nothing changed since."""
    with registry.connect() as conn:
        conn.execute("UPDATE invitations SET token_hash = ?, expires_at = ? WHERE id = ? AND token_hash = ? "
                     "AND state = ?", (*old, invitation_id, token_hash, PENDING))
