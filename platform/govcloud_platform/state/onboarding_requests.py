"""Onboarding requests in the registry (table `onboarding_requests`, migration 5): filed in the console, decided by
an operator. Only storage: who may file or decide, and what a decision does, is `console.intake`'s and the
console's; an approval onboards through `Onboarding.add` as `agency add` does, in a console job.

An approval claims the request first (`claim`: pending -> approving, one conditional statement, so a second approval
or a decline meanwhile finds it decided), then its job onboards and ends it approved (`finish`), or puts it back to
pending when the onboarding failed (`reopen`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from govcloud_platform.state.registry import Registry, now
from govcloud_platform.text import printable

PENDING, APPROVING, APPROVED, DECLINED = "pending", "approving", "approved", "declined"


@dataclass(frozen=True)
class OnboardingRequest:
    id: int
    slug: str
    name: str
    email: str
    quota: str
    apps: tuple[str, ...]
    state: str
    filed_by: str
    filed_at: str
    decided_by: str
    decided_at: str
    reason: str
    lang: str = "en"  # the language of the page it was filed on (its decision is mailed in it)
    jobs: tuple[int, ...] = ()  # the deploy jobs its approval started for its apps
    approval_job: int = 0  # the last approval's onboarding job (0: never approved)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "slug": self.slug, "name": self.name, "email": self.email, "quota_class": self.quota,
                "apps": list(self.apps), "state": self.state, "filed_by": self.filed_by, "filed_at": self.filed_at,
                "decided_by": self.decided_by or None, "decided_at": self.decided_at or None,
                "reason": self.reason or None, "lang": self.lang, "jobs": list(self.jobs),
                "approval_job": self.approval_job or None}


_SELECT = ("SELECT id, slug, name, email, quota, apps, state, filed_by, filed_at, decided_by, decided_at, reason, "
           "lang, jobs, approval_job FROM onboarding_requests")


def _request(row: tuple[Any, ...]) -> OnboardingRequest:
    values = list(row)
    values[5] = tuple(json.loads(values[5]))
    values[13] = tuple(int(j) for j in json.loads(values[13]))
    return OnboardingRequest(*values)


def file(registry: Registry, slug: str, name: str, email: str, quota: str, apps: list[str],
         filed_by: str, lang: str = "en") -> OnboardingRequest:
    """Store a validated request as pending (the caller validated every field)."""
    with registry.connect() as conn:
        cur = conn.execute(
            "INSERT INTO onboarding_requests (slug, name, email, quota, apps, state, filed_by, filed_at, lang) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (slug, name, email, quota, json.dumps(sorted(set(apps))), PENDING, printable(filed_by, 200), now(),
             lang))
        found = get(registry, int(cur.lastrowid or 0))
    assert found is not None
    return found


def get(registry: Registry, request_id: int) -> OnboardingRequest | None:
    with registry.connect() as conn:
        row = conn.execute(_SELECT + " WHERE id = ?", (request_id,)).fetchone()
    return _request(row) if row else None


def every(registry: Registry) -> list[OnboardingRequest]:
    """Every request, the newest first."""
    with registry.connect() as conn:
        rows = conn.execute(_SELECT + " ORDER BY id DESC").fetchall()
    return [_request(r) for r in rows]


def decide(registry: Registry, request_id: int, state: str, decided_by: str, reason: str = "") -> bool:
    """Mark a pending request approved or declined; False when it was no longer pending (decided meanwhile: the
    update and its condition are one statement, so two deciders cannot both win)."""
    assert state in (APPROVED, DECLINED)
    with registry.connect() as conn:
        cur = conn.execute(
            "UPDATE onboarding_requests SET state = ?, decided_by = ?, decided_at = ?, reason = ? "
            "WHERE id = ? AND state = ?",
            (state, printable(decided_by, 200), now(), printable(reason, 500), request_id, PENDING))
    return cur.rowcount == 1


def claim(registry: Registry, request_id: int, decided_by: str) -> bool:
    """An approval's first step: a pending request becomes approving (its decider and time recorded); False when it
    was no longer pending (decided, or being approved, meanwhile)."""
    with registry.connect() as conn:
        cur = conn.execute("UPDATE onboarding_requests SET state = ?, decided_by = ?, decided_at = ?, reason = '' "
                           "WHERE id = ? AND state = ?",
                           (APPROVING, printable(decided_by, 200), now(), request_id, PENDING))
    return cur.rowcount == 1


def set_approval_job(registry: Registry, request_id: int, job_id: int) -> None:
    with registry.connect() as conn:
        conn.execute("UPDATE onboarding_requests SET approval_job = ? WHERE id = ?", (int(job_id), request_id))


def finish(registry: Registry, request_id: int) -> bool:
    """The approval's onboarding succeeded: approving -> approved (False when it was not approving)."""
    with registry.connect() as conn:
        cur = conn.execute("UPDATE onboarding_requests SET state = ?, decided_at = ? WHERE id = ? AND state = ?",
                           (APPROVED, now(), request_id, APPROVING))
    return cur.rowcount == 1


def reopen(registry: Registry, request_id: int) -> bool:
    """An approval whose onboarding failed goes back to pending (the failure is in its job and the audit log; it may
    be approved again once the cause is fixed: `agency add` converges what the failed one made). False when it was
    not being approved (an approved one stays approved: nothing changed)."""
    with registry.connect() as conn:
        cur = conn.execute("UPDATE onboarding_requests SET state = ?, decided_by = '', decided_at = '', reason = '' "
                           "WHERE id = ? AND state = ?", (PENDING, request_id, APPROVING))
    return cur.rowcount == 1


def approving(registry: Registry) -> list[OnboardingRequest]:
    """The requests being approved (after a restart of the console, their jobs are gone: `reopen` them)."""
    with registry.connect() as conn:
        rows = conn.execute(_SELECT + " WHERE state = ?", (APPROVING,)).fetchall()
    return [_request(r) for r in rows]


def set_jobs(registry: Registry, request_id: int, job_ids: list[int]) -> None:
    """Record the deploy jobs an approval started for the request's apps."""
    with registry.connect() as conn:
        conn.execute("UPDATE onboarding_requests SET jobs = ? WHERE id = ?",
                     (json.dumps([int(j) for j in job_ids]), request_id))
