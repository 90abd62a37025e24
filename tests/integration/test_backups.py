"""Backups on a real box: write -> back up -> destroy -> restore -> identical; point-in-time recovery;
isolation of agency restores; consistency under concurrent writes; object storage failing mid-backup;
encryption at rest in the backup bucket."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import psycopg
import pytest
from botocore.config import Config

from govcloud_platform.backups import cluster
from govcloud_platform.box.services.storage import BACKUP_BUCKET
from govcloud_platform.box.supervisor import Supervisor
from tests.conftest import BoxHandle, assert_one_error

pytestmark = pytest.mark.integration
ALPHA, BETA, GAMMA = "bk-alpha", "bk-beta", "bk-gamma"
LIST_KEYS = {"id", "scope", "type", "started", "finished", "bytes"}


# --- helpers ----------------------------------------------------------------------------------------
def connect(creds: dict[str, Any]) -> psycopg.Connection[Any]:
    db = creds["database"]
    return psycopg.connect(host=db["host"], port=db["port"], dbname=db["dbname"], user=db["user"],
                           password=db["password"], sslmode="verify-full", sslrootcert=db["sslrootcert"],
                           autocommit=True)


def s3_for(creds: dict[str, Any]) -> Any:
    st = creds["storage"]
    cfg = Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required",
                 response_checksum_validation="when_required", retries={"max_attempts": 2})
    return boto3.session.Session().client(
        "s3", endpoint_url=st["endpoint"], aws_access_key_id=st["access_key"], aws_secret_access_key=st["secret_key"],
        region_name="us-east-1", verify=st["ca_file"], config=cfg)


def rows(creds: dict[str, Any], table: str = "records") -> list[tuple[Any, ...]]:
    with connect(creds) as conn:
        return conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()  # noqa: S608 - fixed names


def objects(creds: dict[str, Any]) -> dict[str, str]:
    s3, bucket = s3_for(creds), creds["storage"]["bucket"]
    out = {}
    for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        out[obj["Key"]] = hashlib.sha256(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()).hexdigest()
    return out


def seed(creds: dict[str, Any], marker: str = "") -> None:
    """Rows of many types (NULLs, unicode, bytea, json, numeric, time) and objects with awkward keys."""
    with connect(creds) as conn:
        conn.execute("""CREATE TABLE IF NOT EXISTS records (
            id bigserial PRIMARY KEY, title text, amount numeric(12,2), doc jsonb, raw bytea,
            at timestamptz DEFAULT now(), flag boolean)""")
        conn.execute("""INSERT INTO records (title, amount, doc, raw, flag)
            SELECT 'record ' || g || ' ü€', g * 1.25, jsonb_build_object('n', g, 'tags', ARRAY['a', 'b']),
                   decode(md5(g::text), 'hex'), CASE WHEN g % 3 = 0 THEN NULL ELSE g % 2 = 0 END
            FROM generate_series(1, 2000) g""")
        if marker:
            conn.execute("INSERT INTO records (title) VALUES (%s)", (marker,))
    s3, bucket = s3_for(creds), creds["storage"]["bucket"]
    for key, body in {"a.txt": b"hello", "deep/nested/b.bin": os.urandom(300_000), "empty": b"",
                      "odd key ü (1).json": b'{"x": 1}', "big.bin": os.urandom(3_000_000)}.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    if marker:
        s3.put_object(Bucket=bucket, Key="marker.txt", Body=marker.encode() * 50)


def destroy(box: BoxHandle, creds: dict[str, Any]) -> None:
    with box.box().pg_admin() as conn:
        conn.execute(f'DROP DATABASE "{creds["database"]["dbname"]}" WITH (FORCE)')
    s3, bucket = s3_for(creds), creds["storage"]["bucket"]
    for key in list(objects(creds)):
        s3.delete_object(Bucket=bucket, Key=key)


def ok(result: Any) -> Any:
    assert result.rc == 0, result.stderr[-1500:]
    return result.json() if result.stdout.strip() else None


@pytest.fixture(scope="module")
def agencies(box: BoxHandle) -> Iterator[dict[str, dict[str, Any]]]:
    ok(box.cli("--json", "apply"))
    creds = {}
    for slug in (ALPHA, BETA, GAMMA):
        ok(box.cli("--json", "agency", "add", slug, "--name", f"Backup test {slug}"))
        creds[slug] = ok(box.cli("--json", "agency", "credentials", slug, "--show-secrets"))
    seed(creds[ALPHA])
    seed(creds[BETA])
    yield creds


# --- tests ------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_backup_destroy_restore_is_identical_row_by_row_and_object_by_object(
        box: BoxHandle, agencies: dict[str, Any]) -> None:
    creds = agencies[ALPHA]
    before_rows, before_objects = rows(creds), objects(creds)
    record = ok(box.cli("--json", "backup", "run", "--agency", ALPHA))
    assert set(record) == LIST_KEYS and record["scope"] == f"agency:{ALPHA}" and record["bytes"] > 3_000_000
    listed = ok(box.cli("--json", "backup", "list", "--agency", ALPHA))
    assert record["id"] in [b["id"] for b in listed["backups"]]
    assert all(set(b) == LIST_KEYS for b in listed["backups"])

    destroy(box, creds)
    assert objects(creds) == {}
    refused = box.cli("backup", "restore", "--agency", ALPHA)  # no --yes, no terminal
    assert refused.rc == 2 and "--yes" in refused.stderr
    report = ok(box.cli("--json", "backup", "restore", "--agency", ALPHA, "--snapshot", record["id"], "--yes"))
    assert report["backup"] == record["id"]

    assert rows(creds) == before_rows
    assert objects(creds) == before_objects
    with connect(creds) as conn:  # the agency still owns its data and can write
        conn.execute("INSERT INTO records (title) VALUES ('after restore')")
    audit = box.box()
    from govcloud_platform.state.registry import Registry

    log = Registry(audit.home).audit_log(limit=20, target=ALPHA)
    assert {("backup run", "ok"), ("backup restore", "ok")} <= {(e["command"], e["result"]) for e in log}


def scratch_databases(box: BoxHandle) -> list[str]:
    with box.box().pg_admin() as conn:
        return [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'govcloud\\_%'")]


@pytest.mark.slow
@pytest.mark.parametrize("point", ["swap", "objects"])
def test_in_place_restore_failing_half_way_rolls_back_then_a_rerun_succeeds(
        box: BoxHandle, agencies: dict[str, Any], point: str) -> None:
    """`swap`: every database swapped in, bucket untouched; `objects`: half of the bucket written."""
    creds = agencies[ALPHA]
    record = ok(box.cli("--json", "backup", "run", "--agency", ALPHA))
    backup_rows, backup_objects = rows(creds), objects(creds)
    with connect(creds) as conn:  # live changes after the backup: the restore would undo them
        conn.execute("INSERT INTO records (title) VALUES ('written after the backup')")
        conn.execute("UPDATE records SET title = 'changed after the backup' WHERE id = 1")
    s3, bucket = s3_for(creds), creds["storage"]["bucket"]
    s3.put_object(Bucket=bucket, Key="after-backup.txt", Body=b"new")
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"changed after the backup")
    s3.delete_object(Bucket=bucket, Key="empty")
    live_rows, live_objects = rows(creds), objects(creds)

    failed = box.cli("backup", "restore", "--agency", ALPHA, "--snapshot", record["id"], "--yes",
                     env={"GOVCLOUD_TEST_FAULT": f"restore:fail:{point}"})
    assert failed.rc == 1, failed.stderr
    assert_one_error(failed)
    assert "rolled back" in failed.stderr.strip().splitlines()[-1], failed.stderr
    assert rows(creds) == live_rows  # the agency connects (its database reopened) and sees its own data
    assert objects(creds) == live_objects
    assert scratch_databases(box) == []  # neither the restored copies nor the old databases are left
    with connect(creds) as conn:
        conn.execute("INSERT INTO records (title) VALUES ('still writable')")

    ok(box.cli("--json", "backup", "restore", "--agency", ALPHA, "--snapshot", record["id"], "--yes"))
    assert rows(creds) == backup_rows
    assert objects(creds) == backup_objects
    assert scratch_databases(box) == []


@pytest.mark.slow
def test_platform_point_in_time_restore_between_two_writes(box: BoxHandle, agencies: dict[str, Any]) -> None:
    creds = agencies[GAMMA]
    full = ok(box.cli("--json", "backup", "run", "--type", "full"))
    assert full["scope"] == "platform" and full["type"] == "full"
    listed = ok(box.cli("--json", "backup", "list"))
    assert full["id"] in [b["id"] for b in listed["backups"]]
    with connect(creds) as conn:
        conn.execute("CREATE TABLE pitr (id int PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())")
        conn.execute("INSERT INTO pitr (id) VALUES (1)")
        time.sleep(1.1)  # backups end in whole seconds (cluster.backup_set_for): a later second than the backup's
        between = conn.execute("SELECT clock_timestamp()").fetchone()[0]  # type: ignore[index]
        time.sleep(0.5)
        conn.execute("INSERT INTO pitr (id) VALUES (2)")
    with cluster.scratch_restore(box.box(), between.isoformat(), scan_tables=False) as scratch:
        assert scratch.port != box.box().ports.postgres
        with scratch.connect("ag_" + GAMMA.replace("-", "_")) as conn:
            assert [r[0] for r in conn.execute("SELECT id FROM pitr ORDER BY id")] == [1]
    report = ok(box.cli("--json", "backup", "restore", "--platform", "--to",
                        between.astimezone(dt.UTC).isoformat()))
    assert report["in_place"] is False and report["rto_seconds"] > 0
    assert report["databases"]["ag_" + GAMMA.replace("-", "_")]["public.pitr"] == 1
    with connect(creds) as conn:  # the live cluster was not touched
        assert [r[0] for r in conn.execute("SELECT id FROM pitr ORDER BY id")] == [1, 2]


@pytest.mark.slow
def test_restoring_one_agency_leaves_another_untouched_while_it_writes(
        box: BoxHandle, agencies: dict[str, Any]) -> None:
    alpha, beta = agencies[ALPHA], agencies[BETA]
    ok(box.cli("--json", "backup", "run", "--agency", ALPHA))
    beta_rows, beta_objects = rows(beta), objects(beta)
    stop, written = threading.Event(), []

    def write_beta() -> None:
        with connect(beta) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS journal (id serial PRIMARY KEY, n int)")
            n = 0
            while not stop.is_set():
                conn.execute("INSERT INTO journal (n) VALUES (%s)", (n,))
                written.append(n)
                n += 1
                time.sleep(0.01)

    thread = threading.Thread(target=write_beta)
    thread.start()
    try:
        time.sleep(0.5)
        ok(box.cli("--json", "backup", "restore", "--agency", ALPHA, "--yes"))
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join()
    assert len(written) > 20
    assert rows(beta) == beta_rows
    assert objects(beta) == beta_objects
    with connect(beta) as conn:
        assert [r[0] for r in conn.execute("SELECT n FROM journal ORDER BY id")] == written
    assert rows(alpha)  # alpha came back


@pytest.mark.slow
def test_backup_taken_during_writes_restores_consistent(box: BoxHandle, agencies: dict[str, Any]) -> None:
    """Transfers keep the total constant and add one ledger line each: a consistent copy shows both."""
    creds = agencies[GAMMA]
    with connect(creds) as conn:
        conn.execute("CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL)")
        conn.execute("CREATE TABLE ledger (id bigserial PRIMARY KEY, src int, dst int, amount int)")
        conn.execute("INSERT INTO accounts SELECT g, 1000 FROM generate_series(1, 100) g")
        conn.execute("CREATE TABLE filler AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 300000) g")
    stop, done = threading.Event(), [0]

    def transfers() -> None:
        with connect(creds) as conn:
            i = 0
            while not stop.is_set():
                src, dst = i % 100 + 1, (i * 7) % 100 + 1
                with conn.transaction():
                    conn.execute("UPDATE accounts SET balance = balance - 5 WHERE id = %s", (src,))
                    conn.execute("UPDATE accounts SET balance = balance + 5 WHERE id = %s", (dst,))
                    conn.execute("INSERT INTO ledger (src, dst, amount) VALUES (%s, %s, 5)", (src, dst))
                i += 1
                done[0] = i

    thread = threading.Thread(target=transfers)
    thread.start()
    try:
        time.sleep(0.3)
        ok(box.cli("--json", "backup", "run", "--agency", GAMMA))
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join()
    copy = f"{GAMMA}-copy"
    report = ok(box.cli("--json", "backup", "restore", "--agency", GAMMA, "--into", copy))
    assert report["into"] == copy
    copy_creds = ok(box.cli("--json", "agency", "credentials", copy, "--show-secrets"))
    with connect(copy_creds) as conn:
        total, n_accounts = conn.execute("SELECT sum(balance), count(*) FROM accounts").fetchone()  # type: ignore[misc]
        ledger = conn.execute("SELECT count(*) FROM ledger").fetchone()[0]  # type: ignore[index]
    assert (total, n_accounts) == (100_000, 100)
    assert 0 < ledger <= done[0]
    verified = ok(box.cli("--json", "backup", "verify", "--agency", GAMMA))
    assert verified["ok"] and verified["reports"][0]["tables_checked"] >= 4
    assert verified["reports"][0]["restic_check"]["ok"]


@pytest.mark.slow
def test_object_storage_stopped_during_backup_fails_cleanly_then_recovers(
        box: BoxHandle, agencies: dict[str, Any]) -> None:
    creds = agencies[GAMMA]
    with connect(creds) as conn:  # enough to dump that the storage stops while restic is uploading
        conn.execute("CREATE TABLE IF NOT EXISTS bulk AS SELECT g AS id, md5(g::text) || repeat('x', 200) AS v "
                     "FROM generate_series(1, 400000) g")
    start = time.monotonic()
    failed = box.cli("backup", "run", "--agency", GAMMA, env={"GOVCLOUD_TEST_FAULT": "backup:stop:storage"})
    took = time.monotonic() - start
    errors = [line for line in failed.stderr.splitlines() if line.startswith("error:")]  # others: progress
    assert failed.rc == 1, failed.stderr
    assert len(errors) == 1 and "object storage" in errors[0], failed.stderr
    assert took < 120
    sup = Supervisor(box.box())
    deadline = time.monotonic() + 90
    while sup.info()["storage"]["statename"] not in ("STOPPED", "EXITED", "FATAL") and time.monotonic() < deadline:
        time.sleep(1)  # SeaweedFS takes ~17 s to stop
    ok(box.cli("up"))
    record = ok(box.cli("--json", "backup", "run", "--agency", GAMMA))
    verified = ok(box.cli("--json", "backup", "verify", "--agency", GAMMA, "--snapshot", record["id"]))
    assert verified["ok"] and verified["reports"][0]["restic_check"]["ok"], verified
    repo = cluster.verify_repository(box.box())
    assert repo["ok"], repo


@pytest.mark.slow
def test_backups_in_the_bucket_are_encrypted(box: BoxHandle, agencies: dict[str, Any]) -> None:
    marker = "PLAINTEXT-" + os.urandom(12).hex()
    creds = agencies[BETA]
    seed(creds, marker)
    ok(box.cli("--json", "backup", "run", "--agency", BETA))
    ok(box.cli("--json", "backup", "run", "--type", "incr"))
    handle = box.box()
    cluster.archive_now(handle)
    s3 = handle.s3_client()
    needle, scanned = marker.encode(), 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BACKUP_BUCKET):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=BACKUP_BUCKET, Key=obj["Key"])["Body"].read()
            scanned += 1
            assert needle not in body, f"plaintext found in {obj['Key']}"
    assert scanned > 10
    assert cluster.info(handle)["repo"][0]["cipher"] == "aes-256-cbc"


def test_backup_list_without_agency_shows_the_platform_and_every_agency(
        box: BoxHandle, agencies: dict[str, Any]) -> None:
    platform = ok(box.cli("--json", "backup", "run", "--type", "incr"))  # becomes full when there is none yet
    beta = ok(box.cli("--json", "backup", "run", "--agency", BETA))
    listed = ok(box.cli("--json", "backup", "list"))["backups"]
    assert all(set(b) == LIST_KEYS for b in listed)
    by_scope: dict[str, list[str]] = {}
    for b in listed:
        by_scope.setdefault(b["scope"], []).append(b["id"])
    assert platform["id"] in by_scope["platform"] and beta["id"] in by_scope[f"agency:{BETA}"]
    assert [b["started"] for b in listed] == sorted(b["started"] for b in listed)
    only_beta = ok(box.cli("--json", "backup", "list", "--agency", BETA))["backups"]
    assert only_beta == [b for b in listed if b["scope"] == f"agency:{BETA}"]


def test_scheduler_runs_under_supervisor_and_status_reports(box: BoxHandle, agencies: dict[str, Any]) -> None:
    from govcloud_platform.backups import schedule

    handle = box.box()
    info = Supervisor(handle).info()
    assert info["backup-scheduler"]["statename"] == "RUNNING"
    doc = ok(box.cli("--json", "status"))
    assert next(s for s in doc["services"] if s["name"] == "backups")["healthy"]
    status = box.cli("--json", "backup", "status")
    report = status.json()
    scopes = {r["scope"]: r for r in report["backups"]}
    assert {"platform", f"agency:{ALPHA}", f"agency:{BETA}"} <= set(scopes)
    assert status.rc == (0 if report["ok"] else 1)
    late = schedule.status(handle, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=9))
    assert not any(r.ok for r in late if r.scope.startswith("agency:bk-"))


def test_bad_input_exits_2(box: BoxHandle, agencies: dict[str, Any]) -> None:
    assert box.cli("backup", "run", "--type", "weekly").rc == 2
    assert box.cli("backup", "restore").rc == 2
    assert box.cli("backup", "restore", "--platform", "--to", "yesterday-ish").rc == 2
    assert box.cli("backup", "restore", "--platform", "--in-place").rc == 2
    assert box.cli("backup", "list", "--agency", "no-such-agency").rc == 2
    taken = box.cli("backup", "restore", "--agency", ALPHA, "--into", BETA)
    assert taken.rc == 4, taken.stderr
