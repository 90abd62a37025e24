"""Pure decisions of the catalogue's staff pages (`centre_web.catalogue_rules`) and who manages the catalogue
(`api_rules.is_catalogue_manager`: the group `<desk prefix>catalogue`, never a desk)."""

from __future__ import annotations

import pytest

from centre_core.errors import CatalogueError
from centre_web import api_rules, catalogue_rules
from centre_web.catalogue_rules import MAX_UPLOAD, Refusal

GZ = b"\x1f\x8b"


@pytest.mark.parametrize(("name", "size", "head", "key"), [
    ("catalogue.tar.gz", 100, GZ, None), ("CATALOGUE.TGZ", MAX_UPLOAD, GZ, None),
    (None, None, b"", "cat_no_file"), ("catalogue.tar.gz", 0, b"", "cat_empty"),
    ("catalogue.tar.gz", MAX_UPLOAD + 1, GZ, "cat_too_large"),
    ("catalogue.yaml", 100, b"fo", "cat_wrong_type"),  # a catalogue.yaml alone lacks its processes
    ("catalogue.tar.gz", 100, b"PK", "cat_wrong_type"),  # a zip renamed
    ("evil.exe", 100, GZ, "cat_wrong_type"),
])
def test_an_upload_is_a_small_gzip_tar(name: str | None, size: int | None, head: bytes, key: str | None) -> None:
    found = catalogue_rules.check_upload(name, size, head)
    assert (found.key if isinstance(found, Refusal) else None) == key


def test_the_size_refusal_names_the_limit() -> None:
    found = catalogue_rules.check_upload("c.tar.gz", MAX_UPLOAD + 1, GZ)
    assert found == Refusal("cat_too_large", {"mib": MAX_UPLOAD // (1024 * 1024)})


@pytest.mark.parametrize(("name", "shown"), [
    ("catalogue.tar.gz", "catalogue.tar.gz"), ("C:\\Users\\x\\cat v2.tar.gz", "cat_v2.tar.gz"),
    ("../../etc/passwd", "passwd"), ("<script>.tar.gz", "script_.tar.gz"), ("...", "catalogue.tar.gz"),
    ("a" * 200 + ".tar.gz", "a" * 80),
])
def test_an_uploaded_name_is_shown_plain(name: str, shown: str) -> None:
    assert catalogue_rules.plain_name(name) == shown


@pytest.mark.parametrize(("where", "shown"), [
    ("/tmp/u/upload.tar.gz:/catalogue.yaml", "mine.tar.gz: catalogue.yaml"),
    ("/tmp/u/upload.tar.gz:/trade_licence.bpmn", "mine.tar.gz: trade_licence.bpmn"),
    ("/tmp/u/upload.tar.gz", "mine.tar.gz"), ("", ""), ("/srv/elsewhere/catalogue.yaml", ""),
])
def test_a_problem_names_the_uploaded_file_not_the_server_path(where: str, shown: str) -> None:
    assert catalogue_rules.where_shown(where, "/tmp/u/upload.tar.gz", "mine.tar.gz") == shown


@pytest.mark.parametrize(("seen", "in_use", "expected"), [
    ("v-0123456789abcdef", "v-0123456789abcdef", False), ("v-0123456789abcdef", "v-fedcba9876543210", True),
    ("", "v-0123456789abcdef", True), ("samples", "samples", False), ("samples", "v-0123456789abcdef", True)])
def test_a_confirmation_after_another_install_is_stale(seen: str, in_use: str, expected: bool) -> None:
    assert catalogue_rules.stale(seen, in_use) is expected


def test_the_download_is_named_by_the_version() -> None:
    assert catalogue_rules.download_name("v-0123456789abcdef") == "catalogue-v-0123456789abcdef.tar.gz"
    assert catalogue_rules.download_name("") == "catalogue.tar.gz"


def test_the_managers_group_is_the_desk_prefix_and_catalogue_and_never_a_desk() -> None:
    prefix = "agency-health--desk-"
    assert api_rules.is_catalogue_manager([f"{prefix}catalogue"], prefix)
    assert not api_rules.is_catalogue_manager([f"{prefix}clerk", "catalogue", "agency-x--desk-catalogue"], prefix)
    assert not api_rules.is_catalogue_manager(f"{prefix}catalogue", prefix)
    assert not api_rules.is_catalogue_manager(None, prefix)
    # a lane named `catalogue` gives no desk: the name is the managers'
    assert api_rules.desks_of([f"{prefix}catalogue"], prefix, {"catalogue", "clerk"}) == frozenset()


def test_a_catalogue_error_lists_every_problem() -> None:
    from centre_core.catalogue import parse

    bad = {"services": [{"id": "xy", "name": {"en": "X"}}]}
    with pytest.raises(CatalogueError) as refused:
        parse(bad, "c.yaml")
    problems = refused.value.problems
    assert sum(p.startswith("services.xy.") for p in problems) == 7  # every missing key, each by name
    assert "services.xy.name.ur: Field required" in problems
    assert refused.value.message.startswith(problems[0]) and f"(and {len(problems) - 1} more)" in refused.value.message
    assert CatalogueError("one", "w").problems == ("one",)


GOOD = {"description_en": "A licence.", "description_ur": "ایک لائسنس۔", "fee": "1,700.50", "sla": "12"}


def test_an_edit_changes_the_four_texts_of_one_service_only() -> None:
    from centre_core.catalogue import load_samples

    current = load_samples().catalogue
    edited, wrong = catalogue_rules.edit(current, "trade_licence", GOOD)
    assert wrong == [] and edited is not None
    service = edited.service("trade_licence")
    assert service is not None and service.description.en == "A licence." and service.description.ur == "ایک لائسنس۔"
    assert str(service.fee.amount) == "1700.50" and service.sla_working_days == 12
    before = current.model_dump()
    after = edited.model_dump()
    for one in (before, after):
        trade = next(s for s in one["services"] if s["id"] == "trade_licence")
        for key in ("description", "fee", "sla_working_days"):
            trade.pop(key)
    assert before == after  # nothing else changed


@pytest.mark.parametrize(("changes", "wrong"), [
    ({"description_en": "  "}, ["description_en"]), ({"description_ur": "x" * 2001}, ["description_ur"]),
    ({"fee": "-1"}, ["fee"]), ({"fee": "1.555"}, ["fee"]), ({"fee": "abc"}, ["fee"]), ({"fee": "10000001"}, ["fee"]),
    ({"sla": "0"}, ["sla"]), ({"sla": "366"}, ["sla"]), ({"sla": "1.5"}, ["sla"]), ({"sla": ""}, ["sla"]),
    ({"description_en": "", "fee": "x", "sla": "x"}, ["description_en", "fee", "sla"]),
])
def test_an_edit_is_refused_by_the_catalogues_own_rules_per_field(changes: dict[str, str], wrong: list[str]) -> None:
    from centre_core.catalogue import load_samples

    edited, found = catalogue_rules.edit(load_samples().catalogue, "trade_licence", {**GOOD, **changes})
    assert edited is None and found == wrong


def test_an_edit_of_an_unknown_service_is_a_key_error() -> None:
    from centre_core.catalogue import load_samples

    with pytest.raises(KeyError):
        catalogue_rules.edit(load_samples().catalogue, "no_such", GOOD)


def test_the_preview_lists_added_removed_and_changed_services_with_their_keys() -> None:
    from centre_core.catalogue import load_samples

    old = load_samples().catalogue
    digests = {s.id: f"d-{s.id}" for s in old.services}
    edited, _ = catalogue_rules.edit(old, "trade_licence", {**GOOD, "sla": "10"})
    assert edited is not None
    data = edited.model_dump(mode="json")
    born = next(s for s in data["services"] if s["id"] == "birth_certificate")
    data["services"] = [s for s in data["services"] if s["id"] != "building_permit"]
    data["services"].append({**born, "id": "death_certificate"})
    new = type(old).model_validate(data)
    new_digests = {**digests, "birth_certificate": "d-other", "death_certificate": "d-birth_certificate"}
    found = catalogue_rules.changes(old, digests, new, new_digests)
    assert found == [
        catalogue_rules.Change("birth_certificate", "changed", ("process",)),
        catalogue_rules.Change("trade_licence", "changed", ("description", "fee")),
        catalogue_rules.Change("death_certificate", "added"),
        catalogue_rules.Change("building_permit", "removed")]
    assert catalogue_rules.changes(old, digests, old, digests) == []


def test_the_page_s_limit_fits_within_what_nginx_takes_on_the_upload_url() -> None:
    from centre_core import documents

    assert MAX_UPLOAD < int(documents.NGINX_BODY_LIMIT.removesuffix("m")) * 1024 * 1024
