"""The service catalogue: the sample loads with its processes, exports and reads back equal, and every bad file
is refused fast with the file, the key and what to do."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import yaml

from centre_core import catalogue
from centre_core.errors import CatalogueError, CentreError, ProcessError


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    for f in catalogue.SAMPLES.iterdir():
        shutil.copy(f, tmp_path / f.name)
    return tmp_path


def edit(folder: Path, change: object) -> Path:
    path = folder / "catalogue.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)  # type: ignore[operator]
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def test_the_sample_has_the_four_services_with_their_processes() -> None:
    loaded = catalogue.load_samples()
    assert [s.id for s in loaded.catalogue.services] == ["birth_certificate", "trade_licence", "building_permit",
                                                         "grievance"]
    for service in loaded.catalogue.services:
        assert service.name.ur and service.description.ur and service.questions
        assert loaded.processes[service.id].steps
    assert str(loaded.catalogue.service("trade_licence").fee.amount) == "1500.00"  # type: ignore[union-attr]


def test_export_reads_back_equal_in_yaml_and_json(tmp_path: Path) -> None:
    loaded = catalogue.load_samples()
    again = catalogue.load(catalogue.export(loaded, tmp_path / "out"))
    assert again.catalogue == loaded.catalogue
    assert {k: p.digest for k, p in again.processes.items()} == {k: p.digest for k, p in loaded.processes.items()}
    as_json = tmp_path / "out" / "catalogue.json"
    as_json.write_text(json.dumps(yaml.safe_load(catalogue.dump(loaded.catalogue)), ensure_ascii=False))
    assert catalogue.load(as_json).catalogue == loaded.catalogue


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: d["services"][0]["name"].pop("ur"), "services.birth_certificate.name.ur: Field required"),
    (lambda d: d["services"][1].update(colour="red"), "services.trade_licence.colour: Extra inputs"),
    (lambda d: d["services"][1]["fee"].update(amount="-1"), "services.trade_licence.fee.amount"),
    (lambda d: d["services"][2].update(id="trade_licence"), "service ids must be unique"),
    (lambda d: d["services"][0].update(retention="forever"), "services.birth_certificate.retention"),
    (lambda d: d["services"][0].update(process="../../etc/passwd.bpmn"), "services.birth_certificate.process"),
    (lambda d: d["services"][0].update(process="missing.bpmn"), "cannot read missing.bpmn"),
    (lambda d: d["services"][1].update(step_sla_working_days={}), "add sla_review (working days)"),
    (lambda d: d["services"][1]["questions"][1].update(choices=[]), "a choice question needs choices"),
    (lambda d: d.update(services=[]), "services: Tuple should have at least 1 item"),
])
def test_a_bad_catalogue_names_the_key(folder: Path, change: object, expected: str) -> None:
    path = edit(folder, change)
    with pytest.raises(CentreError) as err:
        catalogue.load(path)
    assert expected in str(err.value) and str(path) in str(err.value)


HOSTILE = {
    "aliases": "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(9)),
    "deep": "a: " + "[" * 5000 + "]" * 5000 + "\n",
    "deep_map": "".join("  " * i + f"k{i}:\n" for i in range(40)) + "  " * 40 + "x\n",
    "python_tag": "services: !!python/object/apply:os.system ['touch /tmp/centre-pwned']\n",
    "two_docs": "format: 1\n---\nformat: 1\n",
    "duplicate_key": "format: 1\nformat: 1\n",
    "not_yaml": "services: [unclosed\n",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_yaml_is_refused_fast(tmp_path: Path, name: str) -> None:
    path = tmp_path / "catalogue.yaml"
    path.write_text(HOSTILE[name])
    started = time.monotonic()
    with pytest.raises(CatalogueError) as err:
        catalogue.load(path)
    assert time.monotonic() - started < 2 and str(path) in str(err.value)
    assert not Path("/tmp/centre-pwned").exists()


@pytest.mark.parametrize(("content", "expected"), [
    (b"x" * (2 * 1024 * 1024), "larger than"),
    (b"\xff\xfe services", "not UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),  # json's own recursion limit, caught
    (b"[" * 20 + b"]" * 20, "nested deeper"),
])
def test_oversized_undecodable_or_deep_files_are_refused(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "catalogue.json"
    path.write_bytes(content)
    with pytest.raises(CatalogueError, match=expected):
        catalogue.load(path)


def test_a_refused_process_is_reported_with_its_file(folder: Path) -> None:
    bpmn = folder / "trade_licence.bpmn"
    bpmn.write_text(bpmn.read_text().replace('<bpmn:userTask id="approve"', '<bpmn:scriptTask id="approve"')
                    .replace('name="Decide on the licence"/>', 'name="Decide on the licence"><bpmn:script>1'
                             '</bpmn:script></bpmn:scriptTask>'))
    with pytest.raises(ProcessError, match="scriptTask.*refused") as err:
        catalogue.load(folder / "catalogue.yaml")
    assert str(bpmn) in str(err.value)
