"""High-availability benchmark (issue 13) on the 5-host lab of tests/integration/test_hosts_ha.py (h1: the first
edge; h2 and h3: PostgreSQL under Patroni; h2, h3, h4: etcd and the SeaweedFS cluster; h5 and h4: an IdP portal
each, h5 also the second edge): the database's failover when the leader's host dies (`govcloud lab fail`: every
process SIGKILLed at once and its link cut), median of 5. That host also runs a SeaweedFS master, a volume server,
a filer and a gateway.

A writer commits numbered rows in a loop through the agency's own multi-host credentials the whole time (libpq
finds the leader); for each fault it prints the window without an acknowledged write (the last commit before the
kill to the first after it), the time until the new leader took a write, how long the failed host took to return
as a synchronous replica after `lab heal`, and at the end how many acknowledged rows are missing (goal 0). Then the
synchronous replica's host is cut off (silent, up to 3 times) and it prints how long commits stalled.

An S3 writer puts numbered objects the whole time through the agency's own credentials (the first edge, in front
of the gateways) and the bench prints, per fault, the window without an acknowledged S3 write, how long after
`lab heal` every volume has its two copies again, and at the end how many acknowledged objects are missing or
differ (sha256; goal 0).

An OIDC client asks the issuer (the first edge, in front of both portals) for a client-credentials token the whole
time over one kept-alive connection (each token is a row of the IdP's database): per database fault the bench
prints the window without a token (the database's failover). Then the identity host the edges prefer (h5: a portal
and an edge) dies, median of 5, while members sign in (the code flow: the form, the code, the token) one after
the other, each as a browser of its own: the bench prints the login unavailability (from the kill to the end of
the last sign-in that failed; goal 0 s through the edge), the slowest sign-in meanwhile, and the kept-alive
client's window without a token.

Every host runs the host fence (`box.fence`): a peer silent for 2.5 s is routed away and its connections closed on
every survivor, so the windows are the fence's detection plus the services' own failover, not their clients'
timeouts (before the fence: ~70 s without an S3 write, ~88 s without a token).

Run: .venv/bin/python benchmarks/bench_ha.py"""

from __future__ import annotations

import hashlib
import os
import statistics
import sys
import threading
import time

import psycopg
from _common import rss_mb  # noqa: F401 - also puts the checkout on sys.path (tests.conftest)
from bench_hosts import rss_mib
from tests.integration.test_hosts_ha import HaLab, conninfo, ha_lab
from tests.integration.test_lab import stop_lab

from govcloud_platform.box.placement import read as read_placement

RUNS = int(os.environ.get("BENCH_HA_RUNS", "5"))  # the issue asks for the median of 5


class S3Writer(threading.Thread):
    """Puts objects 1, 2, 3, ... into the agency's bucket and remembers which were acknowledged (and their sha256)."""

    def __init__(self, ha: HaLab) -> None:
        super().__init__(daemon=True)
        self.s3, self.bucket = ha.s3("bench")
        self.acked: dict[str, str] = {}
        self.times: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            body = os.urandom(256 + n % 4096)
            try:
                self.s3.put_object(Bucket=self.bucket, Key=f"w/{n}", Body=body)
            except Exception:  # noqa: BLE001 - refused or timed out: not acknowledged
                time.sleep(0.2)
                continue
            self.acked[f"w/{n}"] = hashlib.sha256(body).hexdigest()
            self.times.append(time.monotonic())
            time.sleep(0.1)

    def first_after(self, moment: float) -> float:
        return next((t for t in self.times if t > moment), float("nan")) - moment

    def lost(self) -> list[str]:
        bad = []
        for key, digest in self.acked.items():
            try:
                body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            except Exception:  # noqa: BLE001 - any failure to read it back counts
                bad.append(key)
                continue
            if hashlib.sha256(body).hexdigest() != digest:
                bad.append(key)
        return bad


class TokenProber(threading.Thread):
    """Asks the issuer for a client-credentials token every 0.2 s with the agency's own client, and remembers when
    one was given."""

    def __init__(self, identity: dict[str, object]) -> None:
        super().__init__(daemon=True)
        self.identity, self.times = identity, []  # type: ignore[var-annotated]
        self.stop = threading.Event()

    def run(self) -> None:
        import requests

        ident = self.identity
        with requests.Session() as s:
            s.trust_env = False
            while not self.stop.is_set():
                try:
                    resp = s.post(f"{ident['issuer']}/oauth2/token", timeout=5, verify=str(ident["ca_file"]),
                                  auth=(str(ident["client_id"]), str(ident["client_secret"])),
                                  data={"grant_type": "client_credentials", "scope": "openid"})
                    if resp.status_code == 200:
                        self.times.append(time.monotonic())
                except requests.RequestException:
                    pass
                time.sleep(0.2)

    def gap_around(self, moment: float) -> float:
        before = max((t for t in self.times if t <= moment), default=moment)
        after = min((t for t in self.times if t > moment), default=float("nan"))
        return after - before


class LoginProber(threading.Thread):
    """A member signs in (authorize, the login form, the code, the token) again and again, each time as a new
    browser (new connections through the edge); remembers each attempt's (start, end, succeeded)."""

    def __init__(self, ha: HaLab) -> None:
        import uuid

        from govcloud_platform.box import idp_api
        from govcloud_platform.box.context import Box
        from govcloud_platform.names import group
        from govcloud_platform.spec import load_spec

        super().__init__(daemon=True)
        self.identity = ha.creds("bench", "identity")
        self.user, self.password = "bench-clerk", uuid.uuid4().hex
        idp_api.add_user(Box(home=ha.home, spec=load_spec(ha.lab.spec), create=False), self.user, self.password,
                         f"{self.user}@example.org", "Clerk", [group("bench")])
        self.attempts: list[tuple[float, float, bool]] = []
        self.stop = threading.Event()

    def sign_in(self) -> bool:
        from tests import oidc

        idp, ident = oidc.Issuer.of(self.identity), self.identity
        redirect = str(ident["redirect_uris"][0])  # type: ignore[index]
        with oidc.browser(idp) as browser:
            code = oidc.code_from(oidc.login(browser, idp, str(ident["client_id"]), redirect, self.user,
                                             self.password), redirect)
        return bool(code) and oidc.token(idp, code or "", redirect, str(ident["client_id"]),
                                         str(ident["client_secret"])).status_code == 200

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                ok = self.sign_in()
            except Exception:  # noqa: BLE001 - a refused or broken sign-in: a failed attempt
                ok = False
            self.attempts.append((started, time.monotonic(), ok))
            time.sleep(0.2)

    def around(self, moment: float, span: float) -> tuple[float, float, int]:
        """(login unavailability: from `moment` to the end of the last failed attempt within `span` s, 0 if none;
        the slowest attempt that succeeded; how many failed)."""
        window = [a for a in self.attempts if a[1] > moment and a[0] < moment + span]
        failed = [a for a in window if not a[2]]
        slowest = max((end - start for start, end, ok in window if ok), default=float("nan"))
        return (max(end for _, end, _ in failed) - moment if failed else 0.0), slowest, len(failed)


class Writer(threading.Thread):
    """Commits rows 1, 2, 3, ... and remembers which were acknowledged, and when."""

    def __init__(self, info: dict[str, object]) -> None:
        super().__init__(daemon=True)
        self.info, self.acked, self.times = info, [], []  # type: ignore[var-annotated]
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            try:
                with psycopg.connect(**self.info, autocommit=True) as conn:  # type: ignore[arg-type]
                    while not self.stop.is_set():
                        conn.execute("INSERT INTO acked VALUES (%s)", (n + 1,))
                        n += 1
                        self.acked.append(n)
                        self.times.append(time.monotonic())
                        time.sleep(0.05)
            except psycopg.Error:
                n = max(n, self.acked[-1] if self.acked else 0) + 1000  # a row that may or may not have landed
                time.sleep(0.2)

    def gap_around(self, moment: float) -> float:
        before = max((t for t in self.times if t <= moment), default=moment)
        after = min((t for t in self.times if t > moment), default=float("nan"))
        return after - before


def wait_for(times: list[float], moment: float, limit: float, what: str) -> None:
    """Until one of `times` (a prober's successes) is after `moment`; `limit` s at most."""
    while not any(t > moment for t in times):
        assert time.monotonic() - moment < limit, f"no {what} within {limit:.0f} s"
        time.sleep(0.2)


def heal_as_sync_replica(ha: HaLab, host: str) -> tuple[float, float]:
    """`lab heal` the host, then wait until it is the synchronous replica again; (when healed, seconds it took)."""
    healed = time.monotonic()
    assert ha.lab.cli("heal", host, timeout=600).rc == 0
    ha.until_role(host, 300)
    return healed, time.monotonic() - healed


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    print(f"load average at start {os.getloadavg()[0]:.1f}")
    ha = ha_lab("bha", "gcb-")
    lab = ha.lab
    try:
        t0 = time.monotonic()
        up = ha.cli("--json", "up", "--port-base", str(ha.port_base))
        assert up.rc == 0, up.stderr[-2000:]
        print(f"cold up with Patroni and etcd: {time.monotonic() - t0:.1f} s")
        assert ha.cli("--json", "agency", "add", "bench", "--name", "Bench").rc == 0
        info = conninfo(ha.creds("bench"))
        with psycopg.connect(**info, autocommit=True) as conn:
            conn.execute("CREATE TABLE acked (n int PRIMARY KEY)")
        rss = {h["name"]: round(rss_mib(h["netns"])) for h in lab.doc["hosts"]}
        print(f"RSS per host (MiB): {rss}")
        writer, s3_writer, tokens = Writer(info), S3Writer(ha), TokenProber(ha.creds("bench", "identity"))
        writer.start()
        s3_writer.start()
        tokens.start()
        failovers, windows, rejoins, s3_windows, repairs, token_windows = [], [], [], [], [], []
        for run in range(RUNS):
            time.sleep(3)
            leader = next(h for h, r in ha.roles("database").items() if r == "leader")
            assert lab.cli("fail", leader).rc == 0
            killed = time.monotonic()  # the host is dead once the command returns (writes before it still land)
            wait_for(writer.times, killed, 180, "write")
            failovers.append(next(t for t in writer.times if t > killed) - killed)
            windows.append(writer.gap_around(killed))
            wait_for(s3_writer.times, killed, 240, "S3 write")
            s3_windows.append(s3_writer.first_after(killed))
            wait_for(tokens.times, killed, 180, "OIDC token")
            token_windows.append(tokens.gap_around(killed))
            healed, took = heal_as_sync_replica(ha, leader)
            rejoins.append(took)
            while True:
                copies, _ = ha.copies()
                if copies and min(copies.values()) >= 2:
                    break
                assert time.monotonic() - healed < 300, f"volumes with one copy 300 s after the heal: {copies}"
                time.sleep(2)
            repairs.append(time.monotonic() - healed)
            print(f"run {run + 1}: {leader} failed; first write {failovers[-1]:.1f} s after the kill, no write "
                  f"for {windows[-1]:.1f} s; back as sync replica {rejoins[-1]:.1f} s after `lab heal`; first S3 "
                  f"write {s3_windows[-1]:.1f} s after the kill; two copies of every volume {repairs[-1]:.1f} s "
                  f"after `lab heal`; no OIDC token for {token_windows[-1]:.1f} s")
        # the synchronous replica's host falls silent (its link cut, its processes left running): every commit
        # waits for it until the leader's WAL sender gives it up (patroni.WAL_SENDER_TIMEOUT), then goes on alone
        stalls = []
        for run in range(min(RUNS, 3)):
            time.sleep(3)
            replica = next(h for h, r in ha.roles("database").items() if r == "sync_replica")
            assert lab.cli("partition", replica).rc == 0
            cut = time.monotonic()
            wait_for(writer.times, cut, 180, "write after the replica's cut")
            stalls.append(writer.gap_around(cut))
            _, took = heal_as_sync_replica(ha, replica)
            print(f"replica run {run + 1}: {replica} cut; no write for {stalls[-1]:.1f} s; back as sync replica "
                  f"{took:.1f} s after `lab heal`")
        # the identity host the edges prefer dies (a portal and the second edge), members signing in all along
        prober = LoginProber(ha)
        prober.start()
        logins, slowest, login_failures, kept = [], [], [], []
        preferred = read_placement(ha.home).services["identity"].host  # type: ignore[union-attr]
        for run in range(RUNS):
            time.sleep(12)  # the edges prefer the healed portal again once its fail_timeout (10 s) is over
            assert lab.cli("fail", preferred).rc == 0
            killed = time.monotonic()
            time.sleep(15)  # the edge's fail_timeout (10 s) and the fence's 2.5 s, with room
            wait_for([a[1] for a in prober.attempts if a[2]], killed, 60, "sign-in")
            wait_for(tokens.times, killed, 60, "OIDC token")
            unavailable, slow, failed = prober.around(killed, 15)
            logins.append(unavailable)
            slowest.append(slow)
            login_failures.append(failed)
            kept.append(tokens.gap_around(killed))
            healed = time.monotonic()
            assert lab.cli("heal", preferred, timeout=600).rc == 0
            while not all(s["healthy"] for s in ha.status() if s["host"] == preferred):
                assert time.monotonic() - healed < 180, f"{preferred} not healthy 180 s after `lab heal`"
                time.sleep(2)
            print(f"identity run {run + 1}: {preferred} failed; sign-ins unavailable for {unavailable:.1f} s "
                  f"({failed} failed), slowest sign-in {slow:.1f} s; the kept-alive token client's window "
                  f"{kept[-1]:.1f} s; healthy again {time.monotonic() - healed:.1f} s after `lab heal`")
        prober.stop.set()
        login_count = len(prober.attempts)
        writer.stop.set()
        s3_writer.stop.set()
        tokens.stop.set()
        writer.join(10)
        s3_writer.join(30)
        s3_lost = s3_writer.lost()
        with psycopg.connect(**info, autocommit=True) as conn:
            have = {r[0] for r in conn.execute("SELECT n FROM acked").fetchall()}
        lost = [n for n in writer.acked if n not in have]
        print(f"database failover (first write after the kill): median {statistics.median(failovers):.1f} s "
              f"(min {min(failovers):.1f}, max {max(failovers):.1f}; goal <= 30 s, repmgr's documented ~60 s)")
        print(f"write unavailability window: median {statistics.median(windows):.1f} s")
        print(f"failed host back as a synchronous replica after `lab heal`: median {statistics.median(rejoins):.1f} s")
        print(f"write stall when the synchronous replica's host falls silent: median {statistics.median(stalls):.1f} s "
              f"(max {max(stalls):.1f}; PostgreSQL's default wal_sender_timeout would make it ~60 s)")
        print(f"acknowledged writes: {len(writer.acked)}, lost: {len(lost)} (goal 0)")
        print(f"S3 writes after a volume host's crash (link cut: the host falls silent): first acknowledged write "
              f"median {statistics.median(s3_windows):.1f} s (min {min(s3_windows):.1f}, max {max(s3_windows):.1f}; "
              "goal <= 5 s)")
        print(f"two copies of every volume again after `lab heal`: median {statistics.median(repairs):.1f} s")
        print(f"acknowledged S3 objects: {len(s3_writer.acked)}, lost or differing: {len(s3_lost)} (goal 0)")
        print(f"OIDC tokens through the edge when the host of the database's leader dies: no token for "
              f"median {statistics.median(token_windows):.1f} s (min {min(token_windows):.1f}, "
              f"max {max(token_windows):.1f}: the database's failover)")
        print(f"sign-ins through the edge when the identity host the edges prefer dies: unavailable for median "
              f"{statistics.median(logins):.1f} s (max {max(logins):.1f}; goal 0 s), {sum(login_failures)} failed "
              f"of {login_count}; slowest sign-in median {statistics.median(slowest):.1f} s (max {max(slowest):.1f}); "
              f"the kept-alive token client's window median {statistics.median(kept):.1f} s (max {max(kept):.1f})")
    finally:
        ha.cli("down", timeout=300)
        stop_lab(lab)


if __name__ == "__main__":
    main()
