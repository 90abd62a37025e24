"""pgBackRest's configuration (its repository on the box's object storage, with its own S3 identity): written where
backups run, and on every database host under Patroni (the leader's `archive_command` pushes WAL with it)."""

from __future__ import annotations

from pathlib import Path

from govcloud_platform.box.context import Box
from govcloud_platform.box.secrets import write_private
from govcloud_platform.box.services.pg_os import PG_USER, STANZA, chown_tree
from govcloud_platform.box.services.storage import BACKUP_BUCKET, backup_keys


def pgbackrest_conf(box: Box) -> Path:
    return box.home / "pgbackrest" / "pgbackrest.conf"


def conf_text(box: Box) -> str:
    """pgbackrest.conf. Its S3 endpoint is the box's name (`localhost` on 127.0.0.1, else its address):
    pgBackRest connects to the name it verifies, and matches it against the certificate's DNS SANs only."""
    base = box.home / "pgbackrest"
    access, secret = backup_keys(box)
    cipher = box.secrets.get_or_create("pgbackrest-cipher-pass")
    b = box.spec.platform.services.backups
    return f"""# written by govcloud; holds secrets (0600, owner postgres)
[global]
repo1-type=s3
repo1-s3-endpoint={box.name_of('storage')}
repo1-storage-port={box.ports.s3_https}
repo1-storage-ca-file={box.ca_file}
repo1-s3-uri-style=path
repo1-s3-bucket={BACKUP_BUCKET}
repo1-s3-region=us-east-1
repo1-s3-key={access}
repo1-s3-key-secret={secret}
repo1-path=/pgbackrest
repo1-cipher-type=aes-256-cbc
repo1-cipher-pass={cipher}
repo1-retention-full={b.retention_full}
repo1-retention-diff={b.retention_diff}
compress-type=lz4
process-max=2
start-fast=y
io-timeout=20
db-timeout=60
archive-timeout=30
log-path={base / "log"}
lock-path={base / "lock"}
spool-path={base / "spool"}
log-level-console=warn
log-level-file=info

[{STANZA}]
pg1-path={box.home / "pg" / "data"}
pg1-port={box.ports.postgres}
pg1-socket-path={box.home / "pg" / "run"}
pg1-user={PG_USER}
"""


def write_pgbackrest_conf(box: Box) -> None:
    """pgbackrest.conf and its directories, postgres's (0700/0600): where backups run, and on every database host
    under Patroni (the leader's `archive_command` pushes WAL with it, whichever host leads)."""
    base = box.dir("pgbackrest")
    for sub in ("log", "lock", "spool"):
        box.dir("pgbackrest", sub)
    write_private(pgbackrest_conf(box), conf_text(box))
    chown_tree(base)
    for path in (base, *(base / sub for sub in ("log", "lock", "spool"))):
        path.chmod(0o700)  # postgres's: its configuration holds the repository's keys, its logs paths


