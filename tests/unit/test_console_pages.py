"""The console's agency page and backups page without servers: the agency's newest audit entries on its page (the
audit log's own reading and filter), the backup lists' cache (`console/backup_runs.py`: when a list is read again,
the jobs' hook, the background sweep) and the page saying how old its list is, and an invitation sent again (a new
token: the old link opens nothing; a mail that fails puts the old link back). Real servers: the console's
integration modules."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from govcloud_platform.box.context import Box
from govcloud_platform.console import auditlog, backup_runs, membership
from govcloud_platform.console.backup_runs import Listing, RunsCache
from govcloud_platform.console.staff import MailFailed, Staff
from govcloud_platform.errors import ConflictError
from govcloud_platform.progress import Progress
from govcloud_platform.spec import load_spec_text
from govcloud_platform.state import invitations as store
from govcloud_platform.state import jobs as job_store
from govcloud_platform.state.registry import Registry
from tests.console_kit import ENABLED


# --- the backup lists' cache (pure parts, then the cache with a fake reading) ---------------------------------------
@pytest.mark.parametrize(("age", "error", "max_age", "is_due"), [
    (10, None, 300, False), (299, None, 300, False), (300, None, 300, True),
    (29, "restic failed", 300, False), (30, "restic failed", 300, True),  # a failed reading: again after CHECK_S
    (599, None, backup_runs.STALE_S, False), (600, None, backup_runs.STALE_S, True),
])
def test_when_a_list_is_read_again(age: float, error: str | None, max_age: float, is_due: bool) -> None:
    assert backup_runs.due(Listing([], error, 1000.0), 1000.0 + age, max_age) is is_due


class Reader:
    def __init__(self) -> None:
        self.reads: list[str] = []

    def __call__(self, slug: str) -> Listing:
        self.reads.append(slug)
        return Listing([{"id": f"run-{len(self.reads)}"}], None, time.time())


def test_a_list_is_read_once_then_served_until_stale() -> None:
    reader = Reader()
    cache = RunsCache(reader)
    first = cache.get("health")
    assert cache.get("health") is first and reader.reads == ["health"]
    cache._held["health"] = Listing(first.runs, None, time.time() - backup_runs.STALE_S)  # the thread fell behind
    assert cache.get("health").runs == [{"id": "run-2"}] and reader.reads == ["health", "health"]


@pytest.mark.parametrize("fails", [False, True])
def test_a_job_that_changes_the_runs_reads_the_list_again_when_it_ends(fails: bool) -> None:
    reader = Reader()
    cache = RunsCache(reader)
    cache.get("health")

    def work(progress: Progress) -> dict[str, Any]:
        progress("backing up")
        if fails:
            raise ConflictError("the agency's backup lock is held")
        return {"ok": True}

    wrapped = cache.after("health", work)
    if fails:
        with pytest.raises(ConflictError):
            wrapped(lambda line: None)
    else:
        assert wrapped(lambda line: None) == {"ok": True}
    assert reader.reads == ["health", "health"] and cache.get("health").runs == [{"id": "run-2"}]
    assert {"backup", "drill", "restore"} <= backup_runs.REFRESHED_BY


def test_the_sweep_reads_stale_lists_and_forgets_idle_ones() -> None:
    reader = Reader()
    cache = RunsCache(reader)
    now = time.time()
    cache._held = {"fresh": Listing([], None, now), "stale": Listing([], None, now - backup_runs.MAX_AGE_S),
                   "idle": Listing([], None, now - backup_runs.MAX_AGE_S)}
    cache._asked = {"fresh": now, "stale": now, "idle": now - backup_runs.IDLE_S}
    assert cache.sweep(now) == ["stale"] and reader.reads == ["stale"]
    assert set(cache._held) == {"fresh", "stale"} and "idle" not in cache._asked


# --- the pages (Flask's test client on a registry without servers) --------------------------------------------------
@pytest.fixture
def console(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[FlaskClient, Box, Reader]:
    from govcloud_platform.console.app import create_app
    from govcloud_platform.console.data import Platform
    from govcloud_platform.console.settings import Settings

    box = Box(home=tmp_path, spec=load_spec_text(ENABLED))
    registry = Registry(tmp_path)
    for slug in ("pg-health", "pg-revenue"):
        registry.save_agency(slug, slug, f"it@{slug}.example", "standard", ["identity", "backups"], "ready")
    for i in range(12):  # the health agency's entries and its apps', the revenue agency's between them
        registry.audit("app deploy", "pg-health/portal" if i % 3 else "pg-health", "ok", f"console:u{i}", f"hx{i}")
        registry.audit("agency credentials", "pg-revenue", "revealed", "console:ra", f"rv{i}")
    registry.close()
    monkeypatch.setattr(Platform, "credentials", lambda self, slug: None)  # not ready: no broker to ask
    app = create_app(Settings(box, "https://localhost:1", "https://localhost:2", "platform-console", "s",
                              "k" * 32, str(tmp_path / "ca.pem")))
    app.config["SESSION_COOKIE_SECURE"] = False  # the test client speaks plain HTTP
    reader = Reader()
    app.extensions["govcloud"]["backup_runs"].read = reader
    return app.test_client(), box, reader


def sign(client: FlaskClient, sub: str, groups: list[str]) -> None:
    with client.session_transaction() as sess:
        sess["p"] = {"sub": sub, "groups": groups, "name": sub, "exp": int(time.time()) + 600}


def test_an_agencys_page_shows_its_newest_audit_entries_and_links_the_rest(
        console: tuple[FlaskClient, Box, Reader], monkeypatch: pytest.MonkeyPatch) -> None:
    client, _, _ = console
    sign(client, "hm", ["agency-pg-health"])
    for lang in ("en", "ur"):
        html = client.get(f"/{lang}/agencies/pg-health").text
        shown = [int(n) for n in __import__("re").findall(r">hx(\d+)<", html)]
        assert shown == list(range(11, 11 - auditlog.AGENCY_PAGE, -1))  # the newest first, the agency's apps' too
        assert ">rv" not in html and f'href="/{lang}/audit?agency=pg-health"' in html
    assert client.get("/en/agencies/pg-revenue").status_code == 404  # another agency's page, as an unknown one

    from govcloud_platform.box.services.console_conf import CLIENT_ID
    from govcloud_platform.console.tokens import Verifier

    monkeypatch.setattr(Verifier, "bearer_claims", lambda self, token: {
        "sub": token, "groups": ["agency-pg-health"], "client_id": CLIENT_ID})
    doc = client.get("/api/agencies/pg-health", headers={"Authorization": "Bearer hm"}).get_json()
    assert doc["audit"] == "/api/audit?agency=pg-health" and doc["slug"] == "pg-health"
    linked = client.get(doc["audit"], headers={"Authorization": "Bearer hm"}).get_json()
    assert [e["detail"] for e in linked["entries"]][:auditlog.AGENCY_PAGE] == [f"hx{i}" for i in range(11, 3, -1)]


def test_the_backups_page_serves_the_kept_list_says_its_age_and_a_backup_job_reads_it_again(
        console: tuple[FlaskClient, Box, Reader], monkeypatch: pytest.MonkeyPatch) -> None:
    from govcloud_platform.console import apps_backups

    client, box, reader = console
    sign(client, "ha", ["agency-pg-health", "agency-pg-health--admins"])
    page = client.get("/en/agencies/pg-health/backups")
    assert page.status_code == 200 and "run-1" in page.text and "just read" in page.text
    cache = client.application.extensions["govcloud"]["backup_runs"]
    cache._held["pg-health"] = Listing([{"id": "run-1", "started": "", "finished": "", "bytes": 1}], None,
                                       time.time() - 250)
    page = client.get("/ur/agencies/pg-health/backups")
    assert "run-1" in page.text and "4m1" in page.text and reader.reads == ["pg-health"]  # 4m10s: not read again

    monkeypatch.setattr(apps_backups, "backup_work", lambda v, actor, slug: lambda progress: {"ok": True})
    csrf = __import__("re").search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    started = client.post("/en/agencies/pg-health/backups", data={"csrf": csrf})
    assert started.status_code == 303
    job_id = int(started.headers["Location"].rsplit("/", 1)[1])
    deadline = time.monotonic() + 10
    while (job := job_store.get(Registry(box.home), job_id)) is not None and job.state != job_store.SUCCEEDED \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    deadline = time.monotonic() + 5
    while len(reader.reads) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert reader.reads == ["pg-health", "pg-health"]
    assert "run-2" in client.get("/en/agencies/pg-health/backups").text
    from govcloud_platform.box.services.console_conf import CLIENT_ID
    from govcloud_platform.console.tokens import Verifier

    monkeypatch.setattr(Verifier, "bearer_claims", lambda self, token: {
        "sub": token, "groups": ["agency-pg-health"], "client_id": CLIENT_ID})
    doc = client.get("/api/agencies/pg-health/backups", headers={"Authorization": "Bearer hm"}).get_json()
    assert doc["backups"] == [{"id": "run-2"}] and doc["backups_age_s"] <= 5 and doc["backups_read_at"]


# --- an invitation sent again ----------------------------------------------------------------------------------------
def test_an_invitation_sent_again_has_a_new_link_and_the_old_one_opens_nothing(tmp_path: Path) -> None:
    box = Box(home=tmp_path, spec=load_spec_text(ENABLED))
    registry = Registry(tmp_path)
    registry.save_agency("pg-health", "Health", "it@health.example", "standard", ["identity"], "ready")
    agency = registry.agency("pg-health")
    assert agency is not None
    old_token, digest = membership.new_token()
    made = store.create(registry, "pg-health", "jane@x.org", "member", digest, "admin@pg-health",
                        "2999-01-01T00:00:00+00:00")
    staff = Staff(box)
    mailed: list[str] = []
    staff._mail = lambda to, subject, body: mailed.append(body)  # type: ignore[method-assign]

    again = staff.resend(agency, made, "admin@pg-health", "console:admin@pg-health", "https://c/en/join?t=")
    new_token = mailed[0].split("https://c/en/join?t=", 1)[1].split()[0]
    assert new_token != old_token and staff.by_token(old_token) is None and staff.by_token(new_token) == again
    assert again.id == made.id and again.expires_at < made.expires_at  # 7 days from now, not the year 2999

    def refused(to: str, subject: str, body: str) -> None:
        raise OSError("connection refused")

    staff._mail = refused  # type: ignore[method-assign]
    with pytest.raises(MailFailed):
        staff.resend(agency, again, "admin@pg-health", "console:admin@pg-health", "https://c/en/join?t=")
    assert staff.by_token(new_token) == again  # nothing changed: the link mailed before still works
    assert store.revoke(registry, made.id, "admin@pg-health")
    with pytest.raises(ConflictError):
        staff.resend(agency, again, "admin@pg-health", "console:admin@pg-health", "https://c/en/join?t=")
    log = [(e["command"], e["result"]) for e in registry.audit_log(agencies=["pg-health"])]
    assert log == [("member reinvite", "mail failed"), ("member reinvite", "mailed")]
    assert old_token not in str(registry.audit_log()) and new_token not in str(registry.audit_log())
    registry.close()
