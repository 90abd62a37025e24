"""Object-storage broker: a bucket per agency and an S3 identity allowed only on it, applied to the running
SeaweedFS (no restart). Bucket quota set in SeaweedFS and enforced by `s3.bucket.quota.enforce`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from govcloud_platform.box.context import Box
from govcloud_platform.box.secrets import new_password
from govcloud_platform.box.services.storage import (
    FILER_CATCH_UP_S,
    answering_filers,
    bucket_actions,
    clustered,
    dynamic_identities,
    dynamic_identity,
    filer_shell,
    open_weed_shell,
    restart_filer,
    weed_shell,
)
from govcloud_platform.box.services.storage_probe import unwritable
from govcloud_platform.brokers.base import Broker, Provisioning, in_parallel, naming
from govcloud_platform.brokers.limits import Limit
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


def quota_mb(quota_gb: float) -> int:
    """SeaweedFS takes a bucket quota in whole MiB."""
    return max(1, round(quota_gb * 1024))


def quota_bytes(quota_gb: float) -> int:
    """The bucket quota SeaweedFS holds (and `s3.bucket.list` prints) for `storage_gb`."""
    return quota_mb(quota_gb) * 1024 * 1024


CLUSTER_GRACE_S = 25.0  # how long a storage cluster's new bucket may refuse its first write (a master election)


def require_writable(box: Box, slugs: list[str]) -> None:
    """Each agency's bucket that holds nothing yet takes its first write (`storage_probe.first_write_probe`), or
    one error naming the first that does not: an agency is never `ready` with a bucket that refuses every upload
    (a collection that cannot grow its first volume answers listings and reads, and `InternalError` to every
    PUT). A bucket holding data is left to `doctor`: over its quota it is read-only by design, which must not
    fail an `apply` that changes something else."""
    buckets = {bucket_of(slug): slug for slug in slugs}
    bad = unwritable(box.s3_client(), buckets, first_write=True)
    if bad and box.placement is not None and box.placement.storage_cluster:
        # a storage cluster whose masters have just elected a leader: it refuses every assignment for its first
        # ~16 s (SeaweedFS's warm-up), and a new bucket's first write answers InternalError meanwhile
        deadline = time.monotonic() + CLUSTER_GRACE_S
        while bad and time.monotonic() < deadline:
            time.sleep(1)
            bad = unwritable(box.s3_client(), bad, first_write=True)
    if bad:
        bucket, reason = sorted(bad.items())[0]
        raise ServiceError(
            f"agency {buckets[bucket]}: bucket {bucket} cannot take a write ({reason})",
            hint="see `govcloud logs storage` (no free volume slot or disk? `govcloud doctor` probes growth and "
                 "every bucket), then re-run the same command: it converges",
        )


def quota_command(bucket: str, quota_gb: float) -> str:
    return f"s3.bucket.quota -name={bucket} -op=set -sizeMB={quota_mb(quota_gb)}"


_BUCKET_LINE = re.compile(r"^\s*(\S+)\t(.*)$")
_QUOTA_FIELD = re.compile(r"(?:^|\t)quota:(-?\d+)(?:\t|$)")


def parse_bucket_quotas(listing: str) -> dict[str, int | None]:
    """Bucket -> quota in bytes from `s3.bucket.list` (`  name<TAB>size:..<TAB>quota:N<TAB>...`); None when the
    bucket has no quota (never set, removed or disabled: SeaweedFS then prints none)."""
    out: dict[str, int | None] = {}
    for line in listing.splitlines():
        match = _BUCKET_LINE.match(line)
        if match is None or "size:" not in match.group(2):
            continue
        quota = _QUOTA_FIELD.search(match.group(2))
        value = int(quota.group(1)) if quota else None
        out[match.group(1)] = value if value is not None and value > 0 else None
    return out


def bucket_quotas(box: Box) -> dict[str, int | None]:
    """Every bucket's quota as SeaweedFS holds it (one weed shell session)."""
    return parse_bucket_quotas(weed_shell(box, ["s3.bucket.list"]))


def bucket_quotas_by_filer(box: Box) -> dict[str, dict[str, int | None]]:
    """Of a cluster: every answering storage host's filer -> its buckets' quotas (one weed shell each, at once);
    a filer that does not answer is left out (`status` tells of its host)."""
    def one(where: tuple[str, str]) -> tuple[str, dict[str, int | None]]:
        return where[0], parse_bucket_quotas(weed_shell(box, ["s3.bucket.list"], session=filer_shell(box, where[1])))

    hosts = answering_filers(box)
    with ThreadPoolExecutor(max_workers=max(1, len(hosts))) as pool:
        return dict(pool.map(one, hosts))


def storage_limits(quotas: dict[str, Quota], live: dict[str, int | None]) -> list[Limit]:
    """Decide, touching nothing: each agency's bucket quota (from its quota) next to what SeaweedFS holds."""
    return [Limit(slug, f"bucket {bucket_of(slug)}", "quota bytes", quota_bytes(q.storage_gb),
                  live.get(bucket_of(slug))) for slug, q in sorted(quotas.items())]


def cluster_limits(quotas: dict[str, Quota], by_filer: dict[str, dict[str, int | None]]) -> list[Limit]:
    """Decide, touching nothing, on a SeaweedFS cluster whose filers each keep their own store (host -> what its
    filer holds): one limit per agency when every filer holds the same quota; otherwise one per filer that holds
    another value than the expected one, naming its host. (Filers keep in step asynchronously: one that returns
    from a crash replays its peers' changes from where it last recorded, and an older change can overwrite a newer
    one: measured on the lab, a bucket's quota lost on the returning host's filer.)"""
    out: list[Limit] = []
    for slug, q in sorted(quotas.items()):
        bucket, expected = bucket_of(slug), quota_bytes(q.storage_gb)
        held = {host: live.get(bucket) for host, live in sorted(by_filer.items())}
        if len(set(held.values())) <= 1:
            out.append(Limit(slug, f"bucket {bucket}", "quota bytes", expected, next(iter(held.values()), None)))
            continue
        out += [Limit(slug, f"bucket {bucket} (the filer on {host})", "quota bytes", expected, value)
                for host, value in held.items() if value != expected]
    return out


def lagging_filers(by_filer: dict[str, dict[str, int | None]], buckets: list[str]) -> list[str]:
    """Pure: the hosts whose filer lacks one of `buckets` that another filer holds (a filer not following a peer:
    `restore_limits` restarts it). A bucket no filer holds yet lags nowhere."""
    held = {b for live in by_filer.values() for b in live}
    return sorted(host for host, live in by_filer.items() if any(b in held and b not in live for b in buckets))


def wait_for_filers(box: Box, hosts: list[str], buckets: list[str], limit_s: float | None = None) -> list[str]:
    """Of `hosts` (filers just restarted): those that hold every one of `buckets` within `limit_s`, read every 2 s."""
    if not hosts:
        return []
    deadline = time.monotonic() + (FILER_CATCH_UP_S if limit_s is None else limit_s)
    while True:
        held = bucket_quotas_by_filer(box)
        done = [h for h in hosts if h in held and h not in lagging_filers(held, buckets)]
        if len(done) == len(hosts) or time.monotonic() >= deadline:
            return done
        time.sleep(2)


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


class ListingTimeout(ServiceError):
    """`s3.iam.export` did not answer in time (its session is killed)."""


def listed_identities(box: Box, session: subprocess.Popen[str]) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """live_identities, asked once more in a new session if the first did not answer in time (a storage
    restarted a moment ago: its first sessions may wait on a master still settling). Returns the session that
    answered, open for more commands."""
    try:
        return session, live_identities(session)
    except ListingTimeout:
        again = open_weed_shell(box)
        try:
            return again, live_identities(again)
        except BaseException:
            _close(again)
            raise


def live_identities(session: subprocess.Popen[str], timeout: float = 30) -> dict[str, dict[str, Any]]:
    """`s3.iam.export` in an open weed shell session, read up to the end of its JSON document (weed shell
    prints no prompt when its input is a pipe): the run-time identities by name. The session stays open for
    more commands (`weed_shell(session=...)`)."""
    assert session.stdin is not None and session.stdout is not None
    out = session.stdout
    session.stdin.write("s3.iam.export\n")
    session.stdin.flush()

    def read() -> list[str]:
        lines: list[str] = []
        while True:
            line = out.readline()
            if not line:
                raise ServiceError(f"object storage closed its shell: {(lines or ['no output'])[-1][:200]}")
            if not lines and not line.startswith("{"):
                raise ServiceError(f"object storage refused s3.iam.export: {line.strip()[:200]}")
            lines.append(line)
            if line.rstrip() == "}":
                return lines

    with ThreadPoolExecutor(max_workers=1) as pool:
        try:
            lines = pool.submit(read).result(timeout=timeout)
        except FutureTimeout:
            session.kill()
            raise ListingTimeout(f"object storage did not list its identities within {timeout:.0f}s",
                               hint="run `govcloud status`, then the same command again") from None
    doc = json.loads("".join(lines))
    return {i["name"]: i for i in doc.get("identities", []) if not i.get("isStatic")}


class StorageBroker(Broker):
    service = "storage"

    def __init__(self) -> None:
        # What `taken` learned, for the provisioning that follows in the same command: the live identities,
        # and for a single agency the weed shell session that listed them (its start costs ~0.2 s).
        self._known: dict[str, dict[str, Any]] | None = None
        self._session: subprocess.Popen[str] | None = None

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

    def taken(self, box: Box, slugs: list[str]) -> dict[str, list[str]]:
        """Buckets and identities of these names. For one agency (`agency add`) the session that listed the
        identities stays open for its provisioning."""
        session = open_weed_shell(box)
        try:
            buckets = {b["Name"] for b in box.s3_client().list_buckets().get("Buckets", [])}
            session, self._known = listed_identities(box, session)
        except BaseException:
            _close(session)
            raise
        if len(slugs) == 1:
            self._session = session
        else:
            weed_shell(box, [], session=session)
        out: dict[str, list[str]] = {}
        for slug in slugs:
            if bucket_of(slug) in buckets:
                out.setdefault(slug, []).append(f"S3 bucket {bucket_of(slug)}")
            if s3_identity(slug) in self._known:
                out.setdefault(slug, []).append(f"S3 identity {s3_identity(slug)}")
        return out

    def release(self) -> None:
        """Close what `taken` kept open (a refused agency is never provisioned)."""
        session, self._session = self._session, None
        if session is not None:
            _close(session)

    def provision(self, box: Box, slug: str, name: str, quota: Quota, creds: dict[str, Any], new: bool = False) -> None:
        """One weed shell session (~0.3 s, most of it the session's start): the live identity is looked up first
        so that a converged agency's keys never blink. After `taken` (a new agency) both the session and the
        identities are there already. New credentials of an agency the registry records (a service added
        later, or a re-run after a failure): any leftover identity of its own name is replaced."""
        session, self._session = self._session, None
        if not new and session is None:
            weed_shell(box, self.commands(box, slug, quota, creds))
            require_writable(box, [slug])
            return
        identity = s3_identity(slug)
        known = self._known
        if session is None:
            session = open_weed_shell(box)  # starts while the bucket is made; given commands once it exists
        try:
            commands = self.commands(box, slug, quota, creds, known=known if known is not None else {})
        except BaseException:
            _close(session)
            raise
        if known is None:  # the agency's own leftover identity, if any, gives way (the registry records it)
            commands = [f"s3.user.delete -name={identity}", *commands]
        # The bucket exists: its first write (~0.2 s, SeaweedFS growing its first volume) is proved while the
        # shell sets the quota and the identity.
        with ThreadPoolExecutor(max_workers=1) as pool:
            probe = pool.submit(require_writable, box, [slug])
            weed_shell(box, commands, absent_users=frozenset({identity}), session=session)
            probe.result()

    def provision_many(self, box: Box, jobs: list[Provisioning]) -> None:
        """The live identities (from `taken`, else listed in the session), buckets by a few workers (each an S3
        round trip), then the quota and identity commands of every agency in ONE session, opened first (a stopped
        storage fails at once and clearly, not on an S3 call)."""
        session = open_weed_shell(box)
        try:
            if self._known is not None:
                known = self._known
            else:
                session, known = listed_identities(box, session)

            def commands(chunk: list[Provisioning]) -> list[list[str]]:
                out = []
                for job in chunk:
                    with naming(job.slug, self.service):
                        out.append(self.commands(box, job.slug, job.quota, job.creds, known))
                return out

            batch = [c for cmds in in_parallel(commands, jobs, workers=4) for c in cmds]
        except BaseException:
            _close(session)
            raise
        weed_shell(box, batch, timeout=60 + len(batch), session=session)
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
        """Bytes and objects (`Onboarding.usage` adds the quota SeaweedFS holds, read by `limits`)."""
        used, objects = bucket_bytes(box, bucket_of(slug))
        return {"bytes": used, "objects": objects}

    def limits(self, box: Box, quotas: dict[str, Quota]) -> list[Limit]:
        if not quotas:
            return []
        if clustered(box):  # every filer's own view: one that returned stale is told, and `apply` restores it
            return cluster_limits(quotas, bucket_quotas_by_filer(box))
        return storage_limits(quotas, bucket_quotas(box))

    def restore_limits(self, box: Box, jobs: list[Provisioning]) -> None:
        """Only the quota (a missing bucket is made again): the identity has no limit to restore."""
        for job in jobs:
            with naming(job.slug, self.service):
                ensure_bucket(box, bucket_of(job.slug))
        if not jobs:
            return
        commands = [quota_command(bucket_of(j.slug), j.quota.storage_gb) for j in jobs]
        if not clustered(box):
            weed_shell(box, commands, timeout=60 + len(jobs))
            return
        # A filer back from a crash can stop following a peer (seen on the lab and in CI: the returned host's filer
        # lacked buckets every other filer held, for minutes and through two `up`s, so a quota set through a peer
        # never reached it). Restarted, it subscribes to every peer again and replays what it missed.
        wanted = [bucket_of(j.slug) for j in jobs]
        behind = lagging_filers(bucket_quotas_by_filer(box), wanted)
        for host in behind:
            restart_filer(box, host)
        caught_up = wait_for_filers(box, behind, wanted)
        # then through every filer holding the buckets, each into its own store (an older change replayed into one
        # filer can undo a value set through another; the same value set again where it holds is harmless)
        filers = [(host, where) for host, where in answering_filers(box) if host not in behind or host in caught_up]

        def one(where: tuple[str, str]) -> str:
            return weed_shell(box, commands, timeout=60 + len(jobs), session=filer_shell(box, where[1]))

        with ThreadPoolExecutor(max_workers=max(1, len(filers))) as pool:
            list(pool.map(one, filers))
        if len(caught_up) < len(behind):
            late = ", ".join(h for h in behind if h not in caught_up)
            raise ServiceError(f"the object storage's filer on {late} still lacks buckets the other filers hold "
                               f"{FILER_CATCH_UP_S:.0f} s after a restart",
                               hint=f"see `govcloud logs storage` on {late}; then run `govcloud up` again")

    def orphans(self, box: Box, known: set[str]) -> list[str]:
        """S3 identities and buckets named like an agency's whose agency the registry does not know (or
        named like no agency's at all under the `ag-` prefix)."""
        def foreign(name: str) -> bool:
            owner = parse_bucket(name)
            return name.startswith("ag-") and (owner is None or owner.slug not in known)

        out = [f"S3 identity {n}" for n in dynamic_identities(box) if foreign(n)]
        buckets = [b["Name"] for b in box.s3_client().list_buckets().get("Buckets", [])]
        return out + [f"bucket {b} (data kept)" for b in buckets if foreign(b)]


def _close(session: subprocess.Popen[str]) -> None:
    session.kill()
    session.communicate()
