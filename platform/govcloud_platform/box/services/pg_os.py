"""The postgres OS user and pgBackRest's stanza: what the database, backups and pgBackRest's configuration share
(apart, so that none of them imports another to get them)."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

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
