"""The postgres OS user, pgBackRest's stanza and where the database keeps its TLS files: what the database, backups
and pgBackRest's configuration share (apart, so that none of them imports another to get them)."""

from __future__ import annotations

import os
import pwd
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from govcloud_platform.box.context import Box

PG_USER = "postgres"
STANZA = "govcloud"


def pg_ids() -> tuple[int, int]:
    entry = pwd.getpwnam(PG_USER)
    return entry.pw_uid, entry.pw_gid


def chown_tree(path: Path) -> None:
    uid, gid = pg_ids()
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)


def ha(box: Box) -> bool:
    """Whether this box's database runs on several hosts under Patroni (`patroni.py`)."""
    return box.placement is not None and box.placement.ha_database


def tls_dir(box: Box) -> Path:
    """The server's certificate and key: in the data directory on one host, beside it under Patroni (where
    Patroni's own certificate is too, which pgBackRest's TLS server and client also use)."""
    return box.home / "pg" / ("tls" if ha(box) else "data")
