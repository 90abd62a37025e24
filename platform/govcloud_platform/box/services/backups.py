"""pgBackRest with its repository on the box's object storage (own S3 identity), and restic."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from govcloud_platform.box.context import Box
from govcloud_platform.box.services import backup_plan
from govcloud_platform.box.services.base import Program, Service
from govcloud_platform.box.services.pg_os import PG_USER, STANZA
from govcloud_platform.box.services.pgbackrest_conf import pgbackrest_conf, write_pgbackrest_conf
from govcloud_platform.box.services.storage import BACKUP_BUCKET, backup_keys
from govcloud_platform.errors import ServiceError, last_line

CHECK_ATTEMPTS = 3  # `up`: pgbackrest check asked again after a failure (see BackupsService.post_start)


def pgbackrest_argv(box: Box, *args: str) -> list[str]:
    """pgbackrest as postgres with the box's configuration, where the backups service runs: here, or on its
    host of the hosts target (over the operator's SSH master; the configuration, with its secrets, stays on
    that host: only option names and the backup type travel on the command line)."""
    if box.runs("backups"):
        return ["runuser", "-u", PG_USER, "--", "pgbackrest", f"--config={pgbackrest_conf(box)}",
                f"--stanza={STANZA}", *args]
    import shlex

    from govcloud_platform.box import remote

    host = remote.host_for(box, "backups")
    conf = Path(host.home) / pgbackrest_conf(box).relative_to(box.home)
    command = ["runuser", "-u", PG_USER, "--", "pgbackrest", f"--config={conf}", f"--stanza={STANZA}", *args]
    return [*remote.ssh_base(box), host.name, "--", shlex.join(command)]


def pgbackrest(box: Box, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run pgbackrest as postgres with the box's configuration (`pgbackrest_argv`)."""
    return subprocess.run(pgbackrest_argv(box, *args), text=True, capture_output=True, check=False,
                          timeout=timeout)


class BackupService(Service):
    name = "backups"
    binaries = (("pgbackrest", "pgbackrest"), ("restic", "restic"))

    def prepare(self, box: Box) -> None:
        write_pgbackrest_conf(box)
        self.reconfigure(box)

    def reconfigure(self, box: Box) -> bool:
        """The scheduler reads its plan at every tick: a changed schedule needs the file, not a restart."""
        return backup_plan.write_plan(box)

    def programs(self, box: Box) -> list[Program]:
        # Runs the backup plan; starts after and stops before the database and storage it backs up.
        cmd = [sys.executable, "-m", "govcloud_platform.backups.scheduler", "--home", str(box.home),
               "--tick", f"{backup_plan.TICK:g}"]
        return [Program(backup_plan.PROGRAM, cmd, priority=40, stopwaitsecs=20, directory=str(box.home))]

    def wait_ready(self, box: Box, timeout: float) -> None:
        return None

    def post_start(self, box: Box) -> None:
        created = pgbackrest(box, "stanza-create")
        if created.returncode != 0:
            raise ServiceError(f"pgbackrest stanza-create failed: {_last_error(created)}")
        # `check` waits for one WAL segment to reach the repository (archive-timeout, 30 s). A storage cluster formed
        # a moment ago refuses writes while its raft warms up (~18 s measured), and on a loaded machine the first push
        # can miss that timeout (the CI-like run of stop 32: the HA lab's cold `up`): asked again, it passes.
        for attempt in range(CHECK_ATTEMPTS):
            checked = pgbackrest(box, "check")
            if checked.returncode == 0:
                break
            if attempt + 1 < CHECK_ATTEMPTS:
                time.sleep(2)
        else:
            raise ServiceError(f"pgbackrest check failed: {_last_error(checked)}")
        if shutil.which("restic") is None:
            raise ServiceError("restic not found", hint="install the restic package")

    def check(self, box: Box) -> tuple[bool, str]:
        """pgBackRest's own check, and the health of the scheduler that runs the plan (a box whose backups
        silently stopped is not healthy)."""
        scheduler_ok, scheduler = backup_plan.probe(box)
        try:
            result = pgbackrest(box, "check", timeout=60)
        except subprocess.TimeoutExpired:
            return False, f"pgbackrest check timed out after 60 s (is object storage answering?); {scheduler}"
        if result.returncode != 0:
            return False, f"pgbackrest check failed: {_last_error(result)}; {scheduler}"
        return scheduler_ok, f"pgbackrest check ok; {scheduler}"

    def probe(self, box: Box) -> tuple[bool, str]:
        """`status`: the scheduler's health, PostgreSQL's own account of WAL archiving (pg_stat_archiver: the
        last attempt succeeded) and the repository's info files in the bucket; `pgbackrest check` (a WAL
        switch archived end to end, ~1 s) stays the readiness probe of `up`."""
        from botocore.exceptions import BotoCoreError, ClientError

        scheduler_ok, scheduler = backup_plan.probe(box)
        try:
            with box.pg_admin() as conn:
                row = conn.execute("SELECT archived_count, failed_count, last_failed_time > last_archived_time "
                                   "OR (last_archived_time IS NULL AND failed_count > 0) FROM pg_stat_archiver"
                                   ).fetchone()
            s3 = box.s3_client(*backup_keys(box))  # pgBackRest's own identity: its host has no S3 admin keys
            for info in ("archive/govcloud/archive.info", "backup/govcloud/backup.info"):
                s3.head_object(Bucket=BACKUP_BUCKET, Key=f"pgbackrest/{info}")
        except (OSError, BotoCoreError, ClientError) as exc:
            return False, f"backup repository unreachable ({type(exc).__name__}); {scheduler}"
        except Exception as exc:  # noqa: BLE001 - psycopg's errors: named by type only
            if type(exc).__module__.startswith("psycopg"):
                return False, f"WAL archiving state unreadable ({type(exc).__name__}); {scheduler}"
            raise
        archived, failed, failing = row if row else (0, 0, False)
        if failing:
            return False, f"WAL archiving failing ({failed} failures; see `govcloud logs database`); {scheduler}"
        return scheduler_ok, f"WAL archiving ok ({archived} segments); {scheduler}"

    def endpoint(self, box: Box) -> str:
        return f"s3://{BACKUP_BUCKET}/pgbackrest"


def _last_error(result: subprocess.CompletedProcess[str]) -> str:
    return last_line(result.stderr or result.stdout, f"exit {result.returncode}")
