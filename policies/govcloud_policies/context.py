"""What the rules need to know about the platform, derived from the spec. The runner writes it as JSON
next to the stack's work dir and points GOVCLOUD_POLICY_CONTEXT at it, because the pack runs in a process
started by the pulumi CLI and cannot see our arguments."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from govcloud_platform.spec import Spec

ENV_VAR = "GOVCLOUD_POLICY_CONTEXT"


@dataclass(frozen=True)
class PolicyContext:
    platform: str = "govcloud"
    allowed_regions: tuple[str, ...] = ("RegionOne",)
    allowed_zones: tuple[str, ...] = ("nova",)
    proxy_cidr: str = "10.10.0.10/32"
    encrypted_volume_type: str = "encrypted"
    capacity: dict[str, int] = field(default_factory=dict)
    settings: str = "openstack"  # the spec block the allowlists come from (`platform.<settings>`): openstack | ec2

    @classmethod
    def from_spec(cls, spec: Spec) -> PolicyContext:
        if spec.platform.target == "ec2":
            ec2 = spec.platform.ec2
            return cls(
                platform=spec.platform.name,
                allowed_regions=tuple(ec2.allowed_regions),
                allowed_zones=tuple(ec2.allowed_availability_zones),
                proxy_cidr=ec2.proxy_cidr,
                capacity=ec2.capacity.model_dump(),
                settings="ec2",
            )
        os_ = spec.platform.openstack
        return cls(
            platform=spec.platform.name,
            allowed_regions=tuple(os_.allowed_regions),
            allowed_zones=tuple(os_.allowed_availability_zones),
            proxy_cidr=os_.proxy_cidr,
            encrypted_volume_type=os_.encrypted_volume_type,
            capacity=os_.capacity.model_dump(),
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PolicyContext:
        raw = json.loads(text)
        return cls(
            platform=str(raw["platform"]),
            allowed_regions=tuple(raw["allowed_regions"]),
            allowed_zones=tuple(raw["allowed_zones"]),
            proxy_cidr=str(raw["proxy_cidr"]),
            encrypted_volume_type=str(raw["encrypted_volume_type"]),
            capacity={str(k): int(v) for k, v in raw.get("capacity", {}).items()},
            settings=str(raw.get("settings", "openstack")),
        )

    @classmethod
    def from_env(cls) -> PolicyContext:
        """The context written by the runner, or the defaults of an unmodified spec."""
        path = os.environ.get(ENV_VAR)
        if path:
            return cls.from_json(Path(path).read_text(encoding="utf-8"))
        return cls()
