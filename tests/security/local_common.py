"""What tests/security/test_local.py (class "local") shares: the public paths, the areas of the box, a walk of
a tree as root, the probe run as another user, and what a `find -perm /o=rw` of the home would report."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.security.conftest import VICTIM

PROBE = Path(__file__).with_name("local_probe.py")
SYSTEM_PYTHON = "/usr/bin/python3"
APP = "opendata"  # the cheapest app (~20-30 s warm): gives each agency a system user and an instance directory
VENV_CACHE = Path(os.environ.get("GOVCLOUD_APPS_CACHE", "/var/cache/govcloud/apps"))

# Public by design, relative to the home: the CA certificate (clients must trust it), the apps' code and static
# files (the same for every agency, run or served to anyone; no secrets).
PUBLIC_FILES = ("ca/ca.pem",)
PUBLIC_TREES = ("apps/code", "apps/static")

# area -> its path under the home ("" = the files directly in the home). The longest matching path wins.
AREAS = {
    "storage (s3/: volumes, filer store, identities, sockets)": "s3",
    "logs (logs/)": "logs",
    "database (pg/: cluster, socket, pg_hba parts)": "pg",
    "pgbackrest (pgbackrest/: configuration, logs, spool)": "pgbackrest",
    "identity (idp/: configuration revisions, sessions, caches, socket)": "idp",
    "nginx (nginx/: configuration, password file, pid, temp files, app vhosts)": "nginx",
    "supervisord (supervisor/: configuration, pid, socket)": "supervisor",
    "secrets (secrets/)": "secrets",
    "CA key and service certificates (ca/)": "ca",
    "backups (backups/: plans, work and staging directories, scratch clusters)": "backups",
    "restic cache (restic-cache/)": "restic-cache",
    "CLI agent (run/: its socket)": "run",
    "mail (mail/: Postfix's configuration, queue and data, the SASL logins, the Maildir)": "mail",
    "apps (apps/: instances, runs, code, venv links)": "apps",
    "signing (signing/: the agencies' keys and certificates, the digests of their secrets, the TSA's key)": "signing",
    "demo payment provider (paydemo/: its merchants file, each agency's webhook secret)": "paydemo",
    f"the victim's app instance (apps/instances/{VICTIM}/)": f"apps/instances/{VICTIM}",
    "registry, box state and lock (files in the home)": "",
}


def is_public(rel: str) -> bool:
    return rel in PUBLIC_FILES or any(rel == t or rel.startswith(t + "/") for t in PUBLIC_TREES)


def area_of(rel: str) -> str | None:
    best: tuple[int, str] | None = None
    for area, prefix in AREAS.items():
        if prefix and (rel == prefix or rel.startswith(prefix + "/")) and (best is None or len(prefix) > best[0]):
            best = (len(prefix), area)
    if best is not None:
        return best[1]
    return next(a for a, p in AREAS.items() if p == "") if "/" not in rel else None


@dataclass
class Paths:
    """Everything under a directory, found by root: regular files, directories, sockets (links are skipped:
    what they point to is covered where it lives)."""

    files: list[str]
    dirs: list[str]
    sockets: list[str]


def walk(root: Path) -> Paths:
    out = Paths([], [], [])
    for dirpath, dirnames, filenames in os.walk(root):
        out.dirs.append(dirpath)
        for name in filenames + dirnames:
            path = os.path.join(dirpath, name)
            try:
                mode = os.lstat(path).st_mode
            except FileNotFoundError:
                continue
            if stat.S_ISREG(mode):
                out.files.append(path)
            elif stat.S_ISSOCK(mode):
                out.sockets.append(path)
    return out


@dataclass
class Actor:
    label: str
    uid: int
    gid: int
    own: str | None = None  # its own part of the home (relative), which it may of course use


def run_probe(actor: Actor, todo: dict[str, list[str]]) -> dict[str, Any]:
    """The attempts, as the actor from exec on (no supplementary groups); the paths where one succeeded."""
    proc = subprocess.run(
        [SYSTEM_PYTHON, "-I", "-c", PROBE.read_text()], input=json.dumps(todo), capture_output=True, text=True,
        user=actor.uid, group=actor.gid, extra_groups=[], cwd="/", env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    done: dict[str, Any] = json.loads(proc.stdout)
    assert (done["uid"], done["euid"]) == (actor.uid, actor.uid) and set(done["groups"]) <= {actor.gid}, done
    return done



def weed_volume_info(rel: str) -> bool:
    """SeaweedFS writes each volume's info file (`.vif`: version, replication, sizes; no object data) 0644
    whatever the umask; root's 0700 `s3/` keeps every other user from it (the rows above prove it)."""
    from govcloud_platform.box.modes import forced

    return forced(rel)


def exposed(home: Path) -> list[str]:
    """`find <home> -perm /o=rw ! -type l`, less what is public by design (which must not be writable), and less
    what lies inside a self-managed tree (`modes.SELF_MANAGED`: its program sets its modes) behind a directory no
    other user may enter: Postfix's queue (root:postfix 0750) holds its `pid/` 0755 and its services' sockets 0666
    in `private/` 0700, as Postfix wants them; the probes of test_local.py prove no other user reaches them."""
    found = walk(home)
    out = []
    for path in found.files + found.dirs + found.sockets:
        rel, mode = os.path.relpath(path, home), os.lstat(path).st_mode
        if mode & (0o002 if is_public(rel) or weed_volume_info(rel) else 0o006) and not _behind_closed_door(home, rel):
            out.append(f"{stat.filemode(mode)} {rel}")
    return out


def _behind_closed_door(home: Path, rel: str) -> bool:
    """Whether `rel` is inside a self-managed tree, below one of its directories that others cannot enter."""
    from govcloud_platform.box.modes import judged

    if judged(rel):
        return False
    parts = rel.split("/")
    return any(not os.lstat(home.joinpath(*parts[:i])).st_mode & 0o001 for i in range(1, len(parts)))


def loosen_like_an_old_box(home: Path) -> None:
    """The modes a box made before this scheme has (measured): 0755 directories and 0644 files in the storage,
    logs, supervisord, nginx, pg_hba parts, pgBackRest, certificates, the IdP's ini, configuration revisions and
    caches; the secrets, keys and PostgreSQL's cluster were private already."""
    for top in ("logs", "s3", "supervisor", "nginx", "pg/hba.d", "pg/run", "pgbackrest", "ca", "idp", "backups",
                "restic-cache"):
        for dirpath, _, filenames in os.walk(home / top):
            if not any(part in dirpath for part in ("/sessions", "/psessions", "/nginx/tmp/", "/idp/run")):
                os.chmod(dirpath, 0o755)
            for name in filenames:
                path = Path(dirpath, name)
                if path.is_file() and not path.is_symlink() and path.suffix != ".key" and name not in (
                        "manager.htpasswd", "s3.json", "security.toml", "pgbackrest.conf", "ca.key"):
                    path.chmod(0o644)
    for path in (home, home / "pg"):
        path.chmod(0o755)
    (home / "box.json").chmod(0o644)
