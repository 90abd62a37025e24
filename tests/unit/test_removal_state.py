"""The `removing` state without servers: what add and remove decide before touching any server, and the
fault hook's removal steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from govcloud_platform import faults
from govcloud_platform.box.context import Box
from govcloud_platform.errors import ConflictError, ServiceError
from govcloud_platform.onboarding import REMOVING, AgencyRequest, Onboarding, removal_command
from govcloud_platform.spec import load_spec_text
from govcloud_platform.spec.example import EXAMPLE_SPEC
from govcloud_platform.state.registry import Registry


@pytest.fixture
def box(tmp_path: Path) -> Box:
    return Box(home=tmp_path / "home", spec=load_spec_text(EXAMPLE_SPEC))


def _half_removed(box: Box, slug: str, purge: bool) -> Registry:
    registry = Registry(box.home)
    registry.save_agency(slug, "Half Gone", "it@half.example", "standard", ["database"], REMOVING)
    registry.audit("agency remove", slug, "started", "t", "purge data" if purge else "keep data")
    return registry


def test_add_of_a_removing_agency_is_refused_and_audited(box: Box) -> None:
    registry = _half_removed(box, "half-gone", purge=True)
    with pytest.raises(ConflictError) as caught:
        Onboarding(box, actor="t").add(AgencyRequest("half-gone", "Half Gone", "it@half.example",
                                                     services=["database"]))
    assert caught.value.exit_code == 4
    assert caught.value.hint == "finish the removal first: govcloud agency remove half-gone --purge-data --yes"
    assert registry.agency("half-gone").state == REMOVING  # type: ignore[union-attr]
    assert registry.audit_log(limit=1, target="half-gone")[0]["command"] == "agency add"
    assert registry.audit_log(limit=1, target="half-gone")[0]["result"] == "failed"


def test_a_purge_is_not_completed_as_a_retirement(box: Box) -> None:
    registry = _half_removed(box, "half-gone", purge=True)
    with pytest.raises(ConflictError, match="started with --purge-data"):
        Onboarding(box, actor="t").remove("half-gone", purge=False)  # refused before any server is asked
    last = registry.audit_log(limit=1, target="half-gone")[0]
    assert (last["command"], last["result"]) == ("agency remove", "failed")
    assert registry.agency("half-gone").state == REMOVING  # type: ignore[union-attr]


@pytest.mark.parametrize("purge", [True, False])
def test_unfinished_removals_name_the_command_that_finishes_them(box: Box, purge: bool) -> None:
    _half_removed(box, "half-gone", purge=purge)
    Registry(box.home).save_agency("fine", "Fine", "it@fine.example", "standard", ["database"], "ready")
    assert Onboarding(box).unfinished_removals() == {"half-gone": removal_command("half-gone", purge)}


def test_removal_command() -> None:
    assert removal_command("tax", False) == "govcloud agency remove tax"
    assert removal_command("tax", True) == "govcloud agency remove tax --purge-data --yes"


def test_fault_hook_fails_a_removal_step_and_nothing_else(box: Box, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVCLOUD_TEST_FAULT", "fail:remove:identity")
    with pytest.raises(ServiceError, match="remove:identity"):
        faults.onboarding_step("before", "remove:identity", box)
    for when, step in (("after", "remove:identity"), ("before", "remove:storage"), ("before", "identity")):
        faults.onboarding_step(when, step, box)  # inert
