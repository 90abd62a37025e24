"""High availability on a real 5-host lab (issue 13): PostgreSQL under Patroni on two database hosts (h3, h4) and
etcd on three (h2, h3, h4), the object storage a SeaweedFS cluster on the same three, two IdP portals (h5, h2; their
configuration and sessions in the database) behind the two edges (h1, h5). Each fault is one the issue names:
the database leader's host dies whole (with a SeaweedFS master, a volume server, a filer and a gateway), a
partition isolates it, the identity host the edges prefer dies (with an edge), a storage master dies, the first
S3 gateway dies, the synchronous replica falls silent. The platform must stay writable and signed-in users signed
in, with no operator step. Real faults (`govcloud lab fail`: every process of the host SIGKILLed at once and its
link cut), real clients (psycopg with the agency's own multi-host credentials, boto3, an OIDC sign-in). One lab
for the module."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from ruamel.yaml import YAML

from govcloud_platform.box.placement import read as read_placement
from govcloud_platform.box.ports import Ports, free_port_base
from govcloud_platform.box.services.patroni import API_USER, REPLICATOR
from govcloud_platform.box.services.pg_os import STANZA
from govcloud_platform.spec import load_spec
from tests.conftest import Result, run_cli
from tests.integration.test_lab import LabHandle, start_lab, stop_lab, traversable_tmp
from tests.security.matrix import attack

pytestmark = pytest.mark.integration
OUTSIDE = {"GOVCLOUD_NO_AGENT": "1"}
# h1: the first edge (the agencies' S3 endpoint and the OIDC issuer; its `backups` group a formality: backups run
# with the database); h3 and h4: PostgreSQL under Patroni (h3 the first leader, with the backups); h2, h3, h4: etcd
# and the SeaweedFS cluster (h2 its first host: the gateway the edges prefer, and the masters' first raft leader,
# on a host without the database: the database leader's host is then a volume host whose loss the S3 figure
# measures, not also the raft leader's, which `test_a_storage_master_dies...` measures); h5 and h2: an IdP portal
# each (h5's the one the edges prefer), h5 also the second edge. What `hosts.placement` makes of it:
# tests/unit/test_hosts_placement.py::test_the_ha_labs_layout.
GROUPS = {"h1": ["proxy", "backups"], "h2": ["identity", "dcs", "storage"], "h3": ["database", "dcs", "storage"],
          "h4": ["database", "dcs", "storage"], "h5": ["identity", "proxy"]}
HOSTS = len(GROUPS)


class HaLab:
    def __init__(self, lab: LabHandle, home: Path, port_base: int) -> None:
        self.lab, self.home, self.port_base = lab, home, port_base
        self.figures: dict[str, float] = {}
        self.state: dict[str, Any] = {}

    def cli(self, *args: str, timeout: float = 600) -> Result:
        return run_cli("--spec", str(self.lab.spec), "--home", str(self.home), *args, env=OUTSIDE, timeout=timeout)

    def status(self) -> list[dict[str, Any]]:
        result = self.cli("--json", "status", timeout=120)
        return list(result.json()["services"])

    def roles(self, service: str) -> dict[str, str]:
        return {s["host"]: s["role"] for s in self.status() if s["name"] == service}

    def until_role(self, host: str, limit: float, *roles: str) -> float:
        """Wait until the host's database instance has one of `roles` (default: the synchronous replica); the seconds
        it took. Fails after `limit` s, naming every host's role."""
        started, wanted = time.monotonic(), roles or ("sync_replica",)
        while (now := self.roles("database")).get(host) not in wanted:
            assert time.monotonic() - started < limit, f"{host} not {' or '.join(wanted)} after {limit:.0f} s: {now}"
            time.sleep(1)
        return time.monotonic() - started

    def creds(self, slug: str, kind: str = "database") -> dict[str, Any]:
        shown = self.cli("--json", "agency", "credentials", slug, "--show-secrets")
        assert shown.rc == 0, shown.stderr
        return dict(shown.json()[kind])

    def s3(self, slug: str, endpoint: str | None = None) -> tuple[Any, str]:
        """The agency's own S3 client (one attempt per call, a dead gateway fails within seconds) and its bucket;
        `endpoint` instead of the one its credentials give (an edge reached directly)."""
        import boto3
        from botocore.config import Config

        st = self.creds(slug, "storage")
        cfg = Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required",
                     response_checksum_validation="when_required", retries={"max_attempts": 1},
                     connect_timeout=3, read_timeout=10)
        client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint or st["endpoint"], aws_access_key_id=st["access_key"],
            aws_secret_access_key=st["secret_key"], region_name="us-east-1", verify=st["ca_file"], config=cfg)
        return client, str(st["bucket"])

    def copies(self) -> tuple[dict[int, int], str]:
        """volume id -> how many volume servers hold a copy of it, and the listing (`weed shell volume.list`, from
        the control)."""
        import re

        from govcloud_platform.box.context import Box
        from govcloud_platform.box.services.storage import weed_shell

        box = Box(home=self.home, spec=load_spec(self.lab.spec), create=False)
        out = weed_shell(box, ["volume.list"], timeout=60)
        counts: dict[int, int] = {}
        for vid in re.findall(r"volume Id:(\d+),", out):
            counts[int(vid)] = counts.get(int(vid), 0) + 1
        return counts, out


def conninfo(db: dict[str, Any], **over: Any) -> dict[str, Any]:
    """libpq settings from the agency's credentials; a connection to a host that dies fails within 3 s (a crashed
    host answers nothing: without tcp_user_timeout a statement would wait for TCP's retransmissions)."""
    keys = ("host", "port", "dbname", "user", "password", "sslmode", "sslrootcert", "target_session_attrs")
    return {**{k: db[k] for k in keys if k in db}, "connect_timeout": 2, "tcp_user_timeout": 3000, **over}


def ha_lab(stem: str, prefix: str) -> HaLab:
    """A lab whose topology is GROUPS (the tests' and bench_ha's), and its control home (not up yet)."""
    lab = start_lab(stem, HOSTS, root=traversable_tmp(prefix))
    yaml = YAML()
    doc = yaml.load(lab.spec.read_text())
    for host in doc["platform"]["topology"]["hosts"]:
        host["groups"] = GROUPS[host["name"]]
    with lab.spec.open("w") as out:
        yaml.dump(doc, out)
    return HaLab(lab, lab.root / "c", free_port_base())


@pytest.fixture(scope="module")
def ha() -> Iterator[HaLab]:
    p = ha_lab("ha", "gch-")
    lab = p.lab
    try:
        started = time.monotonic()
        up = p.cli("--json", "up", "--port-base", str(p.port_base))
        p.figures["up cold"] = round(time.monotonic() - started, 1)
        assert up.rc == 0, up.stderr[-3000:] + _log_tails(p)
        yield p
    finally:
        # Every host crashed at once, then the lab taken down: the platform's own `down` on the hosts target is
        # test_hosts_deploy's (test_down_leaves_nothing_on_the_hosts); here it cost ~120 s of graceful stops (each
        # host's supervisord, SeaweedFS's filer, Patroni) that the lab's SIGKILL makes ~2 s.
        started = time.monotonic()
        for host in GROUPS:
            lab.cli("fail", host)
        stop_lab(lab)
        p.figures["teardown"] = round(time.monotonic() - started, 1)
        print(f"\nfigures (s): {json.dumps(p.figures)}")


def _log_tails(ha: HaLab, logs: tuple[str, ...] = ("database", "dcs", "host-fence"), lines: int = 12) -> str:
    """The last lines of each host's logs of the database, etcd and the fence: what a failed cold `up` leaves to
    read once the lab is gone (its files go with it)."""
    out = []
    for host in sorted(GROUPS):
        for name in logs:
            path = _home(ha, host) / "logs" / f"{name}.log"
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"--- {host} {name}.log\n" + "\n".join(t[:300] for t in tail))
    return "\n" + "\n".join(out)


def test_status_names_each_instances_role(ha: HaLab) -> None:
    """One leader and one synchronous replica of the database, one raft leader among three etcd members; every
    entry has its `role` next to its `host`."""
    deadline = time.monotonic() + 30  # Patroni makes a streaming replica synchronous within a loop or two
    while True:
        services = ha.status()
        db = {s["host"]: s["role"] for s in services if s["name"] == "database"}
        if sorted(db.values()) == ["leader", "sync_replica"] or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert all({"host", "role"} <= set(s) for s in services)
    assert sorted(db.values()) == ["leader", "sync_replica"], services
    dcs = sorted(s["role"] for s in services if s["name"] == "dcs")
    assert dcs == ["follower", "follower", "leader"], services
    # an IdP portal on each identity host, both healthy, behind the edges' one issuer
    portals = [s for s in services if s["name"] == "identity"]
    assert sorted((s["host"], s["role"]) for s in portals) == [("h2", "active"), ("h5", "active")], portals
    issuer = f"https://{ha.lab.host('h1')['address']}:{Ports(ha.port_base).idp_edge}"
    assert all(s["endpoint"] == issuer for s in portals), portals
    # the object storage, a SeaweedFS cluster on three hosts: one raft leader among its three masters
    assert sorted(s["role"] for s in services if s["name"] == "storage") == ["follower", "follower", "leader"]
    # and in front of its gateways an edge on each proxy host (no apps here: the edges front S3 alone)
    edges = [s for s in services if s["name"] == "proxy"]
    assert sorted(s["host"] for s in edges) == ["h1", "h5"] and all(s["healthy"] for s in edges), edges
    # every host's fence runs, watching the four others, and holds none fenced (`status --json`'s `fences`)
    fences = ha.cli("--json", "status", timeout=120).json()["fences"]
    assert sorted((f["host"], f["running"], len(f["peers"]), f["fenced"]) for f in fences) == [
        (h, True, HOSTS - 1, []) for h in sorted(GROUPS)], fences
    creds = ha.cli("--json", "agency", "add", "alpha", "--name", "Alpha")
    assert creds.rc == 0, creds.stderr[-2000:]
    db_creds = ha.creds("alpha")
    assert db_creds["host"].count(",") == 1 and db_creds["target_session_attrs"] == "read-write"
    # pgBackRest backs up from the standby (through each database host's TLS server), whichever host leads
    full = ha.cli("--json", "backup", "run", "--type", "full", timeout=900)
    assert full.rc == 0, full.stderr[-2000:]


def _sign_in(ha: HaLab, slug: str) -> dict[str, Any]:
    """A member of the agency signs in to its OIDC client (code flow): the browser's SSO session, the tokens, the
    client and the IdP as the agency's credentials describe them."""
    import uuid

    from govcloud_platform.box import idp_api
    from govcloud_platform.box.context import Box
    from govcloud_platform.names import group
    from tests import oidc

    ident = ha.creds(slug, "identity")
    client = {"id": ident["client_id"], "secret": ident["client_secret"], "redirect": ident["redirect_uris"][0]}
    user, password = f"{slug}-clerk", uuid.uuid4().hex
    idp_api.add_user(Box(home=ha.home, spec=load_spec(ha.lab.spec), create=False), user, password,
                     f"{user}@example.org", "Clerk", [group(slug)])
    idp = oidc.Issuer.of(ident)
    browser = oidc.browser(idp)
    code = oidc.code_from(oidc.login(browser, idp, client["id"], client["redirect"], user, password),
                          client["redirect"])
    assert code, "the agency's member could not sign in"
    tokens = oidc.token(idp, code, client["redirect"], client["id"], client["secret"])
    assert tokens.status_code == 200, tokens.text
    return {"idp": idp, "browser": browser, "client": client, "access_token": tokens.json()["access_token"]}


def _still_signed_in(signed: dict[str, Any]) -> None:
    """The SSO session answers a new authorization without the form, and the access token the userinfo endpoint
    (the IdP reads both from its database: no local cache)."""
    from tests import oidc

    idp, client = signed["idp"], signed["client"]
    signed["browser"].close()  # its kept-alive connection went through the edge to a portal that may be gone: a
    # browser whose connection stalls opens another (the edge closes one that is silent for 30 s)
    again = oidc.authorize(signed["browser"], idp, client["id"], client["redirect"])
    assert oidc.code_from(again, client["redirect"]), (again.status_code, again.text[:300])
    info = oidc.browser(idp).get(f"{idp.issuer}/oauth2/userinfo", timeout=30,
                                 headers={"Authorization": f"Bearer {signed['access_token']}"})
    assert info.status_code == 200, info.text[:300]


def _pgbackrest_as(ha: HaLab, target: str, cert: Path, key: Path) -> subprocess.CompletedProcess[str]:
    """pgBackRest's client on the operator's machine, as the backups' host would call `target`'s TLS server, with
    the given client certificate: `check` opens the remote first, where the server admits the certificate (and the
    check goes on to fail on the settings this call leaves out) or refuses it ("[AccessError] ... access denied")."""
    home = _home(ha, target)
    scratch = ha.lab.root / "pgbr-attack"
    scratch.mkdir(exist_ok=True)
    argv = ["pgbackrest", f"--config={scratch / 'none.conf'}", f"--stanza={STANZA}", f"--log-path={scratch}",
            "--log-level-console=warn", "--log-level-file=off", "--io-timeout=5",
            f"--pg1-host={ha.lab.host(target)['address']}", "--pg1-host-type=tls",
            f"--pg1-host-port={Ports(ha.port_base).pgbackrest_tls}", f"--pg1-host-ca-file={ha.home / 'ca' / 'ca.pem'}",
            f"--pg1-host-cert-file={cert}", f"--pg1-host-key-file={key}", f"--pg1-path={home / 'pg' / 'data'}",
            "--repo1-path=/nowhere", "check"]
    (scratch / "none.conf").touch()
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def _home(ha: HaLab, host: str) -> Path:
    topology = load_spec(ha.lab.spec).platform.topology
    assert topology is not None
    where = topology.host(host)
    assert where is not None
    return Path(where.root) / "box"


def _storage_host(ha: HaLab) -> str:
    """The storage host whose gateway the edges prefer (`hosts.placement.place`)."""
    placement = read_placement(ha.home)
    assert placement is not None
    return placement.services["storage"].host


def test_the_clusters_own_ports_admit_only_the_platform(ha: HaLab) -> None:
    """The attacker's `cluster` class (tests/security/matrix.py), on this lab: etcd without a client certificate or
    with a server-only one from the platform CA (what an app's TLS proxy holds), Patroni's unsafe REST calls without
    its password, pgBackRest's TLS server with another host's valid certificate, and replication as an agency's
    role. Each beside a control that the same call, made as the platform makes it, is answered."""
    ports, ca = Ports(ha.port_base), str(ha.home / "ca" / "ca.pem")
    certs = ha.home / "ca" / "hosts"  # each host's certificates, as the control issued them (`issue_for_host`)
    gateway = _storage_host(ha)
    db_host = next(h for h, r in ha.roles("database").items() if r == "leader")
    address = ha.lab.host(db_host)["address"]
    etcd = f"https://{address}:{ports.etcd_client}/v3/maintenance/status"
    own = (str(certs / db_host / "etcd.pem"), str(certs / db_host / "etcd.key"))
    control = requests.post(etcd, json={}, cert=own, verify=ca, timeout=10)
    assert control.status_code == 200, control.text  # the member's own certificate is answered
    refused = (requests.exceptions.SSLError, requests.exceptions.ConnectionError)
    for what, cert in (("etcd's client port without a certificate", None),
                       ("etcd's client port with a server-only platform certificate (an S3 gateway's)",
                        (str(certs / gateway / "s3.pem"), str(certs / gateway / "s3.key")))):
        with attack("cluster", what, denied=refused) as attempt:
            reply = requests.post(etcd, json={}, cert=cert, verify=ca, timeout=10)
            attempt.detail = f"HTTP {reply.status_code}"
    with attack("cluster", "etcd's peer port without a certificate", denied=refused) as attempt:
        reply = requests.get(f"https://{address}:{ports.etcd_peer}/members", verify=ca, timeout=10)
        attempt.detail = f"HTTP {reply.status_code}"

    api = f"https://{address}:{ports.patroni_api}"
    assert requests.get(f"{api}/patroni", verify=ca, timeout=10).status_code == 200  # read-only calls: open
    for method, path, body in (("POST", "/restart", {}), ("POST", "/switchover", {"leader": db_host}),
                               ("PATCH", "/config", {"ttl": 1000}), ("POST", "/reinitialize", {})):
        for auth in (None, (API_USER, "guessed")):
            with attack("cluster", f"Patroni's {method} {path} {'with a guessed password' if auth else 'anonymously'}"
                        ) as attempt:
                reply = requests.request(method, f"{api}{path}", json=body, auth=auth, verify=ca, timeout=10)
                attempt.succeeded, attempt.detail = reply.status_code != 401, f"HTTP {reply.status_code}"
    assert ha.roles("database")[db_host] == "leader"  # nothing above moved it

    # pgBackRest's TLS servers admit the backups' host only (backups run with the database: `place`)
    placement = read_placement(ha.home)
    assert placement is not None
    backups = placement.services["backups"].host
    other = next(h for h in ("h3", "h4") if h != backups)
    admitted = _pgbackrest_as(ha, other, certs / backups / "patroni.pem", certs / backups / "patroni.key")
    said = admitted.stdout + admitted.stderr
    assert "tls protocol on" in said and "access denied" not in said, said  # the remote ran the command
    with attack("cluster", "pgBackRest's TLS server with another database host's certificate") as attempt:
        run = _pgbackrest_as(ha, backups, certs / other / "patroni.pem", certs / other / "patroni.key")
        attempt.succeeded = "[AccessError]" not in run.stdout + run.stderr
        attempt.detail = (run.stdout + run.stderr).strip()[-300:]

    db = ha.creds("alpha")
    with attack("database", "replication as an agency's role (HA lab)", denied=(psycopg.OperationalError,)):
        psycopg.connect(**conninfo(db, replication="database")).close()
    with attack("database", "the replicator role with an agency's password (HA lab)",
                denied=(psycopg.OperationalError,)):
        psycopg.connect(**conninfo(db, user=REPLICATOR, replication="database")).close()


def test_the_leaders_host_dies_and_a_replica_takes_over_without_losing_a_commit(ha: HaLab) -> None:
    """The host dies whole: the database's leader, a SeaweedFS master, a volume server, a filer and a gateway. The
    database fails over; every object written before reads back intact from the copies on the other hosts, and
    S3 through the first edge takes writes again (the figure: how long after the kill)."""
    leader = next(h for h, r in ha.roles("database").items() if r == "leader")
    db = ha.creds("alpha")
    with psycopg.connect(**conninfo(db), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS counter (n int PRIMARY KEY)")
        conn.execute("INSERT INTO counter VALUES (1)")  # acknowledged: synchronous commit on both hosts
    signed_in = _sign_in(ha, "alpha")  # an SSO session and an access token, issued before the failover
    s3, bucket = ha.s3("alpha")
    objects = {f"before/{i}": hashlib.sha256(str(i).encode()).hexdigest().encode() * (i + 1) for i in range(24)}
    for key, body in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    errors: list[str] = []

    def first_s3_write() -> float | None:  # in a thread of its own: the database's figure is measured alongside
        while time.monotonic() - killed < 150:
            try:
                s3.put_object(Bucket=bucket, Key="after/first", Body=b"written while a host is lost")
                return time.monotonic()
            except Exception as exc:  # noqa: BLE001 - any refusal or timeout of the gateway: try again
                errors.append(f"{time.monotonic() - killed:.1f}s {type(exc).__name__}: {str(exc)[:120]}")
                time.sleep(0.2)
        return None

    from concurrent.futures import ThreadPoolExecutor

    killed = time.monotonic()
    fail = ha.lab.cli("fail", leader)
    assert fail.rc == 0, fail.stderr
    with ThreadPoolExecutor(1) as pool:
        s3_write = pool.submit(first_s3_write)
        wrote_at = None
        while time.monotonic() - killed < 120:
            try:
                with psycopg.connect(**conninfo(db), autocommit=True) as conn:
                    assert conn.execute("SELECT max(n) FROM counter").fetchone() == (1,)  # the commit survived
                    conn.execute("INSERT INTO counter VALUES (2)")
                wrote_at = time.monotonic()
                ha.state["after failover"] = time.time()
                break
            except psycopg.OperationalError:
                time.sleep(0.5)
        s3_ok = s3_write.result()
    print(f"\nS3 write attempts that failed after the kill: {len(errors)}: {errors[:3]} ... {errors[-3:]}")
    assert s3_ok is not None, f"no S3 write went through within 150 s of the host's loss: {errors[-3:]}"
    ha.figures["S3 writes refused after a volume host's loss"] = round(s3_ok - killed, 1)
    # every object, from the copy on a host that lives; a read may hang while the masters still list the silent
    # volume server (SeaweedFS's gRPC keepalive, 60 + 20 s): retried until 150 s after the kill, the figure kept
    for key, body in objects.items():
        while True:
            try:
                got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                break
            except Exception:  # noqa: BLE001 - a timeout of the gateway: again, within the window
                if time.monotonic() - killed > 150:
                    raise
        assert hashlib.sha256(got).hexdigest() == hashlib.sha256(body).hexdigest(), key
    ha.figures["every object read back after a volume host's loss"] = round(time.monotonic() - killed, 1)
    ha.state["objects"] = objects
    assert wrote_at is not None, "no leader took writes within 120 s"
    ha.figures["database failover (first write after the kill)"] = round(wrote_at - killed, 1)
    ha.state["failed"] = leader
    other = next(h for h in ("h3", "h4") if h != leader)
    assert ha.roles("database")[other] == "leader"
    # the IdP's sessions and tokens are rows the new leader has (LOGGED tables): the old session, and a new sign-in
    _still_signed_in(signed_in)
    _still_signed_in(_sign_in(ha, "alpha"))
    # onboarding needs no operator step: the lost host's pg_hba grant waits for its return (`resync_hba`)
    added = ha.cli("--json", "agency", "add", "beta", "--name", "Beta")
    assert added.rc == 0, added.stderr[-2000:]
    with psycopg.connect(**conninfo(ha.creds("beta")), autocommit=True) as conn:
        conn.execute("CREATE TABLE t (x int)")


def test_the_returning_host_rejoins_as_a_replica_and_catches_up(ha: HaLab) -> None:
    host = ha.state.get("failed")
    assert host, "the failover test did not run"
    healed = ha.lab.cli("heal", host, timeout=600)
    assert healed.rc == 0, healed.stderr[-2000:]
    ha.until_role(host, 90)
    up = ha.cli("--json", "up")  # converges: the returned host gets beta's pg_hba grant
    assert up.rc == 0, up.stderr[-2000:]
    # the returned volume server gets its copies back: every volume on two hosts again (the leading master's
    # repair, every storage_cluster.REPAIR_MINUTES). A volume repaired onto the third host while this one was away
    # has three copies once it returns; a later pass of the repair trims the surplus (volume.fix.replication
    # deletes over-replicated copies after checking they hold the same needles), so wait for exactly two.
    started, (copies, listing) = time.monotonic(), ha.copies()
    two_at = None
    while time.monotonic() - started < 300:
        if copies and min(copies.values()) >= 2:
            two_at = two_at or time.monotonic() - started
            if max(copies.values()) == 2:
                break
        time.sleep(3)
        copies, listing = ha.copies()
    assert copies and min(copies.values()) >= 2, (copies, listing[-3000:])
    assert max(copies.values()) == 2, ("a surplus copy was never trimmed", copies, listing[-3000:])
    ha.figures["volumes with two copies again after the heal"] = round(two_at or 0.0, 1)
    ha.figures["surplus copies trimmed after the heal"] = round(time.monotonic() - started, 1)
    s3, bucket = ha.s3("alpha")
    for key, body in ha.state["objects"].items():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key
    doctor = ha.cli("--json", "doctor", timeout=300)
    if doctor.rc != 0 and doctor.json()["limits"] and not doctor.json()["fences"]:
        # the returned host's filer replays its peers' changes asynchronously, from an offset recorded before the
        # crash, and an older change may land after `up` read every filer (brokers.storage.cluster_limits): the next
        # `up` sets the quota again; recorded, so that the note can tell how often a second `up` was needed
        ha.figures["returning host: storage limits healed by a second up"] = len(doctor.json()["limits"])
        print(f"\nlimits after the first up: {json.dumps(doctor.json()['limits'])}")
        assert ha.cli("--json", "up").rc == 0
        doctor = ha.cli("--json", "doctor", timeout=300)
    assert doctor.rc == 0 and doctor.json()["healthy"] is True, json.dumps(
        {k: doctor.json().get(k) for k in ("limits", "fences", "orphans", "unwritable")} if doctor.stdout else
        doctor.stderr[-2000:])
    # what `up` does to a filer that lacks buckets its peers hold (one that stopped following a peer): restarted
    # over SSH from the control, it answers again and holds every bucket; the objects read back through the edge
    from govcloud_platform.box.context import Box
    from govcloud_platform.box.services.storage import restart_filer
    from govcloud_platform.brokers.storage import wait_for_filers

    box, started = Box(home=ha.home, spec=load_spec(ha.lab.spec), create=False), time.monotonic()
    restart_filer(box, host)
    assert wait_for_filers(box, [host], ["ag-alpha", "ag-beta"]) == [host]
    ha.figures["a lagging filer restarted: every bucket held again"] = round(time.monotonic() - started, 1)
    for key, body in ha.state["objects"].items():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key
    address = ha.lab.host(host)["address"]
    for actor, target in (("alpha", "beta"), ("beta", "alpha")):  # the isolation holds on the leader and the host back
        mine, theirs = ha.creds(actor), ha.creds(target)
        for over in ({}, {"host": address, "target_session_attrs": "any"}):
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(**conninfo(mine, dbname=theirs["dbname"], **over)).close()
    # WAL archiving went on across the failover: a point-in-time restore to a moment after it has row 2, which
    # only the new leader's timeline holds (the full backup predates the failover)
    import datetime as dt

    moment = dt.datetime.fromtimestamp(ha.state["after failover"] + 1, dt.UTC).isoformat(timespec="seconds")
    drill = ha.cli("--json", "backup", "restore", "--platform", "--to", moment, timeout=900)
    assert drill.rc == 0, drill.stderr[-2000:]
    assert drill.json()["databases"]["ag_alpha"]["public.counter"] == 2
    for slug, rows in (("alpha", [(1,), (2,)]), ("beta", [])):
        db = ha.creds(slug)
        # straight to the returned host, a replica now: it has every row, and admits beta
        with psycopg.connect(**conninfo(db, host=address, target_session_attrs="any")) as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
            table = "counter" if slug == "alpha" else "t"
            assert conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall() == rows  # noqa: S608


# A client on the isolated host itself: commits numbered rows to its own database, printing each acknowledged one.
def _pids_of(netns: str, *argv_parts: str) -> list[int]:
    """The processes of one lab host (its network namespace) whose command line holds every part."""
    from govcloud_platform.lab.procs import netns_pids

    pids = []
    for pid in netns_pids(netns):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if all(part.encode() in argv for part in argv_parts):
            pids.append(pid)
    return pids


def test_the_preferred_identity_host_dies_and_sign_in_goes_on_through_the_edge(ha: HaLab) -> None:
    """The identity host the edges prefer (h5: a portal and the second edge) dies whole. A member signs in and gets
    a token through the first edge (the issuer) at once: the edge passes to the other portal (h2's, with the same
    configuration and sessions from the database) when the dead one does not answer within a second, and the
    host fence routes it away after 2.5 s (the figures: failed attempts, and how long the sign-in took); an SSO
    session opened before still answers, and an agency is onboarded meanwhile. Healed, `up` converges and both
    portals serve again."""
    from tests import oidc

    placement = read_placement(ha.home)
    assert placement is not None
    preferred = placement.services["identity"].host
    assert preferred == "h5", placement.services
    signed_in = _sign_in(ha, "alpha")
    killed = time.monotonic()
    assert ha.lab.cli("fail", preferred).rc == 0, "lab fail"
    try:
        signed_again, refused, started = None, 0, killed
        while time.monotonic() - killed < 60:
            started = time.monotonic()
            try:
                signed_again = _sign_in(ha, "alpha")
                break
            except (AssertionError, requests.RequestException):
                refused += 1
                time.sleep(0.2)
        assert signed_again is not None, "no sign-in through the edge within 60 s of the identity host's loss"
        ha.figures["identity host lost: sign-ins refused through the edge"] = refused
        ha.figures["identity host lost: sign-in refused for"] = round(started - killed, 1) if refused else 0.0
        ha.figures["identity host lost: the first sign-in took"] = round(time.monotonic() - started, 1)
        ident = ha.creds("alpha", "identity")
        token = oidc.browser(oidc.Issuer.of(ident)).post(
            f"{ident['issuer']}/oauth2/token", timeout=30, auth=(ident["client_id"], ident["client_secret"]),
            data={"grant_type": "client_credentials", "scope": "openid"})
        assert token.status_code == 200, token.text[:300]
        _still_signed_in(signed_in)
        added = ha.cli("--json", "agency", "add", "gamma", "--name", "Gamma")  # onboarding needs no portal of h5's
        assert added.rc == 0, added.stderr[-2000:]
        assert _sign_in(ha, "gamma")["access_token"]
    finally:
        healed = ha.lab.cli("heal", preferred, timeout=600)
    assert healed.rc == 0, healed.stderr[-2000:]
    up = ha.cli("--json", "up")  # converges: the host's portal and edge serve again
    assert up.rc == 0, up.stderr[-2000:]
    back = [s for s in ha.status() if s["name"] in ("identity", "proxy") and s["host"] == preferred]
    assert len(back) == 2 and all(s["healthy"] for s in back), back


def test_a_storage_master_dies_and_another_leads_while_objects_go_on(ha: HaLab) -> None:
    """The raft leader among the three SeaweedFS masters is killed (SIGKILL, its host stays up): another master
    leads, reads never stop, writes resume (the figure), and `up` brings the killed master back as a follower."""
    import os
    import signal

    roles = ha.roles("storage")
    leader = next(h for h, r in roles.items() if r == "leader")
    host = ha.lab.host(leader)
    pids = _pids_of(host["netns"], "master", f"-ip={host['address']}")
    assert len(pids) == 1, pids
    s3, bucket = ha.s3("alpha")
    objects = ha.state.get("objects") or {}
    killed = time.monotonic()
    os.kill(pids[0], signal.SIGKILL)
    wrote, new_leader = None, None
    while time.monotonic() - killed < 120 and (wrote is None or new_leader is None):
        if wrote is None:
            try:
                s3.put_object(Bucket=bucket, Key="after/master", Body=b"written under a new raft leader")
                wrote = time.monotonic()
            except Exception:  # noqa: BLE001 - refused while the new leader warms up: try again
                time.sleep(0.5)
        for key, body in list(objects.items())[:3]:  # reads go on all along
            assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
        if new_leader is None:
            now = ha.roles("storage")
            new_leader = next((h for h, r in now.items() if r == "leader" and h != leader), None)
    assert new_leader is not None, ha.roles("storage")
    assert wrote is not None, "no S3 write within 120 s of the raft leader's loss"
    ha.figures["S3 writes refused after the raft leader master's loss"] = round(wrote - killed, 1)
    up = ha.cli("--json", "up")  # converges: the killed master starts again and follows
    assert up.rc == 0, up.stderr[-2000:]
    deadline = time.monotonic() + 60
    while ha.roles("storage").get(leader) != "follower":
        assert time.monotonic() < deadline, ha.roles("storage")
        time.sleep(1)


def test_s3_goes_through_every_edge_and_on_when_the_first_gateway_dies(ha: HaLab) -> None:
    """The agencies' S3 endpoint is the first edge, which passes TLS through to the first storage host's gateway
    while it answers, else to another. Each edge serves the agency directly (the gateways' certificate names both
    edges) and keeps its isolation; the gateway the edges prefer (on h2, its host up) is SIGKILLed and S3 goes on
    through the edge (the figure); `up` brings it back."""
    import os
    import signal

    from botocore.exceptions import ClientError

    ports, (s3, bucket) = Ports(ha.port_base), ha.s3("alpha")
    first, second = ha.lab.host("h1")["address"], ha.lab.host("h5")["address"]
    assert ha.creds("alpha", "storage")["endpoint"] == f"https://{first}:{ports.s3_edge}"
    for edge in (first, second):  # each edge directly, as a floating address in front of them would reach it
        direct, _ = ha.s3("alpha", f"https://{edge}:{ports.s3_edge}")
        direct.put_object(Bucket=bucket, Key=f"edge/{edge}", Body=edge.encode())
        assert direct.get_object(Bucket=bucket, Key=f"edge/{edge}")["Body"].read() == edge.encode()
        other, _ = ha.s3("beta", f"https://{edge}:{ports.s3_edge}")  # beta: added by the failover test
        with attack("s3", f"another agency's bucket through the edge at {edge}", denied=(ClientError,)):
            other.get_object(Bucket=bucket, Key=f"edge/{edge}")
    gateway = ha.lab.host(_storage_host(ha))
    pids = _pids_of(gateway["netns"], "s3", f"-ip={gateway['address']}")
    assert len(pids) == 1, pids
    killed = time.monotonic()
    os.kill(pids[0], signal.SIGKILL)
    wrote = None
    while time.monotonic() - killed < 60:
        try:
            s3.put_object(Bucket=bucket, Key="edge/after-gateway", Body=b"through another gateway")
            wrote = time.monotonic()
            break
        except Exception:  # noqa: BLE001 - the edge tries the next gateway: try again
            time.sleep(0.2)
    assert wrote is not None, "no S3 write through the edge within 60 s of its first gateway's loss"
    ha.figures["S3 writes refused through the edge after its first gateway's loss"] = round(wrote - killed, 1)
    assert s3.get_object(Bucket=bucket, Key="edge/after-gateway")["Body"].read() == b"through another gateway"
    for key, body in list((ha.state.get("objects") or {}).items())[:5]:
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    up = ha.cli("--json", "up")  # converges: the gateway starts again
    assert up.rc == 0, up.stderr[-2000:]
    assert len(_pids_of(gateway["netns"], "s3", f"-ip={gateway['address']}")) == 1


ISOLATED_WRITER = """
import json, sys, time, psycopg
info = json.loads(sys.argv[1])
n = 1_000_000
while True:
    try:
        with psycopg.connect(**info, autocommit=True) as conn:
            while True:
                n += 1
                conn.execute("INSERT INTO counter VALUES (%s)", (n,))
                print(n, flush=True)
                time.sleep(0.05)
    except psycopg.Error:
        time.sleep(0.2)
"""


def test_a_partition_never_lets_two_leaders_acknowledge_writes(ha: HaLab) -> None:
    """The leader's host keeps running but is cut off: the other side elects a leader and takes writes; the
    isolated one cannot have a write acknowledged (its synchronous replica is out of reach, and it demotes itself
    once it reaches no other member). Every write either side acknowledged is there after the partition heals."""
    import sys
    import threading

    leader = next(h for h, r in ha.roles("database").items() if r == "leader")
    host = ha.lab.host(leader)
    db = ha.creds("alpha")
    acked: dict[str, list[int]] = {"outside": [], "isolated": []}
    local = conninfo(db, host=host["address"], target_session_attrs="any")
    inside = subprocess.Popen(["ip", "netns", "exec", host["netns"], sys.executable, "-c", ISOLATED_WRITER,
                               json.dumps(local)], stdout=subprocess.PIPE, text=True)

    def read_isolated() -> None:
        assert inside.stdout is not None
        for line in inside.stdout:
            acked["isolated"].append(int(line))

    reader = threading.Thread(target=read_isolated, daemon=True)
    reader.start()
    started = time.monotonic()
    while not acked["isolated"] and time.monotonic() - started < 30:  # its Python, psycopg and TLS: a loaded host
        time.sleep(0.2)
    assert acked["isolated"], "the isolated side's writer took no write before the partition"
    cut = time.monotonic()
    assert ha.lab.cli("partition", leader).rc == 0
    before_cut = len(acked["isolated"])
    n, first_outside = 100, None
    try:
        # the outside writes through a new leader, for 10 s once it has one (the isolated side keeps trying)
        while time.monotonic() - cut < 60 and (first_outside is None or time.monotonic() - first_outside < 10):
            try:
                with psycopg.connect(**conninfo(db), autocommit=True) as conn:
                    n += 1
                    conn.execute("INSERT INTO counter VALUES (%s)", (n,))
                    acked["outside"].append(n)
                    first_outside = first_outside or time.monotonic()
            except psycopg.OperationalError:
                time.sleep(0.5)
        assert acked["outside"], "the majority side took no write in 60 s"
    finally:
        healed = ha.lab.cli("heal", leader, timeout=600)
        inside.kill()
        inside.wait(10)
    assert healed.rc == 0, healed.stderr[-2000:]
    ha.figures["partition: isolated side's acknowledged writes after the cut"] = len(acked["isolated"]) - before_cut
    ha.until_role(leader, 90, "sync_replica", "leader")
    with psycopg.connect(**conninfo(db), autocommit=True) as conn:
        have = {r[0] for r in conn.execute("SELECT n FROM counter").fetchall()}
    missing = [x for x in acked["outside"] + acked["isolated"] if x not in have]
    assert missing == [], f"{len(missing)} acknowledged writes lost: {missing[:10]}"


def test_the_synchronous_replica_falls_silent_and_the_leader_goes_on_alone(ha: HaLab) -> None:
    """The synchronous replica's host is cut off (no RST: its packets vanish). A commit waits for that replica
    until the leader's WAL sender gives it up (`patroni.WAL_SENDER_TIMEOUT`), then Patroni lets the leader go on
    alone (synchronous_mode, not strict): writes stall for seconds, not for good. Healed, the host returns as the
    synchronous replica with every row."""
    roles = ha.roles("database")
    leader = next(h for h, r in roles.items() if r == "leader")
    replica = next(h for h, r in roles.items() if r == "sync_replica")
    db = ha.creds("alpha")
    acked: list[tuple[int, float]] = []
    with psycopg.connect(**conninfo(db, host=ha.lab.host(leader)["address"], target_session_attrs="any"),
                         autocommit=True) as conn:
        n = 10_000
        for _ in range(5):  # the replica still answers: commits are synchronous
            n += 1
            conn.execute("INSERT INTO counter VALUES (%s)", (n,))
        assert ha.lab.cli("partition", replica).rc == 0
        cut = time.monotonic()
        try:
            while time.monotonic() - cut < 120 and (not acked or acked[-1][1] - cut < 3 or len(acked) < 20):
                n += 1
                conn.execute("INSERT INTO counter VALUES (%s)", (n,))  # blocks while the leader waits for it
                acked.append((n, time.monotonic()))
        finally:
            healed = ha.lab.cli("heal", replica, timeout=600)
    assert healed.rc == 0, healed.stderr[-2000:]
    assert acked, "no commit in 120 s once the synchronous replica fell silent"
    ha.figures["sync replica cut: first commit after the cut (s)"] = round(acked[0][1] - cut, 1)
    ha.until_role(replica, 120)
    # every row the leader acknowledged alone reached the returning replica (its own host, read-only)
    local = conninfo(db, host=ha.lab.host(replica)["address"], target_session_attrs="any")
    deadline = time.monotonic() + 60
    while True:
        with psycopg.connect(**local, autocommit=True) as conn:
            have = {r[0] for r in conn.execute("SELECT n FROM counter WHERE n > 10000").fetchall()}
        missing = [x for x, _ in acked if x not in have]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert missing == [], f"{len(missing)} acknowledged rows not on the returning replica: {missing[:10]}"
