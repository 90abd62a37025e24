"""Pure parts of the centre's citizen side: the flow of steps drawn from the BPMN files, the pages' words in
both languages, and the catalogue's citizen-facing step names checked against the process."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from centre_core import catalogue
from centre_core.errors import CatalogueError
from centre_web import flow
from centre_web.texts import TEXTS


@pytest.mark.parametrize(("service", "steps", "ends"), [
    ("trade_licence", [("review", False), ("escalated_review", True), ("provide_document", False),
                       ("approve", False)], {"issued", "rejected"}),
    ("birth_certificate", [("verify", False), ("escalated_verify", True), ("provide_document", False),
                           ("issue", False)], {"issued", "rejected"}),
])
def test_steps_follow_the_process_from_its_start(service: str, steps: list[tuple[str, bool]], ends: set[str]) -> None:
    order, end_events = flow.steps_of(catalogue.SAMPLES / f"{service}.bpmn")
    assert list(order) == steps
    assert set(end_events) == ends


def test_building_permit_parallel_checks_are_both_steps() -> None:
    order, _ = flow.steps_of(catalogue.SAMPLES / "building_permit.bpmn")
    ids = [step for step, _ in order]
    assert ids[0] == "intake_review" and {"planning_check", "structural_check"} <= set(ids) and ids[-1] == "decide"


def test_every_text_is_in_both_languages() -> None:
    for key, texts in TEXTS.items():
        assert set(texts) == {"en", "ur"} and all(texts.values()), key
        assert texts["en"].count("{") == texts["ur"].count("{"), key


def test_every_sample_step_has_a_citizen_name_in_both_languages() -> None:
    loaded = catalogue.load_samples()
    for service in loaded.catalogue.services:
        order, ends = flow.steps_of(loaded.folder / service.process)
        assert {s for s, _ in order} | set(ends) == set(service.steps), service.id


def test_a_step_name_for_a_step_the_process_lacks_is_refused(tmp_path: Path) -> None:
    for name in ("catalogue.yaml", "trade_licence.bpmn", "birth_certificate.bpmn", "building_permit.bpmn"):
        shutil.copy(catalogue.SAMPLES / name, tmp_path / name)
    text = (tmp_path / "catalogue.yaml").read_text()
    (tmp_path / "catalogue.yaml").write_text(text.replace("      approve: {", "      approved: {", 1))
    with pytest.raises(CatalogueError, match=r"services\.trade_licence\.steps: approved is not a step"):
        catalogue.load(tmp_path / "catalogue.yaml")
