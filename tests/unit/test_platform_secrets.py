"""Which platform secrets each service's host gets (`platform_secrets.NEEDS`), and that a host's home never
makes one of its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from govcloud_platform.box import platform_secrets
from govcloud_platform.box.context import Box
from govcloud_platform.box.placement import SERVICES
from govcloud_platform.box.services import identity, nginx, weed_security
from govcloud_platform.box.services.identity_conf import SIGNING_KEY_SECRET
from govcloud_platform.errors import BoxDamaged
from govcloud_platform.spec import load_spec_text
from govcloud_platform.spec.example import EXAMPLE_SPEC


def _box(home: Path) -> Box:
    return Box(home=home, spec=load_spec_text(EXAMPLE_SPEC), port_base=40000)


def test_the_map_names_every_secret_the_control_makes_and_nothing_else(tmp_path: Path) -> None:
    box = _box(tmp_path / "control")
    box.ensure_home()
    made = set(platform_secrets.ensure_all(box)) - {"registry.key"}
    assert set(platform_secrets.needed_by(SERVICES)) == made
    assert set(platform_secrets.NEEDS) == set(SERVICES)


def test_the_map_uses_the_names_the_services_read() -> None:
    assert set(weed_security.JWT_KEYS.values()) == set(platform_secrets.WEED_JWT)
    assert {identity.OPERATOR_SECRET, nginx.MANAGER_SECRET, SIGNING_KEY_SECRET} < set(platform_secrets.IDP)
    assert {"database"} == {s for s, names in platform_secrets.NEEDS.items() if names == {"postgres-superuser"}}
    # pgBackRest's S3 identity: storage configures it, backups signs with it
    assert set(platform_secrets.S3_BACKUP) <= platform_secrets.NEEDS["storage"] & platform_secrets.NEEDS["backups"]


def test_a_hosts_home_never_makes_a_secret_and_says_where_they_come_from(tmp_path: Path) -> None:
    home = tmp_path / "h1"
    home.mkdir()
    placement = {"here": ["database"], "services": {s: {"host": "h1", "address": "10.231.8.11"} for s in SERVICES}}
    (home / "placement.json").write_text(json.dumps(placement))
    box = _box(home)
    with pytest.raises(BoxDamaged) as err:
        box.secrets.get_or_create("postgres-superuser")
    assert "missing" in str(err.value) and "on the control" in (err.value.hint or "")
    assert not (home / "secrets" / "postgres-superuser").exists()
    control = tmp_path / "control"
    control.mkdir()
    (control / "placement.json").write_text(json.dumps({**placement, "here": []}))
    assert _box(control).secrets.get_or_create("postgres-superuser")  # the control makes them
