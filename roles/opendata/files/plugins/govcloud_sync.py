"""Datasette plugin: publish the agency's CSV files from `opendata/` in its bucket as tables.

A background thread lists the prefix every OPENDATA_SYNC_INTERVAL seconds and (re)loads each CSV whose ETag
changed into the instance's SQLite database; tables whose CSV disappeared are dropped. Credentials come from
the instance's 0600 env file (OPENDATA_ENV_FILE)."""

import csv
import io
import logging
import os
import re
import threading
import time
from pathlib import Path

from datasette import hookimpl

log = logging.getLogger("govcloud.opendata")
STATE_TABLE = "_govcloud_sync"


def _env(path):
    out = {}
    for line in Path(path).read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def _table_name(key, prefix):
    stem = key[len(prefix):].rsplit(".", 1)[0]
    return re.sub(r"[^A-Za-z0-9_]+", "_", stem).strip("_").lower() or "data"


def _client(env):
    import boto3
    from botocore.config import Config

    cfg = Config(signature_version="s3v4", s3={"addressing_style": "path"},
                 request_checksum_calculation="when_required", response_checksum_validation="when_required",
                 retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=30)
    return boto3.session.Session().client(
        "s3", endpoint_url=env["S3_ENDPOINT"], aws_access_key_id=env["S3_ACCESS_KEY"],
        aws_secret_access_key=env["S3_SECRET_KEY"], region_name="us-east-1", verify=env["CA_FILE"], config=cfg)


def sync_once(env, db_path):
    import sqlite_utils
    from sqlite_utils.utils import TypeTracker

    prefix = env.get("OPENDATA_PREFIX", "opendata/")
    s3 = _client(env)
    db = sqlite_utils.Database(db_path)
    db.enable_wal()
    state = {r["key"]: r for r in db[STATE_TABLE].rows} if STATE_TABLE in db.table_names() else {}
    seen = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=env["S3_BUCKET"], Prefix=prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            if not key.lower().endswith(".csv"):
                continue
            seen.add(key)
            table = _table_name(key, prefix)
            if key in state and state[key]["etag"] == obj["ETag"] and table in db.table_names():
                continue
            body = s3.get_object(Bucket=env["S3_BUCKET"], Key=key)["Body"].read().decode("utf-8-sig")
            rows = list(csv.DictReader(io.StringIO(body)))
            tracker = TypeTracker()
            with db.conn:
                db[table].drop(ignore=True)
                if rows:
                    db[table].insert_all(tracker.wrap(rows))
                    db[table].transform(types=tracker.types)
                db[STATE_TABLE].upsert({"key": key, "etag": obj["ETag"], "table": table, "rows": len(rows),
                                        "synced_at": time.time()}, pk="key")
            log.warning("published %s as table %s (%d rows)", key, table, len(rows))
    for key, row in state.items():
        if key not in seen:
            db[row["table"]].drop(ignore=True)
            db[STATE_TABLE].delete(key)
            log.warning("unpublished %s", key)


def _loop(env_file, db_path, interval):
    while True:
        try:
            sync_once(_env(env_file), db_path)
        except Exception as exc:  # noqa: BLE001 - keep serving; try again next round
            log.warning("sync failed: %s", type(exc).__name__)
        time.sleep(interval)


@hookimpl
def startup(datasette):
    env_file = os.environ.get("OPENDATA_ENV_FILE")
    db_path = os.environ.get("OPENDATA_DB")
    if not env_file or not db_path:
        return
    interval = float(os.environ.get("OPENDATA_SYNC_INTERVAL", "5"))
    threading.Thread(target=_loop, args=(env_file, db_path, interval), name="opendata-sync", daemon=True).start()
