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
from urllib.parse import urljoin

import psycopg
import pytest
import requests

from govcloud_platform.apps.service import db_name, instance_dir, oidc_client_id, program_name, run_user
from govcloud_platform.box import idp_api
from govcloud_platform.box.supervisor import Supervisor
from tests.conftest import BoxHandle
from tests.infra._apps import deploy_session_apps, resolve_to_loopback, system_user_exists
from tests.oidc import LocalhostCookies, host_only, login_form

pytestmark = [pytest.mark.integration, pytest.mark.slow]
NAMES = {"health": "Ministry of Health", "revenue": "Revenue Board"}


@pytest.fixture(scope="module")
def apps(box: BoxHandle) -> Iterator[dict[str, Any]]:
    deployed = deploy_session_apps(box)
    with resolve_to_loopback(box.box().spec.platform.domain):
        yield deployed


def url(apps: dict[str, Any], slug: str, app: str = "portal") -> str:
    return str(apps[f"{slug}/{app}"]["url"])


def browser(box: BoxHandle) -> requests.Session:
    s = requests.Session()
    s.cookies.set_policy(LocalhostCookies())
    s.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
    s.verify = str(box.box().ca_file)
    return s


def sso_login(box: BoxHandle, start: str, user: str, password: str) -> tuple[requests.Session, requests.Response]:
    """Follow the redirects of an OIDC login by hand, filling LemonLDAP::NG's form once."""
    s = browser(box)
    resp = s.get(start, allow_redirects=False, timeout=30)
    host_only(s)
    for _ in range(12):
        if resp.status_code in (301, 302, 303):
            resp = s.get(urljoin(resp.url, resp.headers["location"]), allow_redirects=False, timeout=30)
            host_only(s)
        elif resp.status_code == 200 and 'name="password"' in resp.text:
            fields = login_form(resp)
            fields.update(user=user, password=password)
            resp = s.post(resp.url, data=fields, allow_redirects=False, timeout=30)
            host_only(s)
        else:
            break
    return s, resp


@pytest.fixture(scope="module")
def clerks(box: BoxHandle, apps: dict[str, Any]) -> Iterator[dict[str, tuple[str, str]]]:
    b = box.box()
    users = {}
    for slug in NAMES:
        login, password = f"{slug}-clerk", uuid.uuid4().hex
        idp_api.add_user(b, login, password, f"clerk@{slug}.gov.example", f"{slug} clerk", [f"agency-{slug}"])
        users[slug] = (login, password)
    yield users
    for login, _ in users.values():
        idp_api.remove_user(b, login)


# --- tests ------------------------------------------------------------------------------------------
def test_catalogue_lists_the_four_apps(box: BoxHandle) -> None:
    doc = box.cli("--json", "app", "catalogue").json()
    assert {a["name"] for a in doc["apps"]} == {"portal", "opendata", "messaging", "documents"}
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
    resp = browser(box).get(url(apps, slug) + "/", timeout=30)
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
        browser(box).get(f"https://{unknown}:{box.box().ports.proxy_https}/", timeout=10)
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
    r = box.cli("--json", "app", "deploy", "health", app, timeout=600)
    assert r.rc == 0, r.stderr[-2000:]
    assert r.json()["changed"] == 0, r.json()["changed_steps"]


def test_sso_login_lets_agency_members_in_and_refuses_other_agencies(
    box: BoxHandle, apps: dict[str, Any], clerks: dict[str, tuple[str, str]]
) -> None:
    inbox = url(apps, "health") + "/staff/complaints/"
    _, resp = sso_login(box, inbox, *clerks["health"])
    assert resp.status_code == 200, (resp.status_code, resp.url, resp.text[:300])
    assert "Signed in as health-clerk" in resp.text
    s, resp = sso_login(box, inbox, *clerks["revenue"])
    assert resp.status_code == 403 and "Sign-in refused" in resp.text
    again = s.get(inbox, allow_redirects=False, timeout=30)
    assert again.status_code == 302 and "/oidc/authenticate/" in again.headers["location"]


def _post_complaint(box: BoxHandle, base: str, subject: str, filename: str) -> requests.Response:
    s = browser(box)
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
        with b.pg_admin(db_name(slug, "portal")) as conn:
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
        assert conn.execute("SELECT current_database()").fetchone() == (db_name("health", "portal"),)
    for target in (db_name("revenue", "portal"), "ag_revenue"):
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(**b.pg_conninfo(target, env["DB_USER"], env["DB_PASSWORD"]))


def test_opendata_publishes_a_csv_from_the_bucket_as_json(box: BoxHandle, apps: dict[str, Any]) -> None:
    b = box.box()
    table = f"clinics_{uuid.uuid4().hex[:6]}"
    csv = "name,district,beds\nCentral Clinic,North,40\nRiverside,South,12\n"
    b.s3_client().put_object(Bucket="ag-health", Key=f"opendata/{table}.csv", Body=csv.encode())
    endpoint = f"{url(apps, 'health', 'opendata')}/opendata/{table}.json?_shape=array"
    s = browser(box)
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


def _owners(path: Path) -> set[int]:
    return {path.stat().st_uid} | {p.stat().st_uid for p in path.rglob("*")}


def test_remove_leaves_nothing_behind_and_keeps_data_unless_purged(box: BoxHandle, apps: dict[str, Any]) -> None:
    slug, b = "city-council", box.box()
    user = run_user(slug)
    for app in ("opendata", "portal"):
        r = box.cli("--json", "app", "deploy", slug, app, timeout=900)
        assert r.rc == 0, r.stderr[-2000:]
    home = browser(box).get(r.json()["url"] + "/", timeout=30)
    assert home.status_code == 200 and "City Council" in home.text
    assert system_user_exists(user)

    # Removing one app keeps the agency's system user: its portal still runs as it.
    r = box.cli("--json", "app", "remove", slug, "opendata", timeout=600)
    assert r.rc == 0 and r.json()["removed"] is True, r.stderr[-2000:]
    assert system_user_exists(user)

    vhost = b.home / "nginx" / "apps.d" / f"{program_name(slug, 'portal')}.conf"
    env_file = instance_dir(b, slug, "portal") / "portal.env"
    assert vhost.exists() and env_file.exists()
    r = box.cli("--json", "app", "remove", slug, "portal", timeout=600)
    assert r.rc == 0 and r.json()["removed"] is True, r.stderr[-2000:]
    assert program_name(slug, "portal") not in Supervisor(b).info()
    assert not vhost.exists() and not env_file.exists()
    assert idp_api.get_oidc_client(b, oidc_client_id(slug, "portal")) is None
    assert not list((b.ca.directory / "certs").glob(f"app-{slug}-portal.*"))
    with b.pg_admin() as conn:
        assert conn.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s",
                            (db_name(slug, "portal"),)).fetchone() == (False,)
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db_name(slug, "portal"),)).fetchone()
    assert slug not in {a["agency"] for a in box.cli("--json", "app", "list").json()["apps"]}
    with pytest.raises(requests.RequestException):
        browser(box).get(r.json().get("url", f"https://portal.{slug}.gov.example:{b.ports.proxy_https}") + "/",
                         timeout=10)
    doctor = box.cli("--json", "doctor")
    assert doctor.rc == 0 and not doctor.json()["orphans"], doctor.stdout
    # The agency's last app is gone: so is its system user; the data it kept is root's, not a free user id's.
    assert not system_user_exists(user)
    kept = instance_dir(b, slug, "portal").parent
    assert kept.exists() and _owners(kept) == {0}

    # A re-deploy creates the user again and gives the kept data back to it.
    r = box.cli("--json", "app", "deploy", slug, "portal", timeout=900)
    assert r.rc == 0, r.stderr[-2000:]
    assert browser(box).get(r.json()["url"] + "/", timeout=30).status_code == 200
    assert _owners(instance_dir(b, slug, "portal")) == {pwd.getpwnam(user).pw_uid}

    r = box.cli("--json", "app", "remove", slug, "portal", "--purge-data", timeout=600)
    assert r.rc == 0, r.stderr[-2000:]
    with b.pg_admin() as conn:
        assert not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db_name(slug, "portal"),)).fetchone()
    assert not Path(instance_dir(b, slug, "portal")).exists()
    assert not system_user_exists(user)
