"""Backups broker: the agency's database is inside the platform's pgBackRest backups (the whole cluster);
on top, a per-agency encrypted restic repository in the backup bucket whose password only the platform holds."""

from __future__ import annotations

import subprocess
from typing import Any

from govcloud_platform.box.context import Box
from govcloud_platform.box.secrets import new_password
from govcloud_platform.box.services.storage import BACKUP_BUCKET, backup_keys, weed_shell
from govcloud_platform.brokers.base import Broker
from govcloud_platform.errors import ServiceError, last_line
from govcloud_platform.names import restic_prefix
from govcloud_platform.spec import Quota


def restic_repo(box: Box, slug: str) -> str:
    return f"s3:{box.s3_endpoint}/{BACKUP_BUCKET}/{restic_prefix(slug).rstrip('/')}"


def restic(box: Box, slug: str, password: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run restic against the agency's repository; the password goes through the environment only."""
    access, secret = backup_keys(box)
    env = box.child_env({
        "AWS_ACCESS_KEY_ID": access,
        "AWS_SECRET_ACCESS_KEY": secret,
        "RESTIC_PASSWORD": password,
        "RESTIC_REPOSITORY": restic_repo(box, slug),
        "RESTIC_CACHE_DIR": str(box.dir("restic-cache")),
    })
    return subprocess.run(
        ["restic", "-o", "s3.bucket-lookup=path", "--cacert", str(box.ca_file), *args],
        env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )


def repository_exists(box: Box, slug: str) -> bool:
    s3 = box.s3_client()
    resp = s3.list_objects_v2(Bucket=BACKUP_BUCKET, Prefix=restic_prefix(slug) + "config", MaxKeys=1)
    return bool(resp.get("Contents"))


def ensure_repository(box: Box, slug: str, password: str) -> bool:
    """Create the agency's encrypted restic repository if it does not exist; True if created.
    An existing repository is never overwritten (a wrong key is an error, not a re-init)."""
    if repository_exists(box, slug):
        return False
    init = restic(box, slug, password, "init", timeout=120)
    if init.returncode != 0:
        raise ServiceError(f"restic init for {slug} failed: {last_line(init.stderr, f'exit {init.returncode}')}")
    return True


class BackupsBroker(Broker):
    service = "backups"

    def new_credentials(self, box: Box, slug: str) -> dict[str, Any]:
        return {"restic_password": new_password(32)}

    def provision(self, box: Box, slug: str, name: str, quota: Quota, creds: dict[str, Any], new: bool = False) -> None:
        # The key is generated and stored (encrypted) by onboarding; the repository itself is created on the
        # agency's first backup (`ensure_repository`): restic's key derivation costs ~2 s per repository.
        return None

    def bind(self, box: Box, slug: str, creds: dict[str, Any]) -> dict[str, Any]:
        # The restic password stays with the platform: agencies get where their backups are, not the key.
        return {"repository": restic_repo(box, slug), "pgbackrest_stanza": "govcloud", "encrypted": True}

    def deprovision(self, box: Box, slug: str, purge: bool) -> None:
        if not purge:
            return
        s3 = box.s3_client()
        prefix = restic_prefix(slug)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BACKUP_BUCKET, Prefix=prefix):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=BACKUP_BUCKET, Delete={"Objects": keys, "Quiet": True})
        # restic's empty `keys/` directory outlives its objects in the filer (S3 lists it as a prefix, and
        # `doctor` took it for an orphaned repository); a path already gone is no error.
        weed_shell(box, [f"fs.rm -r /buckets/{BACKUP_BUCKET}/{prefix.rstrip('/')}"])

    def usage(self, box: Box, slug: str) -> dict[str, Any]:
        s3 = box.s3_client()
        total = 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BACKUP_BUCKET, Prefix=restic_prefix(slug)):
            total += sum(int(o["Size"]) for o in page.get("Contents", []))
        return {"bytes": total}

    def taken(self, box: Box, slugs: list[str]) -> dict[str, list[str]]:
        candidates = slugs if len(slugs) == 1 else [s for s in _repositories(box) if s in set(slugs)]
        return {s: [f"restic repository {BACKUP_BUCKET}/{restic_prefix(s)}"] for s in candidates
                if _holds_objects(box, s)}

    def orphans(self, box: Box, known: set[str]) -> list[str]:
        return [f"restic repository {r} (data kept)" for r in _repositories(box)
                if r not in known and _holds_objects(box, r)]


def _holds_objects(box: Box, slug: str) -> bool:
    """SeaweedFS keeps a folder after its last object is deleted: only objects make a repository."""
    listing = box.s3_client().list_objects_v2(Bucket=BACKUP_BUCKET, Prefix=restic_prefix(slug), MaxKeys=1)
    return bool(listing.get("Contents"))


def _repositories(box: Box) -> list[str]:
    """The names under `restic/` in the backup bucket (every page)."""
    pages = box.s3_client().get_paginator("list_objects_v2").paginate(
        Bucket=BACKUP_BUCKET, Prefix="restic/", Delimiter="/")
    return [p["Prefix"].split("/")[1] for page in pages for p in page.get("CommonPrefixes", [])]
