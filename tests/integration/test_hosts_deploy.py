"""The shared services deployed onto a real 3-host lab over SSH (`govcloud up` on the `hosts` target), driven
from the operator's machine (the root namespace, the control home): every service healthy on the host `place`
chose and nothing of it listening in the root namespace; a second `up` changes nothing and says so; two
agencies onboarded from the control and the isolation matrix with real clients against the hosts' addresses;
`down` leaves no process or listener on the lab's hosts; an unreachable host fails `up` first, naming it, with
the control's registry untouched; the mail host's Postfix takes an agency's mail as its own sender only. One lab for
the module, always taken down."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from botocore.exceptions import ClientError

from govcloud_platform.box.platform_secrets import host_certificates, needed_by
from govcloud_platform.box.ports import Ports, free_port_base
from govcloud_platform.box.runtime import leftover_system_users
from govcloud_platform.hosts.placement import instances, place
from govcloud_platform.spec import load_spec
from tests.conftest import GOVCLOUD, Result, assert_one_error, new_home, run_cli
from tests.integration._tenants import reads_row, seed
from tests.integration.test_agencies import s3_for
from tests.integration.test_lab import LabHandle, start_lab, stop_lab, traversable_tmp

pytestmark = pytest.mark.integration
OUTSIDE = {"GOVCLOUD_NO_AGENT": "1"}
AGENCIES = ("alpha", "beta")
MAILERS = ("health", "revenue")  # the spec's agencies that `apply` adds with the mail service (`_with_mail`)
ORDER = ["storage", "proxy", "dcs", "database", "identity", "backups", "mail", "apps"]  # placement.ALL


@dataclass
class Platform:
    lab: LabHandle
    home: Path
    port_base: int
    timings: dict[str, float] = field(default_factory=dict)
    down_tested: bool = False  # `down` passed test_down_leaves_nothing_on_the_hosts: the teardown need not run it

    def cli(self, *args: str, timeout: float = 600, home: Path | None = None) -> Result:
        return run_cli("--spec", str(self.lab.spec), "--home", str(home or self.home), *args, env=OUTSIDE,
                       timeout=timeout)

    def timed(self, name: str, *args: str, **kw: Any) -> Result:
        started = time.monotonic()
        result = self.cli(*args, **kw)
        self.timings[name] = round(time.monotonic() - started, 1)
        return result

    def placed(self) -> dict[str, str]:
        topology = load_spec(self.lab.spec).platform.topology
        assert topology is not None
        return {s: h.name for s, h in place(topology).items()}

    def instances(self) -> dict[str, list[str]]:
        """service -> every host running it (the edge: every proxy host but the apps')."""
        topology = load_spec(self.lab.spec).platform.topology
        assert topology is not None
        return {s: [h.name for h in hs] for s, hs in instances(topology).items()}


def _listeners(netns: str | None) -> list[str]:
    argv = ["ss", "-Htlnp"] if netns is None else ["ip", "netns", "exec", netns, "ss", "-Htlnp"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=30).stdout
    return [line for line in out.splitlines() if "sshd" not in line]


def _netns_pids(netns: str) -> list[str]:
    out = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True, check=True).stdout.split()
    cmds = []
    for pid in out:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        if "sshd" not in cmd:
            cmds.append(f"{pid} {cmd}")
    return cmds


def _with_mail(spec: Path) -> None:
    """The lab's spec with the mail service for two of its agencies (the lab's layout has a `mail` host), and the web
    console enabled (its process on the control, fronted by the placed identity host's nginx)."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    doc = yaml.load(spec.read_text())
    for agency in doc["agencies"]:
        if agency["slug"] in MAILERS:
            agency["services"] = ["database", "storage", "identity", "backups", "mail"]
    # the usage sampler measures once at start, not again within the module (a test compares the registry's bytes)
    doc["platform"]["services"]["console"] = {"enabled": True, "usage_interval_minutes": 1440}
    with spec.open("w") as out:
        yaml.dump(doc, out)


@pytest.fixture(scope="module")
def platform() -> Iterator[Platform]:
    started = time.monotonic()
    # A short root: the hosts' homes hold Unix sockets (supervisord's, ~40 bytes below the home), and a socket
    # path has at most 107 bytes.
    lab = start_lab("dep", 3, root=traversable_tmp("gcd-"))
    _with_mail(lab.spec)
    # The control home on the same short root (its SSH masters' sockets are under /run: box.remote.control_dir).
    p = Platform(lab, lab.root / "c", free_port_base())
    p.timings["lab up"] = round(time.monotonic() - started, 1)
    try:
        up = p.timed("up cold", "--json", "up", "--port-base", str(p.port_base))
        assert up.rc == 0, up.stderr[-3000:]
        yield p
    finally:
        started = time.monotonic()
        down = None
        if p.down_tested:  # `down` is tested already: what runs on the control is stopped, the lab kills the rest
            _stop_the_control(p)
        else:
            down = p.timed("down", "down", timeout=300)
        stop_lab(lab)  # every process of the hosts' namespaces SIGTERMed (SIGKILLed after 10 s), then the namespaces
        for user in leftover_system_users(lab.root):  # an app's user, had a test failed before removing it
            subprocess.run(["userdel", user], capture_output=True, check=False)
            subprocess.run(["groupdel", user], capture_output=True, check=False)
        p.timings["teardown"] = round(time.monotonic() - started, 1)
        print(f"\ntimings (s): {json.dumps(p.timings)}")
        assert down is None or down.rc == 0, down.stderr[-2000:]


def _stop_the_control(p: Platform) -> None:
    """What the platform runs outside the lab's namespaces: the console's process and tunnel (the control home's
    supervisord) and the control's SSH masters; then every host's processes, all hosts at once. Nothing may outlive
    the module."""
    from concurrent.futures import ThreadPoolExecutor

    from govcloud_platform.box import remote
    from govcloud_platform.box.context import Box
    from govcloud_platform.hosts import console
    from govcloud_platform.lab.procs import stop_netns

    box = Box(home=p.home, spec=load_spec(p.lab.spec), create=False)
    console.down(box)
    remote.close_all(box)
    app = f"127.0.0.1:{Ports(p.port_base).console_app} "
    assert not [line for line in _listeners(None) if app in line]
    # every host's processes at once (`lab down` stops one host after the other, each given 10 s after SIGTERM)
    with ThreadPoolExecutor(max_workers=len(p.lab.doc["hosts"])) as pool:
        left = list(pool.map(stop_netns, [h["netns"] for h in p.lab.doc["hosts"]]))
    assert left == [[]] * len(left), left


def test_every_service_is_healthy_on_the_host_place_chose(platform: Platform) -> None:
    result = platform.timed("status", "--json", "status")
    assert result.rc == 0, result.stderr
    doc = result.json()
    assert set(doc) == {"ca_file", "services", "fences"}  # the box's shape, and each host's fence (two portals)
    assert all(f["running"] and not f["fenced"] for f in doc["fences"]), doc["fences"]
    placed, addr = platform.placed(), {h["name"]: h["address"] for h in platform.lab.doc["hosts"]}
    every = platform.instances()
    assert every["proxy"] == ["h1", "h2"]  # an edge on each proxy host (h3, the apps' host, is none)
    # the console last: its process on the control, its front (and so its row's host) the placed identity host
    assert [(s["name"], s["host"], s["healthy"]) for s in doc["services"]] == [
        (name, host, True) for name in ORDER for host in every[name]] + [("console", placed["identity"], True)]
    issuer = f"https://{addr[placed['proxy']]}:{Ports(platform.port_base).idp_edge}"
    for s in doc["services"]:
        assert set(s) == {"name", "healthy", "endpoint", "pid", "detail", "host", "role"}
        if s["name"] == "identity":  # a portal on each identity host (beside Patroni), one issuer: the first edge
            assert s["endpoint"] == issuer and s["role"] == "active", s
        elif s["name"] != "backups":
            assert addr[s["host"]] in s["endpoint"], s
    control = json.loads((platform.home / "placement.json").read_text())
    assert control["here"] == []  # the operator's home runs nothing
    # what a host's loss stops, said plainly (stderr: stdout is the one JSON document)
    notes = [line for line in result.stderr.splitlines() if line.startswith("note: ")]
    assert len(notes) == 1 and f"losing {placed['proxy']} stops storage, identity" in notes[0], result.stderr
    assert "stops database" not in notes[0]  # under Patroni on two hosts, with an etcd quorum of three
    # under Patroni one leader and a replica (made synchronous within a loop of Patroni's), whichever host won the
    # first election
    roles = sorted(s["role"] for s in doc["services"] if s["name"] == "database")
    assert roles[0] == "leader" and roles[1] in ("replica", "sync_replica"), roles


def test_each_host_runs_only_its_own_services_and_nothing_listens_in_the_root_namespace(platform: Platform) -> None:
    every = platform.instances()
    lab = platform.lab
    topology = load_spec(lab.spec).platform.topology
    assert topology is not None
    for host in lab.doc["hosts"]:
        mine = {s for s, hs in every.items() if host["name"] in hs}
        home = Path(next(h.root for h in topology.hosts if h.name == host["name"])) / "box"
        pids = _netns_pids(host["netns"])
        assert pids, host  # h3 runs the apps' front
        assert json.loads((home / "placement.json").read_text())["here"] == sorted(mine, key=ORDER.index)
        # only the secrets of its own services: the IdP's host holds no pgBackRest cipher, the database's no
        # OIDC signing key; the agencies' registry key stays on the control
        assert sorted(p.name for p in (home / "secrets").iterdir()) == needed_by(mine), host["name"]
        # the CA's key stays on the control, which issued the host's certificates (those of its services)
        assert sorted(p.name for p in (home / "ca").iterdir()) == ["ca.pem", "certs"], host["name"]
        front = {"console"} if host["name"] == platform.placed()["identity"] else set()  # its nginx fronts it
        certs = {c.name for c in host_certificates(mine | front, host["address"])}
        assert {p.name for p in (home / "ca" / "certs").iterdir()} == {f"{c}.{e}" for c in certs
                                                                       for e in ("pem", "key")}
    root = [line for line in _listeners(None) if f":{platform.port_base}" in line
            or any(f":{platform.port_base + i} " in line for i in range(20))]
    # but the console's gunicorn on the control's loopback (its process is the control's: docs/console.md)
    app = f"127.0.0.1:{Ports(platform.port_base).console_app} "
    assert [line for line in root if app not in line] == [], root
    assert [line for line in root if app in line], root


def test_a_second_up_changes_nothing_and_says_so(platform: Platform) -> None:
    from govcloud_platform.hosts.deploy import host_home

    again = platform.timed("up nothing to change", "up")  # as a human sees it (JSON's `changed` is asserted below)
    assert again.rc == 0 and "was already up; nothing changed" in again.stderr, again.stderr[-2000:]
    # A secret a host does not need (left by an older govcloud that copied all of them, or by a service that
    # moved): the next `up` takes it away.
    topology = load_spec(platform.lab.spec).platform.topology
    assert topology is not None
    apps_host = next(h for h in topology.hosts if h.name == platform.placed()["apps"])  # etcd and the apps' front
    stray = Path(host_home(apps_host)) / "secrets" / "pgbackrest-cipher-pass"
    assert not stray.exists()
    shutil.copy(platform.home / "secrets" / stray.name, stray)
    pruned = platform.cli("--json", "up")
    assert pruned.rc == 0 and pruned.json()["changed"] is True, pruned.stderr[-2000:]
    assert not stray.exists()


@pytest.fixture(scope="module")
def onboarded(platform: Platform) -> dict[str, dict[str, Any]]:
    creds = {}
    for slug in AGENCIES:
        added = platform.timed(f"agency add {slug}", "--json", "agency", "add", slug, "--name", slug.title())
        assert added.rc == 0, added.stderr[-2000:]
        shown = platform.cli("--json", "agency", "credentials", slug, "--show-secrets")
        assert shown.rc == 0, shown.stderr
        creds[slug] = shown.json()
    return creds


def _token(identity: dict[str, Any], client_id: str, secret: str) -> requests.Response:
    with requests.Session() as s:
        s.trust_env = False
        discovery = s.get(identity["discovery_url"], verify=identity["ca_file"], timeout=10).json()
        return s.post(discovery["token_endpoint"], data={"grant_type": "client_credentials", "scope": "openid"},
                      auth=(client_id, secret), verify=identity["ca_file"], timeout=10)


def test_isolation_matrix_across_the_hosts(platform: Platform, onboarded: dict[str, dict[str, Any]]) -> None:
    """psycopg verify-full to the database's host, boto3 with the CA to the storage's, OIDC client credentials
    at the issuer on the identity's: own access works, cross access is denied."""
    addr = {h["name"]: h["address"] for h in platform.lab.doc["hosts"]}
    placed = platform.placed()
    for slug, c in onboarded.items():
        assert c["database"]["host"] == ",".join(addr[h] for h in platform.instances()["database"])
        assert c["storage"]["endpoint"].startswith(f"https://{addr[placed['proxy']]}:")  # the edge, before S3
        assert c["identity"]["issuer"].startswith(f"https://{addr[placed['proxy']]}:")  # the edge, before the portals
        seed(c, slug)
    matrix = []
    for a in AGENCIES:
        ca = onboarded[a]
        for t in AGENCIES:
            ct = onboarded[t]
            pg_ok = reads_row(ca, ct, t)
            try:
                s3_for(ca["storage"]).get_object(Bucket=ct["storage"]["bucket"], Key="own.txt")["Body"].read()
                s3_ok = True
            except ClientError:
                s3_ok = False
            resp = _token(ca["identity"], ct["identity"]["client_id"], ca["identity"]["client_secret"])
            oidc_ok = resp.status_code == 200 and "access_token" in resp.json()
            matrix.append((a, t, pg_ok, s3_ok, oidc_ok))
            assert (pg_ok, s3_ok, oidc_ok) == ((a == t),) * 3, matrix[-1]
    print(f"\nisolation matrix: {matrix}")


def test_the_console_runs_on_the_control_behind_the_identity_hosts_nginx(platform: Platform,
                                                                         onboarded: dict[str, Any]) -> None:
    """The console's /healthz through the placed identity host's nginx (TLS checked against the platform CA, from
    the root namespace), its API refusing a request without a token (401), a script's client-credentials token
    reading the control's registry through it, its process in the root namespace (the control's) and the tunnel's
    end on the front host's loopback."""
    addr = {h["name"]: h["address"] for h in platform.lab.doc["hosts"]}
    front = platform.placed()["identity"]
    ports = Ports(platform.port_base)
    base = f"https://{addr[front]}:{ports.console_https}"
    ca = str(platform.home / "ca" / "ca.pem")
    with requests.Session() as s:
        s.trust_env = False
        assert s.get(f"{base}/healthz", verify=ca, timeout=10).status_code == 200
        bare = s.get(f"{base}/api/agencies", verify=ca, timeout=10)
        assert bare.status_code == 401 and bare.headers["WWW-Authenticate"].startswith("Bearer"), bare.text[:200]
        added = platform.timed("console client add", "--json", "console", "client", "add", "lab-report",
                               "--operator")
        assert added.rc == 0, added.stderr[-2000:]
        doc = added.json()
        token = s.post(doc["token_endpoint"], data={"grant_type": "client_credentials", "scope": "openid"},
                       auth=(doc["client_id"], doc["client_secret"]), verify=ca, timeout=10)
        assert token.status_code == 200, token.text[:300]
        listed = s.get(f"{base}/api/agencies", verify=ca, timeout=10,
                       headers={"Authorization": f"Bearer {token.json()['access_token']}"})
        assert listed.status_code == 200, listed.text[:300]
        assert set(AGENCIES) <= {a["slug"] for a in listed.json()["agencies"]}  # the control's registry
    status = platform.cli("--json", "status").json()
    row = next(r for r in status["services"] if r["name"] == "console")
    assert row["healthy"] and row["endpoint"] == f"{base}/" and row["host"] == front, row
    # the process is the control's: in the root namespace, not the front host's
    assert os.readlink(f"/proc/{row['pid']}/ns/net") == os.readlink("/proc/self/ns/net")
    front_netns = next(h["netns"] for h in platform.lab.doc["hosts"] if h["name"] == front)
    tunnel = subprocess.run(["ip", "netns", "exec", front_netns, "ss", "-Htlnp"], capture_output=True, text=True,
                            check=True, timeout=30).stdout
    assert any(f"127.0.0.1:{ports.console_app} " in ln and "sshd" in ln for ln in tunnel.splitlines()), tunnel


def test_an_operator_signs_in_to_the_console_on_the_hosts(platform: Platform, onboarded: dict[str, Any]) -> None:
    """A person's sign-in (authorization code with PKCE, through the issuer on the edge) lands on the agencies'
    page, which lists the agencies of the control's registry."""
    from govcloud_platform.box.context import Box
    from tests.console_kit import sign_in

    box = Box(home=platform.home, spec=load_spec(platform.lab.spec), create=False)
    password = box.secrets.get("idp-operator-password")
    assert password
    started = time.monotonic()
    _, page = sign_in(box, box.spec.platform.services.identity.operator_user, password)
    platform.timings["console sign-in"] = round(time.monotonic() - started, 1)
    assert page.status_code == 200, (page.status_code, page.text[:300])
    assert all(slug in page.text for slug in AGENCIES), page.text[:500]


def test_apply_converges_the_spec_across_the_hosts(platform: Platform, onboarded: dict[str, Any]) -> None:
    first = platform.timed("apply (the spec's agencies)", "--json", "apply", timeout=600)
    assert first.rc == 0, first.stderr[-2000:]
    added = first.json()["added"]
    assert added and set(added).isdisjoint(AGENCIES), added
    again = platform.timed("apply, nothing to change", "--json", "apply", timeout=600)
    assert again.rc == 0, again.stderr[-2000:]
    assert again.json()["added"] == [] and set(added) <= set(again.json()["unchanged"])


def test_mail_runs_on_its_host_and_an_agency_sends_only_as_itself(platform: Platform,
                                                                   onboarded: dict[str, Any]) -> None:
    """Postfix runs on the mail host (h3) under its supervisord; `apply` gave the spec's agencies their SMTP logins
    there (the control's broker, over SSH); health's login sends as health through that host's address (STARTTLS
    verified against the platform CA, then AUTH), as revenue it is refused, and the message lands in the mail
    host's Maildir."""
    import smtplib

    from govcloud_platform.hosts.deploy import host_home
    from govcloud_platform.mailbox import delivered, wait_for
    from tests.mail_kit import send

    started = time.monotonic()
    placed, addr = platform.placed(), {h["name"]: h["address"] for h in platform.lab.doc["hosts"]}
    host = placed["mail"]
    assert host == "h3" and platform.instances()["mail"] == ["h3"]
    assert any("/usr/lib/postfix/sbin/master" in cmd for cmd in _netns_pids(platform.lab.host(host)["netns"]))
    topology = load_spec(platform.lab.spec).platform.topology
    assert topology is not None
    home = Path(host_home(next(h for h in topology.hosts if h.name == host)))
    creds = {}
    for slug in MAILERS:
        shown = platform.cli("--json", "agency", "credentials", slug, "--show-secrets")
        assert shown.rc == 0, shown.stderr
        creds[slug] = shown.json()["mail"]
    health, revenue = creds["health"], creds["revenue"]
    assert (health["host"], health["port"], health["username"]) == (
        addr[host], Ports(platform.port_base).smtp, "ag-health")
    assert health["ca_file"] == str(platform.home / "ca" / "ca.pem")  # the platform CA, the control's copy
    to = "citizen@example.org"
    msg = send(health, to)  # as noreply@health.gov.example
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:  # the sender rule answers at RCPT
        send(health, to, sender=revenue["from_address"])
    code, text = refused.value.recipients[to]
    assert code == 553 and b"not owned by user ag-health" in text, (code, text)
    with pytest.raises(smtplib.SMTPAuthenticationError):  # revenue's login with health's password
        send(health, to, login=(revenue["username"], health["password"]))
    got = wait_for(home, to, lambda m: m["Subject"] == msg["Subject"], timeout=15)
    assert got["From"] == health["from_address"] and got["Return-Path"] == f"<{health['from_address']}>"
    assert all(m["From"] != revenue["from_address"] for m in delivered(home, to))
    assert not (platform.home / "mail").exists()  # the control runs no Postfix
    platform.timings["mail on its host"] = round(time.monotonic() - started, 1)


def test_doctor_and_usage_read_the_hosts(platform: Platform, onboarded: dict[str, Any]) -> None:
    doctor = platform.timed("doctor", "--json", "doctor", timeout=300)
    assert doctor.rc == 0, (doctor.stdout[-2000:], doctor.stderr[-2000:])
    assert doctor.json()["healthy"] is True
    usage = platform.timed("agency usage", "--json", "agency", "usage", "alpha", timeout=300)
    assert usage.rc == 0, usage.stderr[-2000:]
    assert "alpha" in usage.stdout


def test_backups_and_a_restore_drill_across_the_hosts(platform: Platform,
                                                      onboarded: dict[str, dict[str, Any]]) -> None:
    """pgBackRest runs on the backups' host (its repository on the storage's), an agency's pg_dump on the
    database's host streamed to restic here, and the restore drill restores and reads a scratch cluster on the
    database's host: the agencies' rows are in it."""
    full = platform.timed("backup run platform", "--json", "backup", "run", "--type", "full", timeout=900)
    assert full.rc == 0, full.stderr[-2000:]
    assert full.json()["scope"] == "platform" and full.json()["bytes"] > 0
    agency = platform.timed("backup run agency", "--json", "backup", "run", "--agency", "alpha", timeout=900)
    assert agency.rc == 0, agency.stderr[-2000:]
    listed = platform.cli("--json", "backup", "list")
    assert listed.rc == 0, listed.stderr[-2000:]
    assert "alpha" in listed.stdout and full.json()["id"] in listed.stdout
    drill = platform.timed("restore drill", "--json", "backup", "restore", "--platform", timeout=900)
    assert drill.rc == 0, drill.stderr[-2000:]
    report = drill.json()
    assert report["in_place"] is False
    for slug in AGENCIES:
        assert report["databases"][f"ag_{slug}"]["public.secrets"] == 1, report["databases"].keys()
    host = platform.lab.host(platform.placed()["database"])
    assert not any("govcloud scratch" in cmd or "pg-2" in cmd for cmd in _netns_pids(host["netns"]))


def test_the_agencies_scheduled_backups_run_from_the_operators_home(platform: Platform,
                                                                    onboarded: dict[str, dict[str, Any]]) -> None:
    """`backup tick` (the operator's crontab, every minute) runs the agencies' due backups from the registry's
    home, once; the platform's are the backups host's scheduler's, never taken here. A host's home refuses it."""
    import datetime as dt

    from govcloud_platform.hosts.deploy import host_home

    def tick(at: dt.datetime, home: Path | None = None) -> Result:
        return platform.timed(f"backup tick {at:%d %H:%M}", "--json", "backup", "tick", "--now", at.isoformat(),
                              home=home, timeout=900)

    def agency_backups() -> int:
        listed = platform.cli("--json", "backup", "list")
        assert listed.rc == 0, listed.stderr[-2000:]
        return sum(1 for b in listed.json()["backups"] if b["scope"] != "platform")

    start = dt.datetime.now(dt.UTC).replace(microsecond=0)
    before = agency_backups()
    first = tick(start)  # first sight of the jobs: their baseline, nothing runs
    assert first.rc == 0 and first.json() == {"ok": True, "ran": []}, first.stderr[-2000:]
    due = tick(start + dt.timedelta(days=1))
    assert due.rc == 0, due.stderr[-2000:]
    ready = sorted(a["slug"] for a in platform.cli("--json", "agency", "list").json()["agencies"]
                   if a["state"] == "ready")
    assert set(AGENCIES) <= set(ready)
    assert sorted(r["job"] for r in due.json()["ran"]) == [f"agency:{slug}" for slug in ready]
    assert all(r["ok"] for r in due.json()["ran"]), due.stdout
    assert tick(start + dt.timedelta(days=1, minutes=1)).json()["ran"] == []  # taken once
    assert agency_backups() == before + len(ready)
    topology = load_spec(platform.lab.spec).platform.topology
    assert topology is not None
    backups_host = next(h for h in topology.hosts if h.name == platform.placed()["backups"])
    refused = tick(start, home=Path(host_home(backups_host)))
    assert refused.rc == 2 and "operator's home" in refused.stderr, refused.stderr[-1000:]
    assert_one_error(refused)


def _https_status(platform: Platform, url: str, address: str) -> tuple[int, str]:
    """curl's exit status and HTTP status of a GET of `url` sent to `address` (the app's name in SNI and Host,
    the certificate verified against the platform CA for that name)."""
    parts = urlsplit(url)
    done = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20",
                           "--cacert", str(platform.home / "ca" / "ca.pem"),
                           "--resolve", f"{parts.hostname}:{parts.port}:{address}", url],
                          capture_output=True, text=True, timeout=60, check=False)
    return done.returncode, done.stdout.strip()


def _forged_proxy_header(platform: Platform, url: str, address: str) -> str:
    """The status line of a GET sent straight to the apps' front with a PROXY protocol header of our own."""
    import socket
    import ssl

    parts = urlsplit(url)
    port = int(parts.port or 443)
    context = ssl.create_default_context(cafile=str(platform.home / "ca" / "ca.pem"))
    with socket.create_connection((address, port), timeout=10) as sock:
        sock.sendall(f"PROXY TCP4 198.51.100.7 {address} 55555 {port}\r\n".encode())
        with context.wrap_socket(sock, server_hostname=parts.hostname) as tls:
            tls.sendall(f"GET {parts.path} HTTP/1.1\r\nHost: {parts.hostname}\r\nConnection: close\r\n\r\n".encode())
            return tls.recv(4096).decode(errors="replace").splitlines()[0]


def test_an_app_runs_on_the_apps_host_published_by_the_edge(platform: Platform, onboarded: dict[str, Any]) -> None:
    """`app deploy` over SSH onto the apps' host (h3), its database on the database's host, its certificate issued
    on the control; published by the edges on the proxy hosts (h1, h2), which pass TLS through: reachable through
    each with the platform CA for the app's name, refused around them; `app list` reads the apps' host; a second
    deploy changes nothing."""
    addr = {h["name"]: h["address"] for h in platform.lab.doc["hosts"]}
    placed = platform.placed()
    assert placed["apps"] != placed["proxy"]
    apps = addr[placed["apps"]]
    deployed = platform.timed("app deploy (cold, over SSH)", "--json", "app", "deploy", "beta", "centre", timeout=900)
    assert deployed.rc == 0, deployed.stderr[-3000:]
    url = deployed.json()["url"]
    for host in platform.instances()["proxy"]:  # through either edge (a floating address would front both)
        assert _https_status(platform, url + "/healthz", addr[host]) == (0, "200")  # its health reads its database
    # Around the edges: a plain TLS connection to the apps' front is not answered (its socket takes the PROXY
    # protocol first), and one that forges the header is refused: only an edge may say who the client is.
    rc, _status = _https_status(platform, url + "/healthz", apps)
    assert rc != 0
    assert _forged_proxy_header(platform, url + "/healthz", apps).startswith("HTTP/1.1 403")
    # The apps see the citizen's address, not the edge's: the apps' front logs both (client first).
    from govcloud_platform.hosts.deploy import control_address, host_home

    topology = load_spec(platform.lab.spec).platform.topology
    assert topology is not None
    front = Path(host_home(next(h for h in topology.hosts if h.name == placed["apps"]))) / "logs"
    logged = [line.split()[:2] for line in (front / "apps-nginx-access.log").read_text().splitlines()
              if '"GET /healthz ' in line and " 200 " in line]
    assert logged and logged[-1][0] == control_address(apps), logged[-3:]
    assert logged[-1][1] in {addr[h] for h in platform.instances()["proxy"]}
    listed = platform.cli("--json", "app", "list")
    assert listed.rc == 0, listed.stderr[-2000:]
    app = listed.json()["apps"]
    assert [(a["agency"], a["app"], a["healthy"], a["process"]) for a in app] == [("beta", "centre", True, "running")]
    # its processes run in the apps host's namespace; nothing of it listens in the root namespace
    lab_apps = next(h for h in platform.lab.doc["hosts"] if h["name"] == placed["apps"])
    assert any("centre" in p and "gunicorn" in p for p in _netns_pids(lab_apps["netns"]))
    assert not [line for line in _listeners(None) if f":{app[0]['port']} " in line]
    status = platform.cli("--json", "app", "status", "beta", "centre")
    assert status.rc == 0 and status.json()["healthy"] is True, status.stderr[-1000:]
    again = platform.timed("app deploy (nothing to change)", "--json", "app", "deploy", "beta", "centre", timeout=600)
    assert again.rc == 0 and again.json()["changed"] == 0, (again.stdout[-2000:], again.stderr[-2000:])
    # the app's own checks, by testinfra over SSH on the apps' host and through the edge
    checked = platform.timed("verify --app (over SSH)", "--json", "verify", "--app", "centre")
    rows = checked.json()["checks"]
    assert checked.rc == 0, [r for r in rows if not r["ok"]]
    assert {(r["agency"], r["app"], r["host"]) for r in rows} == {("beta", "centre", placed["apps"])}
    assert {r["check"].split(" ")[0] for r in rows} >= {"process", "app", "proxy", "TLS", "health", "secret"}


STRAY = """
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(); print("ready", flush=True); time.sleep(300)
"""


def test_verify_checks_every_host_over_ssh_and_names_what_is_wrong(platform: Platform,
                                                                   onboarded: dict[str, Any]) -> None:
    import sys

    from govcloud_platform.hosts.deploy import host_home

    good = platform.timed("verify", "--json", "verify")
    checks = good.json()["checks"]
    assert good.rc == 0, "; ".join(f"{c['host']} {c['check']}: {c['detail']}" for c in checks if not c["ok"])
    placed = platform.placed()
    assert {c["host"] for c in checks} == set(placed.values())  # every host in use (h3: the apps' front)
    assert any(c["host"] == placed["apps"] and c["check"] == "program app-beta-centre running" for c in checks), \
        sorted(c["check"] for c in checks if c["host"] == placed["apps"])
    with_ports = {service for service, _label, _port in Ports(platform.port_base).all()}  # backups has none
    for service, host in placed.items():  # each service's ports, on its own host
        assert service not in with_ports or any(
            c["service"] == service and c["host"] == host and c["check"].startswith("port ") for c in checks)
    names = {(c["host"], c["check"]) for c in checks}
    # the console's front: its HTTPS port on the placed identity host's address (its loopback end is the tunnel's)
    front = platform.lab.host(placed["identity"])
    assert (placed["identity"], f"port {Ports(platform.port_base).console_https} (console_https) on "
                                f"{front['address']}") in names
    for host in set(placed.values()):
        assert (host, "nothing else listens outside the host but sshd") in names
        assert (host, "permissions follow the box's scheme") in names
        assert any(h == host and check.startswith("secret files 0600") for h, check in names)
    assert all(c["ok"] for c in checks)
    # The bucket quotas are enforced on the storage host (the backups' host holds no key to do it): its own
    # program runs and its record shows a round that worked.
    topology = load_spec(platform.lab.spec).platform.topology
    assert topology is not None
    storage_host = next(h for h in topology.hosts if h.name == placed["storage"])
    assert placed["backups"] != placed["storage"]
    assert any(c["host"] == storage_host.name and c["check"] == "program quota-enforcer running" for c in checks), \
        sorted(c["check"] for c in checks if c["host"] == storage_host.name)
    quota = Path(host_home(storage_host)) / "s3" / "quota.json"
    deadline = time.monotonic() + 90
    while not (quota.exists() and json.loads(quota.read_text()).get("failures") == 0):
        assert time.monotonic() < deadline, quota.read_text() if quota.exists() else "no quota.json"
        time.sleep(2)

    # A secret readable by others on the database's host; a stray listener on the storage host's address.
    topology = load_spec(platform.lab.spec).platform.topology
    assert topology is not None
    db = next(h for h in topology.hosts if h.name == placed["database"])
    secret = sorted((Path(host_home(db)) / "secrets").iterdir())[0]
    storage = platform.lab.host(placed["storage"])
    stray_port = platform.port_base + 77
    stray = subprocess.Popen(["ip", "netns", "exec", storage["netns"], sys.executable, "-c", STRAY,
                              storage["address"], str(stray_port)], stdout=subprocess.PIPE, text=True)
    try:
        assert stray.stdout is not None and stray.stdout.readline().strip() == "ready"
        secret.chmod(0o644)
        bad = platform.cli("--json", "verify")
        assert bad.rc == 1, bad.stderr[-2000:]
        failed = {(c["host"], c["check"]): c["detail"] for c in bad.json()["checks"] if not c["ok"]}
        outside = failed.get((storage["name"], "nothing else listens outside the host but sshd"), "")
        assert f"{storage['address']}:{stray_port}" in outside, failed
        mine = [d for (h, check), d in failed.items() if h == db.name and check.startswith("secret files")]
        assert mine and f"secrets/{secret.name} 0644 root" in mine[0], failed
        assert f"secrets/{secret.name} 0644 (want 0640)" in failed[(db.name, "permissions follow the box's scheme")]
        assert len(failed) == 3, failed  # nothing else is blamed
        human = platform.cli("verify")
        assert human.rc == 1 and "checks passed" in human.stderr
    finally:
        secret.chmod(0o600)
        stray.kill()
        stray.wait(10)


def test_an_app_removed_from_the_apps_host_leaves_nothing_of_it_there(platform: Platform,
                                                                      onboarded: dict[str, Any]) -> None:
    from govcloud_platform.hosts.deploy import host_home

    topology = load_spec(platform.lab.spec).platform.topology
    assert topology is not None
    apps_host = next(h for h in topology.hosts if h.name == platform.placed()["apps"])
    home = Path(host_home(apps_host))
    url = platform.cli("--json", "app", "status", "beta", "centre").json()["url"]
    removed = platform.timed("app remove --purge-data", "--json", "app", "remove", "beta", "centre", "--purge-data")
    assert removed.rc == 0, removed.stderr[-2000:]
    edge = next(h["address"] for h in platform.lab.doc["hosts"] if h["name"] == platform.placed()["proxy"])
    rc, _status = _https_status(platform, url + "/healthz", edge)
    assert rc == 60  # the default server answers with the platform's own certificate: not valid for the app
    assert sorted(p.name for p in (home / "apps" / "tls").iterdir()) == ["apps-proxy.key", "apps-proxy.pem"]
    assert sorted(p.name for p in (home / "nginx" / "apps.d").iterdir()) == ["000-default.conf"]
    assert not (home / "apps" / "instances" / "beta" / "centre").exists()
    assert subprocess.run(["getent", "passwd", "gc-beta"], capture_output=True, check=False).returncode == 2
    assert platform.cli("--json", "app", "list").json()["apps"] == []


def test_an_unreachable_host_fails_up_first_naming_it(platform: Platform, onboarded: dict[str, Any]) -> None:
    registry = platform.home / "registry.db"
    before = registry.read_bytes()
    box_json = (platform.home / "box.json").read_text()
    lab, host = platform.lab, platform.placed()["database"]
    assert lab.cli("partition", host).rc == 0
    try:
        up = platform.timed("up with a host partitioned", "up", timeout=180)
        assert up.rc == 1, up.stderr[-2000:]
        assert_one_error(up)
        error = up.stderr.strip().splitlines()[-1]
        address = lab.host(host)["address"]
        assert error.startswith(f"error: host preflight failed on 1 host: {host} ({address}): unreachable"), error
        fresh = new_home("deploy-fresh") / "control"
        first = platform.cli("up", home=fresh, timeout=180)
        assert first.rc == 1 and f"{host} ({address}): unreachable" in first.stderr
        assert not fresh.exists()  # nothing written for a new control home
        shutil.rmtree(fresh.parent, ignore_errors=True)
    finally:
        assert lab.cli("heal", host).rc == 0
    assert registry.read_bytes() == before and (platform.home / "box.json").read_text() == box_json


def test_down_leaves_nothing_on_the_hosts(platform: Platform) -> None:
    down = platform.timed("down", "--json", "down", timeout=300)
    assert down.rc == 0, down.stderr[-2000:]
    doc = down.json()
    assert doc["listening_ports"] == [] and doc["stopped"]
    for host in platform.lab.doc["hosts"]:
        assert _netns_pids(host["netns"]) == [], host["name"]
        assert _listeners(host["netns"]) == [], host["name"]
    assert "control: console" in doc["stopped"], doc["stopped"]  # the console's process on the control, first
    app = f"127.0.0.1:{Ports(platform.port_base).console_app} "
    assert not [line for line in _listeners(None) if app in line]
    status = platform.cli("--json", "status")
    assert status.rc == 1 and not any(s["healthy"] for s in status.json()["services"])
    platform.down_tested = True


def test_an_up_killed_half_way_converges_when_run_again(platform: Platform) -> None:
    """After `down`: an `up` killed (with its Ansible run and SSH sessions) once the database's play began, then
    `up` again: every service healthy where it belongs."""
    import os
    import signal

    argv = [GOVCLOUD, "--spec", str(platform.lab.spec), "--home", str(platform.home), "up"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **OUTSIDE}, start_new_session=True, stdin=subprocess.DEVNULL)
    seen = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            seen.append(line)
            if "Bring database up" in line:
                break
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert any("Bring database up" in line for line in seen), "".join(seen)[-2000:]
    again = platform.timed("up after an interrupted up", "--json", "up", timeout=900)
    assert again.rc == 0, again.stderr[-3000:]
    status = platform.cli("--json", "status")
    assert status.rc == 0 and all(s["healthy"] for s in status.json()["services"]), status.stdout
