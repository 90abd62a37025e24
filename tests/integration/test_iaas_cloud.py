"""preview, up and destroy of one agency against a real OpenStack (OS_CLOUD) with the pulumi CLI."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from govcloud_platform.iaas.runner import run
from govcloud_platform.spec import load_spec_text
from govcloud_platform.spec.example import EXAMPLE_SPEC

pytestmark = [
    pytest.mark.requires_cloud,
    pytest.mark.skipif(shutil.which("pulumi") is None or not os.environ.get("OS_CLOUD"),
                       reason="needs the pulumi CLI on PATH and OS_CLOUD naming a cloud in clouds.yaml"),
]


def test_preview_up_destroy_one_agency(tmp_path: Path) -> None:
    spec = load_spec_text(EXAMPLE_SPEC.replace("cloud: govcloud", f"cloud: {os.environ.get('OS_CLOUD', '')}"))
    events: list[str] = []
    try:
        preview = run(spec, tmp_path, "preview", "revenue", progress=events.append)
        assert [r.stack for r in preview] == ["agency-revenue"]
        up = run(spec, tmp_path, "up", "revenue", progress=events.append)
        assert up[0].summary.get("create", 0) > 0, events
    finally:
        run(spec, tmp_path, "destroy", "revenue", progress=events.append)
    assert (tmp_path / "pulumi" / "passphrase").stat().st_mode & 0o077 == 0
