"""An onboarding request's approval as a console job, without servers (`Onboarding.add`, the deploys' work and the
mail replaced by fakes; the runner, the registry, the views and the pages are the console's own): the approval
answers 202 at once with its job, the request is `approving` while the job runs (a second approval and a decline are
409), the job waits while the box's lock is held, then approves, starts the apps' deploys and mails once; a failing
onboarding puts the request back to pending with the failure on its page, and a second approval converges; a console
restarted while a request was approving puts it back to pending. On a real box: tests/integration/
test_console_requests.py."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from govcloud_platform.box.context import Box
from govcloud_platform.console import jobs, operations
from govcloud_platform.errors import ServiceError
from govcloud_platform.onboarding import AgencyRequest, Onboarding
from govcloud_platform.spec import load_spec_text
from govcloud_platform.state import onboarding_requests as requests_store
from govcloud_platform.state.lock import LockHeld
from govcloud_platform.state.registry import AgencyRecord, Registry
from tests.console_kit import ENABLED

GROUPS = {"op": ["platform-operators"], "ha": ["agency-health", "agency-health--admins"], "hm": ["agency-health"],
          "ra": ["agency-revenue", "agency-revenue--admins"]}


class Fakes:
    """What the job calls outside the console: `agency add` (held by the box's lock while `held` is set, failing
    while `failing` says why), the deploys' work and the mail."""

    def __init__(self) -> None:
        self.held = threading.Event()
        self.failing = ""
        self.added: list[str] = []
        self.mailed: list[int] = []
        self.deployed: list[tuple[str, str]] = []


@pytest.fixture
def console(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FlaskClient, Box, Fakes, Flask]]:
    from govcloud_platform.box.services.console_conf import CLIENT_ID
    from govcloud_platform.console.app import create_app
    from govcloud_platform.console.data import Platform
    from govcloud_platform.console.settings import Settings
    from govcloud_platform.console.tokens import Verifier

    fakes = Fakes()
    monkeypatch.setattr(Verifier, "bearer_claims", lambda self, token: {"sub": token, "groups": GROUPS[token],
                                                                        "client_id": CLIENT_ID})

    def add(self: Onboarding, req: AgencyRequest, *, allow_update: bool = False) -> tuple[AgencyRecord, bool]:
        if fakes.held.is_set():
            raise LockHeld("the box is locked by pid 1 (app deploy health/opendata)")
        step = threading.Thread(target=self.progress, args=(f"{req.slug}: database",))  # as `add` provisions
        step.start()
        step.join()
        if fakes.failing:
            self.registry.save_agency(req.slug, req.name, req.email, req.quota, ["database"], "provisioning")
            raise ServiceError(fakes.failing)
        self.registry.save_agency(req.slug, req.name, req.email, req.quota, ["database"], "ready")
        fakes.added.append(req.slug)
        record = self.registry.agency(req.slug)
        assert record is not None
        return record, True

    def deploy_work(v: Any, actor: str, slug: str, app: str) -> Callable[[Any], Any]:
        return lambda progress: fakes.deployed.append((slug, app)) or {"app": app}

    monkeypatch.setattr(Onboarding, "add", add)
    monkeypatch.setattr(operations, "deploy_work", deploy_work)
    monkeypatch.setattr(Platform, "mail_decision", lambda self, rid, link, actor: fakes.mailed.append(rid) or True)
    monkeypatch.setattr(Platform, "copy_registry", lambda self: None)
    box = Box(home=tmp_path, spec=load_spec_text(ENABLED))
    registry = Registry(tmp_path)
    for slug in ("health", "revenue"):
        registry.save_agency(slug, slug, f"it@{slug}.example", "standard", ["identity", "backups"], "ready")
    app = create_app(Settings(box, "https://localhost:1", "https://localhost:2", "platform-console", "s",
                              "k" * 32, str(tmp_path / "ca.pem")))
    app.config["SESSION_COOKIE_SECURE"] = False
    app.extensions["govcloud"]["jobs"].lock_poll_s = 0.05
    yield app.test_client(), box, fakes, app
    fakes.held.clear()
    app.extensions["govcloud"]["jobs"].shutdown()


def _call(client: FlaskClient, method: str, path: str, who: str | None, body: object = None
          ) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {who}"} if who else {}
    resp = client.open(path, method=method, headers=headers, json=body)
    return resp.status_code, resp.get_json() or {}


def _file(client: FlaskClient, slug: str, apps: list[str]) -> int:
    status, doc = _call(client, "POST", "/api/requests", "ha", {"slug": slug, "name": f"Agency {slug}",
                                                                 "email": f"it@{slug}.example", "apps": apps})
    assert status == 201, doc
    return int(doc["id"])


def _ended(client: FlaskClient, url: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while (job := _call(client, "GET", url, "op")[1])["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.02)
    return job


def _audited(box: Box, slug: str) -> list[tuple[str, str]]:
    return [(e["command"], e["result"]) for e in reversed(Registry(box.home).audit_log(limit=100, agencies=[slug]))]


def test_an_approval_answers_at_once_waits_for_the_lock_then_onboards_deploys_and_mails_once(
        console: tuple[FlaskClient, Box, Fakes, Flask]) -> None:
    client, box, fakes, _ = console
    rid = _file(client, "water", ["opendata"])
    path = f"/api/requests/{rid}"
    assert _call(client, "POST", f"{path}/approve", None)[0] == 401
    assert _call(client, "POST", f"{path}/approve", "hm")[0] == 404  # not theirs to see: as an unknown id
    assert _call(client, "POST", f"{path}/approve", "ha") == (403, {
        "error": "forbidden", "message": "Only a directorate operator decides onboarding requests."})
    fakes.held.set()  # another command holds the box's lock
    status, doc = _call(client, "POST", f"{path}/approve", "op")
    assert status == 202, doc
    job = doc["job"]
    assert doc["url"] == f"/api/jobs/{job['id']}" and (job["kind"], job["agency"], job["target"]) == (
        "onboard", "water", f"request-{rid}")
    assert doc["request"]["state"] == "approving" and doc["request"]["approval_job"] == job["id"]
    assert doc["agency"] is None and doc["jobs"] == [] and doc["request"]["decided_by"] == "console:op"
    deadline = time.monotonic() + 10
    while not any(s["message"].startswith("waiting: ") for s in _call(client, "GET", doc["url"], "op")[1]["steps"]):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    again = _call(client, "POST", f"{path}/approve", "op")
    assert again == (409, {"error": "conflict", "message": (
        f"The request is being approved (job {job['id']}): wait for the job to finish.")})
    assert _call(client, "POST", f"{path}/decline", "op", {"reason": "late"})[0] == 409
    assert _call(client, "POST", "/api/requests", "ha", {"slug": "water", "name": "x y", "email": "a@b.cd"})[0] == 409
    assert _call(client, "GET", path, "ha")[1]["state"] == "approving" and fakes.mailed == []
    with client.session_transaction() as sess:
        sess["p"] = {"sub": "op", "groups": GROUPS["op"], "name": "op", "exp": int(time.time()) + 600}
    client.get("/en/requests")
    with client.session_transaction() as sess:
        csrf = str(sess["csrf"])
    for lang, said in (("en", "is being approved"), ("ur", "منظوری جاری ہے")):
        page = client.get(f"/{lang}/requests/{rid}")
        assert page.status_code == 200 and 'id="approval-check"' in page.text and "/approve" not in page.text
        form = client.post(f"/{lang}/requests/{rid}/approve", data={"csrf": csrf})
        assert form.status_code == 409 and said in form.text
    fakes.held.clear()
    ended = _ended(client, doc["url"])
    assert ended["state"] == "succeeded", ended
    req = _call(client, "GET", path, "ha")[1]
    assert req["state"] == "approved" and len(req["jobs"]) == 1
    assert ended["result"]["agency"]["slug"] == "water" and ended["result"]["jobs"] == [f"/api/jobs/{req['jobs'][0]}"]
    assert _ended(client, f"/api/jobs/{req['jobs'][0]}")["state"] == "succeeded"
    assert fakes.added == ["water"] and fakes.deployed == [("water", "opendata")] and fakes.mailed == [rid]
    assert "water: database" in [s["message"] for s in ended["steps"]]  # a step from the work's own thread
    audited = _audited(box, "water")
    assert audited[:4] == [("request file", "filed"), ("request approve", "approved"), ("job onboard", "queued"),
                           ("job onboard", "running")], audited
    assert audited.index(("job deploy", "queued")) < audited.index(("job onboard", "succeeded")), audited


def test_a_failing_onboarding_puts_the_request_back_to_pending_and_a_second_approval_converges(
        console: tuple[FlaskClient, Box, Fakes, Flask]) -> None:
    client, box, fakes, _ = console
    rid = _file(client, "roads", [])
    fakes.failing = "agency roads: database provisioning failed: the server said no"
    status, doc = _call(client, "POST", f"/api/requests/{rid}/approve", "op")
    assert status == 202
    ended = _ended(client, doc["url"])
    assert ended["state"] == "failed" and ended["error"].startswith("agency roads: database provisioning failed")
    req = _call(client, "GET", f"/api/requests/{rid}", "ha")[1]
    assert (req["state"], req["decided_by"], req["approval_job"]) == ("pending", None, ended["id"])
    assert fakes.mailed == [] and ("request approve", "failed, pending again") in _audited(box, "roads")
    with client.session_transaction() as sess:
        sess["p"] = {"sub": "op", "groups": GROUPS["op"], "name": "op", "exp": int(time.time()) + 600}
    for lang, said in (("en", "The onboarding failed"), ("ur", "شمولیت ناکام ہو گئی")):
        page = client.get(f"/{lang}/requests/{rid}")
        assert page.status_code == 200 and said in page.text and "the server said no" in page.text
        assert f'href="/{lang}/jobs/{ended["id"]}"' in page.text
        assert f'action="/{lang}/requests/{rid}/approve"' in page.text  # approvable again
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    fakes.failing = ""
    answer = client.post(f"/en/requests/{rid}/approve", data={"csrf": csrf.group(1)})
    assert answer.status_code == 303 and answer.headers["Location"].endswith(f"/en/requests/{rid}")
    job = _call(client, "GET", f"/api/requests/{rid}", "op")[1]["approval_job"]
    assert job != ended["id"] and _ended(client, f"/api/jobs/{job}")["state"] == "succeeded"
    assert _call(client, "GET", f"/api/requests/{rid}", "op")[1]["state"] == "approved"
    assert fakes.added == ["roads"] and fakes.mailed == [rid]
    page = client.get(f"/en/requests/{rid}")
    assert 'href="/en/agencies/roads"' in page.text and "The onboarding failed" not in page.text
    assert client.get(f"/ur/jobs/{job}").status_code == 200


def test_a_restarted_console_puts_an_approving_request_back_to_pending(
        console: tuple[FlaskClient, Box, Fakes, Flask]) -> None:
    from govcloud_platform.console.app import create_app

    client, box, _, app = console
    rid = _file(client, "ports", [])
    registry = Registry(box.home)
    assert requests_store.claim(registry, rid, "console:op")
    from govcloud_platform.console.settings import Settings

    made = create_app(Settings(box, "https://localhost:1", "https://localhost:2", "platform-console", "s", "k" * 32,
                               str(box.home / "ca.pem")))
    made.extensions["govcloud"]["jobs"].shutdown()
    found = requests_store.get(registry, rid)
    assert found is not None and found.state == "pending"
    assert ("request approve", "failed, pending again") in _audited(box, "ports")


def test_an_onboarding_job_is_the_box_lanes_and_audited_under_the_agency() -> None:
    assert jobs.KINDS["onboard"] == "box" and jobs.request_target(7) == "request-7"
    assert jobs.audit_target("onboard", "water", jobs.request_target(7)) == "water"


def test_a_registry_of_version_10_gains_the_approving_state_and_keeps_its_requests(tmp_path: Path) -> None:
    import sqlite3

    from govcloud_platform.state.registry import MIGRATIONS

    conn = sqlite3.connect(tmp_path / "registry.db")
    for script in MIGRATIONS[:10]:
        for statement in script.split(";\n"):
            if statement.strip():
                conn.execute(statement)
    conn.execute("PRAGMA user_version = 10")
    for slug, state in (("health", "approved"), ("water", "pending")):
        conn.execute("INSERT INTO onboarding_requests (slug, name, email, quota, apps, state, filed_by, filed_at, "
                     "lang, jobs) VALUES (?, 'N', 'a@b.cd', 'standard', '[\"portal\"]', ?, 'x', 'x', 'ur', '[3]')",
                     (slug, state))
    conn.commit()
    conn.close()
    registry = Registry(tmp_path)
    kept = requests_store.every(registry)
    assert [(r.id, r.slug, r.state, r.lang, r.jobs, r.approval_job) for r in kept] == [
        (2, "water", "pending", "ur", (3,), 0), (1, "health", "approved", "ur", (3,), 0)]
    assert requests_store.claim(registry, 2, "console:op") and requests_store.get(registry, 2).state == "approving"  # type: ignore[union-attr]
    assert requests_store.file(registry, "roads", "Roads", "a@b.cd", "standard", [], "x").id == 3  # ids go on
    with registry.connect() as c, pytest.raises(sqlite3.IntegrityError):
        c.execute("UPDATE onboarding_requests SET state = 'maybe' WHERE id = 1")
