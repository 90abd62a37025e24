"""The catalogue as data per agency, on a real PostgreSQL 15 through Django: `centre_catalogue_import` and
`centre_catalogue_export` (a folder or one archive), what a deploy's `centre_converge --catalogue` does; a
catalogue exported from one agency imported into another unchanged; a refused catalogue changing nothing (the
running one stays); a process changed through an import while applications are under way; and the grievance
service on the tracking page (a satisfaction rating 1-5 once closed, reopening within its days)."""

from __future__ import annotations

import filecmp
import io
import re
import shutil
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from centre_core import catalogue, installed, references, store
from govcloud_platform.box.context import Box
from tests.integration._centre import centre_database, setup_django
from tests.integration.test_centre_web import Browser, _apply, _code, _track

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[Box, Path]]:
    """The centre of agency A, its catalogue installed under a root of its own (as the role sets it)."""
    from django.conf import settings

    with centre_database("centrecat") as (box, root):
        setup_django(box, root)
        settings.CENTRE_CATALOGUE_ROOT = str(root / "a" / "catalogue")
        (root / "a").mkdir()
        assert _run("centre_catalogue_import", str(catalogue.SAMPLES)).startswith("changed: catalogue v-")
        yield box, root
        from centre_web import runtime

        settings.CENTRE_CATALOGUE_ROOT = ""
        runtime.connection().close()


def _run(command: str, *args: str) -> str:
    from django.core.management import call_command

    out = io.StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue().strip()


class Agency:
    """Switch the centre's settings to another agency's database and catalogue root, and back."""

    def __init__(self, box: Box, root: Path, name: str) -> None:
        self.box, self.folder, self.name = box, root / name, name

    def __enter__(self) -> Agency:
        from django.conf import settings

        from centre_web import runtime

        with self.box.pg_admin() as admin:
            admin.execute(f"CREATE DATABASE centre_{self.name}")
        self.folder.mkdir()
        self.saved = (settings.CENTRE_CATALOGUE_ROOT, dict(settings.CENTRE_DB))
        runtime.connection().close()
        settings.CENTRE_CATALOGUE_ROOT = str(self.folder / "catalogue")
        settings.CENTRE_DB = {**settings.CENTRE_DB, "dbname": f"centre_{self.name}"}
        _run("centre_migrate")
        return self

    def __exit__(self, *exc: Any) -> None:
        from django.conf import settings

        from centre_web import runtime

        runtime.connection().close()
        settings.CENTRE_CATALOGUE_ROOT, settings.CENTRE_DB = self.saved


def _versions(box: Box, db: str = "centre") -> int:
    with box.pg_admin(db) as conn:
        row = conn.execute("SELECT count(*) FROM process_versions").fetchone()
    assert row is not None
    return int(row[0])


def test_an_export_from_one_agency_imports_into_another_unchanged(site: tuple[Box, Path], tmp_path: Path) -> None:
    """A directorate ships a national catalogue: agency A's export, as an archive and as a folder, imported by
    agency B (its own database) and exported again gives the same files, byte for byte."""
    box, root = site
    assert _run("centre_catalogue_import", str(catalogue.SAMPLES)) == "unchanged"
    archive = tmp_path / "a.tar.gz"
    assert _run("centre_catalogue_export", str(archive)) == f"exported 4 services to {archive}"
    _run("centre_catalogue_export", str(tmp_path / "a"))
    with tarfile.open(tmp_path / "a.tar.gz") as tar:
        assert sorted(tar.getnames()) == sorted(p.name for p in (tmp_path / "a").iterdir())
    with Agency(box, root, "b"):
        changed = _run("centre_catalogue_import", str(tmp_path / "a.tar.gz"))
        assert re.fullmatch(r"changed: catalogue v-[0-9a-f]{16} \(birth_certificate, trade_licence, building_permit, "
                            r"grievance\), processes birth_certificate trade_licence building_permit grievance",
                            changed)
        _run("centre_catalogue_export", str(tmp_path / "b"))
        assert _run("centre_catalogue_import", str(tmp_path / "a")) == "unchanged"
        assert _versions(box, "centre_b") == 4
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", names, shallow=False)
    assert (mismatch, errors) == ([], []) and len(match) == 5
    assert installed.digest(tmp_path / "a") == installed.digest(tmp_path / "b")
    # the export refuses to write over something
    with pytest.raises(Exception, match="already exists"):
        _run("centre_catalogue_export", str(tmp_path / "a.tar.gz"))


def _bad(tmp_path: Path, change: Any) -> Path:
    folder = tmp_path / "bad"
    shutil.copytree(catalogue.SAMPLES, folder)
    change(folder)
    return folder


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(("change", "expected"), [
    (lambda f: _edit(f / "catalogue.yaml", "format: 1", "format: 1\nformat: 2"), "catalogue.yaml"),
    (lambda f: _edit(f / "catalogue.yaml", "sla_working_days: 10", "sla_working_days: ten"),
     "services.trade_licence.sla_working_days"),
    (lambda f: _edit(f / "grievance.bpmn", "</bpmn:process>", "</bpmn:proces>"), "grievance.bpmn"),
    (lambda f: _edit(f / "grievance.bpmn", '<bpmn:userTask id="examine" name="Look into the complaint"/>',
                     '<bpmn:scriptTask id="examine" name="x"><bpmn:script>1</bpmn:script></bpmn:scriptTask>'),
     "scriptTask"),
    (lambda f: _edit(f / "grievance.bpmn", "<bpmn:flowNodeRef>escalated_examine</bpmn:flowNodeRef>", ""),
     "escalated_examine"),
    (lambda f: _edit(f / "catalogue.yaml", "examine: {en: Looking", "inspect: {en: Looking"),
     "services.grievance.steps: inspect"),
])
def test_a_refused_catalogue_changes_nothing(site: tuple[Box, Path], tmp_path: Path, change: Any,
                                             expected: str) -> None:
    """Malformed YAML, a wrong value, a BPMN that does not parse, a script task, a task in no lane, a step the
    process lacks: one line naming the file and key; the catalogue in use, its versions and the recorded
    processes stay; the deploy's converge says the running one stays."""
    from django.core.management.base import CommandError

    from centre_web import runtime

    box, root = site
    folder = _bad(tmp_path, change)
    before = (installed.current(root / "a" / "catalogue"), sorted((root / "a" / "catalogue").iterdir()),
              _versions(box))
    with pytest.raises(CommandError) as err:
        _run("centre_catalogue_import", str(folder))
    assert expected in str(err.value) and "\n" not in str(err.value), str(err.value)
    with pytest.raises(CommandError, match="catalogue refused, the running one stays: .*" + re.escape(expected)) \
            as converged:
        _run("centre_converge", "--catalogue", str(folder / "catalogue.yaml"))
    assert str(folder) not in str(converged.value)  # the files by name (the deploy's copies)
    archive = tmp_path / "bad.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in folder.iterdir():
            tar.add(path, arcname=path.name)
    with pytest.raises(CommandError) as err:
        _run("centre_catalogue_import", str(archive))
    assert f"{archive}:" in str(err.value) and "centre-catalogue-" not in str(err.value)  # the archive named
    assert before == (installed.current(root / "a" / "catalogue"), sorted((root / "a" / "catalogue").iterdir()),
                      _versions(box))
    assert len(runtime.loaded().catalogue.services) == 4


def test_an_archive_with_more_than_flat_files_is_refused(site: tuple[Box, Path], tmp_path: Path) -> None:
    from django.core.management.base import CommandError

    archive = tmp_path / "odd.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(catalogue.SAMPLES / "catalogue.yaml", arcname="catalogue.yaml")
        link = tarfile.TarInfo("grievance.bpmn")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    with pytest.raises(CommandError, match="grievance.bpmn: only the catalogue's files"):
        _run("centre_catalogue_import", str(archive))
    with pytest.raises(CommandError, match="no such file or folder"):
        _run("centre_catalogue_import", str(tmp_path / "nothing"))


def test_a_process_changed_by_an_import_keeps_applications_under_way(site: tuple[Box, Path],
                                                                     tmp_path: Path) -> None:
    """v2 of the trade licence (the clerk's acceptance issues it, no officer) imported while an application
    started on v1 waits at the clerk: that one still goes to the licensing officer; a new one is issued at once.
    The centre switches without a restart (the next call reads the new catalogue)."""
    from centre_web import runtime

    box, root = site
    conn = runtime.connection()
    now = datetime.now(UTC)
    old = store.submit(conn, runtime.loaded(), "trade_licence", {"business_name": "Old"}, None, now)
    def version_2(folder: Path) -> None:
        _edit(folder / "trade_licence.bpmn", 'sourceRef="review_decision" targetRef="approve"',
              'sourceRef="review_decision" targetRef="issued"')
        _edit(folder / "catalogue.yaml", "      approve: {en: Decision on the licence, ur: لائسنس کا فیصلہ}\n", "")

    v2 = _bad(tmp_path, version_2)
    assert _run("centre_catalogue_import", str(v2)).endswith("processes trade_licence")
    new = store.submit(conn, runtime.loaded(), "trade_licence", {"business_name": "New"}, None, now)
    for reference in (old, new):
        task = next(r for r in store.inbox(conn, "clerk", 1000) if r[0] == reference)
        store.act(conn, reference, task[1], "accept", "clerk", "staff:c", {}, now)
    assert store.view(conn, new).outcome == "issued"
    waiting = store.view(conn, old)
    assert waiting.status == "in_progress" and [t.step for t in waiting.ready] == ["approve"]
    store.act(conn, old, waiting.ready[0].id, "approve", "licensing_officer", "staff:o", {}, now)
    assert store.view(conn, old).outcome == "issued"
    assert _run("centre_catalogue_import", str(catalogue.SAMPLES)).startswith("changed: catalogue")  # back to v1
    assert len(list((root / "a" / "catalogue").glob("v-*"))) <= 3  # old versions are pruned


def test_a_grievance_is_rated_and_reopened_on_the_tracking_page(site: tuple[Box, Path]) -> None:
    """A complaint sent in Urdu, resolved by the grievance officer: the closed status page asks for a rating
    (1-5: a 7 is refused with an error summary, 400) and offers to reopen it; reopened, it goes back to the
    officer with the same answers and the rating is cleared; 30 days after it closed, reopening is refused."""
    from centre_web import runtime

    box, _ = site
    browser = Browser("ur")
    shown = _apply(browser, "ur", "grievance", [("details", "دفتر بند تھا"), ("kind", "complaint"),
                                                 ("email", "k@example.pk")])
    reference = references.normalise(shown) or ""
    conn = runtime.connection()
    task = next(r for r in store.inbox(conn, "grievance_officer", 1000) if r[0] == reference)
    assert task[3] == ["resolve", "not_ours"]
    store.act(conn, reference, task[1], "resolve", "grievance_officer", "staff:g", {"comment": "opened"},
              datetime.now(UTC))
    page = _track(browser, "ur", shown, _code(shown))
    assert "شکایت کا ازالہ کر دیا گیا" in page and "آپ اس معاملے کو نمٹانے کے طریقے سے کتنے مطمئن ہیں؟" in page
    assert page.count('type="radio" id="rating-') == 5 and "دوبارہ کھولیں" in page
    refused = browser.post("/ur/track/status/rate/", {"rating": "7"}, status=400)
    body = refused.content.decode()
    assert 'role="alert"' in body and 'href="#rating-1"' in body and 'aria-describedby="rating-error"' in body
    browser.post("/ur/track/status/rate/", {"rating": "4"})
    assert "آپ نے اسے 5 میں سے 4 درجہ دیا" in browser.get("/ur/track/status/")
    with box.pg_admin("centre") as db:
        rated = db.execute("SELECT r.rating FROM ratings r JOIN applications a ON a.id = r.application_id "
                           "WHERE a.reference = %s", (reference,)).fetchone()
    assert rated == (4,)
    assert [e.action for e in store.audit_entries(conn) if e.subject == reference][-1] == "rated"
    browser.post("/ur/track/status/reopen/", {})
    page = browser.get("/ur/track/status/")
    assert "کارروائی جاری ہے" in page and 'aria-current="step">آپ کی شکایت کا جائزہ' in page
    assert "rating-1" not in page and store.view(conn, reference).rating is None
    task = next(r for r in store.inbox(conn, "grievance_officer", 1000) if r[0] == reference)
    store.act(conn, reference, task[1], "not_ours", "grievance_officer", "staff:g", {}, datetime.now(UTC))
    with box.pg_admin("centre") as db:
        db.execute("UPDATE applications SET updated_at = updated_at - interval '31 days' WHERE reference = %s",
                   (reference,))
    page = browser.get("/ur/track/status/")
    assert "دوبارہ کھولیں" not in page and "rating-1" in page  # too late to reopen, never too late to rate
    refused = browser.post("/ur/track/status/reopen/", {}, status=400)
    assert "اسے اب دوبارہ نہیں کھولا جا سکتا" in refused.content.decode()
    # a trade licence asks for no rating and cannot be reopened
    from centre_core.errors import ActionError

    now = datetime.now(UTC) + timedelta(seconds=1)
    other = store.submit(conn, runtime.loaded(), "trade_licence", {"business_name": "X"}, None, now)
    task = next(r for r in store.inbox(conn, "clerk", 1000) if r[0] == other)
    store.act(conn, other, task[1], "reject", "clerk", "staff:c", {}, now)
    with pytest.raises(ActionError, match="does not ask for a rating"):
        store.rate(conn, runtime.loaded(), other, 5, now)
    with pytest.raises(ActionError, match="cannot be reopened"):
        store.reopen(conn, runtime.loaded(), other, now)
