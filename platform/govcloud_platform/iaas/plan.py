"""The offline plan's result: every resource the programs would register and every policy verdict.
`as_json` is a stable interface (CI parses it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class PlannedResource:
    stack: str
    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    inputs: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "type": self.type, "name": self.name, "urn": self.urn, "inputs": self.inputs}


@dataclass(frozen=True)
class Verdict:
    policy: str
    level: str  # mandatory | advisory
    resource: str  # URN, or the stack name for stack-level rules
    message: str

    def as_json(self) -> dict[str, str]:
        return {"policy": self.policy, "level": self.level, "resource": self.resource, "message": self.message}


@dataclass
class Plan:
    resources: list[PlannedResource] = field(default_factory=list)
    violations: list[Verdict] = field(default_factory=list)
    stacks: list[str] = field(default_factory=list)

    @property
    def mandatory(self) -> list[Verdict]:
        return [v for v in self.violations if v.level == "mandatory"]

    def as_json(self) -> dict[str, Any]:
        return {
            "resources": [r.as_json() for r in self.resources],
            "violations": [v.as_json() for v in self.violations],
        }
