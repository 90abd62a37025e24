"""`govcloud agency desk` below the CLI (centre_desks.put_at_desk) on the IdP's own user store (its schema, on a
real PostgreSQL 15, as the IdP reads it): a member of the agency put at a desk of its catalogue once, refusals
that change nothing (a desk the catalogue lacks, another agency's login, a user not in the agency, no such
user), taken off again; the spec's catalogue decides the desks; a purge removes the agency's desk groups and
no other agency's."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from govcloud_platform import centre_desks
from govcloud_platform.box import idp_api
from govcloud_platform.box.context import Box
from govcloud_platform.box.ports import free_port_base
from govcloud_platform.errors import InputError
from govcloud_platform.names import desk_group, desk_group_prefix, group
from govcloud_platform.spec import load_spec
from govcloud_platform.spec.example import EXAMPLE_SPEC
from tests.conftest import new_home
from tests.integration._pg import running_postgres

pytestmark = [pytest.mark.integration]
APPS_LINE = "    apps: []                   # e.g. [portal, opendata]\n"


@pytest.fixture(scope="module")
def idp() -> Iterator[Box]:
    """A box whose PostgreSQL holds the IdP's user store; agency `health` has its own catalogue (the samples
    less the building permit) in the spec."""
    root = new_home("centredesks")
    folder = root / "national"
    shutil.copytree(centre_desks.samples().parent, folder)
    text = (folder / "catalogue.yaml").read_text()
    start = text.index("  - id: building_permit")
    end = text.index("  - id: grievance")
    (folder / "catalogue.yaml").write_text(text[:start] + text[end:])
    spec = root / "govcloud.yaml"
    spec.write_text(EXAMPLE_SPEC.replace(APPS_LINE, "    apps: [centre]\n    centre:\n"
                                                    "      catalogue: national/catalogue.yaml\n"))
    box = Box(home=root / "box", spec=load_spec(spec), port_base=free_port_base())
    try:
        with running_postgres(box):
            idp_api.ensure_database(box)
            yield box
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _groups(box: Box, login: str) -> list[str]:
    user = idp_api.get_user(box, login)
    assert user is not None
    return list(user["groups"])


def test_the_desks_are_the_lanes_of_the_agencys_catalogue(idp: Box) -> None:
    assert centre_desks.lanes(centre_desks.samples()) == [
        "clerk", "director", "engineering", "grievance_officer", "grievance_supervisor", "intake", "issuing",
        "licensing_officer", "planning", "registrar", "supervisor"]
    spec_catalogue = centre_desks.catalogue_of(idp, "health")
    assert spec_catalogue.parent.name == "national"
    assert "intake" not in centre_desks.lanes(spec_catalogue) and "clerk" in centre_desks.lanes(spec_catalogue)
    assert centre_desks.catalogue_of(idp, "revenue") == centre_desks.samples()


def test_a_member_is_put_at_a_desk_and_taken_off(idp: Box) -> None:
    idp_api.add_user(idp, "ayesha@health", "pw-1234567890", "ayesha@example.org", "Ayesha", [group("health")])
    doc = centre_desks.put_at_desk(idp, "health", "ayesha@health", "clerk")
    assert doc == {"agency": "health", "login": "ayesha@health", "desk": "clerk",
                   "group": "agency-health--desk-clerk", "changed": True}
    assert centre_desks.put_at_desk(idp, "health", "ayesha@health", "clerk")["changed"] is False
    assert sorted(_groups(idp, "ayesha@health")) == ["agency-health", "agency-health--desk-clerk"]
    assert centre_desks.put_at_desk(idp, "health", "ayesha@health", "clerk", remove=True)["changed"] is True
    assert centre_desks.put_at_desk(idp, "health", "ayesha@health", "clerk", remove=True)["changed"] is False
    assert _groups(idp, "ayesha@health") == ["agency-health"]


def test_the_catalogue_managers_group_is_not_a_desk_and_a_member_is_put_in_it(idp: Box) -> None:
    """`catalogue` is no lane (never a desk, whatever a BPMN names its lanes) but is taken: the group that makes
    its members the managers of the centre's catalogue (the staff pages' /staff/catalogue/)."""
    assert "catalogue" not in centre_desks.lanes(centre_desks.samples())
    idp_api.add_user(idp, "farah@health", "pw-1234567890", "farah@example.org", "Farah", [group("health")])
    doc = centre_desks.put_at_desk(idp, "health", "farah@health", "catalogue")
    assert doc["group"] == "agency-health--desk-catalogue" and doc["changed"] is True
    assert sorted(_groups(idp, "farah@health")) == ["agency-health", "agency-health--desk-catalogue"]
    assert centre_desks.put_at_desk(idp, "health", "farah@health", "catalogue", remove=True)["changed"] is True
    assert _groups(idp, "farah@health") == ["agency-health"]
    # the agency's purge takes it with the desks' groups (it begins with the desk prefix)
    assert idp_api.remove_groups_with_prefix(idp, desk_group_prefix("health") + "catalogue") == 1

@pytest.mark.parametrize(("login", "desk", "expected"), [
    ("ayesha@health", "intake", "no desk 'intake' in the catalogue of health's centre"),  # the samples have it
    ("ayesha@health", "citizen", "no desk 'citizen'"),
    ("omar@revenue", "clerk", "'omar@revenue' is not a login of agency health"),
    ("operator", "clerk", "is not a login of agency health"),
    ("bilal@health", "clerk", "is not a member of agency-health"),
    ("nobody@health", "clerk", "no user 'nobody@health' in the IdP"),
])
def test_refusals_change_nothing(idp: Box, login: str, desk: str, expected: str) -> None:
    idp_api.add_user(idp, "ayesha@health", "pw-1234567890", "ayesha@example.org", "Ayesha", [group("health")])
    idp_api.add_user(idp, "omar@revenue", "pw-1234567890", "omar@example.org", "Omar", [group("revenue")])
    idp_api.add_user(idp, "bilal@health", "pw-1234567890", "bilal@example.org", "Bilal", [])
    with pytest.raises(InputError) as err:
        centre_desks.put_at_desk(idp, "health", login, desk)
    assert expected in str(err.value) + " " + (err.value.hint or ""), str(err.value)
    with idp_api.idp_db(idp) as conn:
        assert conn.execute("SELECT count(*) FROM memberships WHERE group_name LIKE '%--desk-%'").fetchone() == (0,)


def test_a_purge_removes_the_agencys_desk_groups_only(idp: Box) -> None:
    idp_api.add_user(idp, "sana@health", "pw-1234567890", "sana@example.org", "Sana",
                     [group("health"), desk_group("health", "clerk"), desk_group("health", "registrar")])
    idp_api.add_user(idp, "omar@revenue", "pw-1234567890", "omar@example.org", "Omar",
                     [group("revenue"), desk_group("revenue", "clerk")])
    assert idp_api.remove_groups_with_prefix(idp, desk_group_prefix("health")) == 2
    assert _groups(idp, "sana@health") == ["agency-health"]
    assert sorted(_groups(idp, "omar@revenue")) == ["agency-revenue", "agency-revenue--desk-clerk"]
    with idp_api.idp_db(idp) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM groups WHERE name LIKE 'agency-health%' ORDER BY 1")]
    assert names == ["agency-health"]
    with pytest.raises(InputError):
        idp_api.remove_groups_with_prefix(idp, "%")


def test_a_catalogue_the_lanes_cannot_be_read_from_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "catalogue.yaml").write_text("format: 1\nservices:\n  - id: x\n    process: x.bpmn\n")
    (tmp_path / "x.bpmn").write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x/>')
    with pytest.raises(InputError, match="x.bpmn: a DOCTYPE or ENTITY declaration is not allowed"):
        centre_desks.lanes(tmp_path / "catalogue.yaml")
    (tmp_path / "x.bpmn").write_text("<unclosed>")
    with pytest.raises(InputError, match="x.bpmn: not well-formed XML"):
        centre_desks.lanes(tmp_path / "catalogue.yaml")
    with pytest.raises(InputError, match="cannot read"):
        centre_desks.lanes(tmp_path / "none.yaml")
