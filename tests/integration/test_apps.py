"""SaaS apps on a real box: portal (Wagtail) for two agencies and opendata (Datasette), through the TLS proxy,
with a headless OIDC login, complaints, uploads and database isolation; idempotence and removal."""

from __future__ import annotations

import pwd
import re
import socket
import ssl
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from govcloud_platform.apps.layout import instance_dir
from govcloud_platform.names import pg_app, system_user
from tests.apps_helpers import (
    agency_users,
    assert_redeploy_changes_nothing,
    deploy,
    deploy_session_apps,
    remove_and_assert_clean,
    resolve_to_loopback,
    sso_login,
    system_user_exists,
)
from tests.conftest import BoxHandle
from tests.oidc import browser

pytestmark = [pytest.mark.integration, pytest.mark.slow]
NAMES = {"health": "Ministry of Health", "revenue": "Revenue Board"}


@pytest.fixture(scope="module")
def apps(box: BoxHandle) -> Iterator[dict[str, Any]]:
    deployed = deploy_session_apps(box)
    with resolve_to_loopback(box.box().spec.platform.domain):
        yield deployed


def url(apps: dict[str, Any], slug: str, app: str = "portal") -> str:
    return str(apps[f"{slug}/{app}"]["url"])


@pytest.fixture(scope="module")
def clerks(box: BoxHandle, apps: dict[str, Any]) -> Iterator[dict[str, tuple[str, str]]]:
    with agency_users(box, tuple(NAMES), "clerk") as users:
        yield users


# --- tests ------------------------------------------------------------------------------------------
def test_catalogue_lists_the_five_apps(box: BoxHandle) -> None:
    doc = box.cli("--json", "app", "catalogue").json()
    assert {a["name"] for a in doc["apps"]} == {"portal", "opendata", "messaging", "documents", "centre"}
    centre = next(a for a in doc["apps"] if a["name"] == "centre")
    assert centre["services"] == ["database", "storage", "identity"]  # documents in the bucket; staff tokens
    assert centre["optional_services"] == ["mail"]  # notifications, when the agency has the mail service
    assert centre["health_path"] == "/healthz" and centre["implemented"]
    portal = next(a for a in doc["apps"] if a["name"] == "portal")
    assert set(portal["services"]) == {"database", "storage", "identity"} and portal["health_path"]


def test_unknown_app_or_agency_is_refused_without_side_effects(box: BoxHandle) -> None:
    from tests.conftest import assert_one_error

    before = box.cli("--json", "app", "list").json()
    for args in (("health", "nonsense"), ("no-such-agency", "portal"), ("Health;rm", "portal")):
        r = box.cli("app", "deploy", *args)
        assert r.rc == 2, (args, r.stderr)
        assert_one_error(r)
    assert box.cli("--json", "app", "list").json() == before


@pytest.mark.parametrize("slug", list(NAMES))
def test_home_page_through_the_proxy_shows_the_agency_name(box: BoxHandle, apps: dict[str, Any], slug: str) -> None:
    resp = browser(box.box()).get(url(apps, slug) + "/", timeout=30)
    assert resp.status_code == 200
    assert f"<h1>{NAMES[slug]}</h1>" in resp.text
    other = next(n for s, n in NAMES.items() if s != slug)
    assert other not in resp.text


def _https_get(box: BoxHandle, server_name: str | None, host: str) -> tuple[int, str, list[str]]:
    """GET / on the proxy with this SNI and Host: (status, response, DNS names of the certificate presented).
    The chain is verified against the box CA, the name deliberately not: the point is what answers."""
    b = box.box()
    ctx = ssl.create_default_context(cafile=str(b.ca_file))
    ctx.check_hostname = False
    with socket.create_connection(("127.0.0.1", b.ports.proxy_https), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname=server_name) as tls:
        cert = tls.getpeercert() or {}
        names = [str(pair[1]) for pair in cert.get("subjectAltName", ()) if pair[0] == "DNS"]
        tls.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1]), data.decode(errors="replace"), names


def test_unknown_names_get_the_default_server_not_an_agency_app(box: BoxHandle, apps: dict[str, Any]) -> None:
    domain = box.box().spec.platform.domain
    unknown = f"nobody.health.{domain}"
    with pytest.raises(requests.exceptions.SSLError):  # a verifying client: no certificate vouches for the name
        browser(box.box()).get(f"https://{unknown}:{box.box().ports.proxy_https}/", timeout=10)
    cases = [(unknown, unknown), (None, unknown), (f"portal.health.{domain}", unknown)]
    for server_name, host in cases:
        status, text, names = _https_get(box, server_name, host)
        assert status == 404, (server_name, host, text[:300])
        assert not any(name in text for name in NAMES.values()), (server_name, host)
        if server_name != f"portal.health.{domain}":
            assert names == [domain], names  # the box's own certificate, valid for no app
    known = f"portal.health.{domain}"
    status, text, _ = _https_get(box, known, f"{known}:{box.box().ports.proxy_https}")
    assert status == 200 and NAMES["health"] in text


def test_list_interface_is_stable(box: BoxHandle, apps: dict[str, Any]) -> None:
    doc = box.cli("--json", "app", "list").json()
    rows = {(a["agency"], a["app"]): a for a in doc["apps"]}
    assert {("health", "portal"), ("revenue", "portal"), ("health", "opendata")} <= set(rows)
    for row in rows.values():
        assert {"agency", "app", "url", "healthy"} <= set(row)
        assert row["healthy"] is True, row
    assert rows[("health", "portal")]["url"] == url(apps, "health")
    only = box.cli("--json", "app", "list", "--agency", "revenue").json()["apps"]
    assert {a["agency"] for a in only} == {"revenue"}
    status = box.cli("--json", "app", "status", "health", "portal")
    assert status.rc == 0 and status.json()["process"] == "running"


@pytest.mark.parametrize("app", ["portal", "opendata"])
def test_second_deploy_changes_nothing(box: BoxHandle, apps: dict[str, Any], app: str) -> None:
    assert_redeploy_changes_nothing(box, "health", app)


def test_sso_login_lets_agency_members_in_and_refuses_other_agencies(
    box: BoxHandle, apps: dict[str, Any], clerks: dict[str, tuple[str, str]]
) -> None:
    inbox = url(apps, "health") + "/staff/complaints/"
    _, resp = sso_login(box.box(), inbox, *clerks["health"])
    assert resp.status_code == 200, (resp.status_code, resp.url, resp.text[:300])
    assert f"Signed in as {clerks['health'][0]}" in resp.text
    s, resp = sso_login(box.box(), inbox, *clerks["revenue"])
    # The IdP refuses first (the app's client admits health's group only: PE_UNAUTHORIZEDPARTNER); the app's
    # own group check ("Sign-in refused", 403) stays behind it.
    assert resp.status_code == 200 and 'trmsg="84"' in resp.text, (resp.status_code, resp.url)
    again = s.get(inbox, allow_redirects=False, timeout=30)
    assert again.status_code == 302 and "/oidc/authenticate/" in again.headers["location"]


def _post_complaint(box: BoxHandle, base: str, subject: str, filename: str) -> requests.Response:
    s = browser(box.box())
    form = s.get(base + "/complaints/", timeout=30)
    assert form.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert token
    return s.post(
        base + "/complaints/",
        data={"csrfmiddlewaretoken": token.group(1), "kind": "complaint", "name": "A Citizen",
              "email": "citizen@example.org", "subject": subject, "message": "The office was closed."},
        files={"attachment": (filename, b"scanned letter\n", "text/plain")},
        headers={"Referer": base + "/complaints/"}, allow_redirects=False, timeout=30,
    )


def test_complaint_and_upload_are_stored_for_that_agency_only(box: BoxHandle, apps: dict[str, Any]) -> None:
    b = box.box()
    subject, filename = f"complaint-{uuid.uuid4().hex[:8]}", f"evidence-{uuid.uuid4().hex[:8]}.txt"
    resp = _post_complaint(box, url(apps, "health"), subject, filename)
    assert resp.status_code == 302 and "/complaints/thanks/" in resp.headers["location"], resp.text[:500]

    def subjects(slug: str) -> list[str]:
        with b.pg_admin(pg_app(slug, "portal")) as conn:
            return [r[0] for r in conn.execute("SELECT subject FROM govportal_complaint")]

    assert subject in subjects("health")
    assert subject not in subjects("revenue")

    s3 = b.s3_client()

    def keys(bucket: str) -> list[str]:
        return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="portal/").get("Contents", [])]

    stem = filename.rsplit(".", 1)[0]
    assert any(stem in k for k in keys("ag-health")), keys("ag-health")
    assert not any(stem in k for k in keys("ag-revenue"))


def _env(box: BoxHandle, slug: str) -> dict[str, str]:
    path = instance_dir(box.box(), slug, "portal") / "portal.env"
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and line[0] != "#")


def test_portal_credentials_cannot_open_another_agencys_database(box: BoxHandle, apps: dict[str, Any]) -> None:
    b = box.box()
    env = _env(box, "health")
    own = b.pg_conninfo(env["DB_NAME"], env["DB_USER"], env["DB_PASSWORD"])
    with psycopg.connect(**own) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (pg_app("health", "portal"),)
    for target in (pg_app("revenue", "portal"), "ag_revenue"):
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(**b.pg_conninfo(target, env["DB_USER"], env["DB_PASSWORD"]))


def test_opendata_publishes_a_csv_from_the_bucket_as_json(box: BoxHandle, apps: dict[str, Any]) -> None:
    b = box.box()
    table = f"clinics_{uuid.uuid4().hex[:6]}"
    csv = "name,district,beds\nCentral Clinic,North,40\nRiverside,South,12\n"
    b.s3_client().put_object(Bucket="ag-health", Key=f"opendata/{table}.csv", Body=csv.encode())
    endpoint = f"{url(apps, 'health', 'opendata')}/opendata/{table}.json?_shape=array"
    s = browser(box.box())
    deadline = time.monotonic() + 45
    rows: Any = None
    while time.monotonic() < deadline:
        resp = s.get(endpoint, timeout=10)
        if resp.status_code == 200:
            rows = resp.json()
            break
        time.sleep(1)
    assert rows == [{"rowid": 1, "name": "Central Clinic", "district": "North", "beds": 40},
                    {"rowid": 2, "name": "Riverside", "district": "South", "beds": 12}], rows
    revenue = box.cli("--json", "app", "list", "--agency", "revenue").json()["apps"]
    assert "opendata" not in {a["app"] for a in revenue}
    # the centre's transparency figures (docs/centre.md) as the opendata app shows them: a table, Urdu kept, typed
    from datetime import UTC, date, datetime

    from centre_core import catalogue, transparency

    figures = transparency.opendata_files(
        [transparency.Record("grievance", datetime(2026, 12, 1, 5, tzinfo=UTC), datetime(2026, 12, 2, 5, tzinfo=UTC),
                             "complaint")], [transparency.Rating("grievance", 4, datetime(2026, 12, 2, 6, tzinfo=UTC))],
        catalogue.load_samples().catalogue, date(2026, 12, 3), UTC, days=2)
    sla = f"centre_sla_{uuid.uuid4().hex[:6]}"
    b.s3_client().put_object(Bucket="ag-health", Key=f"opendata/{sla.replace('_', '-')}.csv",
                             Body=figures[transparency.OPENDATA_SLA])
    endpoint = f"{url(apps, 'health', 'opendata')}/opendata/{sla}.json?_shape=array&service=grievance"
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline and (resp := s.get(endpoint, timeout=10)).status_code != 200:
        time.sleep(1)
    shown = resp.json()
    assert [(r["day"], r["service_ur"], r["closed"], r["closed_within_sla"]) for r in shown] == \
        [("2026-12-01", "شکایت یا تجویز", 0, 0), ("2026-12-02", "شکایت یا تجویز", 1, 1)], shown
    assert shown[0]["compliance_pct"] in ("", None) and float(shown[1]["compliance_pct"]) == 100.0


def _owners(path: Path) -> set[int]:
    return {path.stat().st_uid} | {p.stat().st_uid for p in path.rglob("*")}


def test_remove_leaves_nothing_behind_and_keeps_data_unless_purged(box: BoxHandle, apps: dict[str, Any]) -> None:
    slug, b = "city-council", box.box()
    user = system_user(slug)
    for app in ("opendata", "portal"):
        doc = deploy(box, slug, app)
    home = browser(b).get(doc["url"] + "/", timeout=30)
    assert home.status_code == 200 and "City Council" in home.text
    assert system_user_exists(user)

    # Removing one app keeps the agency's system user (its portal still runs as it), the last app takes it.
    remove_and_assert_clean(box, slug, "opendata", "opendata.env")
    remove_and_assert_clean(box, slug, "portal", "portal.env")
    assert not system_user_exists(user)
    with b.pg_admin() as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (pg_app(slug, "portal"),)).fetchone()
    doctor = box.cli("--json", "doctor")
    assert doctor.rc == 0 and not doctor.json()["orphans"], doctor.stdout
    # The data kept is root's, not a free user id's that the next useradd could hand to somebody else.
    kept = instance_dir(b, slug, "portal").parent
    assert kept.exists() and _owners(kept) == {0}

    # A re-deploy creates the user again and gives the kept data back to it.
    doc = deploy(box, slug, "portal")
    assert browser(b).get(doc["url"] + "/", timeout=30).status_code == 200
    assert _owners(instance_dir(b, slug, "portal")) == {pwd.getpwnam(user).pw_uid}

    r = box.cli("--json", "app", "remove", slug, "portal", "--purge-data", timeout=600)
    assert r.rc == 0, r.stderr[-2000:]
    with b.pg_admin() as conn:
        assert not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (pg_app(slug, "portal"),)).fetchone()
    assert not Path(instance_dir(b, slug, "portal")).exists()
    assert not system_user_exists(user)


def test_removing_an_agency_removes_its_apps(box: BoxHandle, apps: dict[str, Any]) -> None:
    """`agency remove` takes the agency's apps with it: an app must keep no access its agency lost."""
    from govcloud_platform.box import idp_api
    from govcloud_platform.box.supervisor import Supervisor
    from govcloud_platform.names import app_program, oidc_app_client

    slug, b = "leaving", box.box()
    assert box.cli("agency", "add", slug, "--name", "Leaving Office").rc == 0
    doc = deploy(box, slug, "opendata")
    assert browser(b).get(doc["url"] + "/", timeout=30).status_code == 200
    removed = box.cli("agency", "remove", slug, "--purge-data", "--yes", timeout=600)
    assert removed.rc == 0, removed.stderr[-2000:]
    assert slug not in {a["agency"] for a in box.cli("--json", "app", "list").json()["apps"]}
    assert box.cli("app", "list", "--agency", slug).rc == 2  # purged: no such agency any more
    assert app_program(slug, "opendata") not in Supervisor(b).info()
    assert not (b.home / "nginx" / "apps.d" / f"{app_program(slug, 'opendata')}.conf").exists()
    assert idp_api.get_oidc_client(b, oidc_app_client(slug, "opendata")) is None
    assert not system_user_exists(system_user(slug))
    with b.pg_admin() as conn:
        assert not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                (pg_app(slug, "opendata"),)).fetchone()
    with pytest.raises(requests.RequestException):
        browser(b).get(doc["url"] + "/", timeout=10)
