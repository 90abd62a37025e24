"""A box on a lab host's address, driven from the operator's machine.

A 1-host lab (`govcloud lab up --hosts 1`); `govcloud up --address <h1> --allow-from <bridge>/32` runs INSIDE
h1 (its network, mount and UTS namespaces, entered with nsenter through h1's sshd: h1's /tmp and /etc/hosts);
every other command runs in the root namespace, the operator's machine, as a client of the address: status,
two agencies onboarded, and the isolation matrix with real clients over the network (psycopg verify-full,
boto3 and restic over HTTPS with the box CA, OIDC client credentials from the issuer at the address). The IdP's
manager API stays on h1's loopback: the operator reaches it through an SSH tunnel to h1, as an operator would.
The lab hosts share the filesystem with the root namespace, so the box's home (under /var/tmp) is the same
directory on both sides; commands skip the CLI agent (it runs in h1: through it they would run there)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from govcloud_platform.box.context import Box
from govcloud_platform.box.supervisor import Supervisor
from govcloud_platform.brokers.backups import ensure_repository, restic
from govcloud_platform.spec import load_spec
from govcloud_platform.state.registry import Registry
from tests.conftest import GOVCLOUD, BoxHandle, Result, make_box
from tests.integration._tenants import reads_row, seed
from tests.integration.test_agencies import s3_for
from tests.integration.test_lab import LabHandle, start_lab, stop_lab

pytestmark = pytest.mark.integration
AGENCIES = ("alpha", "beta")
OUTSIDE = {"GOVCLOUD_NO_AGENT": "1"}  # the agent runs in h1: a command it served would run there


@dataclass
class HostBox:
    lab: LabHandle
    handle: BoxHandle
    host: dict[str, Any]  # h1 in `lab status --json`
    gateway: str  # the root namespace's address on the lab's bridge
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return str(self.host["address"])

    def inside(self, *args: str, timeout: float = 600) -> Result:
        """`govcloud` in h1's namespaces (network, mount: its /tmp and /etc/hosts, UTS: its hostname)."""
        argv = ["nsenter", "-t", str(self.host["sshd_pid"]), "-n", "-m", "-u", GOVCLOUD, *self.handle.args(*args)]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                              env={**os.environ, "COLUMNS": "200"})
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def outside(self, *args: str, timeout: float = 600) -> Result:
        return self.handle.cli(*args, env=OUTSIDE, timeout=timeout)

    def box(self) -> Box:
        return Box(home=self.handle.home, spec=load_spec(self.handle.spec_path), create=False)


def _timed(timings: dict[str, float], name: str, result: Result, started: float) -> Result:
    timings[name] = round(time.monotonic() - started, 1)
    return result


@pytest.fixture(scope="module")
def hostbox() -> Iterator[HostBox]:
    started = time.monotonic()
    lab = start_lab("addr", 1)
    timings = {"lab up": round(time.monotonic() - started, 1)}
    handle = make_box("addr")
    gateway = lab.doc["subnet"].rsplit(".", 1)[0].split("/")[0] + ".1"
    hb = HostBox(lab, handle, lab.host("h1"), gateway, timings)
    try:
        assert hb.host["sshd_alive"], lab.doc
        started = time.monotonic()
        up = _timed(timings, "up inside h1", hb.inside(
            "--json", "up", "--port-base", str(handle.port_base), "--address", hb.address,
            "--allow-from", f"{gateway}/32"), started)
        assert up.rc == 0, f"govcloud up in h1 failed: {up.stderr[-3000:]}"
        yield hb
    finally:
        started = time.monotonic()
        destroyed = hb.inside("box", "destroy", "--yes", timeout=300)
        timings["box destroy inside h1"] = round(time.monotonic() - started, 1)
        started = time.monotonic()
        stop_lab(lab)
        timings["lab down"] = round(time.monotonic() - started, 1)
        shutil.rmtree(handle.root, ignore_errors=True)
        print(f"\ntimings (s): {json.dumps(timings)}")
        assert destroyed.rc == 0, destroyed.stderr


def test_status_from_the_operators_machine_is_healthy_at_the_address(hostbox: HostBox) -> None:
    started = time.monotonic()
    result = _timed(hostbox.timings, "status outside", hostbox.outside("--json", "status"), started)
    assert result.rc == 0, result.stderr
    doc = result.json()
    b, a = hostbox.box(), hostbox.address
    assert {s["name"]: (s["healthy"], s["endpoint"]) for s in doc["services"]} == {
        "storage": (True, f"https://{a}:{b.ports.s3_https}"),
        "database": (True, f"postgresql://{a}:{b.ports.postgres}"),
        "identity": (True, f"https://{a}:{b.ports.idp_https}"),
        "backups": (True, "s3://govcloud-backup/pgbackrest"),
        "mail": (True, f"smtp://{a}:{b.ports.smtp}"),
        "signing": (True, f"https://{a}:{b.ports.signing_https}"),
    }, doc
    assert set(doc) == {"ca_file", "services"}
    recorded = json.loads((hostbox.handle.home / "box.json").read_text())
    assert (recorded["address"], recorded["allow_from"]) == (a, [f"{hostbox.gateway}/32"])


def _listeners(netns: str | None) -> list[tuple[str, str, int, str]]:
    """(protocol, address, port, users) of every listening TCP and UDP socket of a network namespace."""
    argv = ["ss", "-Htulnp"] if netns is None else ["ip", "netns", "exec", netns, "ss", "-Htulnp"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=30).stdout
    rows = []
    for line in out.splitlines():
        cols = line.split()
        host, _, port = cols[4].rpartition(":")
        rows.append((cols[0], host.strip("[]"), int(port), " ".join(cols[6:])))
    return rows


def _tree(root: int) -> set[int]:
    """`root` and every descendant, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, rest = stat.read_text().split(" (", 1)
            ppid = int(rest.rsplit(") ", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(pid))
    seen, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.add(pid)
            todo += children.get(pid, [])
    return seen


def test_nothing_of_the_box_listens_but_on_the_hosts_address(hostbox: HostBox) -> None:
    b, a = hostbox.box(), hostbox.address
    inside = _listeners(hostbox.host["netns"])
    # SeaweedFS opens a twin of each of its master, filer and S3 listeners (and their gRPC ports) on its host's
    # localhost whatever -ip.bind says (weed/util/net_timeout.go NewIpAndLocalListeners): reachable from h1
    # itself only, which reaches the address anyway, behind the same mutual TLS and S3 signatures.
    weed = f'("weed",pid={Supervisor(b).info()["storage"]["pid"]},'
    twins = {port for _, label, port in b.ports.all() if label.startswith(("weed_master", "weed_filer", "s3_"))}
    wrong = [r for r in inside if r[1] != a and (r[1], r[2]) != ("127.0.0.1", b.ports.idp_manager)
             and not (r[1] == "127.0.0.1" and r[2] in twins and weed in r[3])]
    assert not wrong, f"listening elsewhere than {a} in h1: {wrong}"
    ports = {port for _, host, port, _ in inside if host == a}
    unbound = b.unbound_ports()  # a box on one machine: no cluster, no edge, and the console is not enabled
    expected = {port for _, label, port in b.ports.all() if b.bind_address(label) == a and label not in unbound}
    assert expected <= ports, f"not listening on {a}: {sorted(expected - ports)}"
    assert ("127.0.0.1", b.ports.idp_manager) in {(r[1], r[2]) for r in inside}  # h1's own loopback only

    # every process of the box runs in h1's network namespace, and none holds a socket in the root namespace
    supervisord = Supervisor(b).pid()
    assert supervisord is not None
    pids = _tree(supervisord)
    assert len(pids) > 8, pids  # supervisord, weed, postgres and its workers, nginx, LLNG, the scheduler, the agent
    h1_net = os.stat(f"/run/netns/{hostbox.host['netns']}").st_ino
    assert {os.stat(f"/proc/{pid}/ns/net").st_ino for pid in pids if Path(f"/proc/{pid}").exists()} == {h1_net}
    root = [r for r in _listeners(None) if any(f"pid={pid}," in r[3] for pid in pids)]
    assert not root, f"the box listens in the root namespace: {root}"


@pytest.fixture(scope="module")
def manager_tunnel(hostbox: HostBox) -> Iterator[None]:
    """The operator's way to the IdP's manager API, which listens on h1's loopback only: an SSH local forward
    (the lab's key, known_hosts and ssh_config), from the root namespace's loopback to h1's."""
    port = hostbox.box().ports.idp_manager
    proc = subprocess.Popen(
        ["ssh", "-F", str(hostbox.lab.ssh_config), "-N", "-o", "ExitOnForwardFailure=yes",
         "-L", f"127.0.0.1:{port}:127.0.0.1:{port}", "h1"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else proc.returncode
            assert time.monotonic() < deadline, "the SSH tunnel to h1's manager API did not open"
            time.sleep(0.1)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def onboarded(hostbox: HostBox, manager_tunnel: None) -> dict[str, dict[str, Any]]:
    creds = {}
    for slug in AGENCIES:
        started = time.monotonic()
        added = _timed(hostbox.timings, f"agency add {slug} outside",
                       hostbox.outside("--json", "agency", "add", slug, "--name", slug.title()), started)
        assert added.rc == 0, added.stderr
        shown = hostbox.outside("--json", "agency", "credentials", slug, "--show-secrets")
        assert shown.rc == 0, shown.stderr
        creds[slug] = shown.json()
    return creds


def test_credentials_point_at_the_address(hostbox: HostBox, onboarded: dict[str, dict[str, Any]]) -> None:
    b, a = hostbox.box(), hostbox.address
    for c in onboarded.values():
        assert (c["database"]["host"], c["database"]["port"], c["database"]["sslmode"]) == (
            a, b.ports.postgres, "verify-full")
        assert c["storage"]["endpoint"] == f"https://{a}:{b.ports.s3_https}"
        assert c["identity"]["issuer"] == f"https://{a}:{b.ports.idp_https}"
        assert c["identity"]["discovery_url"].startswith(f"https://{a}:{b.ports.idp_https}/")
    masked = hostbox.outside("--json", "agency", "credentials", "alpha").json()
    assert set(masked) == set(onboarded["alpha"]) and masked["database"]["password"] == "********"


def _token(identity: dict[str, Any], client_id: str, secret: str) -> requests.Response:
    with requests.Session() as s:
        s.trust_env = False
        discovery = s.get(identity["discovery_url"], verify=identity["ca_file"], timeout=10).json()
        assert discovery["issuer"] == identity["issuer"]
        return s.post(discovery["token_endpoint"], data={"grant_type": "client_credentials", "scope": "openid"},
                      auth=(client_id, secret), verify=identity["ca_file"], timeout=10)


def test_isolation_matrix_over_the_network(hostbox: HostBox, onboarded: dict[str, dict[str, Any]]) -> None:
    """From the operator's machine, with real clients against the address: every own access succeeds and every
    cross-agency one fails."""
    b = hostbox.box()
    matrix: list[str] = []

    def record(a: str, t: str, check: str, allowed: bool) -> None:
        matrix.append(f"{a:>5} -> {t:<5} {check:<12} {'allowed' if allowed else 'denied'}")
        assert allowed == (a == t), matrix[-1]

    passwords = {s: str((Registry(b.home).binding(s, "backups") or {})["restic_password"]) for s in AGENCIES}
    for slug, c in onboarded.items():
        seed(c, slug)
        ensure_repository(b, slug, passwords[slug])

    for a in AGENCIES:
        ca = onboarded[a]
        for t in AGENCIES:
            ct = onboarded[t]
            allowed = reads_row(ca, ct, t)
            record(a, t, "psql", allowed)
            s3, bucket = s3_for(ca["storage"]), ct["storage"]["bucket"]
            for op, call in [
                ("s3 list", lambda: s3.list_objects_v2(Bucket=bucket)),
                ("s3 get", lambda: s3.get_object(Bucket=bucket, Key="own.txt")["Body"].read()),
                ("s3 put", lambda: s3.put_object(Bucket=bucket, Key=f"from-{a}.txt", Body=b"x")),
            ]:
                try:
                    call()
                    allowed = True
                except ClientError:
                    allowed = False
                record(a, t, op, allowed)
            resp = _token(ca["identity"], ct["identity"]["client_id"], ca["identity"]["client_secret"])
            record(a, t, "oidc token", resp.status_code == 200 and "access_token" in resp.json())
            record(a, t, "restic open", restic(b, t, passwords[a], "cat", "config", timeout=60).returncode == 0)
    print("\nisolation matrix over the network\n  " + "\n  ".join(matrix))


def test_the_database_admits_no_network_but_the_allowed_ones(
    hostbox: HostBox, onboarded: dict[str, dict[str, Any]],
) -> None:
    """pg_hba.conf: the box's own address and the operator's, nothing else, for every role."""
    b, a = hostbox.box(), hostbox.address
    hba = [line.split() for line in (b.home / "pg" / "data" / "pg_hba.conf").read_text().splitlines()
           if line.startswith("hostssl") and line.endswith("scram-sha-256")]
    assert {line[3] for line in hba} == {f"{a}/32", f"{hostbox.gateway}/32"}
    with b.pg_admin() as conn:
        assert conn.execute("SHOW listen_addresses").fetchone() == (a,)
        rules = conn.execute("SELECT DISTINCT address FROM pg_hba_file_rules WHERE auth_method <> 'reject' "
                             "AND type = 'hostssl'").fetchall()
    assert {r[0] for r in rules} == {a, hostbox.gateway}


def test_an_agency_admin_signs_in_at_the_address(hostbox: HostBox, onboarded: dict[str, dict[str, Any]]) -> None:
    """A browser's authorization-code flow at the issuer on the address, from the operator's machine: the admin
    of alpha gets a code and an id_token whose issuer is the address; the portal's cookie (Domain=.<address>,
    identity_conf.cookie_domains) comes back, so a second authorization is single sign-on; beta's admin is refused."""
    from tests import oidc

    alpha, beta = onboarded["alpha"]["identity"], onboarded["beta"]["identity"]
    idp, redirect = oidc.Issuer.of(alpha), alpha["redirect_uris"][0]
    s = oidc.browser(idp)
    code = oidc.code_from(oidc.login(s, idp, alpha["client_id"], redirect, alpha["admin_user"],
                                     alpha["admin_password"]), redirect)
    assert code
    tokens = oidc.token(idp, code, redirect, alpha["client_id"], alpha["client_secret"])
    assert tokens.status_code == 200, tokens.text[:300]
    claims = oidc.verify_id_token(idp, tokens.json()["id_token"], alpha["client_id"])
    assert claims["iss"] == alpha["issuer"] == f"https://{hostbox.address}:{hostbox.box().ports.idp_https}"
    assert {c.domain for c in s.cookies if c.name == "govcloud_sso"} == {f".{hostbox.address}"}
    assert oidc.code_from(oidc.authorize(s, idp, alpha["client_id"], redirect), redirect)  # no login form
    other = oidc.browser(idp)
    refused = oidc.login(other, idp, alpha["client_id"], redirect, beta["admin_user"], beta["admin_password"])
    assert oidc.code_from(refused, redirect) is None
