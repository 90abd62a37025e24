"""Limits the servers enforce for an agency, compared with the quota that was applied (issue 10 item 4, issue 11
item 1). Brokers read them from their server in one session (`Broker.limits`); the decisions here are pure:
what drifted, which quota values changed, what `apply` reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from govcloud_platform.spec import Quota


@dataclass(frozen=True)
class Limit:
    """One setting a server enforces for an agency: what its applied quota says and what the server holds
    (None: the object is missing)."""

    slug: str
    target: str  # the server's object: "database ag_x", "role ag_x__ro", "bucket ag-x"
    setting: str  # "connection limit", "owner", "access", "quota bytes"
    expected: Any
    actual: Any

    @property
    def drifted(self) -> bool:
        return bool(self.expected != self.actual)

    def as_dict(self) -> dict[str, Any]:
        return {"agency": self.slug, "object": self.target, "setting": self.setting,
                "expected": self.expected, "actual": self.actual}

    def describe(self) -> str:
        actual = "missing" if self.actual is None else self.actual
        return f"{self.slug}: {self.target} {self.setting} is {actual}, expected {self.expected}"


def drifted(limits: list[Limit]) -> list[Limit]:
    return [limit for limit in limits if limit.drifted]


def quota_values(quota: Quota) -> dict[str, Any]:
    """What the registry stores as applied: every resolved value (the class name included)."""
    return quota.model_dump()


def changed_fields(applied: dict[str, Any] | None, resolved: Quota) -> list[str]:
    """The quota values that differ from what was applied (all of them when nothing is recorded: a box older
    than the record, whose servers `apply` then checks one by one)."""
    values = quota_values(resolved)
    if applied is None:
        return sorted(values)
    return sorted(k for k, v in values.items() if applied.get(k) != v)


def outcome(changed: list[str], restored: list[Limit], recorded: bool) -> str:
    """What `apply` reports for an agency it did not otherwise change: `updated` when its class's values
    changed since they were applied, `restored` when a server held another value than the applied one,
    else `unchanged`. A box without a record yet reports only what it had to restore."""
    if recorded and changed:
        return "updated"
    return "restored" if restored else "unchanged"
