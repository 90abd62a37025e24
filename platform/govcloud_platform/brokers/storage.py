"""Object-storage broker: a bucket per agency and an S3 identity allowed only on it, applied to the running
SeaweedFS (no restart). Bucket quota set in SeaweedFS and enforced by `s3.bucket.quota.enforce`."""

from __future__ import annotations

import os
from typing import Any

from govcloud_platform.box.context import Box
from govcloud_platform.box.secrets import new_password
from govcloud_platform.box.services.storage import (
    bucket_actions,
    dynamic_identities,
    dynamic_identity,
    open_weed_shell,
    weed_shell,
)
from govcloud_platform.box.services.storage_probe import unwritable
from govcloud_platform.brokers.base import Broker, Provisioning, in_parallel, naming
from govcloud_platform.errors import ServiceError
from govcloud_platform.names import bucket as bucket_of
from govcloud_platform.names import parse_bucket, s3_identity
from govcloud_platform.spec import Quota


def identity_commands(
    box: Box, name: str, access_key: str, secret_key: str, buckets: list[str],
    known: dict[str, dict[str, Any]] | None = None,
) -> list[str]:
    """weed shell commands that make the live identity `name` hold exactly this key and these bucket actions
    (none when it already does). `known`: the live identities if the caller has them (each lookup costs a
    weed shell session)."""
    wanted = sorted(a for b in buckets for a in bucket_actions(b))
    current = known.get(name) if known is not None else dynamic_identity(box, name)
    commands = []
    if current is not None:
        # the filer stores proto field names (access_key); `s3.iam.export` prints camelCase (accessKey)
        keys = [(c.get("accessKey", c.get("access_key")), c.get("secretKey", c.get("secret_key")))
                for c in current.get("credentials", [])]
        if keys == [(access_key, secret_key)] and sorted(current.get("actions", [])) == wanted:
            return []
        commands.append(f"s3.user.delete -name={name}")
    for i, bucket in enumerate(buckets):
        creds = f" -access_key={access_key} -secret_key={secret_key}" if i == 0 else ""
        commands.append(
            f"s3.configure -user={name}{creds} -buckets={bucket} -actions=Read,Write,List,Tagging -apply"
        )
    return commands


def ensure_identity(box: Box, name: str, access_key: str, secret_key: str, buckets: list[str]) -> None:
    commands = identity_commands(box, name, access_key, secret_key, buckets)
    if commands:
        weed_shell(box, commands)


def ensure_bucket(box: Box, bucket: str) -> bool:
    """Create the bucket if missing; True if created."""
    s3 = box.s3_client()
    try:
        s3.head_bucket(Bucket=bucket)
        return False
    except s3.exceptions.ClientError:
        s3.create_bucket(Bucket=bucket)
        return True


def require_writable(box: Box, slugs: list[str]) -> None:
    """Each agency's bucket that holds nothing yet takes its first write (`storage_probe.first_write_probe`), or
    one error naming the first that does not: an agency is never `ready` with a bucket that refuses every upload
    (a collection that cannot grow its first volume answers listings and reads, and `InternalError` to every
    PUT). A bucket holding data is left to `doctor`: over its quota it is read-only by design, which must not
    fail an `apply` that changes something else."""
    buckets = {bucket_of(slug): slug for slug in slugs}
    bad = unwritable(box.s3_client(), buckets, first_write=True)
    if bad:
        bucket, reason = sorted(bad.items())[0]
        raise ServiceError(
            f"agency {buckets[bucket]}: bucket {bucket} cannot take a write ({reason})",
            hint="see `govcloud logs storage` (no free volume slot or disk? `govcloud doctor` probes growth and "
                 "every bucket), then re-run the same command: it converges",
        )


def quota_command(bucket: str, quota_gb: float) -> str:
    return f"s3.bucket.quota -name={bucket} -op=set -sizeMB={max(1, round(quota_gb * 1024))}"


def enforce_quotas(box: Box) -> list[str]:
    """SeaweedFS's own enforcement: every bucket over its quota becomes read-only (and writable again once
    under it). Sizes come from the master's statistics, which lag writes by a few seconds: run it
    periodically (the box's scheduler does, every minute). Returns the buckets it switched."""
    out = weed_shell(box, ["s3.bucket.quota.enforce -apply"])
    return [line.split("bucket", 1)[1].split()[0] for line in out.splitlines() if "changing bucket" in line]


def delete_bucket(box: Box, bucket: str) -> None:
    s3 = box.s3_client()
    if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        return
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    s3.delete_bucket(Bucket=bucket)


def bucket_bytes(box: Box, bucket: str) -> tuple[int, int]:
    s3 = box.s3_client()
    total = count = 0
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                total += int(obj["Size"])
                count += 1
    except s3.exceptions.NoSuchBucket:
        return 0, 0
    return total, count


class StorageBroker(Broker):
    service = "storage"

    def new_credentials(self, box: Box, slug: str) -> dict[str, Any]:
        return {"access_key": "AG" + os.urandom(9).hex().upper(), "secret_key": new_password(30)}

    def commands(
        self, box: Box, slug: str, quota: Quota, creds: dict[str, Any], known: dict[str, dict[str, Any]] | None = None
    ) -> list[str]:
        """Create the bucket, and return the weed shell commands that set its quota and converge the identity.
        `apply` runs the commands of many agencies in one session (a session costs ~0.3 s)."""
        bucket = bucket_of(slug)
        ensure_bucket(box, bucket)
        commands = [quota_command(bucket, quota.storage_gb)]
        return commands + identity_commands(box, s3_identity(slug), creds["access_key"], creds["secret_key"],
                                            [bucket], known)

    def provision(self, box: Box, slug: str, name: str, quota: Quota, creds: dict[str, Any], new: bool = False) -> None:
        """One weed shell session (~0.3 s, most of it the session's start). New credentials: a blind delete
        of any leftover identity of that name, then its configuration; otherwise the live identity is looked
        up first (another session) so that a converged agency's keys never blink."""
        if not new:
            weed_shell(box, self.commands(box, slug, quota, creds))
            require_writable(box, [slug])
            return
        identity = s3_identity(slug)
        session = open_weed_shell(box)  # starts while the bucket is made; given commands once it exists
        try:
            commands = self.commands(box, slug, quota, creds, known={})  # as if no identity of that name existed
        except BaseException:
            session.kill()
            session.communicate()
            raise
        weed_shell(box, [f"s3.user.delete -name={identity}", *commands], absent_users=frozenset({identity}),
                   session=session)
        require_writable(box, [slug])

    def provision_many(self, box: Box, jobs: list[Provisioning]) -> None:
        """The live identities in one weed shell session, buckets by a few workers (each an S3 round trip),
        then the quota and identity commands of every agency in ONE more session."""
        known = dynamic_identities(box)

        def commands(chunk: list[Provisioning]) -> list[list[str]]:
            out = []
            for job in chunk:
                with naming(job.slug, self.service):
                    out.append(self.commands(box, job.slug, job.quota, job.creds, known))
            return out

        batch = [c for cmds in in_parallel(commands, jobs, workers=4) for c in cmds]
        if batch:
            weed_shell(box, batch, timeout=60 + len(batch))
        require_writable(box, [job.slug for job in jobs])

    def bind(self, box: Box, slug: str, creds: dict[str, Any]) -> dict[str, Any]:
        return {
            "endpoint": box.s3_endpoint,
            "bucket": bucket_of(slug),
            "access_key": creds["access_key"],
            "secret_key": creds["secret_key"],
            "region": "us-east-1",
            "addressing_style": "path",
            "ca_file": str(box.ca_file),
        }

    def deprovision(self, box: Box, slug: str, purge: bool) -> None:
        name = s3_identity(slug)
        if dynamic_identity(box, name) is not None:
            weed_shell(box, [f"s3.user.delete -name={name}"])
        if purge:
            delete_bucket(box, bucket_of(slug))

    def usage(self, box: Box, slug: str) -> dict[str, Any]:
        used, objects = bucket_bytes(box, bucket_of(slug))
        return {"bytes": used, "objects": objects, "enforced": True}

    def orphans(self, box: Box, known: set[str]) -> list[str]:
        """S3 identities and buckets named like an agency's whose agency the registry does not know (or
        named like no agency's at all under the `ag-` prefix)."""
        def foreign(name: str) -> bool:
            owner = parse_bucket(name)
            return name.startswith("ag-") and (owner is None or owner.slug not in known)

        out = [f"S3 identity {n}" for n in dynamic_identities(box) if foreign(n)]
        buckets = [b["Name"] for b in box.s3_client().list_buckets().get("Buckets", [])]
        return out + [f"bucket {b} (data kept)" for b in buckets if foreign(b)]
