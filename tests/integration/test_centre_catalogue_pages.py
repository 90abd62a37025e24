"""The catalogue's staff pages (`/<lang>/staff/catalogue/`, centre_web/catalogue_pages.py) on a real PostgreSQL 15,
signed in through the code flow against the test OIDC provider (`_oidc_issuer.Issuer`), through Django's test
client with CSRF checks on: a manager (the group `agency-health--desk-catalogue`) downloads the catalogue (the very
files `centre_catalogue_export` writes), uploads a changed one and the citizen's service page shows the change, the
switch is in the audit trail with the manager's subject, and an application already under way keeps the process
version it started on; hostile files (too large, wrong type, a script task, an XML entity bomb, a path out of the
archive, a catalogue with many faults) are refused with every problem listed and nothing changes; a clerk gets
403; a POST without the CSRF token is refused. Then Chromium without JavaScript, in English and Urdu: the pages,
an upload refused and one installed, axe WCAG 2.2 AA and reflow at 320 px."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from govcloud_platform.box.context import Box
from tests.integration._browser import Chromium, Shots, Visit, follow
from tests.integration._centre import centre_database, setup_django
from tests.integration._centre_server import centre_server, free_port
from tests.integration._oidc_issuer import ISSUER, Issuer
from tests.integration.test_centre_staff_pages import CLERK, CLIENT, SECRET, csrf, send, sign_in

pytestmark = [pytest.mark.integration]
MANAGER = ["agency-health", "agency-health--desk-catalogue"]
PREFIX = "agency-health--desk-"


@pytest.fixture(scope="module")
def centre() -> Iterator[tuple[Box, Issuer, Path]]:
    with centre_database("centrecat") as (box, root):
        setup_django(box, root, {"CATALOGUE_ROOT": str(root / "catalogue")})
        from django.conf import settings

        provider = Issuer(ISSUER, CLIENT, SECRET)
        before = settings.CENTRE_OIDC
        settings.CENTRE_OIDC = {**before, **provider.settings(PREFIX)}
        yield box, provider, root
        settings.CENTRE_OIDC = before
        provider.close()
        from centre_web import runtime

        runtime.connection().close()


def members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


def archive(files: dict[str, bytes], extra: list[tarfile.TarInfo] | None = None) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra or []:
            tar.addfile(info)
    return out.getvalue()


def upload(b: Any, data: bytes, name: str = "catalogue.tar.gz", token: bool = True, lang: str = "en") -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    form: dict[str, Any] = {"catalogue": SimpleUploadedFile(name, data, content_type="application/gzip")}
    if token:
        form["csrfmiddlewaretoken"] = csrf(b)
    return b.post(f"/{lang}/staff/catalogue/upload/", form)


def install(b: Any, data: bytes, name: str = "catalogue.tar.gz", lang: str = "en") -> tuple[Any, str]:
    """Upload, see the preview (nothing switched yet), confirm: (the confirmation's answer, the preview's HTML)."""
    preview = upload(b, data, name, lang=lang)
    html = preview.content.decode()
    assert preview.status_code == 200 and 'action="/' + lang + '/staff/catalogue/install/"' in html, html[:500]
    return confirm(b, html, name, lang), html


def confirm(b: Any, preview: str, name: str = "catalogue.tar.gz", lang: str = "en") -> Any:
    """The preview's "Install this catalogue": its form as the page gave it (the version, the one in use then)."""
    version = re.search(r'name="version" value="(v-[0-9a-f]{16})"', preview)
    base = re.search(r'name="base" value="([^"]+)"', preview)
    assert version is not None and base is not None
    return b.post(f"/{lang}/staff/catalogue/install/", {"version": version[1], "base": base[1], "file": name,
                                                       "csrfmiddlewaretoken": csrf(b)})


def state(box: Box, root: Path) -> tuple[str | None, int]:
    """(the version `current` points at, the number of catalogue entries in the audit trail)."""
    link = root / "catalogue" / "current"
    with box.pg_admin("centre") as conn:
        row = conn.execute("SELECT count(*) FROM audit WHERE subject = 'catalogue'").fetchone()
    return (os.readlink(link) if link.is_symlink() else None), int(row[0]) if row else 0


def manager(provider: Issuer, lang: str = "en") -> Any:
    b, answer = sign_in(provider, "farah", MANAGER, lang=lang)
    assert answer.status_code == 302
    assert b.get(f"/{lang}/staff/catalogue/").status_code == 200  # (and the CSRF cookie of its forms)
    return b


def edited(files: dict[str, bytes], fee: str, description: str, task_name: str | None = None) -> dict[str, bytes]:
    """The files with the trade licence's fee and English description changed (and its review task renamed: a new
    version of its process)."""
    data = yaml.safe_load(files["catalogue.yaml"])
    service = next(s for s in data["services"] if s["id"] == "trade_licence")
    service["fee"]["amount"] = fee
    service["description"]["en"] = description
    out = dict(files, **{"catalogue.yaml": yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode()})
    if task_name is not None:
        out["trade_licence.bpmn"] = files["trade_licence.bpmn"].replace(
            b'name="Review application"', f'name="{task_name}"'.encode())
        assert out["trade_licence.bpmn"] != files["trade_licence.bpmn"]
    return out


def process_of(box: Box, reference: str) -> str:
    with box.pg_admin("centre") as conn:
        row = conn.execute("SELECT p.digest FROM applications a JOIN process_versions p ON p.id = a.process_version_id "
                           "WHERE a.reference = %s", (reference,)).fetchone()
    assert row is not None
    return str(row[0])


def test_a_manager_downloads_uploads_a_change_and_citizens_see_it(centre: tuple[Box, Issuer, Path]) -> None:
    from django.core.management import call_command
    from django.test import Client

    box, provider, root = centre
    b = manager(provider)
    page = b.get("/en/staff/catalogue/")
    assert page.status_code == 200
    html = page.content.decode()
    for words in ("Trade licence", "Birth certificate", "Building permit", "PKR 1500.00", "10 working days",
                  "Licensing office", "standard (7 years)", "trade_licence.bpmn · "):
        assert words in html, words
    assert 'enctype="multipart/form-data"' in html and "csrfmiddlewaretoken" in html
    desk_and_manager, _ = sign_in(provider, "zara", [*CLERK, "agency-health--desk-catalogue"])
    inbox = desk_and_manager.get("/en/staff/")
    assert inbox.status_code == 200 and 'href="/en/staff/catalogue/"' in inbox.content.decode()  # the bar links

    # the download is the export command's archive: the same files, byte for byte
    got = b.get("/en/staff/catalogue/download/")
    assert got.status_code == 200 and got["Content-Type"] == "application/gzip"
    assert got["Content-Disposition"].startswith('attachment; filename="catalogue-')
    assert got["Cache-Control"] == "no-store"
    files = members(got.content)
    exported = root / "exported.tar.gz"
    call_command("centre_catalogue_export", str(exported), stdout=io.StringIO())
    assert files == members(exported.read_bytes())
    assert set(files) == {"catalogue.yaml", "birth_certificate.bpmn", "building_permit.bpmn", "grievance.bpmn",
                          "trade_licence.bpmn"}

    # an application under way on the process as it is
    before = send()
    old_digest = process_of(box, before)

    assert state(box, root) == (None, 0)
    changed = archive(edited(files, "2750.00", "A licence for any business in the district.",
                             task_name="Check the application"))
    preview = upload(b, changed).content.decode()  # the preview: nothing switched yet
    assert "Check the changes" in preview and state(box, root) == (None, 0)
    assert re.search(r"Trade licence <bdi dir=\"ltr\">\(trade_licence\)</bdi></td><td>changed</td>"
                     r"<td><bdi dir=\"ltr\">description, fee, process</bdi>", preview), preview
    assert "Birth certificate" not in preview  # unchanged services are not listed
    answer, _ = install(b, changed)
    assert answer.status_code == 302 and answer["Location"] == "/en/staff/catalogue/?done=installed"
    assert "The new catalogue is installed and in use." in b.get(answer["Location"]).content.decode()
    version, entries = state(box, root)
    assert version is not None and version.startswith("v-") and entries == 1

    # the citizen's service page shows it at once
    citizen = Client(HTTP_HOST="centre.test").get("/en/services/trade_licence/").content.decode()
    assert "2750.00" in citizen and "A licence for any business in the district." in citizen

    # the switch is in the audit trail, by the manager
    with box.pg_admin("centre") as conn:
        [(actor, action, text)] = conn.execute(
            "SELECT actor, action, details FROM audit WHERE subject = 'catalogue'").fetchall()
    details = json.loads(text)
    assert actor == "staff:farah" and action == "catalogue:install"
    assert details["version"] == version and "trade_licence" in details["processes_added"]
    assert details["origin"] == "upload:catalogue.tar.gz" and "trade_licence" in details["services"]

    # the application under way keeps its version; a new one starts on the new; the old one still moves on
    after = send()
    assert process_of(box, before) == old_digest and process_of(box, after) != old_digest
    clerk, _ = sign_in(provider, "sana", CLERK)
    with box.pg_admin("centre") as conn:
        task = conn.execute("SELECT t.id, t.name FROM tasks t JOIN applications a ON a.id = t.application_id "
                            "WHERE a.reference = %s AND t.state = 'ready'", (before,)).fetchone()
        new_task = conn.execute("SELECT t.name FROM tasks t JOIN applications a ON a.id = t.application_id "
                                "WHERE a.reference = %s AND t.state = 'ready'", (after,)).fetchone()
    assert task[1] == "Review application" and new_task == ("Check the application",)
    for step in ("claim", "act"):
        path = f"/en/staff/tasks/{task[0]}/{step}/"
        done = clerk.post(path, {"csrfmiddlewaretoken": csrf(clerk), "action": "accept"})
        assert done.status_code == 302, done.content[:400]

    # the same file again: nothing to switch, nothing recorded
    again = upload(b, archive(edited(files, "2750.00", "A licence for any business in the district.",
                                     task_name="Check the application")))
    assert again["Location"] == "/en/staff/catalogue/?done=unchanged" and state(box, root) == (version, 1)


def entity_bomb() -> bytes:
    lol = "".join(f'<!ENTITY l{i} "{"&l" + str(i - 1) + ";" * 10 if i else "lol"}">' for i in range(10))
    return f'<?xml version="1.0"?><!DOCTYPE d [{lol}]><d>&l9;</d>'.encode()


def script_task(files: dict[str, bytes]) -> bytes:
    found, n = re.subn(rb'<bpmn:userTask id="review" name="[^"]*"/>',
                       b'<bpmn:scriptTask id="review" name="Review"><bpmn:script>__import__("os").system("id")'
                       b'</bpmn:script></bpmn:scriptTask>', files["trade_licence.bpmn"])
    assert n == 1
    return found


HOSTILE: dict[str, Any] = {  # name: (what is sent, as a function of the exported files; what the page says)
    "huge": (lambda f: ("catalogue.tar.gz", b"\x1f\x8b" + os.urandom(9 * 1024 * 1024)), ["larger than 8 MB"]),
    "wrong type": (lambda f: ("catalogue.yaml", f["catalogue.yaml"]), ["must be a .tar.gz catalogue file"]),
    "renamed zip": (lambda f: ("catalogue.tar.gz", b"PK\x03\x04" + b"0" * 100), ["must be a .tar.gz"]),
    "not gzip inside": (lambda f: ("catalogue.tar.gz", gzip.compress(b"hello")), ["not a readable archive"]),
    "script task": (lambda f: ("catalogue.tar.gz", archive(dict(f, **{"trade_licence.bpmn": script_task(f)}))),
                    ["catalogue.tar.gz: trade_licence.bpmn: line", "scriptTask", "script tasks would run code"]),
    "entity bomb": (lambda f: ("catalogue.tar.gz", archive(dict(f, **{"trade_licence.bpmn": entity_bomb()}))),
                    ["trade_licence.bpmn: a DOCTYPE or ENTITY declaration is not allowed"]),
    "path out": (lambda f: ("catalogue.tar.gz", archive(f, [tarfile.TarInfo("../../etc/x")])),
                 ["../../etc/x: only the catalogue&#x27;s files, side by side"]),
    "link": (lambda f: ("catalogue.tar.gz", archive(f, [_link()])), ["no folders, links or devices"]),
    "many faults": (lambda f: ("catalogue.tar.gz", archive(dict(f, **{"catalogue.yaml": _faulty(f)}))),
                    ["catalogue.tar.gz: catalogue.yaml: services.trade_licence.sla_working_days: Input should be",
                     "services.trade_licence.fee.currency: Input should be", "services.trade_licence.colour: Extra",
                     "services.birth_certificate.retention: Input should be"]),
    "yaml alias": (lambda f: ("catalogue.tar.gz", archive(dict(f, **{"catalogue.yaml": b"a: &x [1]\nb: *x\n"}))),
                   ["anchors and aliases (&amp; and *) are not allowed"]),
    "no file": (lambda f: None, ["Choose a catalogue file."]),
}


def _link() -> tarfile.TarInfo:
    info = tarfile.TarInfo("shadow")
    info.type, info.linkname = tarfile.SYMTYPE, "/etc/shadow"
    return info


def _faulty(files: dict[str, bytes]) -> bytes:
    data = yaml.safe_load(files["catalogue.yaml"])
    services = {s["id"]: s for s in data["services"]}
    services["trade_licence"].update(sla_working_days=0, colour="red")
    services["trade_licence"]["fee"]["currency"] = "USD"
    services["birth_certificate"]["retention"] = "forever"
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode()


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_bad_file_is_refused_with_every_problem_and_nothing_changes(
        centre: tuple[Box, Issuer, Path], case: str) -> None:
    box, provider, root = centre
    b = manager(provider)
    files = members(b.get("/en/staff/catalogue/download/").content)
    before = state(box, root)
    make, expected = HOSTILE[case]
    sent = make(files)
    if sent is None:
        answer = b.post("/en/staff/catalogue/upload/", {"csrfmiddlewaretoken": csrf(b)})
    else:
        answer = upload(b, sent[1], sent[0])
    html = answer.content.decode()
    assert answer.status_code == 400, html[:300]
    assert "govuk-error-summary" in html and 'aria-invalid="true"' in html
    for words in expected:
        assert words in html, (words, html[html.find("govuk-error-summary"):][:1500])
    if sent is not None and case not in ("huge", "wrong type", "renamed zip"):
        assert "nothing has changed" in html
    assert str(root) not in html and "/tmp/" not in html  # no server path is shown
    assert state(box, root) == before
    assert members(b.get("/en/staff/catalogue/download/").content) == files


def test_a_clerk_gets_403_and_csrf_is_enforced(centre: tuple[Box, Issuer, Path]) -> None:
    box, provider, root = centre
    clerk, _ = sign_in(provider, "sana", CLERK)
    for path in ("/en/staff/catalogue/", "/ur/staff/catalogue/", "/en/staff/catalogue/download/"):
        assert clerk.get(path).status_code == 403, path
    assert "Only the catalogue&#x27;s managers" in clerk.get("/en/staff/catalogue/").content.decode()
    assert 'href="/en/staff/catalogue/"' not in clerk.get("/en/staff/").content.decode()
    b = manager(provider)
    files = members(b.get("/en/staff/catalogue/download/").content)
    changed = archive(edited(files, "9.00", "Changed by someone not allowed."))
    before = state(box, root)
    assert upload(clerk, changed).status_code == 403
    assert upload(b, changed, token=False).status_code == 403  # no CSRF token: Django's refusal
    preview = upload(b, changed).content.decode()
    version = re.search(r'name="version" value="(v-[0-9a-f]{16})"', preview)
    assert version is not None
    for who, token in ((clerk, True), (b, False)):  # the confirmation: a manager's, with the token
        form = {"version": version[1], "file": "x.tar.gz", **({"csrfmiddlewaretoken": csrf(who)} if token else {})}
        assert who.post("/en/staff/catalogue/install/", form).status_code == 403
    for bogus in ("v-0000000000000000", "../catalogue", "current", ""):
        gone = b.post("/en/staff/catalogue/install/", {"version": bogus, "csrfmiddlewaretoken": csrf(b)})
        assert gone.status_code == 409 and "upload the file again" in gone.content.decode()
    from django.test import Client

    anonymous = Client(enforce_csrf_checks=True, HTTP_HOST="centre.test")
    assert anonymous.get("/en/staff/catalogue/")["Location"].startswith("/en/staff/signin/?next=")
    assert state(box, root) == before


def test_a_manager_without_a_desk_signs_in_and_a_group_of_another_prefix_gives_nothing(
        centre: tuple[Box, Issuer, Path]) -> None:
    _, provider, _ = centre
    b = manager(provider, lang="ur")
    assert b.get("/ur/staff/")["Location"] == "/ur/staff/catalogue/"  # at no desk: the inbox leads here
    page = b.get("/ur/staff/catalogue/")
    assert page.status_code == 200 and 'dir="rtl"' in page.content.decode()
    assert "خدمات کی فہرست" in page.content.decode()
    _, answer = sign_in(provider, "omar", ["agency-health", "agency-revenue--desk-catalogue"])
    assert answer.status_code == 403  # no desk here, and not this agency's managers


def test_a_confirmation_after_another_install_is_refused_and_shown_again(centre: tuple[Box, Issuer, Path]) -> None:
    """Two previews of the same base; the first confirmed; the second's confirmation is stale: 409, nothing
    installed, the preview shown again (in Urdu) against the catalogue in use now, the prepared version kept: the
    manager confirms that page and it is installed. A form without its base is stale too."""
    box, provider, root = centre
    b = manager(provider, lang="ur")
    files = members(b.get("/ur/staff/catalogue/download/").content)
    first = archive(edited(files, "4100.00", "First manager's licence."))
    second = archive(edited(files, "4200.00", "Second manager's licence."))
    seen_first = upload(b, first, "first.tar.gz", lang="ur").content.decode()
    seen_second = upload(b, second, "second.tar.gz", lang="ur").content.decode()
    assert confirm(b, seen_first, "first.tar.gz", "ur").status_code == 302
    after_first = state(box, root)

    stale = confirm(b, seen_second, "second.tar.gz", "ur")
    from centre_web.texts import TEXTS

    html = stale.content.decode()
    assert stale.status_code == 409 and TEXTS["cat_preview_stale"]["ur"] in html and 'href="#install"' in html
    assert 'id="install"' in html and "second.tar.gz" in html and "<title>خرابی:" in html
    assert f'name="base" value="{after_first[0]}"' in html  # the changes now counted from the first's version
    assert re.search(r"<bdi dir=\"ltr\">description, fee</bdi>", html), html
    assert state(box, root) == after_first  # nothing installed, nothing audited
    without_base = b.post("/ur/staff/catalogue/install/", {
        "version": re.search(r'name="version" value="(v-[0-9a-f]{16})"', html)[1],  # type: ignore[index]
        "file": "second.tar.gz", "csrfmiddlewaretoken": csrf(b)})
    assert without_base.status_code == 409 and state(box, root) == after_first

    done = confirm(b, html, "second.tar.gz", "ur")
    assert done.status_code == 302 and done["Location"] == "/ur/staff/catalogue/?done=installed"
    version, entries = state(box, root)
    assert version != after_first[0] and entries == after_first[1] + 1
    assert "4200.00" in b.get("/ur/staff/catalogue/").content.decode()


def test_a_manager_edits_one_services_texts_through_the_same_install(centre: tuple[Box, Issuer, Path]) -> None:
    """The form: a refusal per field in the page's language (nothing changed), a form shown before another change
    refused (409), then a new version installed with the texts changed, the processes the same, audited."""
    from django.test import Client

    box, provider, root = centre
    b = manager(provider, lang="ur")
    form = b.get("/ur/staff/catalogue/services/trade_licence/")
    assert form.status_code == 200
    html = form.content.decode()
    version = re.search(r'name="version" value="([^"]+)"', html)
    assert version is not None and 'name="description_ur"' in html and 'lang="ur" dir="rtl"' in html
    downloaded = members(b.get("/ur/staff/catalogue/download/").content)
    processes = {n: d for n, d in downloaded.items() if n != "catalogue.yaml"}
    before = state(box, root)
    good = {"version": version[1], "description_en": "Licence for a business.",
            "description_ur": "کاروبار کے لیے نیا لائسنس۔", "fee": "3,100.50", "sla": "12"}

    bad = b.post("/ur/staff/catalogue/services/trade_licence/", {
        **good, "description_en": " ", "fee": "-5", "sla": "1.5", "csrfmiddlewaretoken": csrf(b)})
    text = bad.content.decode()
    assert bad.status_code == 400 and text.count('aria-invalid="true"') == 3
    from centre_web.texts import TEXTS

    for key, field in (("description", "description_en"), ("fee", "fee"), ("sla", "sla")):
        assert TEXTS[f"cat_edit_err_{key}"]["ur"] in text and f'href="#{field}"' in text
    assert "کاروبار کے لیے نیا لائسنس۔" in text  # what was typed stays in the form
    assert state(box, root) == before

    stale = b.post("/ur/staff/catalogue/services/trade_licence/", {
        **good, "version": "v-0000000000000000", "csrfmiddlewaretoken": csrf(b)})
    assert stale.status_code == 409 and "اس دوران کیٹلاگ بدل چکا ہے" in stale.content.decode()
    assert state(box, root) == before

    done = b.post("/ur/staff/catalogue/services/trade_licence/", {**good, "csrfmiddlewaretoken": csrf(b)})
    assert done.status_code == 302 and done["Location"] == "/ur/staff/catalogue/?done=installed"
    after, entries = state(box, root)
    assert after != before[0] and entries == before[1] + 1
    citizen = Client(HTTP_HOST="centre.test").get("/ur/services/trade_licence/").content.decode()
    assert "کاروبار کے لیے نیا لائسنس۔" in citizen and "3100.50" in citizen and "12" in citizen
    files = members(b.get("/ur/staff/catalogue/download/").content)
    assert {n: d for n, d in files.items() if n != "catalogue.yaml"} == processes  # the processes untouched
    with box.pg_admin("centre") as conn:
        actor, text = conn.execute("SELECT actor, details FROM audit WHERE subject = 'catalogue' "
                                   "ORDER BY seq DESC LIMIT 1").fetchone()
    assert actor == "staff:farah" and json.loads(text)["origin"] == "edit:trade_licence"
    assert json.loads(text)["processes_added"] == []

    assert b.get("/ur/staff/catalogue/services/no_such/").status_code == 404
    clerk, _ = sign_in(provider, "sana", CLERK)
    assert clerk.get("/en/staff/catalogue/services/trade_licence/").status_code == 403
    assert clerk.post("/en/staff/catalogue/services/trade_licence/", {
        **good, "fee": "1.00", "csrfmiddlewaretoken": csrf(clerk)}).status_code == 403
    assert b.post("/ur/staff/catalogue/services/trade_licence/", {**good, "fee": "1.00"}).status_code == 403  # CSRF
    assert state(box, root) == (after, entries)


@pytest.fixture(scope="module")
def served(centre: tuple[Box, Issuer, Path]) -> Iterator[tuple[str, Issuer]]:
    """The same centre under gunicorn at its own address (its PUBLIC_URL), for the browser."""
    _, provider, root = centre
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = root / "web"
    web.mkdir()
    env = (root / "centre.env").read_text() + "\n".join([
        f"PUBLIC_URL={base}", "PUBLIC_HOST=127.0.0.1", f"OIDC_ISSUER={ISSUER}", f"OIDC_AUDIENCE={CLIENT}",
        f"OIDC_JWKS_URL={provider.url}", f"OIDC_DESK_PREFIX={PREFIX}", f"OIDC_CLIENT_SECRET={SECRET}",
        f"OIDC_AUTHORIZE_URL={provider.base}/oauth2/authorize", f"OIDC_TOKEN_URL={provider.base}/token",
        f"OIDC_DISCOVERY_URL={provider.base}/.well-known/openid-configuration", ""])
    (web / "centre.env").write_text(env)
    (web / "centre.env").chmod(0o600)
    with centre_server(web, port=port) as served_at:
        yield served_at, provider


WORDS = {"en": {"title": "Service catalogue", "install": "Check and install", "refused": "nothing has changed",
                "done": "The new catalogue is installed", "confirm": "Install this catalogue"},
         "ur": {"title": "خدمات کی فہرست", "install": "جانچیں اور نصب کریں", "refused": "کچھ نہیں بدلا",
                "done": "نیا کیٹلاگ نصب ہو گیا", "confirm": "یہ کیٹلاگ نصب کریں"}}


@pytest.mark.parametrize("lang", ["en", "ur"])
def test_the_catalogue_pages_in_a_browser(served: tuple[str, Issuer], chromium: Chromium, shots: Shots,
                                          tmp_path: Path, lang: str) -> None:
    """Chromium without JavaScript: the catalogue page, a refused upload (the problems listed), an installed one,
    each axe-clean (WCAG 2.2 AA) and reflowing at 320 px, in English and in Urdu (right to left)."""
    base, provider = served
    provider.signed_in = {"sub": f"farah-{lang}", "groups": MANAGER, "name": "Farah"}
    words = WORDS[lang]
    page = chromium.page(javascript=False, locale=lang)
    visit = Visit(chromium, shots, page, f"catalogue-{lang}")
    try:
        page.goto(f"{base}/{lang}/staff/catalogue/", wait_until="load")
        assert page.url == f"{base}/{lang}/staff/catalogue/", page.url
        assert page.locator("html").get_attribute("dir") == ("rtl" if lang == "ur" else "ltr")
        assert words["title"] in page.locator("h1").inner_text()
        visit.seen("catalogue")
        session = requests.Session()
        session.cookies.update({c["name"]: c["value"] for c in page.context.cookies()})
        got = session.get(f"{base}/{lang}/staff/catalogue/download/", timeout=30)
        assert got.status_code == 200
        files = members(got.content)

        bad = tmp_path / "bad.tar.gz"
        bad.write_bytes(archive(dict(files, **{"trade_licence.bpmn": script_task(files)})))
        page.set_input_files("#catalogue-file", str(bad))
        follow(page, page.locator("button", has_text=words["install"]))
        assert words["refused"] in page.locator("#catalogue-error").inner_text()
        assert "script tasks would run code" in page.locator("#catalogue-error").inner_text()
        visit.seen("refused")

        good = tmp_path / "good.tar.gz"
        good.write_bytes(archive(edited(files, f"{len(lang)}00.00", f"Changed in the {lang} browser test.")))
        page.set_input_files("#catalogue-file", str(good))
        follow(page, page.locator("button", has_text=words["install"]))
        assert "trade_licence" in page.locator("table").inner_text()
        visit.seen("preview")
        follow(page, page.locator("button", has_text=words["confirm"]))
        assert words["done"] in page.locator("main").inner_text()
        visit.seen("installed")
        follow(page, page.locator('a[href$="/staff/catalogue/services/birth_certificate/"]'))
        page.locator("#sla").fill("many")
        follow(page, page.locator("button[type=submit].govuk-button"))
        assert page.locator("#sla").get_attribute("aria-invalid") == "true"
        visit.seen("edit-refused")
        page.locator("#sla").fill("6" if lang == "en" else "7")
        follow(page, page.locator("button[type=submit].govuk-button"))
        assert words["done"] in page.locator("main").inner_text()
        page.goto(f"{base}/{lang}/services/trade_licence/")
        assert f"Changed in the {lang} browser test." in page.content() or lang == "ur"
        assert f"{len(lang)}00.00" in page.content()
    finally:
        page.context.close()
    visit.check()

