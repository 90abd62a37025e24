"""`apply` and restores as console jobs, an approved request's deploys and the mail on a decision, without servers:
who may (pure decisions), the backup a restore names, the mail's text in both languages, migration 10 (a version-9
registry gains the requests' language and jobs, keeping its rows), and the routes' answers (401, 403, 404, 400, the
confirmation page and its CSRF token). The jobs on a real box: tests/integration/test_console_jobs.py."""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from govcloud_platform.box.context import Box
from govcloud_platform.console import authz, intake, jobs
from govcloud_platform.console.operations import backup_choice
from govcloud_platform.spec import load_spec_text
from govcloud_platform.state import jobs as store
from govcloud_platform.state import onboarding_requests as requests_store
from govcloud_platform.state.registry import MIGRATIONS, Registry
from tests.console_kit import ENABLED

OPS = ["platform-operators"]
OPERATOR = authz.principal("op", ["platform-operators"], OPS)
ADMIN = authz.principal("ha", ["agency-health", "agency-health--admins"], OPS)
MEMBER = authz.principal("hm", ["agency-health"], OPS)
OTHER = authz.principal("ra", ["agency-revenue", "agency-revenue--admins"], OPS)
SCRIPT_ADMIN = authz.script_principal("ci", "admin", "health")
SCRIPT_OPERATOR = authz.script_principal("nightly", "operator", None)


@pytest.mark.parametrize(("who", "slug", "exists", "status"), [
    (OPERATOR, "health", True, 202),
    (ADMIN, "health", True, 202),
    (MEMBER, "health", True, 403),       # a plain member reads, never replaces the data
    (SCRIPT_ADMIN, "health", True, 403),  # a script client's admin role gives no administrator's standing yet
    (SCRIPT_OPERATOR, "health", True, 202),
    (OTHER, "health", True, 404),        # another agency's: as an unknown one
    (ADMIN, "ghost", False, 404),
    (OPERATOR, "ghost", False, 404),
])
def test_who_may_restore_an_agencys_backup(who: authz.Principal, slug: str, exists: bool, status: int) -> None:
    assert jobs.restore_status(who, slug, exists) == status
    assert authz.may_restore(who, slug) == (status == 202 or (not exists and who.operator))


@pytest.mark.parametrize(("who", "status"), [(OPERATOR, 202), (SCRIPT_OPERATOR, 202), (ADMIN, 403), (MEMBER, 403),
                                             (SCRIPT_ADMIN, 403)])
def test_only_operators_run_apply(who: authz.Principal, status: int) -> None:
    assert jobs.apply_status(who) == status


def test_an_apply_job_is_the_platforms_and_audited_as_apply_is() -> None:
    assert jobs.KINDS["apply"] == "box" and jobs.KINDS["restore"] == "backups"
    assert jobs.audit_target("apply", jobs.PLATFORM, jobs.APPLY_TARGET) == "spec"
    assert jobs.audit_target("restore", "health", jobs.BACKUPS_TARGET) == "health"
    assert not authz.may_see(ADMIN, jobs.PLATFORM) and authz.may_see(OPERATOR, jobs.PLATFORM)


@pytest.mark.parametrize(("raw", "chosen"), [
    (None, None), ("", None), ("20261203T101500Z", "20261203T101500Z"), ("3f2a9c1b", "3f2a9c1b"),
    ("../etc", False), ("a b", False), ("x" * 81, False), (7, False), (["a"], False), ("-rf", False),
])
def test_the_backup_a_restore_names(raw: object, chosen: object) -> None:
    assert backup_choice(raw) == chosen


@pytest.mark.parametrize(("state", "lang", "words"), [
    ("approved", "en", ["is approved", "https://c/en/requests/3", "Health (health)"]),
    ("declined", "en", ["is declined", "ask the ministry", "https://c/en/requests/3"]),
    ("approved", "ur", ["منظور", "https://c/en/requests/3"]),
    ("declined", "ur", ["نامنظور", "ask the ministry"]),
])
def test_the_decision_mail_is_in_the_requests_language(state: str, lang: str, words: list[str]) -> None:
    subject, body = intake.decision_mail(state, lang, "Health", "health", "ask the ministry"
                                         if state == "declined" else "", "https://c/en/requests/3")
    assert "health" in subject and all(w in subject + body for w in words), (subject, body)
    assert ("is approved" in body or "is declined" in body) == (lang == "en")


def test_a_request_records_its_language() -> None:
    base = {"slug": "health", "name": "Health", "email": "it@health.example"}
    assert isinstance(found := intake.fields(base), intake.Fields) and found.lang == "en"
    assert isinstance(found := intake.fields(base, lang="ur"), intake.Fields) and found.lang == "ur"
    assert isinstance(found := intake.fields({**base, "lang": "ur"}), intake.Fields) and found.lang == "ur"
    assert intake.fields({**base, "lang": "fr"}) == "lang: en or ur"


def test_a_registry_of_version_9_gains_the_requests_language_and_jobs(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "registry.db")
    for script in MIGRATIONS[:9]:
        for statement in script.split(";\n"):
            if statement.strip():
                conn.execute(statement)
    conn.execute("PRAGMA user_version = 9")
    conn.execute("INSERT INTO onboarding_requests (slug, name, email, quota, apps, state, filed_by, filed_at) "
                 "VALUES ('health', 'Health', 'a@b.cd', 'standard', '[\"portal\"]', 'pending', 'x', 'x')")
    conn.commit()
    conn.close()
    registry = Registry(tmp_path)
    old = requests_store.every(registry)
    assert [(r.slug, r.apps, r.lang, r.jobs) for r in old] == [("health", ("portal",), "en", ())]
    requests_store.set_jobs(registry, old[0].id, [4, 5])
    assert requests_store.get(registry, old[0].id).as_dict()["jobs"] == [4, 5]  # type: ignore[union-attr]
    filed = requests_store.file(registry, "revenue", "Revenue", "a@b.cd", "standard", [], "x", "ur")
    assert filed.lang == "ur" and filed.jobs == ()
    with registry.connect() as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) >= 10


@pytest.fixture
def console(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[FlaskClient, Box]:
    from govcloud_platform.box.services.console_conf import CLIENT_ID
    from govcloud_platform.console.app import create_app
    from govcloud_platform.console.settings import Settings
    from govcloud_platform.console.tokens import Verifier

    groups = {"op": ["platform-operators"], "ha": ["agency-health", "agency-health--admins"],
              "hm": ["agency-health"], "ra": ["agency-revenue", "agency-revenue--admins"]}
    monkeypatch.setattr(Verifier, "bearer_claims", lambda self, token: {"sub": token, "groups": groups[token],
                                                                        "client_id": CLIENT_ID})
    box = Box(home=tmp_path, spec=load_spec_text(ENABLED))
    registry = Registry(tmp_path)
    for slug in ("health", "revenue"):
        registry.save_agency(slug, slug, f"it@{slug}.example", "standard", ["identity", "backups"], "ready")
    app = create_app(Settings(box, "https://localhost:1", "https://localhost:2", "platform-console", "s",
                              "k" * 32, str(tmp_path / "ca.pem")))
    app.config["SESSION_COOKIE_SECURE"] = False
    return app.test_client(), box


def _post(client: FlaskClient, path: str, who: str | None, body: object = None) -> tuple[int, dict[str, object]]:
    headers = {"Authorization": f"Bearer {who}"} if who else {}
    resp = client.post(path, headers=headers, json=body)
    return resp.status_code, resp.get_json()


def test_the_api_checks_who_before_starting_anything(console: tuple[FlaskClient, Box]) -> None:
    client, box = console
    restore = "/api/agencies/health/backups/restore"
    assert _post(client, restore, None, {"confirm": True})[0] == 401
    assert _post(client, "/api/apply", None)[0] == 401
    assert _post(client, restore, "hm", {"confirm": True}) == (403, {"error": "forbidden", "message": (
        "Only a directorate operator or the agency's administrators restore its backups.")})
    unknown = _post(client, "/api/agencies/ghost/backups/restore", "ra", {"confirm": True})
    assert unknown[0] == 404 and _post(client, restore, "ra", {"confirm": True}) == unknown
    assert _post(client, restore, "ha", {})[1]["error"] == "confirmation_needed"
    assert _post(client, restore, "ha", {"confirm": "yes"})[0] == 400
    assert _post(client, restore, "ha", {"confirm": True, "backup": "../x"})[1]["error"] == "invalid"
    assert _post(client, "/api/apply", "ha")[0] == 403
    assert client.get("/api/apply", headers={"Authorization": "Bearer ha"}).status_code == 403
    assert store.recent(Registry(box.home), "health") == [] and store.recent(Registry(box.home), "") == []
    # a job of the platform's (apply) is the operators' alone: an agency's administrator gets the unknown job's 404
    job = store.create(Registry(box.home), "apply", jobs.PLATFORM, jobs.APPLY_TARGET, "console:op")
    assert client.get(f"/api/jobs/{job.id}", headers={"Authorization": "Bearer ha"}).status_code == 404
    assert client.get(f"/api/jobs/{job.id}", headers={"Authorization": "Bearer op"}).status_code == 200
    listed = client.get("/api/apply", headers={"Authorization": "Bearer op"}).get_json()
    assert [j["id"] for j in listed["jobs"]] == [job.id]
    assert _post(client, "/api/apply", "op") == (409, _post(client, "/api/apply", "op")[1])  # one at a time


def _sign(client: FlaskClient, sub: str, groups: list[str]) -> str:
    with client.session_transaction() as sess:
        sess["p"] = {"sub": sub, "groups": groups, "name": sub, "exp": int(time.time()) + 600}
    client.get("/en/agencies")
    with client.session_transaction() as sess:
        return str(sess["csrf"])


def test_the_restore_page_asks_to_confirm(console: tuple[FlaskClient, Box]) -> None:
    client, box = console
    csrf = _sign(client, "ha", ["agency-health", "agency-health--admins"])
    page = client.get("/en/agencies/health/backups/restore?backup=20261203T101500Z")
    assert page.status_code == 200 and "20261203T101500Z" in page.text and "<script" not in page.text
    assert re.search(r'<input type="hidden" name="confirm" value="yes">', page.text)
    assert 'name="csrf"' in page.text and client.get("/ur/agencies/health/backups/restore?backup=b1").status_code == 200
    assert client.get("/en/agencies/health/backups/restore?backup=../x").status_code == 404
    form = {"csrf": csrf, "backup": "20261203T101500Z"}
    assert client.post("/en/agencies/health/backups/restore", data={**form, "confirm": "yes", "csrf": "forged"}
                       ).status_code == 400
    again = client.post("/en/agencies/health/backups/restore", data=form)  # not confirmed: asked again
    assert again.status_code == 200 and 'value="yes"' in again.text
    assert store.recent(Registry(box.home), "health") == []
    assert client.post("/en/agencies/revenue/backups/restore", data={**form, "confirm": "yes"}).status_code == 404
    assert client.get("/en/agencies/revenue/backups/restore?backup=b1").status_code == 404
    csrf = _sign(client, "hm", ["agency-health"])
    assert client.get("/en/agencies/health/backups/restore?backup=b1").status_code == 403
    assert client.post("/en/agencies/health/backups/restore", data={**form, "csrf": csrf, "confirm": "yes"}
                       ).status_code == 403
    assert client.post("/en/apply", data={"csrf": csrf}).status_code == 403
    assert "/en/apply" not in client.get("/en/").text  # no Apply button for anyone but operators
    assert store.recent(Registry(box.home), "health") == [] and store.recent(Registry(box.home), "") == []
