"""The Citizen's Centre (`centre`) on a real box for a fresh agency, deployed once through the CLI: health and the
citizen's pages in English and Urdu through the TLS proxy under the agency's name, staff acting on the API with
access tokens of the box's real IdP (another agency's, a desk-less member's, an expired and a forged token
refused), a second deploy that changes nothing, the process as the agency's user on loopback only, its secrets in
a 0600 file and nowhere else, its own database out of another agency's reach, and a purging removal that leaves
nothing behind."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import pwd
import re
import shutil
import smtplib
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import psycopg
import pytest
import requests
import yaml
from botocore.exceptions import ClientError

from centre_core import catalogue
from govcloud_platform.apps.layout import instance_dir, public_url
from govcloud_platform.apps.manifests import manifest
from govcloud_platform.apps.store import DeploymentStore
from govcloud_platform.box import idp_api, llng_store
from govcloud_platform.box.context import Box
from govcloud_platform.box.supervisor import Supervisor
from govcloud_platform.mailbox import wait_for
from govcloud_platform.names import (
    app_program,
    desk_group,
    desk_group_prefix,
    group,
    login,
    oidc_app_client,
    pg_app,
    system_user,
)
from govcloud_platform.onboarding import AgencyRequest, Onboarding
from govcloud_platform.spec import DEFAULT_SERVICES
from tests import oidc
from tests.apps_helpers import apply_spec, resolve_to_loopback, system_user_exists
from tests.conftest import BoxHandle
from tests.integration.test_agencies import s3_for
from tests.mail_kit import send
from tests.oidc import browser

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SLUG, NAME, OTHER, APP = "civic", "Civic Registry Office", "revenue", "centre"
_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_REFERENCE = re.compile(r'class="reference" dir="ltr">([0-9A-Z-]{14})<')
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n" + b"0" * 2000
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"1" * 2000


SESSION_BOX: list[BoxHandle] = []
PAYDEMO_UP_S: list[float] = []  # `up` starting the demo payment provider on the running session box
ZONE, HOLIDAYS = "Asia/Dubai", ["2026-12-25", "2027-03-23"]
SERVICES = {"birth_certificate", "trade_licence", "grievance"}  # the civic catalogue: the samples less one


def _spec_with_civic(box: BoxHandle, folder: str) -> Path:
    """The session box's spec plus the agency with its centre block (its catalogue `folder`, beside the spec), and the
    demo payment provider enabled (the centre's e-payments through the box's provider)."""
    doc = yaml.safe_load(box.spec_path.read_text())
    doc["platform"]["services"]["paydemo"] = {"enabled": True}
    doc["agencies"].append({"slug": SLUG, "name": NAME, "email": "it@civic.gov.example", "apps": [APP],
                            "services": [*DEFAULT_SERVICES, "mail"],
                            "centre": {"catalogue": f"{folder}/catalogue.yaml", "time_zone": ZONE,
                                       "holidays": HOLIDAYS}})
    path = box.root / f"govcloud-{folder}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))
    return path


def _civic_catalogue(box: BoxHandle, folder: str, bad: bool = False) -> None:
    target = box.root / folder
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(catalogue.SAMPLES, target)
    (target / "building_permit.bpmn").unlink()
    doc = yaml.safe_load((target / "catalogue.yaml").read_text())
    doc["services"] = [x for x in doc["services"] if x["id"] != "building_permit"]
    (target / "catalogue.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))
    if bad:  # a script task: refused by the centre's allow-list
        bpmn = target / "grievance.bpmn"
        bpmn.write_text(bpmn.read_text().replace(
            '<bpmn:userTask id="examine" name="Look into the complaint"/>',
            '<bpmn:scriptTask id="examine" name="x"><bpmn:script>1</bpmn:script></bpmn:scriptTask>'))


@pytest.fixture(scope="module")
def box(box: BoxHandle) -> BoxHandle:
    """The session box, its CLI reading a copy of its spec that also lists this agency with a `centre:` block
    (its own catalogue, time zone and holidays); the session's spec itself is not changed."""
    SESSION_BOX[:] = [box]
    _civic_catalogue(box, "civic-catalogue")
    return dataclasses.replace(box, spec_path=_spec_with_civic(box, "civic-catalogue"))


@pytest.fixture(scope="module")
def deployed(box: BoxHandle) -> Iterator[dict[str, Any]]:
    """A fresh agency (its database, bucket, IdP and mail login: the centre's notifications) and ONE centre
    deploy; the agency and its data go at the end."""
    apply_spec(SESSION_BOX[0])  # the spec's agencies (OTHER among them) exist
    t0 = time.monotonic()
    up = box.cli("--json", "up", timeout=300)  # this spec enables the demo payment provider: `up` starts it
    assert up.rc == 0 and "paydemo" in {h["name"] for h in up.json()["services"]}, up.stderr[-2000:]
    PAYDEMO_UP_S.append(round(time.monotonic() - t0, 1))
    Onboarding(box.box(), actor="test").add(AgencyRequest(SLUG, NAME, f"it@{SLUG}.example", "standard",
                                                                      [*DEFAULT_SERVICES, "mail"]))
    try:
        t0 = time.monotonic()
        r = box.cli("--json", "app", "deploy", SLUG, APP, timeout=900)
        assert r.rc == 0, r.stderr[-3000:]
        doc: dict[str, Any] = r.json()
        doc["wall_s"] = round(time.monotonic() - t0, 1)
        doc["output"] = r.stdout + r.stderr
        print(f"centre cold deploy: {doc['wall_s']} s (role {doc['seconds']} s)")
        with resolve_to_loopback(box.box().spec.platform.domain):
            yield doc
    finally:
        box.cli("app", "remove", SLUG, APP, "--purge-data", timeout=600)
        SESSION_BOX[0].cli("agency", "remove", SLUG, "--purge-data", "--yes", timeout=600)
        # the session box as its own spec has it again: `up` stops the demo provider this module's spec turned on
        # (the shared box's later modules, test_box's `up twice is a no-op` among them, expect nothing to change)
        again = SESSION_BOX[0].cli("--json", "up", timeout=300)
        assert again.rc == 0 and "paydemo" not in {h["name"] for h in again.json()["services"]}, again.stderr[-2000:]


def _env(box: BoxHandle) -> dict[str, str]:
    path = instance_dir(box.box(), SLUG, APP) / "centre.env"
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and line[0] != "#")


def _pids(box: BoxHandle) -> list[int]:
    """gunicorn's master (supervisord's child) and its workers."""
    master = int(Supervisor(box.box()).info()[app_program(SLUG, APP)]["pid"])
    children = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True, check=False).stdout
    return [master, *(int(p) for p in children.split())]


def test_health_through_the_proxy(box: BoxHandle, deployed: dict[str, Any]) -> None:
    assert deployed["url"] == public_url(box.box(), SLUG, APP) and deployed["url"].startswith(f"https://centre.{SLUG}.")
    resp = browser(box.box()).get(deployed["url"] + "/healthz", timeout=30)  # verifies the box CA and the name
    assert resp.status_code == 200 and resp.text.strip() == "ok"
    status = box.cli("--json", "app", "status", SLUG, APP)
    assert status.rc == 0 and status.json()["healthy"] is True, status.stdout


def test_citizen_pages_in_english_and_urdu_through_the_proxy(box: BoxHandle, deployed: dict[str, Any]) -> None:
    s = browser(box.box())
    en = s.get(deployed["url"] + "/en/", timeout=30)
    assert en.status_code == 200, en.text[:500]
    assert 'lang="en"' in en.text and 'dir="ltr"' in en.text
    assert NAME in en.text and "Trade licence" in en.text and "Birth certificate" in en.text
    assert "Complaint or suggestion" in en.text and "Building permit" not in en.text  # the spec's catalogue
    ur = s.get(deployed["url"] + "/ur/", timeout=30)
    assert ur.status_code == 200 and 'lang="ur" dir="rtl"' in ur.text, ur.text[:500]
    assert "تجارتی لائسنس" in ur.text
    assert "default-src 'none'" in ur.headers["Content-Security-Policy"]
    # "/" follows the browser's language; the stylesheet is the app's own
    root = s.get(deployed["url"] + "/", headers={"Accept-Language": "ur"}, allow_redirects=False, timeout=30)
    assert root.status_code == 302 and root.headers["Location"].endswith("/ur/")
    assert s.get(deployed["url"] + "/centre.css", timeout=30).headers["Content-Type"].startswith("text/css")
    # the shared design (docs/design.md), installed beside the code by the role: its stylesheet byte for byte,
    # gzipped by the vhost, and the agency's colour
    assert 'href="/static/design/govcloud.min.css"' in en.text and 'href="/brand.css"' in en.text
    design = s.get(deployed["url"] + "/static/design/govcloud.min.css", headers={"Accept-Encoding": "gzip"},
                   timeout=30)
    shared = Path(__file__).resolve().parents[2] / "roles/app_common/files/design/static/design/govcloud.min.css"
    assert design.status_code == 200 and design.headers.get("Content-Encoding") == "gzip", design.headers
    assert design.content == shared.read_bytes()
    brand = s.get(deployed["url"] + "/brand.css", timeout=30)
    assert brand.status_code == 200 and brand.text.startswith(":root{--govuk-brand-colour:#"), brand.text


def _post(s: requests.Session, url: str, data: dict[str, str], files: dict[str, Any] | None = None
          ) -> requests.Response:
    """A form of the page just read at `url`, sent as a browser does (CSRF token, Referer over HTTPS); with
    `files`, as multipart/form-data."""
    page = s.get(url, timeout=30)
    token = _TOKEN.search(page.text)
    assert page.status_code == 200 and token, page.text[:500]
    return s.post(url, data={**data, "csrfmiddlewaretoken": token.group(1)}, headers={"Referer": url},
                  files=files, allow_redirects=False, timeout=30)


def test_the_citizen_is_mailed_through_the_box_mail_service_and_a_mailed_code_tracks(
    box: BoxHandle, deployed: dict[str, Any]
) -> None:
    """Notifications on the deployed centre: the agency's SMTP login in the 0600 env file (its password in no log);
    an application sent through the proxy is mailed (the reference and how to track) through the box's Postfix
    into its Maildir, from centre@ the agency's own domain; "send me a code" mails a new code that tracks. The
    login cannot send as another agency (the mail service's sender rule)."""
    b = box.box()
    env = _env(box)
    creds = box.cli("--json", "agency", "credentials", SLUG, "--show-secrets").json()["mail"]
    assert (env["SMTP_USERNAME"], env["SMTP_PASSWORD"], env["SMTP_FROM"]) == (
        creds["username"], creds["password"], creds["from_address"])
    own_domain = creds["sender_domain"]
    assert own_domain == f"{SLUG}.{b.spec.platform.domain}" and env["SMTP_FROM"].endswith("@" + own_domain)
    to = f"citizen-{uuid.uuid4().hex[:10]}@example.org"
    s = browser(b)
    base = deployed["url"] + "/en/services/trade_licence"
    for qid, value in (("business_name", "Mailed Traders"), ("business_kind", "shop"), ("email", to)):
        assert _post(s, f"{base}/apply/{qid}/", {"answer": value}).status_code == 302
    for doc, name, body in (("owner_cnic", "cnic.pdf", PDF), ("premises_proof", "lease.png", PNG)):
        assert _post(s, f"{base}/documents/{doc}/", {}, files={"file": (name, body, "application/pdf")}
                     ).status_code == 302
    t0 = time.monotonic()
    sent = _post(s, f"{base}/check/", {})
    assert sent.status_code == 302, sent.text[:500]
    shown = _REFERENCE.search(s.get(deployed["url"] + sent.headers["Location"], timeout=30).text)
    assert shown
    reference = shown.group(1)
    received = wait_for(b.home, to, lambda m: reference in str(m["Subject"]), timeout=60)
    print(f"centre: submission mail in the Maildir {time.monotonic() - t0:.1f} s after the page")
    assert str(received["Return-Path"]) == f"<centre@{own_domain}>"
    assert received["From"].addresses[0].addr_spec == f"centre@{own_domain}"
    text = str(received.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert reference in text and deployed["url"] + "/en/track/code/" in text
    # "send me a code": the same answer as for any reference; the code arrives and tracks
    asked = _post(s, deployed["url"] + "/en/track/code/", {"reference": reference})
    assert asked.status_code == 302
    assert "If this reference number exists" in s.get(deployed["url"] + "/en/track/code/", timeout=30).text
    mailed = wait_for(b.home, to, lambda m: "code" in str(m["Subject"]), timeout=60)
    code = re.findall(r": ([0-9A-Z]{8})$", str(mailed.get_body(("plain",)).get_content()),  # type: ignore[union-attr]
                      re.M)[0]
    tracked = _post(s, deployed["url"] + "/en/track/", {"reference": reference, "code": code})
    assert tracked.status_code == 302 and tracked.headers["Location"].endswith("/en/track/status/"), tracked.text[:500]
    assert reference in s.get(deployed["url"] + "/en/track/status/", timeout=30).text
    # the login sends as its own agency only: the mail service refuses another agency's domain
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:  # Postfix says it at RCPT (553 5.7.1)
        send(creds, f"check-{uuid.uuid4().hex[:8]}@example.org",
             sender=f"centre@{OTHER}.{b.spec.platform.domain}")
    assert [code for code, _ in refused.value.recipients.values()] == [553]
    logs = "".join(p.read_text(errors="replace") for p in b.log_dir.glob(f"{app_program(SLUG, APP)}*.log"))
    assert creds["password"] not in logs and code not in logs and to not in logs


def test_a_citizen_applies_through_the_proxy_into_the_agency_database(
    box: BoxHandle, deployed: dict[str, Any]
) -> None:
    """The deployed app writes with its own credentials: an application sent through the proxy (CSRF on), then
    found in the centre's database with the process version the deploy recorded."""
    b = box.box()
    env = _env(box)
    conninfo = b.pg_conninfo(env["DB_NAME"], env["DB_USER"], env["DB_PASSWORD"])
    with psycopg.connect(**conninfo) as conn:  # the deploy's converge recorded the catalogue's processes
        recorded = {r[0] for r in conn.execute("SELECT service_id FROM process_versions").fetchall()}
    assert recorded == SERVICES  # the spec's catalogue (the samples less the building permit)
    s = browser(b)
    base = deployed["url"] + "/en/services/trade_licence"
    for qid, value in (("business_name", "Civic Traders"), ("business_kind", "shop"), ("email", "ct@example.pk")):
        resp = _post(s, f"{base}/apply/{qid}/", {"answer": value})
        assert resp.status_code == 302, (qid, resp.status_code, resp.text[:500])
    # nginx lets an upload page take more than 1m, so a file too large gets the app's error page; 12m is the end
    too_large = _post(s, f"{base}/documents/owner_cnic/", {},
                      files={"file": ("big.pdf", b"%PDF-1.4\n" + b"0" * (6 * 1024 * 1024), "application/pdf")})
    assert too_large.status_code == 400 and "must be smaller than 5 MB" in too_large.text, too_large.text[:500]
    beyond = _post(s, f"{base}/documents/owner_cnic/", {},
                   files={"file": ("huge.pdf", b"%PDF-1.4\n" + b"0" * (13 * 1024 * 1024), "application/pdf")})
    assert beyond.status_code == 413
    for doc, name, body in (("owner_cnic", "cnic.pdf", PDF), ("premises_proof", "lease.png", PNG)):
        resp = _post(s, f"{base}/documents/{doc}/", {}, files={"file": (name, body, "application/octet-stream")})
        assert resp.status_code == 302, (doc, resp.status_code, resp.text[:500])
    sent = _post(s, f"{base}/check/", {})
    assert sent.status_code == 302 and sent.headers["Location"].endswith("/sent/"), sent.text[:500]
    done = s.get(deployed["url"] + sent.headers["Location"], timeout=30)
    match = _REFERENCE.search(done.text)
    assert match, done.text[:1000]
    with psycopg.connect(**conninfo) as conn:
        row = conn.execute("SELECT a.service_id, a.status, a.email, v.service_id FROM applications a "
                           "JOIN process_versions v ON v.id = a.process_version_id WHERE a.reference = %s",
                           (match.group(1).replace("-", ""),)).fetchone()
    assert row == ("trade_licence", "in_progress", "ct@example.pk", "trade_licence")
    reference = match.group(1).replace("-", "")
    with psycopg.connect(**conninfo) as conn:
        docs = conn.execute("SELECT d.document, d.sha256, d.object_key FROM documents d JOIN applications a "
                            "ON a.id = d.application_id WHERE a.reference = %s ORDER BY d.id", (reference,)).fetchall()
    assert [(d[0], d[1]) for d in docs] == [("owner_cnic", hashlib.sha256(PDF).hexdigest()),
                                           ("premises_proof", hashlib.sha256(PNG).hexdigest())]
    # in the agency's real bucket, under the application's private prefix: the agency's keys read them...
    creds = box.cli("--json", "agency", "credentials", SLUG, "--show-secrets")
    assert creds.rc == 0, creds.stderr
    storage = creds.json()["storage"]
    own = s3_for(storage)
    for (_, _sha, key), body in zip(docs, (PDF, PNG), strict=True):
        assert key.startswith(f"centre/applications/{reference}/")
        assert own.get_object(Bucket=storage["bucket"], Key=key)["Body"].read() == body
    assert own.list_objects_v2(Bucket=storage["bucket"], Prefix="centre/pending/").get("KeyCount", 0) == 0
    # ...an anonymous request and another agency's keys do not
    anonymous = requests.get(f"{storage['endpoint']}/{storage['bucket']}/{docs[0][2]}", verify=storage["ca_file"],
                             timeout=30)
    assert anonymous.status_code == 403 and PDF[:8] not in anonymous.content
    listing = requests.get(f"{storage['endpoint']}/{storage['bucket']}?list-type=2&prefix=centre/",
                           verify=storage["ca_file"], timeout=30)
    assert listing.status_code == 403 and reference not in listing.text
    other = box.cli("--json", "agency", "credentials", OTHER, "--show-secrets")
    assert other.rc == 0, other.stderr
    theirs = s3_for(other.json()["storage"])
    for call in (lambda: theirs.get_object(Bucket=storage["bucket"], Key=docs[0][2]),
                 lambda: theirs.list_objects_v2(Bucket=storage["bucket"], Prefix="centre/")):
        with pytest.raises(ClientError) as denied:
            call()
        assert denied.value.response["Error"]["Code"] in ("AccessDenied", "403")
    # the deploy published the catalogue as open data (the opendata app's prefix)
    published = own.get_object(Bucket=storage["bucket"], Key="opendata/centre-services.csv")["Body"].read().decode()
    assert published.startswith("id,name_en,name_ur,") and "trade_licence" in published


def test_the_interface_for_integrations_through_the_proxy(box: BoxHandle, deployed: dict[str, Any]) -> None:
    """The deployed API (its packages installed, nginx in front): the catalogue, an application sent as JSON
    without any cookie or CSRF token, read back with its one-time code; a staff call without a token: 401."""
    s = browser(box.box())
    api = deployed["url"] + "/api"
    listed = s.get(api + "/services", timeout=30)
    assert listed.status_code == 200 and {x["id"] for x in listed.json()} >= {"trade_licence"}, listed.text[:500]
    sent = s.post(api + "/applications", json={"serviceKey": "trade_licence", "answers": {
        "business_name": "Civic API", "business_kind": "shop", "email": "api@example.pk"}}, timeout=30)
    assert sent.status_code == 201 and not sent.cookies, sent.text[:500]
    doc = sent.json()
    status = s.get(f"{api}/applications/{doc['reference']}", headers={"X-Access-Code": doc["accessCode"]["code"]},
                   timeout=30)
    assert status.status_code == 200 and status.json()["status"] == "in_progress", status.text[:500]
    assert [x["id"] for x in status.json()["steps"] if x["state"] == "here"] == ["review"]
    staff = s.get(api + "/tasks", timeout=30)
    assert staff.status_code == 401 and staff.headers["WWW-Authenticate"].startswith("Bearer")
    assert s.get(api + "/openapi.json", timeout=30).json()["openapi"] == "3.1.0"


def _access_token(idp: oidc.Idp, client_id: str, secret: str, redirect: str, user: str, password: str) -> str:
    """The OIDC code flow as a staff tool runs it: the IdP's login form, the code from the redirect, the token."""
    s = oidc.browser(idp)
    code = oidc.code_from(oidc.login(s, idp, client_id, redirect, user, password), redirect)
    assert code, f"{user} could not sign in through {client_id}"
    tokens = oidc.token(idp, code, redirect, client_id, secret)
    assert tokens.status_code == 200, tokens.text[:300]
    found: str = tokens.json()["access_token"]
    return found


def _idp_signed(b: Box, claims: dict[str, Any]) -> str:
    """A token signed with the IdP's own key (read from its configuration, as only the box can): what an expired
    token of the IdP looks like, without waiting for one to expire."""
    conf = llng_store.latest_conf(idp_api.conf_store(b))[1]
    return jwt.encode(claims, conf["oidcServicePrivateKeySig"], algorithm="RS256",
                      headers={"kid": conf["oidcServiceKeyIdSig"], "typ": "JWT"})


def test_staff_act_on_the_api_with_access_tokens_of_the_agencys_idp(box: BoxHandle, deployed: dict[str, Any]) -> None:
    """The deployed centre is told its agency's client for the centre (issuer, audience, JWKS, desk groups). A
    member of the agency in the clerk's and the licensing officer's desk groups signs in through that client (the
    real LemonLDAP::NG code flow), sees the application sent through the API at the clerk's desk, accepts and
    approves it, and the citizen reads it closed `issued` with the code. Refused: a member of another agency
    (its own client's token, even with this agency's desk group names: 401; this centre's client: refused by the
    IdP), a member of this agency in no desk group (403), an expired token signed by the IdP's key and a token
    whose claims were changed (401)."""
    b = box.box()
    env = _env(box)
    client_id = oidc_app_client(SLUG, APP)
    assert (env["OIDC_ISSUER"], env["OIDC_AUDIENCE"], env["OIDC_JWKS_URL"], env["OIDC_GROUPS_CLAIM"],
            env["OIDC_DESK_PREFIX"]) == (b.issuer, client_id, f"{b.issuer}/oauth2/jwks", "groups",
                                         desk_group_prefix(SLUG))
    secret = DeploymentStore(b).secrets(SLUG, APP)["oidc_secret"]  # type: ignore[index]
    # the staff pages sign staff in with the client's code flow: its id and secret are in the 0600 file
    assert (env["OIDC_CLIENT_ID"], env["OIDC_CLIENT_SECRET"]) == (client_id, secret)
    redirect = deployed["url"] + manifest(APP).oidc_callback
    other = box.cli("--json", "agency", "credentials", OTHER, "--show-secrets")
    assert other.rc == 0, other.stderr
    theirs = other.json()["identity"]
    users = {  # login -> groups
        login(SLUG, "desk"): [group(SLUG), desk_group(SLUG, "clerk"), desk_group(SLUG, "licensing_officer")],
        login(SLUG, "nodesk"): [group(SLUG)],
        login(OTHER, "desk"): [group(OTHER), desk_group(OTHER, "clerk"), desk_group(SLUG, "clerk")],
    }
    password = uuid.uuid4().hex
    for user, groups in users.items():
        idp_api.add_user(b, user, password, f"{user.replace('@', '.')}@example.org", "Staff", groups)
    try:
        staff = _access_token(b, client_id, secret, redirect, login(SLUG, "desk"), password)
        header, claims = jwt.get_unverified_header(staff), jwt.decode(staff, options={"verify_signature": False})
        print(f"LLNG access token: header {header}, claims {sorted(claims)}, aud {claims['aud']!r}, "
              f"groups {claims.get('groups')!r}")
        assert header["alg"] == "RS256" and claims["aud"] == [client_id] and claims["iss"] == b.issuer
        assert set(users[login(SLUG, "desk")]) <= set(claims["groups"])
        nodesk = _access_token(b, client_id, secret, redirect, login(SLUG, "nodesk"), password)
        stranger = _access_token(oidc.Issuer.of(theirs), theirs["client_id"], theirs["client_secret"],
                                 theirs["redirect_uris"][0], login(OTHER, "desk"), password)
        assert jwt.decode(stranger, options={"verify_signature": False})["aud"] == [theirs["client_id"]]
        refused = oidc.login(oidc.browser(b), b, client_id, redirect, login(OTHER, "desk"), password)
        assert oidc.code_from(refused, redirect) is None  # the centre's client admits this agency's members only

        s = browser(b)
        api = deployed["url"] + "/api"
        sent = s.post(api + "/applications", json={"serviceKey": "trade_licence", "answers": {
            "business_name": "Civic Desk", "business_kind": "shop", "email": "desk@example.pk"}}, timeout=30)
        assert sent.status_code == 201, sent.text[:500]
        doc = sent.json()

        def bearer(token: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {token}"}

        expired = _idp_signed(b, {**claims, "exp": int(time.time()) - 300, "iat": int(time.time()) - 4000})
        forged = staff.split(".")
        changed = json.dumps({**claims, "sub": "someone-else"}).encode()
        forged[1] = base64.urlsafe_b64encode(changed).decode().rstrip("=")  # the IdP's signature over other claims
        for name, token in (("another agency's", stranger), ("expired", expired), ("forged", ".".join(forged))):
            for method, path in (("GET", "/tasks"), ("GET", f"/applications/{doc['reference']}")):
                answer = s.request(method, api + path, headers=bearer(token), timeout=30)
                assert answer.status_code == 401, (name, path, answer.status_code, answer.text[:300])
                assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert s.get(api + "/tasks", headers=bearer(nodesk), timeout=30).status_code == 403
        fresh = _idp_signed(b, {**claims, "exp": int(time.time()) + 300})  # the control: only the expiry differs
        assert s.get(api + "/tasks", headers=bearer(fresh), timeout=30).status_code == 200

        listed = s.get(api + "/tasks", headers=bearer(staff), timeout=30)
        assert listed.status_code == 200, listed.text[:500]
        task = next(x for x in listed.json() if x["reference"] == doc["reference"])
        assert task["desk"] == "clerk" and "accept" in task["actions"]
        for token in (stranger, nodesk):  # nobody else acts on it
            assert s.post(f"{api}/tasks/{task['id']}/accept", headers=bearer(token), timeout=30).status_code in (
                401, 403)
        accepted = s.post(f"{api}/tasks/{task['id']}/accept", headers=bearer(staff),
                          json={"fields": {"comment": "premises seen"}}, timeout=30)
        assert accepted.status_code == 200, accepted.text[:500]
        following = accepted.json()["next"]
        assert [x["desk"] for x in following] == ["licensing_officer"]
        approved = s.post(f"{api}/tasks/{following[0]['id']}/approve", headers=bearer(staff), timeout=30)
        assert approved.status_code == 200 and approved.json()["status"] == "closed", approved.text[:500]

        seen = s.get(f"{api}/applications/{doc['reference']}", headers={"X-Access-Code": doc["accessCode"]["code"]},
                     timeout=30)
        assert seen.status_code == 200, seen.text[:500]
        assert (seen.json()["status"], seen.json()["outcome"]) == ("closed", "issued")
        conninfo = b.pg_conninfo(env["DB_NAME"], env["DB_USER"], env["DB_PASSWORD"])
        with psycopg.connect(**conninfo) as conn:
            actors = [r[0] for r in conn.execute("SELECT actor FROM audit WHERE subject = %s ORDER BY seq",
                                                 (doc["reference"],))]
        # the certificate, signed by the box's signing service when the application closed issued
        assert actors == ["citizen", f"staff:{claims['sub']}", f"staff:{claims['sub']}", "system"]
    finally:
        for user in users:
            idp_api.remove_user(b, user)
        idp_api.remove_empty_groups(b, sorted({g for gs in users.values() for g in gs} - {group(SLUG), group(OTHER)}))


_TASK_FORM = re.compile(r'action="/en/staff/tasks/([0-9a-f-]{36})/(claim|act)/"')


def _token(page: str) -> str:
    found = _TOKEN.search(page)
    assert found, page[:500]
    return found.group(1)


def _staff_sign_in(b: Box, c: str, user: str, password: str) -> tuple[requests.Session, requests.Response]:
    """A browser signed in on the staff pages through LemonLDAP::NG's own login form: (the session, the answer
    of the centre's callback)."""
    s = browser(b)
    first = s.get(c + "/en/staff/", allow_redirects=False, timeout=30)
    assert first.status_code == 302 and first.headers["Location"].startswith("/en/staff/signin/"), first.text[:300]
    out = s.get(c + first.headers["Location"], allow_redirects=False, timeout=30)
    assert out.status_code == 302 and out.headers["Location"].startswith(f"{b.issuer}/oauth2/authorize?")
    assert "code_challenge_method=S256" in out.headers["Location"]
    form_page = s.get(out.headers["Location"], allow_redirects=False, timeout=30)
    oidc.host_only(s)
    fields = oidc.login_form(form_page)
    fields.update(user=user, password=password)
    back = s.post(form_page.url, data=fields, allow_redirects=False, timeout=30)
    oidc.host_only(s)
    assert back.status_code == 302 and back.headers["Location"].startswith(c + "/oidc/callback/?"), back.text[:300]
    return s, s.get(back.headers["Location"], allow_redirects=False, timeout=30)


def test_staff_sign_in_on_the_staff_pages_through_the_idp(box: BoxHandle, deployed: dict[str, Any]) -> None:
    """The staff pages with the box's real LemonLDAP::NG: /en/staff/ sends the browser to the IdP with the centre's
    own client (state, nonce, PKCE), the member signs in on the IdP's form, the callback exchanges the code with
    the client's secret and verifies the tokens; the inbox lists the application at the clerk's desk, the clerk
    claims it and accepts it, then (at the licensing officer's desk too) approves it: closed `issued`, audited as
    `staff:<login>`. The sign-out ends LemonLDAP::NG's session too (RP-initiated logout: the client's registered
    post-logout redirect URI, no confirmation): the IdP's login form comes again. A member of this agency in no
    desk group gets 403 at the callback."""
    b = box.box()
    c = deployed["url"]
    users = {login(SLUG, "pages"): [group(SLUG), desk_group(SLUG, "clerk"), desk_group(SLUG, "licensing_officer")],
             login(SLUG, "nodesk2"): [group(SLUG)]}
    password = uuid.uuid4().hex
    for user, groups in users.items():
        idp_api.add_user(b, user, password, f"{user.replace('@', '.')}@example.org", "Pages Staff", groups)

    def sign_in(user: str) -> tuple[requests.Session, requests.Response]:
        return _staff_sign_in(b, c, user, password)

    try:
        s = browser(b)
        sent = s.post(c + "/api/applications", json={"serviceKey": "trade_licence", "answers": {
            "business_name": "Pages Desk", "business_kind": "shop", "email": "pages@example.pk"}}, timeout=30)
        assert sent.status_code == 201, sent.text[:500]
        doc = sent.json()
        t0 = time.monotonic()
        clerk, answer = sign_in(login(SLUG, "pages"))
        assert answer.status_code == 302 and answer.headers["Location"] == "/en/staff/", answer.text[:500]
        print(f"centre staff sign-in through the IdP: {time.monotonic() - t0:.2f} s")
        cookie = next(k for k in clerk.cookies if k.name.endswith("_session") and k.name.startswith("centre_"))
        assert cookie.secure and cookie.has_nonstandard_attr("HttpOnly")
        inbox = clerk.get(c + "/en/staff/", timeout=30)
        assert inbox.status_code == 200 and doc["display"] in inbox.text, inbox.text[:500]
        row = inbox.text[inbox.text.index(doc["display"]):]
        task = _TASK_FORM.search(row)
        assert task and task.group(2) == "claim", row[:800]
        claimed = clerk.post(f"{c}/en/staff/tasks/{task.group(1)}/claim/", headers={"Referer": c + "/en/staff/"},
                             data={"csrfmiddlewaretoken": _token(inbox.text)}, allow_redirects=False, timeout=30)
        assert claimed.status_code == 302, claimed.text[:500]
        file_url = f"{c}/en/staff/applications/{doc['reference']}/"
        page = clerk.get(file_url, timeout=30)
        assert page.status_code == 200 and "Pages Desk" in page.text and "held by you" in page.text
        act = clerk.post(f"{c}/en/staff/tasks/{task.group(1)}/act/", headers={"Referer": file_url},
                         data={"csrfmiddlewaretoken": _token(page.text),
                               "action": "accept", "comment": "premises seen"}, allow_redirects=False, timeout=30)
        assert act.status_code == 302, act.text[:500]
        page = clerk.get(file_url, timeout=30)
        following = _TASK_FORM.search(page.text[page.text.index("Current task"):])
        assert following, page.text[:1500]
        approved = clerk.post(f"{c}/en/staff/tasks/{following.group(1)}/act/", headers={"Referer": file_url},
                              data={"csrfmiddlewaretoken": _token(page.text),
                                    "action": "approve"}, allow_redirects=False, timeout=30)
        assert approved.status_code == 302, approved.text[:500]
        env = _env(box)
        with psycopg.connect(**b.pg_conninfo(env["DB_NAME"], env["DB_USER"], env["DB_PASSWORD"])) as conn:
            row_db = conn.execute("SELECT status, outcome FROM applications WHERE reference = %s",
                                  (doc["reference"],)).fetchone()
            actions = [tuple(r) for r in conn.execute("SELECT actor, action FROM audit WHERE subject = %s ORDER BY seq",
                                                      (doc["reference"],))]
        assert row_db == ("closed", "issued")
        who = f"staff:{login(SLUG, 'pages')}"
        assert actions == [("citizen", "submitted"), (who, "task:review:claim"), (who, "task:review:accept"),
                           (who, "task:approve:approve"), ("system", "certificate:issued")], actions

        # sign out: the centre's session is cleared, the browser goes to LemonLDAP::NG's end-session endpoint with
        # the id_token, which ends the IdP's session and sends it back to the signed-out page
        out = clerk.post(f"{c}/en/staff/signout/", headers={"Referer": file_url},
                         data={"csrfmiddlewaretoken": _token(page.text)}, allow_redirects=False, timeout=30)
        assert out.status_code == 303 and out.headers["Location"].startswith(f"{b.issuer}/oauth2/logout?"), \
            out.text[:500]
        assert "id_token_hint=" in out.headers["Location"]
        ended = clerk.get(out.headers["Location"], allow_redirects=False, timeout=30)
        oidc.host_only(clerk)
        assert ended.status_code == 302 and ended.headers["Location"] == f"{c}/en/staff/signed-out/", ended.text[:500]
        assert "signed out" in clerk.get(ended.headers["Location"], timeout=30).text
        again = clerk.get(c + "/en/staff/", allow_redirects=False, timeout=30)
        assert again.status_code == 302 and again.headers["Location"].startswith("/en/staff/signin/")
        to_idp = clerk.get(c + again.headers["Location"], allow_redirects=False, timeout=30)
        oidc.login_form(clerk.get(to_idp.headers["Location"], allow_redirects=False, timeout=30))  # asked again
        _, refused = sign_in(login(SLUG, "nodesk2"))
        assert refused.status_code == 403 and "not at any desk" in refused.text
    finally:
        for user in users:
            idp_api.remove_user(b, user)
        idp_api.remove_empty_groups(b, sorted({g for gs in users.values() for g in gs} - {group(SLUG)}))


def test_a_catalogue_manager_through_the_idp_and_the_proxy(box: BoxHandle, deployed: dict[str, Any]) -> None:
    """`govcloud agency desk <agency> <login> catalogue` puts a member in the catalogue managers' group; through
    LemonLDAP::NG and nginx the manager reaches /staff/catalogue/ at no desk, downloads the catalogue, sends a file
    over 1 MB to the upload URL (nginx lets it through to the page, which refuses it in its own words: not 413) and
    the same catalogue back (nothing changes); a clerk gets 403."""
    b = box.box()
    c = deployed["url"]
    password = uuid.uuid4().hex
    manager, clerk = f"cat-{uuid.uuid4().hex[:6]}@{SLUG}", f"catclerk-{uuid.uuid4().hex[:6]}@{SLUG}"
    idp_api.add_user(b, manager, password, f"{manager.replace('@', '.')}@example.org", "Catalogue", [group(SLUG)])
    idp_api.add_user(b, clerk, password, f"{clerk.replace('@', '.')}@example.org", "Clerk",
                     [group(SLUG), desk_group(SLUG, "clerk")])
    try:
        put = box.cli("--json", "agency", "desk", SLUG, manager, "catalogue")
        assert put.rc == 0 and put.json()["group"] == desk_group(SLUG, "catalogue"), put.stderr[-1000:]
        s, answer = _staff_sign_in(b, c, manager, password)
        assert answer.status_code == 302, answer.text[:500]
        inbox = s.get(c + "/en/staff/", allow_redirects=False, timeout=30)
        assert inbox.status_code == 302 and inbox.headers["Location"] == "/en/staff/catalogue/"
        page = s.get(c + "/en/staff/catalogue/", timeout=30)
        assert page.status_code == 200 and "Trade licence" in page.text, page.text[:500]
        got = s.get(c + "/en/staff/catalogue/download/", timeout=30)
        assert got.status_code == 200 and got.headers["Content-Type"] == "application/gzip"
        headers = {"Referer": c + "/en/staff/catalogue/"}
        big = s.post(c + "/en/staff/catalogue/upload/", headers=headers,
                     data={"csrfmiddlewaretoken": _token(page.text)},
                     files={"catalogue": ("catalogue.tar.gz", b"\x1f\x8b" + b"0" * (3 * 1024 * 1024))}, timeout=60)
        assert big.status_code == 400 and "not a readable archive" in big.text, big.text[:500]
        same = s.post(c + "/en/staff/catalogue/upload/", headers=headers,
                      data={"csrfmiddlewaretoken": _token(page.text)},
                      files={"catalogue": ("catalogue.tar.gz", got.content)}, allow_redirects=False, timeout=60)
        assert same.status_code == 302 and same.headers["Location"] == "/en/staff/catalogue/?done=unchanged", \
            same.text[:500]
        other, answer = _staff_sign_in(b, c, clerk, password)
        assert answer.status_code == 302
        assert other.get(c + "/en/staff/catalogue/", timeout=30).status_code == 403
    finally:
        for user in (manager, clerk):
            idp_api.remove_user(b, user)
        idp_api.remove_empty_groups(b, [desk_group(SLUG, "catalogue"), desk_group(SLUG, "clerk")])


def test_second_deploy_changes_nothing(box: BoxHandle, deployed: dict[str, Any]) -> None:
    t0 = time.monotonic()
    r = box.cli("--json", "app", "deploy", SLUG, APP, timeout=600)
    assert r.rc == 0, r.stderr[-2000:]
    assert r.json()["changed"] == 0, r.json()["changed_steps"]
    print(f"centre unchanged re-deploy: {time.monotonic() - t0:.1f} s")


def test_the_catalogue_time_zone_and_holidays_come_from_the_spec(box: BoxHandle, deployed: dict[str, Any]) -> None:
    """The agency's `centre:` block: its catalogue (the samples less the building permit) is what the centre
    serves, installed as a version under the instance; its time zone and holidays are in the settings. A deploy
    with a catalogue that does not validate (a script task) fails naming the file and changes nothing: the
    running catalogue stays; the good one deploys again."""
    env = _env(box)
    assert env["TIME_ZONE"] == ZONE and env["HOLIDAYS"] == ",".join(HOLIDAYS)
    root = Path(env["CATALOGUE_ROOT"])
    current = (root / "current").resolve()
    assert current.name.startswith("v-") and (current / "catalogue.yaml").is_file()
    assert root.stat().st_uid == current.stat().st_uid == pwd.getpwnam(system_user(SLUG)).pw_uid
    api = deployed["url"] + "/api/services"
    s = browser(box.box())
    assert {x["id"] for x in s.get(api, timeout=30).json()} == SERVICES
    _civic_catalogue(box, "civic-bad", bad=True)
    bad = dataclasses.replace(box, spec_path=_spec_with_civic(SESSION_BOX[0], "civic-bad"))
    t0 = time.monotonic()
    r = bad.cli("--json", "app", "deploy", SLUG, APP, timeout=600)
    output = r.stdout + r.stderr
    assert r.rc != 0 and "catalogue refused, the running one stays" in output, output[-3000:]
    assert "grievance.bpmn" in output and "scriptTask" in output, output[-3000:]
    print(f"centre deploy refused for its catalogue: {time.monotonic() - t0:.1f} s")
    assert (root / "current").resolve() == current
    assert {x["id"] for x in s.get(api, timeout=30).json()} == SERVICES
    assert s.get(deployed["url"] + "/healthz", timeout=30).status_code == 200
    again = box.cli("--json", "app", "deploy", SLUG, APP, timeout=600)
    assert again.rc == 0, again.stderr[-2000:]
    assert (root / "current").resolve() == current


def test_an_agency_user_is_put_at_a_desk_of_its_catalogue(box: BoxHandle, deployed: dict[str, Any]) -> None:
    """`govcloud agency desk`: a member of the agency put at the grievance officer's desk (the IdP group), once;
    a desk of the samples that this agency's catalogue lacks (the building permit's intake) refused in one line;
    taken off again."""
    b = box.box()
    user = f"desk-{uuid.uuid4().hex[:6]}@{SLUG}"
    idp_api.add_user(b, user, uuid.uuid4().hex, f"{user.replace('@', '.')}@example.org", "Desk", [group(SLUG)])
    put = box.cli("--json", "agency", "desk", SLUG, user, "grievance_officer")
    assert put.rc == 0, put.stderr[-1000:]
    assert put.json() == {"agency": SLUG, "login": user, "desk": "grievance_officer",
                          "group": desk_group(SLUG, "grievance_officer"), "changed": True}
    assert desk_group(SLUG, "grievance_officer") in (idp_api.get_user(b, user) or {})["groups"]
    assert box.cli("--json", "agency", "desk", SLUG, user, "grievance_officer").json()["changed"] is False
    refused = box.cli("agency", "desk", SLUG, user, "intake")
    assert refused.rc != 0 and f"no desk 'intake' in the catalogue of {SLUG}'s centre" in refused.stderr
    off = box.cli("--json", "agency", "desk", SLUG, user, "grievance_officer", "--remove")
    assert off.rc == 0 and off.json()["changed"] is True
    assert desk_group(SLUG, "grievance_officer") not in (idp_api.get_user(b, user) or {})["groups"]
    idp_api.remove_user(b, user)


def test_runs_as_the_agency_user_on_loopback_only(box: BoxHandle, deployed: dict[str, Any]) -> None:
    pids = _pids(box)
    assert len(pids) >= 2  # master and a worker
    for pid in pids:
        uid = Path(f"/proc/{pid}").stat().st_uid
        assert pwd.getpwuid(uid).pw_name == system_user(SLUG), pid
    rss = sum(int(next(line.split()[1] for line in Path(f"/proc/{p}/status").read_text().splitlines()
                       if line.startswith("VmRSS:"))) for p in pids)
    print(f"centre RSS (master + workers): {rss / 1024:.0f} MiB")
    port = next(a["port"] for a in box.cli("--json", "app", "list", "--agency", SLUG).json()["apps"]
                if a["app"] == APP)
    listening = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True,
                               check=True).stdout.split("\n")
    local = {line.split()[3] for line in listening if line.strip()}
    assert local == {f"127.0.0.1:{port}"}, local
    code = box.box().home / "apps" / "code" / APP  # shared by every agency's centre: root's, nobody else writes
    files = [p for p in code.rglob("*")]
    assert (code / "centre_web" / "wsgi.py") in files and (code / "centre_core" / "samples" / "catalogue.yaml") in files
    assert all(p.stat().st_uid == 0 and not p.stat().st_mode & 0o022 and p.stat().st_mode & 0o004 for p in files)
    # the SLA timers' job: its own program, as the agency's user too
    timers = Supervisor(box.box()).info()[f"{app_program(SLUG, APP)}-timers"]
    assert timers["statename"] == "RUNNING", timers
    assert pwd.getpwuid(Path(f"/proc/{timers['pid']}").stat().st_uid).pw_name == system_user(SLUG)
    checked = box.cli("--json", "verify", "--agency", SLUG, "--app", APP, timeout=120)
    assert checked.rc == 0, checked.stdout
    assert all(c["ok"] for c in checked.json()["checks"]) and len(checked.json()["checks"]) >= 6


def test_secrets_are_in_the_private_settings_file_only(box: BoxHandle, deployed: dict[str, Any]) -> None:
    path = instance_dir(box.box(), SLUG, APP) / "centre.env"
    st = path.stat()
    assert oct(st.st_mode & 0o777) == "0o600" and pwd.getpwuid(st.st_uid).pw_name == system_user(SLUG)
    env = _env(box)
    secrets = [env["DB_PASSWORD"], env["SECRET_KEY"], env["TRACKING_KEY"], env["OIDC_CLIENT_SECRET"],
               env["S3_SECRET_KEY"], env["SMTP_PASSWORD"]]
    assert env["S3_BUCKET"] == f"ag-{SLUG}" and env["S3_ENDPOINT"].startswith("https://")
    assert len(bytes.fromhex(env["TRACKING_KEY"])) >= 32 and env["DB_NAME"] == pg_app(SLUG, APP)
    cmdlines = [Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace") for p in _pids(box)]
    program = box.box().home / "supervisor" / "programs.d" / f"{app_program(SLUG, APP)}.conf"
    shown = [deployed["output"], *cmdlines, program.read_text() if program.exists() else ""]
    log = box.box().log_dir / f"{app_program(SLUG, APP)}.log"
    shown.append(log.read_text(errors="replace") if log.exists() else "")
    for secret in secrets:
        assert not any(secret in text for text in shown)


def test_another_agencys_credentials_cannot_reach_this_centres_database(
    box: BoxHandle, deployed: dict[str, Any]
) -> None:
    b = box.box()
    env = _env(box)
    with psycopg.connect(**b.pg_conninfo(env["DB_NAME"], env["DB_USER"], env["DB_PASSWORD"])) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (pg_app(SLUG, APP),)
    other = box.cli("--json", "agency", "credentials", OTHER, "--show-secrets")
    assert other.rc == 0, other.stderr
    db = other.json()["database"]
    with psycopg.connect(**b.pg_conninfo(db["dbname"], db["user"], db["password"])):
        pass  # the other agency's credentials are good for its own database...
    with pytest.raises(psycopg.OperationalError):  # ...and not for this centre's
        psycopg.connect(**b.pg_conninfo(pg_app(SLUG, APP), db["user"], db["password"]))
    for target in (f"ag_{OTHER}", "postgres"):  # nor can the centre's reach beyond its own
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(**b.pg_conninfo(target, env["DB_USER"], env["DB_PASSWORD"]))


def _pyhanko(pdf: bytes, ca_file: Path) -> Any:
    """pyHanko's status of the PDF's last signature, trusting the platform CA only, offline; None when pyHanko
    refuses the file outright (a changed byte may break the structure as well as the digest)."""
    import io

    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    root = asn1_x509.Certificate.load(pem.unarmor(ca_file.read_bytes())[2])
    context = ValidationContext(trust_roots=[root], allow_fetching=False, revocation_mode="soft-fail")
    try:
        sig = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures[-1]
        return validate_pdf_signature(sig, context, ts_validation_context=context)
    except Exception:  # noqa: BLE001 - any refusal is "not valid" here
        return None


def test_the_demo_issues_a_certificate_signed_by_the_platform(box: BoxHandle, deployed: dict[str, Any]) -> None:
    """`govcloud --json app demo <agency> centre` (issue 16, item 6): a temporary staff member at every desk signs
    in through the IdP, one application goes through every step to its certificate, signed by the box's signing
    service with the agency's key and timestamped by the box's TSA. The printed certificate URL serves the PDF
    through the proxy; pyHanko finds it intact, trusted against the platform CA alone and timestamped; one changed
    byte fails it, as `govcloud cert verify` says too; the verification page says valid; the URL without the code
    is refused; the demo member is gone. An unknown agency and one without the centre: exit 2, one line."""
    b = box.box()
    t0 = time.monotonic()
    r = box.cli("--json", "app", "demo", SLUG, APP, timeout=300)
    wall = time.monotonic() - t0
    assert r.rc == 0, r.stderr[-3000:]
    doc = r.json()
    print(f"centre demo (sign-in, 1 application, 2 desks, signed certificate): {wall:.1f} s")
    assert set(doc) == {"reference", "access_code", "certificate_url", "verify_url"}
    assert doc["certificate_url"] == (f"{deployed['url']}/en/certificate/{doc['reference']}?code={doc['access_code']}")
    assert doc["verify_url"].startswith(deployed["url"] + "/en/verify/")
    assert not [u for u in idp_api.list_users(b) if u.startswith("demo-") and u.endswith("@" + SLUG)]
    assert "password" not in r.stderr.lower()

    pdf = browser(b).get(doc["certificate_url"], timeout=60)  # TLS through the proxy, the box CA, the public name
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF"), pdf.text[:300]
    status = _pyhanko(pdf.content, b.ca_file)
    assert status is not None and status.intact and status.valid and status.trusted, status
    assert status.coverage is not None and status.coverage.name == "ENTIRE_FILE"
    assert SLUG in status.signing_cert.subject.human_friendly  # the agency's key: OU=<slug>
    ts = status.timestamp_validity
    assert ts is not None and ts.intact and ts.valid and ts.trusted  # the box TSA's token, its chain to the CA
    assert ts.signing_cert.subject != status.signing_cert.subject
    changed = bytearray(pdf.content)
    at = changed.index(b"/Producer") if b"/Producer" in changed else len(changed) // 4
    changed[at + 2] ^= 0x01
    broken = _pyhanko(bytes(changed), b.ca_file)
    assert broken is None or not (broken.intact and broken.valid)
    for name, body, rc in (("demo.pdf", pdf.content, 0), ("demo-changed.pdf", bytes(changed), 1)):
        path = box.root / name
        path.write_bytes(body)
        checked = box.cli("--json", "cert", "verify", str(path))
        assert checked.rc == rc, (name, checked.stdout, checked.stderr[-500:])
        assert checked.json()["valid"] is (rc == 0)

    page = browser(b).get(doc["verify_url"], timeout=30)
    assert page.status_code == 200 and "This certificate is valid" in page.text, page.text[:500]
    bare = browser(b).get(doc["certificate_url"].split("?")[0], timeout=30)  # a fresh browser: no tracking session
    assert bare.status_code == 404 and not bare.content.startswith(b"%PDF")
    for agency in ["no-such-agency", *([OTHER] if DeploymentStore(b).get(OTHER, APP) is None else [])]:
        refused = box.cli("--json", "app", "demo", agency, APP)
        assert refused.rc == 2 and refused.stdout == "" and len(refused.stderr.strip().splitlines()) == 1, \
            refused.stderr


def test_a_bill_is_paid_through_the_boxs_demo_provider(box: BoxHandle, deployed: dict[str, Any]) -> None:
    """The box's demo payment provider (`platform.services.paydemo`): the deploy handed the centre its merchant
    account (the URL and secret `agency credentials` shows, the box CA) and signs its receipts through the signing
    service. A checkout made as the centre's adapter makes it, over HTTPS checked against the box CA; Pay on the
    provider's page sends the signed notification through the box's proxy to the deployed centre, which pays the bill
    (not to the `notifyUrl` the checkout names: the platform's). The receipt's JWS verifies with the centre's
    published key, issued by the box CA; a forged notification is refused."""
    from cryptography import x509

    from centre_core import payments, payments_store
    from govcloud_platform.box.services import paydemo

    t0 = time.monotonic()
    b = box.box()
    creds = box.cli("--json", "agency", "credentials", SLUG, "--show-secrets")
    assert creds.rc == 0, creds.stderr
    account = creds.json()["paydemo"]
    env = _env(box)
    assert (env["PAY_URL"], env["PAY_SECRET"], env["PAY_KIND"]) == (account["url"], account["secret"], "paydemo")
    assert env["PAY_CA_FILE"] == str(b.ca_file) and env["SIGNING_URL"].endswith(f"/sign/{SLUG}")
    assert "RECEIPT_KEY_FILE" not in env  # receipts through the signing service
    masked = box.cli("--json", "agency", "credentials", SLUG)
    assert account["secret"] not in masked.stdout
    # an application owing its fee, and its bill (as the status page or the timers' job would make it)
    s = browser(b)
    base = deployed["url"] + "/en/services/trade_licence"
    for qid, value in (("business_name", "Paid Traders"), ("business_kind", "shop"), ("email", "pt@example.pk")):
        assert _post(s, f"{base}/apply/{qid}/", {"answer": value}).status_code == 302
    for doc, name, body in (("owner_cnic", "cnic.pdf", PDF), ("premises_proof", "lease.png", PNG)):
        assert _post(s, f"{base}/documents/{doc}/", {}, files={"file": (name, body, "application/octet-stream")}
                     ).status_code == 302
    sent = _post(s, f"{base}/check/", {})
    match = _REFERENCE.search(s.get(deployed["url"] + sent.headers["Location"], timeout=30).text)
    assert match
    service = catalogue.load(box.root / "civic-catalogue" / "catalogue.yaml").catalogue.service("trade_licence")
    assert service is not None
    conninfo = b.pg_conninfo(env["DB_NAME"], env["DB_USER"], env["DB_PASSWORD"])
    with psycopg.connect(**conninfo) as conn:
        bill = payments_store.ensure_bill(conn, match.group(1).replace("-", ""), service, datetime.now(UTC))
    amount = payments.amount_text(bill.amount_minor, bill.currency)
    # the checkout, as the centre's adapter sends it (centre_web.payment_provider)
    body = json.dumps({"bill": bill.bill_ref, "amount": amount, "currency": bill.currency, "description": "Fee",
                       "returnUrl": f"{deployed['url']}/en/payments/{bill.bill_ref}/return/",
                       "notifyUrl": "https://elsewhere.example/steal"}, sort_keys=True).encode()
    pay = requests.Session()
    pay.trust_env = False
    made = pay.post(env["PAY_URL"] + "/v1/checkouts", data=body, verify=str(b.ca_file), timeout=30,
                    headers={"Content-Type": "application/json", **paydemo.sign(env["PAY_SECRET"].encode(), body)})
    assert made.status_code == 201, made.text
    page = made.json()["url"]
    assert page.startswith(f"https://{b.host_name}:{b.ports.paydemo_https}/pay/")
    assert bill.bill_ref in pay.get(page, verify=str(b.ca_file), timeout=30).text
    paid = pay.post(page, verify=str(b.ca_file), allow_redirects=False, timeout=30)  # Pay: the notification first
    assert paid.status_code == 303 and paid.headers["Location"].endswith(f"/payments/{bill.bill_ref}/return/")
    with psycopg.connect(**conninfo) as conn:
        state = conn.execute("SELECT state FROM bills WHERE bill_ref = %s", (bill.bill_ref,)).fetchone()
        row = conn.execute("SELECT p.channel, p.actor, p.amount_minor, p.receipt FROM payments p JOIN bills b "
                           "ON b.id = p.bill_id WHERE b.bill_ref = %s", (bill.bill_ref,)).fetchone()
    assert state == ("paid",) and row is not None and row[:3] == ("online", "provider:paydemo", bill.amount_minor)
    # the receipt: signed by the agency's key at the signing service, its certificate from the box CA
    keys = browser(b).get(deployed["url"] + "/api/payments/receipt-keys", timeout=30).json()["keys"]
    header = jwt.get_unverified_header(row[3])
    jwk = next(k for k in keys if k["kid"] == header["kid"])
    claims = jwt.decode(row[3], jwt.PyJWK(jwk).key, algorithms=[header["alg"]], options={"verify_aud": False})
    assert (claims["bill"], claims["amount"], claims["channel"], claims["iss"]) == (bill.bill_ref, amount, "online",
                                                                                   SLUG)
    cert = x509.load_der_x509_certificate(base64.b64decode(jwk["x5c"][0]))
    ca = x509.load_pem_x509_certificate(b.ca_file.read_bytes())
    cert.verify_directly_issued_by(ca)
    # a forged notification (another secret) through the proxy: refused, nothing changes
    forged = json.dumps({"bill": bill.bill_ref, "transaction": "pd-forged", "amount": amount,
                         "currency": bill.currency, "status": "paid"}, sort_keys=True).encode()
    refused = browser(b).post(deployed["url"] + "/api/payments/notify", data=forged, timeout=30,
                              headers={"Content-Type": "application/json", **paydemo.sign(b"f" * 43, forged)})
    assert refused.status_code == 401
    with psycopg.connect(**conninfo) as conn:
        assert conn.execute("SELECT count(*) FROM payments WHERE transaction = 'pd-forged'").fetchone() == (0,)
    print(f"paydemo: up {PAYDEMO_UP_S} s, paid and checked in {time.monotonic() - t0:.1f} s")


def test_remove_with_purge_leaves_nothing_behind(box: BoxHandle, deployed: dict[str, Any]) -> None:
    b = box.box()
    program, name = app_program(SLUG, APP), pg_app(SLUG, APP)
    vhost = b.home / "nginx" / "apps.d" / f"{program}.conf"
    assert vhost.exists()
    r = box.cli("--json", "app", "remove", SLUG, APP, "--purge-data", timeout=600)
    assert r.rc == 0 and r.json()["removed"] is True, r.stderr[-2000:]
    assert not {program, f"{program}-timers"} & set(Supervisor(b).info())
    assert not vhost.exists() and not instance_dir(b, SLUG, APP).exists()
    assert not list((b.ca.directory / "certs").glob(f"{program}.*"))
    assert idp_api.get_oidc_client(b, oidc_app_client(SLUG, APP)) is None  # the centre's client went with it
    with b.pg_admin() as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None
        assert conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() is None
    assert box.cli("--json", "app", "list", "--agency", SLUG).json()["apps"] == []
    assert not system_user_exists(system_user(SLUG))  # the agency's only app: its user went with it
    with pytest.raises(requests.RequestException):
        browser(b).get(deployed["url"] + "/healthz", timeout=10)
