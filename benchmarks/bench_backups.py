"""Backup benchmark on a generated database of about 1 GB (pgbench scale 70) in a private box.

Prints, in one run: raw `pg_dump > /dev/null` time, the agency backup time (`govcloud backup run --agency`)
and their ratio (throughput of the backup against raw; goal >= 0.5) for the first backup (it creates the restic
repository) and for BENCH_RUNS (5) later ones, each paired with a raw dump taken just before (best, median; also
against raw over the Unix socket, the transport the backup uses; the load average of each pair); the agency
restore time after the database was dropped (logical RTO; goal <= 60 s); a platform full backup, then a
disaster while an agency keeps committing, the database server is killed (SIGKILL: lost with its unarchived
WAL); a scratch restore from the repository gives the newest restorable transaction, whose age at the disaster
is the RPO (goal <= 60 s, bounded by archive_timeout), and its duration is the platform RTO.
Run: .venv/bin/python benchmarks/bench_backups.py"""

from __future__ import annotations

import json
import os
import random
import signal
import statistics
import subprocess
import threading
import time
from typing import Any

import _common  # noqa: F401 - puts the repository root on sys.path
import psycopg
from tests.conftest import GOVCLOUD, make_box, teardown_box

from govcloud_platform.backups import agency as agency_backups
from govcloud_platform.backups import cluster
from govcloud_platform.box.services.database import PG_BIN
from govcloud_platform.box.supervisor import Supervisor

SCALE = int(os.environ.get("BENCH_SCALE", "70"))
SLUG = "bench"
RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def cli(handle: Any, *args: str) -> tuple[float, Any]:
    start = time.perf_counter()
    proc = subprocess.run([GOVCLOUD, *handle.args("--json", *args)], capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"govcloud {' '.join(args)} failed: {proc.stderr[-500:]}")
    return took, json.loads(proc.stdout) if proc.stdout.strip() else None


def agency_env(creds: dict[str, Any]) -> dict[str, str]:
    db = creds["database"]
    return {**os.environ, "PGHOST": db["host"], "PGPORT": str(db["port"]), "PGUSER": db["user"],
            "PGPASSWORD": db["password"], "PGDATABASE": db["dbname"], "PGSSLMODE": "verify-full",
            "PGSSLROOTCERT": db["sslrootcert"]}


def writer(creds: dict[str, Any], stop: threading.Event, last: dict[str, float]) -> None:
    """Commit a row every 50 ms; remember the time of the last acknowledged commit."""
    db = creds["database"]
    with psycopg.connect(host=db["host"], port=db["port"], dbname=db["dbname"], user=db["user"],
                         password=db["password"], sslmode="verify-full", sslrootcert=db["sslrootcert"],
                         autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS rpo_probe (at timestamptz NOT NULL)")
        while not stop.is_set():
            conn.execute("INSERT INTO rpo_probe VALUES (clock_timestamp())")
            last["at"] = time.time()
            time.sleep(0.05)


def main() -> None:
    handle = make_box("bench-backups")
    figures: dict[str, Any] = {}
    try:
        subprocess.run([GOVCLOUD, *handle.args("up", "--port-base", str(handle.port_base))], check=True,
                       capture_output=True)
        cli(handle, "agency", "add", SLUG, "--name", "Benchmark Agency")
        _, creds = cli(handle, "agency", "credentials", SLUG, "--show-secrets")
        box = handle.box()
        env = agency_env(creds)
        t = time.perf_counter()
        subprocess.run([str(PG_BIN / "pgbench"), "-i", "-q", "-s", str(SCALE)], env=env, check=True,
                       capture_output=True)
        figures["generate_s"] = round(time.perf_counter() - t, 1)
        with box.pg_admin() as conn:
            size = int(conn.execute("SELECT pg_database_size('ag_bench')").fetchone()[0])  # type: ignore[index]
        figures["database_bytes"] = size

        admin = {**env, "PGUSER": "postgres", "PGPASSWORD": box.pg_conninfo()["password"]}
        local_argv, local_how = agency_backups.pg_local(box, "pg_dump", "-d", "ag_bench")

        def raw_dump(local: bool = False) -> float:
            """`pg_dump > /dev/null`: over TLS as the superuser, or over the Unix socket as the backup does."""
            t = time.perf_counter()
            with open(os.devnull, "wb") as sink:
                if local:
                    subprocess.run(local_argv, stdout=sink, check=True, **local_how)
                else:
                    subprocess.run([str(PG_BIN / "pg_dump"), "-d", "ag_bench"], env=admin, stdout=sink, check=True)
            return time.perf_counter() - t

        raw_dump()  # warm the page cache
        # Where the time goes: the dump as the backup makes it, alone (custom format, gzip -1, no restic).
        argv, how = agency_backups.pg_local(box, "pg_dump", "-Fc", agency_backups.DUMP_COMPRESSION, "-d", "ag_bench")
        t = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, check=True, **how)
        figures["pg_dump_custom_alone_s"] = round(time.perf_counter() - t, 2)

        # The agency's first backup: it also creates the restic repository (~2.5 s, overlapped by the dump).
        raw_first = raw_dump()
        backup_s, record = cli(handle, "backup", "run", "--agency", SLUG)
        figures["raw_pg_dump_s"] = round(raw_first, 2)
        figures["agency_backup_s"] = round(backup_s, 2)
        figures["agency_backup_bytes"] = record["bytes"]
        figures["throughput_mb_s"] = round(size / backup_s / 1e6, 1)
        figures["raw_throughput_mb_s"] = round(size / raw_first / 1e6, 1)
        figures["throughput_ratio"] = round(raw_first / backup_s, 2)
        # Later (daily) backups of the same data, each next to a raw dump taken just before it (other work on
        # the machine moves both): best and median of the pairs' ratios, raw over TLS and over the Unix socket.
        pairs: list[tuple[float, float, float, float]] = []
        for _ in range(RUNS):
            tls, local, load = raw_dump(), raw_dump(local=True), os.getloadavg()[0]
            again_s, _ = cli(handle, "backup", "run", "--agency", SLUG)
            pairs.append((tls, local, again_s, load))
        ratios = [tls / b for tls, _, b, _ in pairs]
        strict = [local / b for _, local, b, _ in pairs]
        figures["agency_backup_again_s"] = [round(b, 2) for _, _, b, _ in pairs]
        figures["raw_pg_dump_runs_s"] = [round(tls, 2) for tls, _, _, _ in pairs]
        figures["raw_pg_dump_socket_runs_s"] = [round(local, 2) for _, local, _, _ in pairs]
        figures["throughput_ratio_again_best"] = round(max(ratios), 2)
        figures["throughput_ratio_again_median"] = round(statistics.median(ratios), 2)
        figures["throughput_ratio_again_vs_socket_median"] = round(statistics.median(strict), 2)
        figures["load_1min"] = [round(load, 1) for *_, load in pairs]

        full_s, _ = cli(handle, "backup", "run", "--type", "full")
        figures["platform_full_backup_s"] = round(full_s, 2)

        # RPO: a disaster at a random moment while the agency keeps committing.
        stop, last = threading.Event(), {"at": 0.0}
        thread = threading.Thread(target=writer, args=(creds, stop, last), daemon=True)
        thread.start()
        time.sleep(box.spec.platform.services.backups.archive_timeout_s + random.uniform(5, 25))
        stop.set()
        thread.join()
        disaster = last["at"]
        # The disaster: the database server is lost at once (SIGKILL; supervisord does not restart it), so
        # no WAL written after the last archived segment can reach the repository any more.
        db_pid = int(Supervisor(box).info()["database"]["pid"])
        os.kill(db_pid, signal.SIGKILL)
        t = time.perf_counter()
        with cluster.scratch_restore(box, None, scan_tables=False, flush=False) as scratch:
            platform_rto = time.perf_counter() - t
            with scratch.connect("ag_bench") as conn:
                newest = conn.execute("SELECT extract(epoch FROM max(at)) FROM rpo_probe").fetchone()
        newest_at = float(newest[0]) if newest and newest[0] is not None else float("nan")
        figures["archive_timeout_s"] = box.spec.platform.services.backups.archive_timeout_s
        figures["rpo_s"] = round(disaster - newest_at, 1)
        figures["platform_rto_s"] = round(platform_rto, 1)
        subprocess.run([GOVCLOUD, *handle.args("up")], check=True, capture_output=True)  # back to service

        # Logical RTO: the agency's database is lost; restore it from its restic repository.
        with box.pg_admin() as conn:
            rows = conn.execute("SELECT 1").fetchone()
        with psycopg.connect(**box.pg_conninfo("ag_bench")) as conn:
            before = conn.execute("SELECT count(*), sum(abalance) FROM pgbench_accounts").fetchone()
        with box.pg_admin() as conn:
            conn.execute("DROP DATABASE ag_bench WITH (FORCE)")
        rto_s, report = cli(handle, "backup", "restore", "--agency", SLUG, "--yes")
        with psycopg.connect(**box.pg_conninfo("ag_bench")) as conn:
            after = conn.execute("SELECT count(*), sum(abalance) FROM pgbench_accounts").fetchone()
        assert rows and before == after, (before, after)
        figures["agency_rto_s"] = round(rto_s, 1)
    finally:
        teardown_box(handle)
        print(json.dumps({"figures": figures}), flush=True)
    goals = {"throughput_ratio": figures["throughput_ratio"] >= 0.5,
             "throughput_ratio_again_median": figures["throughput_ratio_again_median"] >= 0.5,
             "agency_rto": figures["agency_rto_s"] <= 60, "platform_rto": figures["platform_rto_s"] <= 60,
             "rpo": figures["rpo_s"] <= 60}
    print(json.dumps({"figures": figures, "goals_met": goals, "uptime": os.popen("uptime").read().strip()},  # noqa: S605
                     indent=2))


if __name__ == "__main__":
    main()
