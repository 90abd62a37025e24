"""The console's apps, backups and jobs without servers: the registry's job tables (migration 6) and the states'
rules, who may start a job, the runner (its worker threads, progress, audit records, one job per target, jobs left
by a stopped console), an agency's backup age against its plan and its last restore drill, and the pages' checks
(CSRF, 403 for a member, 404 for another agency's job). Deploys and backups on real servers are
tests/integration/test_console_jobs.py's."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from govcloud_platform.backups.common import iso
from govcloud_platform.backups.drill import drill_outcome
from govcloud_platform.backups.schedule import agency_status
from govcloud_platform.box.context import Box
from govcloud_platform.console import authz, jobs
from govcloud_platform.console.apps_backups import age_text
from govcloud_platform.errors import ConflictError
from govcloud_platform.progress import Progress
from govcloud_platform.spec import load_spec_text
from govcloud_platform.state import jobs as store
from govcloud_platform.state.registry import MIGRATIONS, Registry
from tests.console_kit import ENABLED
from tests.registry_kit import older_registry
from tests.unit.offline import T0
from tests.unit.offline import offline_box as make_offline_box

OPERATOR = authz.Principal("op", True, frozenset())
ADMIN = authz.principal("ha", ["agency-health", "agency-health--admins"], ["platform-operators"])
MEMBER = authz.principal("hm", ["agency-health"], ["platform-operators"])
OTHER = authz.principal("ra", ["agency-revenue", "agency-revenue--admins"], ["platform-operators"])


# --- the registry's tables and the states' rules ----------------------------------------------------------------
def test_a_registry_of_version_5_gains_the_job_tables_and_keeps_its_rows(tmp_path: Path) -> None:
    reg = older_registry(tmp_path, 5)
    assert [r.slug for r in reg.agencies()] == ["health"]
    job = store.create(reg, "backup", "health", "backups", "console:op")
    with reg.connect() as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        with pytest.raises(sqlite3.IntegrityError):  # the state is one of four
            c.execute("UPDATE jobs SET state = 'paused' WHERE id = ?", (job.id,))
    assert job.state == store.QUEUED and job.actor == "console:op" and job.started_at == ""


@pytest.mark.parametrize(("current", "to", "allowed"), [
    ("queued", "running", True), ("queued", "failed", True), ("queued", "succeeded", False),
    ("running", "succeeded", True), ("running", "failed", True), ("running", "queued", False),
    ("succeeded", "failed", False), ("failed", "running", False), ("failed", "succeeded", False),
])
def test_job_states_move_forward_only(current: str, to: str, allowed: bool) -> None:
    assert store.may_move(current, to) is allowed


def test_one_job_per_agency_and_target_while_it_waits_or_runs(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    deploy = store.create(reg, "deploy", "health", "portal", "console:op")
    with pytest.raises(store.Busy) as busy:
        store.create(reg, "remove", "health", "portal", "console:ha")  # a removal of the same app: 409
    assert busy.value.job_id == deploy.id
    other = store.create(reg, "deploy", "health", "opendata", "console:op")  # another app: its own
    assert store.create(reg, "deploy", "revenue", "portal", "console:op").id > other.id  # another agency
    assert not store.move(reg, deploy.id, store.SUCCEEDED)  # queued never succeeds without running
    assert store.move(reg, deploy.id, store.RUNNING)
    with pytest.raises(store.Busy):
        store.create(reg, "deploy", "health", "portal", "console:op")
    assert store.move(reg, deploy.id, store.SUCCEEDED, result={"url": "https://x"})
    assert not store.move(reg, deploy.id, store.FAILED)  # final
    done = store.get(reg, deploy.id)
    assert done is not None and done.as_dict()["result"] == {"url": "https://x"} and done.ended_at
    assert store.create(reg, "deploy", "health", "portal", "console:op").state == store.QUEUED  # free again


def test_steps_are_kept_in_order_up_to_a_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reg = Registry(tmp_path)
    monkeypatch.setattr(store, "MAX_STEPS", 3)
    job = store.create(reg, "backup", "health", "backups", "op")
    for n in range(5):
        store.step(reg, job.id, f"step {n}\x1b[31m")
    found = store.get(reg, job.id)
    # at most MAX_STEPS, printable (no control character)
    assert found is not None and [m for _, m in found.steps] == [f"step {n}\\x1b[31m" for n in range(3)]


def test_jobs_left_by_a_stopped_console_are_failed_as_interrupted(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    queued = store.create(reg, "backup", "health", "backups", "op")
    running = store.create(reg, "deploy", "health", "portal", "op")
    store.move(reg, running.id, store.RUNNING)
    done = store.create(reg, "deploy", "revenue", "portal", "op")
    store.move(reg, done.id, store.RUNNING)
    store.move(reg, done.id, store.SUCCEEDED)
    jobs.Runner(tmp_path).shutdown()  # a console starting
    states = {j.id: (j.state, j.error) for j in store.recent(reg, "health") + store.recent(reg, "revenue")}
    assert states[queued.id] == states[running.id] == (store.FAILED, store.INTERRUPTED)
    assert states[done.id] == (store.SUCCEEDED, "")
    audited = reg.audit_log(command="job deploy")
    assert [(e["target"], e["result"]) for e in audited] == [("health/portal", "failed")]


# --- who may start -------------------------------------------------------------------------------------------
def test_administrators_are_known_only_with_their_membership() -> None:
    assert ADMIN.administers == {"health"} and MEMBER.administers == frozenset()
    lone = authz.principal("x", ["agency-health--admins"], ["platform-operators"])
    assert lone.administers == frozenset() and not lone.has_standing


@pytest.mark.parametrize(("who", "slug", "exists", "status"), [
    (OPERATOR, "health", True, 202),
    (ADMIN, "health", True, 202),
    (MEMBER, "health", True, 403),     # members read
    (OTHER, "health", True, 404),      # another agency's: as an unknown one
    (ADMIN, "ghost", False, 404),
    (OPERATOR, "ghost", False, 404),
])
def test_who_may_start_a_job(who: authz.Principal, slug: str, exists: bool, status: int) -> None:
    assert jobs.start_status(who, slug, exists) == status


def test_a_job_fails_with_the_platforms_line_or_only_a_type() -> None:
    assert jobs.error_text(ConflictError("the box is locked", hint="wait")) == "the box is locked (wait)"
    assert jobs.error_text(ValueError("postgresql://u:secret@h")) == ("internal error (ValueError); the console's "
                                                                      "log says more")
    assert jobs.outcome({"ok": False})[0] == store.FAILED and jobs.outcome({"url": "u"}) == (store.SUCCEEDED, "")
    assert jobs.audit_target("deploy", "health", "portal") == "health/portal"
    assert jobs.audit_target("backup", "health", "backups") == "health"


# --- the runner ------------------------------------------------------------------------------------------------
def _wait(runner: jobs.Runner, job_id: int, seconds: float = 10.0) -> store.Job:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = runner.get(job_id)
        assert job is not None
        if job.state in store.FINAL:
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not finish")


def test_the_runner_runs_jobs_in_its_threads_with_progress_and_audit(tmp_path: Path) -> None:
    Registry(tmp_path).agencies()  # a registry, as on a box
    runner = jobs.Runner(tmp_path)
    release = threading.Event()
    caller = threading.get_ident()
    seen: list[int] = []

    def work(progress: Progress) -> dict[str, str]:
        seen.append(threading.get_ident())
        progress("first")
        release.wait(10)
        progress("second")
        return {"url": "https://health-portal"}

    try:
        job = runner.start("deploy", "health", "portal", "console:ha", work)
        assert job.state == store.QUEUED  # the request answers at once
        with pytest.raises(store.Busy):
            runner.start("deploy", "health", "portal", "console:ha", work)
        deadline = time.monotonic() + 5
        while (j := runner.get(job.id)) is not None and j.state != store.RUNNING and time.monotonic() < deadline:
            time.sleep(0.02)
        release.set()
        done = _wait(runner, job.id)
        assert seen and seen[0] != caller
        assert done.state == store.SUCCEEDED and [m for _, m in done.steps] == ["first", "second"]
        assert done.as_dict()["result"] == {"url": "https://health-portal"}

        def broken(progress: Progress) -> None:
            raise ConflictError("the box is locked by pid 1 (app deploy)", hint="wait for it to finish")

        failed = _wait(runner, runner.start("remove", "health", "portal", "console:ha", broken).id)
        assert failed.state == store.FAILED and failed.error.startswith("the box is locked")
    finally:
        runner.shutdown()
    log = Registry(tmp_path).audit_log(agencies=["health"])
    assert [(e["command"], e["result"], e["actor"]) for e in reversed(log)] == [
        ("job deploy", "queued", "console:ha"), ("job deploy", "running", "console:ha"),
        ("job deploy", "succeeded", "console:ha"), ("job remove", "queued", "console:ha"),
        ("job remove", "running", "console:ha"), ("job remove", "failed", "console:ha")]


# --- backups: the age against the plan, the last drill ---------------------------------------------------------
def test_an_agencys_backup_age_is_measured_against_its_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    box = make_offline_box(tmp_path, monkeypatch)
    registry = Registry(box.home)
    record = registry.agency("health")
    assert record is not None
    young = agency_status(box, record, T0)  # onboarded a day ago, never backed up: within its plan still
    assert young.ok and young.last_success is None and young.detail == "no backup yet"
    registry.audit("backup run", "health", "ok", "t", '{"finished": "2026-11-21T02:30:00+00:00", "bytes": 5}')
    fresh = agency_status(box, record, T0)
    assert fresh.ok and fresh.age_seconds == 9.5 * 3600 and fresh.schedule == "30 2 * * *"
    late = agency_status(box, record, T0 + dt.timedelta(days=2))
    assert not late.ok and late.age_seconds is not None and late.age_seconds > late.allowed_seconds
    assert age_text(fresh.age_seconds) == "9h30m" and age_text(None) == "-" and age_text(249) == "4m09s"


def test_the_last_restore_drill_is_the_newest_naming_the_agency() -> None:
    def entry(i: int, target: str, result: str, detail: str = "") -> dict[str, object]:
        return {"id": i, "at": iso(T0 + dt.timedelta(minutes=i)), "actor": "op", "command": "backup verify",
                "target": target, "result": result, "detail": detail}

    every = '[{"scope": "platform", "ok": true}, {"scope": "agency:health", "ok": false}]'
    assert drill_outcome([], "health") is None
    assert drill_outcome([entry(3, "all", "ok", '[{"scope": "platform", "ok": true}]'),
                          entry(2, "health", "ok")], "health") == {
        "at": iso(T0 + dt.timedelta(minutes=2)), "ok": True, "result": "ok", "actor": "op"}
    found = drill_outcome([entry(4, "all", "mismatch", every), entry(2, "health", "ok")], "health")
    assert found is not None and found["ok"] is False
    failed = drill_outcome([entry(5, "health", "failed")], "health")
    assert failed is not None and failed["ok"] is False
    assert drill_outcome([entry(6, "revenue", "ok"), entry(7, "all", "failed", "not json")], "health") is None


# --- the pages' checks, on the console's own app (a signed session forged with its key) --------------------------
@pytest.fixture
def console(tmp_path: Path) -> tuple[FlaskClient, Box]:
    from govcloud_platform.console.app import create_app
    from govcloud_platform.console.settings import Settings

    box = Box(home=tmp_path, spec=load_spec_text(ENABLED))
    registry = Registry(tmp_path)
    for slug in ("health", "revenue"):
        registry.save_agency(slug, slug, f"it@{slug}.example", "standard", ["identity", "storage"], "ready")
    app = create_app(Settings(box, "https://localhost:1", "https://localhost:2", "platform-console", "s",
                              "k" * 32, str(tmp_path / "ca.pem")))
    app.config["SESSION_COOKIE_SECURE"] = False  # the test client speaks plain HTTP
    return app.test_client(), box


def sign(client: FlaskClient, sub: str, groups: list[str]) -> tuple[str, str]:
    with client.session_transaction() as sess:
        sess["p"] = {"sub": sub, "groups": groups, "name": sub, "exp": int(time.time()) + 600}
    page = client.get("/en/agencies/health/apps")
    assert page.status_code == 200, page.text[:300]
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    return (found.group(1) if found else ""), page.text


def test_a_member_reads_the_apps_but_starts_nothing(console: tuple[FlaskClient, Box]) -> None:
    client, box = console
    _, html = sign(client, "hm", ["agency-health"])
    assert "portal" in html and "opendata" in html and "/apps/portal/deploy" not in html  # no buttons
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    assert client.post("/en/agencies/health/apps/opendata/deploy", data={"csrf": csrf}).status_code == 403
    assert client.post("/en/agencies/health/backups", data={"csrf": csrf}).status_code == 403
    assert client.post("/en/agencies/revenue/backups", data={"csrf": csrf}).status_code == 404
    assert client.get("/en/agencies/revenue/apps").status_code == 404
    assert client.get("/en/agencies/health/backups").status_code == 200
    assert store.recent(Registry(box.home), "health") == []


def test_an_administrator_needs_the_form_token_and_another_agency_sees_no_job(console: tuple[FlaskClient, Box]
                                                                            ) -> None:
    client, box = console
    csrf, html = sign(client, "ha", ["agency-health", "agency-health--admins"])
    assert "/apps/opendata/deploy" in html and "/apps/portal/deploy" not in html  # portal needs a database
    assert client.post("/en/agencies/health/backups", data={"csrf": "forged"}).status_code == 400
    # no backups service: nothing to run (409); a job of the agency's, made directly, is the admin's to read
    assert client.post("/en/agencies/health/backups", data={"csrf": csrf}).status_code == 409
    job = store.create(Registry(box.home), "backup", "health", "backups", "console:op")
    page = client.get(f"/en/jobs/{job.id}")
    # followed live by the page's one script (same origin, no inline script), a link to check again without it; no
    # timed reload (WCAG 2.2.1)
    assert page.status_code == 200 and "Refresh" not in page.headers and 'http-equiv="refresh"' not in page.text
    assert page.text.count("<script") == 1 and '<script src="/static/job.js" defer></script>' in page.text
    assert f'data-active="{jobs.REFRESH_S}"' in page.text and f'href="/en/jobs/{job.id}"' in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    script = client.get("/static/job.js")
    assert script.status_code == 200 and script.content_type.startswith("text/javascript")
    assert "fetch(window.location.pathname" in script.text
    assert client.get(f"/ur/jobs/{job.id}").status_code == 200
    with client.session_transaction() as sess:  # another agency's administrator
        sess["p"] = {"sub": "ra", "groups": ["agency-revenue", "agency-revenue--admins"], "name": "ra",
                     "exp": int(time.time()) + 600}
    assert client.get(f"/en/jobs/{job.id}").status_code == client.get("/en/jobs/99999").status_code == 404
    assert client.get("/en/jobs/x1").status_code == 404


def test_the_api_answers_json_for_apps_backups_and_jobs(console: tuple[FlaskClient, Box],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from govcloud_platform.console.tokens import Verifier

    groups = {"ha": ["agency-health", "agency-health--admins"], "hm": ["agency-health"], "ra": ["agency-revenue"]}
    from govcloud_platform.box.services.console_conf import CLIENT_ID

    monkeypatch.setattr(Verifier, "bearer_claims", lambda self, token: {"sub": token, "groups": groups[token],
                                                                        "client_id": CLIENT_ID})
    client, box = console

    def get(path: str, who: str) -> tuple[int, object]:
        resp = client.get(path, headers={"Authorization": f"Bearer {who}"})
        return resp.status_code, resp.get_json()

    status, apps = get("/api/agencies/health/apps", "ha")
    assert status == 200 and isinstance(apps, dict) and apps["apps"] == [] and apps["may_act"] is True
    assert get("/api/agencies/health/backups", "hm") == (200, {"service": False, "status": None, "backups": [],
                                                               "error": None, "last_drill": None, "may_act": False,
                                                               "backups_read_at": None, "backups_age_s": None,
                                                               "may_restore": False})
    refused = client.post("/api/agencies/health/apps/opendata/deploy", headers={"Authorization": "Bearer hm"})
    assert refused.status_code == 403 and refused.get_json()["error"] == "forbidden"
    assert client.post("/api/agencies/health/apps/nosuch/deploy",
                       headers={"Authorization": "Bearer ha"}).status_code == 404
    job = store.create(Registry(box.home), "deploy", "health", "opendata", "console:ha")
    busy = client.post("/api/agencies/health/apps/opendata/remove", headers={"Authorization": "Bearer ha"})
    assert busy.status_code == 409 and busy.get_json()["error"] == "conflict"
    status, found = get(f"/api/jobs/{job.id}", "hm")
    assert status == 200 and isinstance(found, dict) and found["state"] == "queued" and found["steps"] == []
    assert get(f"/api/jobs/{job.id}", "ra") == get("/api/jobs/424242", "ra") == get("/api/agencies/health/jobs", "ra")
    status, listed = get("/api/agencies/health/jobs", "hm")
    assert status == 200 and isinstance(listed, dict) and [j["id"] for j in listed["jobs"]] == [job.id]


def test_a_job_waits_while_the_box_is_locked_by_another_command(tmp_path: Path) -> None:
    """A deploy finding the box's lock held (an operator's `apply`) waits, saying so, instead of failing; past its
    wait it fails with the lock's message."""
    from govcloud_platform.state.lock import box_lock

    Registry(tmp_path).agencies()
    runner = jobs.Runner(tmp_path, lock_wait_s=5.0, lock_poll_s=0.05)

    def deploy(progress: Progress) -> dict[str, str]:
        with box_lock(tmp_path, "app deploy health portal"):
            progress("deployed")
        return {"url": "https://health-portal"}

    try:
        held = threading.Event()
        done_holding = threading.Event()

        def operator() -> None:
            with box_lock(tmp_path, "apply"):
                held.set()
                done_holding.wait(10)

        holder = threading.Thread(target=operator)
        holder.start()
        held.wait(5)
        job = runner.start("deploy", "health", "portal", "console:ha", deploy)
        deadline = time.monotonic() + 5
        while not any("waiting: the box at" in m for _, m in (runner.get(job.id) or job).steps):
            assert time.monotonic() < deadline, "the job did not say it waits"
            time.sleep(0.02)
        done_holding.set()
        holder.join()
        done = _wait(runner, job.id)
        assert done.state == store.SUCCEEDED and [m for _, m in done.steps][-1] == "deployed"
        assert "apply" in [m for _, m in done.steps][0]  # who held it
    finally:
        runner.shutdown()
    quick = jobs.Runner(tmp_path, lock_wait_s=0.0)
    try:
        with box_lock(tmp_path, "apply"):
            failed = _wait(quick, quick.start("deploy", "health", "opendata", "console:ha", deploy).id)
        assert failed.state == store.FAILED and "locked by" in failed.error
    finally:
        quick.shutdown()
