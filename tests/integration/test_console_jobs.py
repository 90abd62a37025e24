"""The console's apps, backups and jobs on a real box (the shared console box, `console_session`): an agency's
administrator runs a backup through the API as a job (202, progress, succeeded, audited, in the backups list with its
age against the plan), deploys the catalogue's lightest app (opendata) as a job and sees its URL and health, and
removes it; a second start of the same job while one waits or runs is 409; the console answers while jobs run; a
plain member reads but starts nothing (403); another agency's administrator gets 404 on the first agency's job, app
and backup URLs, exactly as for unknown ones; the pages (apps, backups, a running job followed by its script) in English
and Urdu."""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest

from tests import console_kit as kit
from tests.conftest import BoxHandle
from tests.console_kit import admin

pytestmark = pytest.mark.integration
A, B = "job-alpha", "job-beta"
FULL = ["database", "storage", "identity", "backups"]


@pytest.fixture(scope="module")
def cbox(console_session: BoxHandle) -> BoxHandle:
    return kit.onboard(console_session, (A, B), {A: FULL})


@pytest.fixture(scope="module")
def tokens(cbox: BoxHandle) -> dict[str, str]:
    from govcloud_platform.box import idp_api
    from govcloud_platform.names import group, login

    box = cbox.box()
    password = secrets.token_urlsafe(18)
    idp_api.add_user(box, login(A, "clerk"), password, f"clerk@{A}.example", "Clerk", [group(A)])  # a plain member
    return {A: kit.access_token(box, *admin(cbox, A)), B: kit.access_token(box, *admin(cbox, B)),
            "member": kit.access_token(box, login(A, "clerk"), password)}


def wait_for(cbox: BoxHandle, token: str, url: str, seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        job: dict[str, Any] = kit.api(cbox.box(), url, token).json()
        if job["state"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.5)


def timed_get(cbox: BoxHandle, path: str, token: str) -> tuple[int, float]:
    t0 = time.monotonic()
    status = kit.api(cbox.box(), path, token).status_code
    return status, time.monotonic() - t0


def test_an_administrator_runs_a_backup_as_a_job(cbox: BoxHandle, tokens: dict[str, str]) -> None:
    box = cbox.box()
    before = kit.api(box, f"/api/agencies/{A}/backups", tokens[A]).json()  # the console keeps the list from here
    started = kit.api_post(box, f"/api/agencies/{A}/backups", tokens[A])
    assert started.status_code == 202, started.text[:300]
    url = started.json()["url"]
    assert started.headers["Location"] == url and started.json()["job"]["state"] in ("queued", "running")
    again = kit.api_post(box, f"/api/agencies/{A}/backups", tokens[A])  # while it waits or runs
    assert again.status_code == 409 and again.json()["error"] == "conflict"
    status, seconds = timed_get(cbox, "/api/agencies", tokens[A])  # the console answers meanwhile
    assert status == 200 and seconds < 2.0, seconds
    job = wait_for(cbox, tokens[A], url, 240)
    assert job["state"] == "succeeded", job
    assert job["kind"] == "backup" and job["actor"].startswith("console:") and job["steps"]
    assert job["started_at"] and job["ended_at"] and job["result"]["scope"] == f"agency:{A}"
    doc = kit.api(box, f"/api/agencies/{A}/backups", tokens[A]).json()
    assert job["result"]["id"] in [b["id"] for b in doc["backups"]]  # the job read the kept list again
    assert job["result"]["id"] not in [b["id"] for b in before["backups"]] and before["backups_read_at"]
    assert doc["backups_read_at"] >= before["backups_read_at"] and doc["backups_age_s"] < 240
    assert doc["status"]["ok"] and doc["status"]["last_success"] and doc["status"]["age_seconds"] < 600
    assert doc["may_act"] is True and doc["last_drill"] is None
    entries = kit.api(box, f"/api/audit?agency={A}", tokens[A]).json()["entries"]
    audited = {(e["command"], e["result"]) for e in entries if e["actor"] == job["actor"]}
    assert {("job backup", "queued"), ("job backup", "succeeded"), ("backup run", "ok")} <= audited
    listed = cbox.cli("--json", "backup", "list", "--agency", A)  # the CLI sees the same backup
    assert listed.rc == 0 and job["result"]["id"] in [b["id"] for b in listed.json()["backups"]]


def test_an_administrator_deploys_and_removes_an_app_as_jobs(cbox: BoxHandle, tokens: dict[str, str]) -> None:
    box = cbox.box()
    catalogue = kit.api(box, f"/api/agencies/{A}/apps", tokens[A]).json()
    assert {"portal", "opendata"} <= {m["app"] for m in catalogue["catalogue"]} and catalogue["apps"] == []
    started = kit.api_post(box, f"/api/agencies/{A}/apps/opendata/deploy", tokens[A])
    assert started.status_code == 202, started.text[:300]
    url = started.json()["url"]
    assert kit.api_post(box, f"/api/agencies/{A}/apps/opendata/deploy", tokens[A]).status_code == 409
    assert kit.api_post(box, f"/api/agencies/{A}/apps/opendata/remove", tokens[A]).status_code == 409
    status, seconds = timed_get(cbox, url, tokens[A])
    assert status == 200 and seconds < 2.0, seconds
    job = wait_for(cbox, tokens[A], url, 600)
    assert job["state"] == "succeeded", (job["error"], job["steps"][-8:])
    assert len(job["steps"]) > 3 and job["result"]["url"].startswith("https://")
    apps = kit.api(box, f"/api/agencies/{A}/apps", tokens[A]).json()["apps"]  # healthy: its health page probed
    assert [(a["app"], a["healthy"], a["url"]) for a in apps] == [("opendata", True, job["result"]["url"])]
    assert [a["app"] for a in cbox.cli("--json", "app", "list", "--agency", A).json()["apps"]] == ["opendata"]

    removed = kit.api_post(box, f"/api/agencies/{A}/apps/opendata/remove", tokens[A])
    assert removed.status_code == 202
    done = wait_for(cbox, tokens[A], removed.json()["url"], 300)
    assert done["state"] == "succeeded" and done["result"]["removed"] is True, done
    assert kit.api(box, f"/api/agencies/{A}/apps", tokens[A]).json()["apps"] == []
    entries = kit.api(box, f"/api/audit?agency={A}&command=app+deploy", tokens[A]).json()["entries"]
    assert [e["actor"] for e in entries] == [job["actor"]]


def test_a_plain_member_reads_but_starts_nothing(cbox: BoxHandle, tokens: dict[str, str]) -> None:
    box = cbox.box()
    assert kit.api(box, f"/api/agencies/{A}/apps", tokens["member"]).json()["may_act"] is False
    assert kit.api(box, f"/api/agencies/{A}/backups", tokens["member"]).status_code == 200
    for path in (f"/api/agencies/{A}/backups", f"/api/agencies/{A}/backups/drill",
                 f"/api/agencies/{A}/apps/opendata/deploy", f"/api/agencies/{A}/apps/opendata/remove"):
        resp = kit.api_post(box, path, tokens["member"])
        assert resp.status_code == 403 and resp.json()["error"] == "forbidden", path
    jobs = kit.api(box, f"/api/agencies/{A}/jobs", tokens["member"]).json()["jobs"]
    assert jobs and kit.api(box, f"/api/jobs/{jobs[0]['id']}", tokens["member"]).status_code == 200


def test_another_agency_gets_404_on_the_first_ones_urls(cbox: BoxHandle, tokens: dict[str, str]) -> None:
    box = cbox.box()
    own = kit.api(box, f"/api/agencies/{A}/jobs", tokens[A]).json()["jobs"]
    assert own
    unknown = kit.api(box, "/api/jobs/987654321", tokens[B])
    assert unknown.status_code == 404
    for path in (f"/api/jobs/{own[0]['id']}", f"/api/agencies/{A}/apps", f"/api/agencies/{A}/backups",
                 f"/api/agencies/{A}/jobs"):
        resp = kit.api(box, path, tokens[B])
        assert (resp.status_code, resp.json()) == (404, unknown.json()), path
    for path in (f"/api/agencies/{A}/backups", f"/api/agencies/{A}/backups/drill",
                 f"/api/agencies/{A}/apps/opendata/deploy", f"/api/agencies/{A}/apps/opendata/remove"):
        resp = kit.api_post(box, path, tokens[B])
        assert (resp.status_code, resp.json()) == (404, unknown.json()), path
    # B's own agency: no backups service (409), its apps readable
    assert kit.api_post(box, f"/api/agencies/{B}/backups", tokens[B]).status_code == 409
    assert kit.api(box, f"/api/agencies/{B}/apps", tokens[B]).json()["may_act"] is True
    assert kit.api(box, f"/api/jobs/{own[0]['id']}").status_code == 401  # no token


def test_the_pages_show_apps_backups_and_a_running_job(cbox: BoxHandle, tokens: dict[str, str]) -> None:
    box = cbox.box()
    s, landed = kit.sign_in(box, *admin(cbox, A), start=f"/en/agencies/{A}/backups")
    assert landed.status_code == 200 and "job-alpha" in landed.text
    for lang in ("en", "ur"):
        for page in ("apps", "backups"):
            resp = s.get(kit.url(box, f"/{lang}/agencies/{A}/{page}"), timeout=30)
            assert resp.status_code == 200 and len(resp.content) < 150 * 1024 and "<script" not in resp.text
    csrf = s.get(kit.url(box, f"/en/agencies/{A}/backups"), timeout=30).text.split('name="csrf" value="')[1]
    started = s.post(kit.url(box, f"/en/agencies/{A}/backups/drill"), data={"csrf": csrf.split('"')[0]},
                     allow_redirects=False, timeout=30)
    assert started.status_code == 303 and "/en/jobs/" in started.headers["location"]
    page = s.get(kit.url(box, started.headers["location"]), timeout=10)
    assert page.status_code == 200
    if "failed" not in page.text and "succeeded" not in page.text:  # still running: followed by its script
        assert 'src="/static/job.js"' in page.text and 'id="job-check"' in page.text
    job_id = started.headers["location"].rsplit("/", 1)[1]
    done = wait_for(cbox, tokens[A], f"/api/jobs/{job_id}", 240)
    assert done["state"] == "succeeded" and done["result"]["ok"] is True, done
    final = s.get(kit.url(box, f"/ur/jobs/{job_id}"), timeout=10)
    assert final.status_code == 200 and "<script" not in final.text and 'id="job-check"' not in final.text
    drill = kit.api(box, f"/api/agencies/{A}/backups", tokens[A]).json()["last_drill"]
    assert drill is not None and drill["ok"] is True


def test_an_administrator_restores_a_backup_after_confirming(cbox: BoxHandle, tokens: dict[str, str]) -> None:
    """A restore of the agency's newest backup (taken by the first test): its page asks first, the confirmed form
    starts the job, which replaces the bucket by the backup's (an object written since is gone); a plain member gets
    403, another agency's administrator the 404 of an unknown agency, and of an unknown job on it; no token 401."""
    from govcloud_platform.names import bucket

    box = cbox.box()
    doc = kit.api(box, f"/api/agencies/{A}/backups", tokens[A]).json()
    assert doc["may_restore"] is True and doc["backups"], doc
    chosen = doc["backups"][0]["id"]
    since = f"after-{secrets.token_hex(4)}.txt"
    box.s3_client().put_object(Bucket=bucket(A), Key=since, Body=b"written after the backup")
    path = f"/api/agencies/{A}/backups/restore"
    body = {"backup": chosen, "confirm": True}
    assert kit.api_post(box, path, None, body).status_code == 401
    refused = kit.api_post(box, path, tokens["member"], body)
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert kit.api(box, f"/api/agencies/{A}/backups", tokens["member"]).json()["may_restore"] is False
    unknown = kit.api_post(box, "/api/agencies/no-such-agency/backups/restore", tokens[B], body)
    other = kit.api_post(box, path, tokens[B], body)
    assert (other.status_code, other.json()) == (404, unknown.json())
    assert kit.api_post(box, path, tokens[A], {"backup": chosen}).json()["error"] == "confirmation_needed"

    s, _ = kit.sign_in(box, *admin(cbox, A), start=f"/en/agencies/{A}/backups")
    listed = s.get(kit.url(box, f"/en/agencies/{A}/backups"), timeout=30).text
    assert f"/en/agencies/{A}/backups/restore?backup={chosen}" in listed
    ask = s.get(kit.url(box, f"/ur/agencies/{A}/backups/restore?backup={chosen}"), timeout=10)
    assert ask.status_code == 200 and chosen in ask.text and "<script" not in ask.text
    csrf = ask.text.split('name="csrf" value="')[1].split('"')[0]
    t0 = time.monotonic()
    started = s.post(kit.url(box, f"/ur/agencies/{A}/backups/restore"), allow_redirects=False, timeout=30,
                     data={"csrf": csrf, "backup": chosen, "confirm": "yes"})
    assert started.status_code == 303 and "/ur/jobs/" in started.headers["location"], started.text[:300]
    job_id = started.headers["location"].rsplit("/", 1)[1]
    job = wait_for(cbox, tokens[A], f"/api/jobs/{job_id}", 240)
    seconds = time.monotonic() - t0
    assert job["state"] == "succeeded", (job["error"], job["steps"][-6:])
    assert job["kind"] == "restore" and job["result"]["backup"] == chosen and job["result"]["into"] == A
    assert since not in [o["Key"] for o in box.s3_client().list_objects_v2(Bucket=bucket(A)).get("Contents", [])]
    gone = kit.api(box, f"/api/jobs/{job_id}", tokens[B])
    assert (gone.status_code, gone.json()) == (404, kit.api(box, "/api/jobs/987654321", tokens[B]).json())
    entries = kit.api(box, f"/api/audit?agency={A}", tokens[A]).json()["entries"]
    audited = {(e["command"], e["result"]) for e in entries if e["actor"] == job["actor"]}
    assert {("job restore", "queued"), ("job restore", "succeeded"), ("backup restore", "ok")} <= audited
    print(f"restore job: {seconds:.1f} s")


def test_an_operator_runs_apply_as_a_job(cbox: BoxHandle, tokens: dict[str, str]) -> None:
    """`apply` from the console (the CLI's `apply_spec`, never --prune): the console's spec is the platform's part,
    so the agencies are the registry's, kept and reported as drift; audited as `apply` on `spec`. Only operators."""
    box = cbox.box()
    op = kit.access_token(box, *kit.operator(cbox))
    assert kit.api_post(box, "/api/apply", None).status_code == 401
    refused = kit.api_post(box, "/api/apply", tokens[A])
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    t0 = time.monotonic()
    started = kit.api_post(box, "/api/apply", op)
    assert started.status_code == 202, started.text[:300]
    job = wait_for(cbox, op, started.json()["url"], 300)
    seconds = time.monotonic() - t0
    assert job["state"] == "succeeded", (job["error"], job["steps"][-6:])
    assert job["kind"] == "apply" and job["agency"] == "" and job["result"]["removed"] == []
    assert {A, B} <= set(job["result"]["drift"]) and job["result"]["added"] == []
    listed = {a["slug"]: a["state"] for a in cbox.cli("--json", "agency", "list").json()["agencies"]}
    assert listed[A] == listed[B] == "ready"
    hidden = kit.api(box, f"/api/jobs/{job['id']}", tokens[A])
    assert (hidden.status_code, hidden.json()) == (404, kit.api(box, "/api/jobs/987654321", tokens[A]).json())
    assert [j["id"] for j in kit.api(box, "/api/apply", op).json()["jobs"]][0] == job["id"]
    entries = kit.api(box, "/api/audit?command=apply", op).json()["entries"]
    assert (entries[0]["actor"], entries[0]["target"], entries[0]["result"]) == (job["actor"], "spec", "ok")
    s, page = kit.sign_in(box, *kit.operator(cbox), start="/en/")
    assert page.status_code == 200 and 'action="/en/apply"' in page.text and f"/en/jobs/{job['id']}" in page.text
    print(f"apply job: {seconds:.1f} s")
