"""Settings of the `openstack` target. Extended by the IaaS layer (issue: IaaS on OpenStack)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class OpenStackSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    cloud: str = Field("govcloud", description="name of the cloud in clouds.yaml (OS_CLOUD)")
    region: str = "RegionOne"
    allowed_regions: list[str] = Field(default_factory=lambda: ["RegionOne"])
    allowed_availability_zones: list[str] = Field(default_factory=lambda: ["nova"])
    external_network: str = "public"
