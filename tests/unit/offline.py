"""A box directory with a registry and no server, for the backup plan's tests (no process runs)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from govcloud_platform.backups.common import iso
from govcloud_platform.box.context import Box
from govcloud_platform.spec import load_spec_text
from govcloud_platform.spec.example import EXAMPLE_SPEC
from govcloud_platform.state import registry as registry_module
from govcloud_platform.state.registry import Registry

T0 = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)  # a Saturday


def offline_box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, provisioning: tuple[str, ...] = ()) -> Box:
    """`health` and `revenue` ready (database and backups), and `provisioning` agencies. The registry stamps
    rows with the wall clock: it is pinned to the day before T0, so that the plan's arithmetic (an agency
    younger than its plan is fine) does not depend on the date the test runs on."""
    monkeypatch.setattr(registry_module, "now", lambda: iso(T0 - dt.timedelta(days=1)))
    box = Box(home=tmp_path / "home", spec=load_spec_text(EXAMPLE_SPEC))
    registry = Registry(box.home)
    for slug in ("health", "revenue"):
        registry.save_agency(slug, slug, f"it@{slug}.example", "standard", ["database", "backups"], "ready")
    for slug in provisioning:
        registry.save_agency(slug, slug, f"it@{slug}.example", "standard", ["database", "backups"], "provisioning")
    return box
