"""pgBackRest's configuration (its repository on the box's object storage, with its own S3 identity): written where
backups run, and on every database host under Patroni (the leader's `archive_command` pushes WAL with it).

Under Patroni each database host also runs pgBackRest's TLS server (`pgbackrest server`: no SSH between hosts),
which admits the backups' host only (its `patroni` client certificate, by CN, for this stanza). The backups' host
lists every other database host as `pgN-host` over TLS with `backup-standby=y`: pgBackRest finds the leader itself,
starts and stops the backup there, and copies the files from a standby, so backups go on whichever host leads,
and load the leader least. (`cluster.run_backup` falls back to the leader alone when no standby runs.)"""

from __future__ import annotations

from pathlib import Path

from govcloud_platform.box.context import Box
from govcloud_platform.box.network import host_name
from govcloud_platform.box.secrets import write_private
from govcloud_platform.box.services.pg_os import PG_USER, STANZA, chown_tree, ha, tls_dir
from govcloud_platform.box.services.storage import BACKUP_BUCKET, backup_keys


def pgbackrest_conf(box: Box) -> Path:
    return box.home / "pgbackrest" / "pgbackrest.conf"


def conf_text(box: Box) -> str:
    """pgbackrest.conf. Its S3 endpoint is the box's S3 front by name (`localhost` on 127.0.0.1, else its address):
    pgBackRest connects to the name it verifies, and matches it against the certificate's DNS SANs only."""
    base = box.home / "pgbackrest"
    access, secret = backup_keys(box)
    cipher = box.secrets.get_or_create("pgbackrest-cipher-pass")
    b = box.spec.platform.services.backups
    return f"""# written by govcloud; holds secrets (0600, owner postgres)
[global]
repo1-type=s3
repo1-s3-endpoint={host_name(box.s3_front[0])}
repo1-storage-port={box.s3_front[1]}
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

{tls_server(box)}
[{STANZA}]
pg1-path={box.home / "pg" / "data"}
pg1-port={box.ports.postgres}
pg1-socket-path={box.home / "pg" / "run"}
pg1-user={PG_USER}
{other_hosts(box)}"""


def _home_of(box: Box, host: str) -> Path:
    topology = box.spec.platform.topology
    where = topology.host(host) if topology is not None else None
    if where is None:
        from govcloud_platform.errors import BoxDamaged

        raise BoxDamaged(f"{box.home}: the spec's topology has no host {host}", hint="run `govcloud up` again")
    return Path(where.root) / "box"


def tls_server(box: Box) -> str:
    """[global] lines of the TLS server every database host runs under Patroni ("" otherwise): on the host's
    address, with Patroni's certificate, admitting the backups' host's client certificate (CN: its address)."""
    placement = box.placement
    if not ha(box) or placement is None or not box.runs("database"):
        return ""
    tls = tls_dir(box)
    backups = placement.services["backups"].address
    return (f"tls-server-address={box.address}\ntls-server-port={box.ports.pgbackrest_tls}\n"
            f"tls-server-cert-file={tls / 'patroni.pem'}\ntls-server-key-file={tls / 'patroni.key'}\n"
            f"tls-server-ca-file={box.ca_file}\ntls-server-auth={backups}={STANZA}\n")


def other_hosts(box: Box) -> str:
    """The stanza's lines for every other database host (pg2, pg3, ...) on the backups' host under Patroni."""
    placement = box.placement
    if not ha(box) or placement is None or not box.runs("backups"):
        return ""
    tls = tls_dir(box)
    lines = ["backup-standby=y"]
    others = [w for w in placement.instances_of("database") if w.address != box.address]
    for i, where in enumerate(others, start=2):
        home = _home_of(box, where.host)
        lines += [f"pg{i}-host={where.address}", f"pg{i}-host-type=tls", f"pg{i}-host-port={box.ports.pgbackrest_tls}",
                  f"pg{i}-host-cert-file={tls / 'patroni.pem'}", f"pg{i}-host-key-file={tls / 'patroni.key'}",
                  f"pg{i}-host-ca-file={box.ca_file}", f"pg{i}-path={home / 'pg' / 'data'}",
                  f"pg{i}-port={box.ports.postgres}", f"pg{i}-socket-path={home / 'pg' / 'run'}",
                  f"pg{i}-user={PG_USER}"]
    return "\n".join(lines) + "\n"


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


