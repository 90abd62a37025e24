"""LemonLDAP::NG's configuration store: numbered `lmConf-N.json` revisions in `<home>/idp/conf` (its File
backend), read and written by us and by its manager API. One writer at a time: callers hold the box lock (as
does every other writer of ours, the manager API included), so numbers never collide."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from govcloud_platform.box.context import Box
from govcloud_platform.box.secrets import write_private

DAEMON_USER = "www-data"  # the FastCGI daemon and nginx's workers: the revisions are theirs
_BOOKKEEPING = ("cfgNum", "cfgDate", "cfgAuthor", "cfgAuthorIP", "cfgLog", "cfgVersion")


def latest_conf(conf_dir: Path) -> tuple[int, dict[str, Any]]:
    nums = [int(f.stem.split("-", 1)[1]) for f in conf_dir.glob("lmConf-*.json") if f.stem.split("-", 1)[1].isdigit()]
    if not nums:
        return 0, {}
    num = max(nums)
    return num, json.loads((conf_dir / f"lmConf-{num}.json").read_text())


def update_conf(conf_dir: Path, change: Callable[[dict[str, Any]], dict[str, Any]], log: str) -> int:
    """Apply `change` to a copy of the newest lmConf (bookkeeping keys removed) and save the result as the
    next number if it differs; the portal picks it up within `checkTime`. Callers hold the box lock, as do
    all our other writers (the manager API included), so numbers never collide. Returns the cfgNum."""
    num, current = latest_conf(conf_dir)
    mine = {k: v for k, v in current.items() if k not in _BOOKKEEPING}
    wanted = change(json.loads(json.dumps(mine)))
    if num and mine == wanted:
        return num
    num += 1
    wanted.update(
        cfgNum=num, cfgDate=str(int(time.time())), cfgAuthor="govcloud", cfgAuthorIP="127.0.0.1",
        cfgLog=log, cfgVersion="2.16.1",
    )
    path = conf_dir / f"lmConf-{num}.json"
    write_private(path, json.dumps(wanted, indent=1, sort_keys=True) + "\n")
    if os.geteuid() == 0:
        uid = pwd.getpwnam(DAEMON_USER).pw_uid
        os.chown(path, uid, uid)
    purge_conf_cache(conf_dir)
    return num


def purge_conf_cache(conf_dir: Path) -> None:
    """The portal reads its configuration from the local cache "without verification" (only the manager's own
    saves refresh it): drop the cached copy so that its next check loads the newest number from the files."""
    shutil.rmtree(conf_dir.parent / "cache" / "lemonldap-ng-config", ignore_errors=True)


def conf_dir(box: Box) -> Path:
    return box.home / "idp" / "conf"
