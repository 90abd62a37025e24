"""Who may read what in the box directory: the permission scheme, and its repair on every `up`.

Agencies' apps run on the box's host as local users (`gc-<slug>`), so every other local user is a potential
attacker. The box directory is 0711: other users may traverse it (`postgres` and `www-data` to their own
directories, each agency's app user to its instance) but never list it. Inside, everything belongs to the user
of the service that uses it and is private to it:

- `.`, `ca/`, `pg/`, `nginx/`, `nginx/tmp/` (and `nginx/tmp-apps/`, the apps' front's on a host), `idp/`,
  `backups/`, `backups/scratch/`, `apps/`, `apps/instances/`, `apps/instances/<slug>/`, `apps/venvs/`: root 0711,
  traversed by a daemon or an app user to its own directory below, listed by no one;
- `secrets/`, `s3/`, `logs/`, `supervisor/`, `restic-cache/`, `run/` (the CLI agent's socket), `ca/certs/`,
  `nginx/apps.d/`, `pg/hba.d/`: root 0700 (root's processes only);
- `pg/data/`, `pg/run/`, `pgbackrest/`: postgres 0700; `idp/{conf,sessions,psessions,cache,run}/`: www-data
  0700 (configuration revisions with every client secret and the signing key, sessions, caches, socket);
  `idp/lemonldap-ng.ini`: root:www-data 0640;
- `apps/instances/<slug>/<app>/`: the agency's system user, 0700;
- public by design: `ca/ca.pem` (0644: every client must trust it), `apps/code/` and `apps/static/` (0755: the
  apps' code and static files, the same for every agency, served or run for anyone, no secrets).
The full table and the reasons: docs/storage-security.md, "Permissions".

The root of it is the umask: every process we start runs with umask 077 (the CLI, supervisord and each of its
programs), so what SeaweedFS, PostgreSQL, the IdP, nginx, supervisord's logs and our own code create is private
from the start; what must be shared is given its mode explicitly. `repair` makes an existing box conform (an
older govcloud left 0644 files in 0755 directories): it takes every permission for others away from every path
but the public ones, and leaves the traversed directories only `o=x`."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from fnmatch import fnmatchcase
from pathlib import Path

PRIVATE_UMASK = 0o077
TRAVERSED_MODE = 0o711
#: directories (relative to the home, shell patterns) that other users traverse but never list
TRAVERSED = ("", "ca", "pg", "nginx", "nginx/tmp", "nginx/tmp-apps", "idp", "backups", "backups/scratch", "apps",
             "apps/instances", "apps/instances/*", "apps/venvs", "mail")
#: trees whose owner keeps its own files private (PostgreSQL refuses to run otherwise; an app's instance is its
#: agency's, in a 0700 directory): `repair` fixes the directory itself and does not walk its many files
SELF_MANAGED = ("pg/data", "pg/data.initdb", "backups/scratch/*", "apps/instances/*/*", "mail/queue", "mail/maildir")
#: public by design: readable by everyone, writable by no one but root
PUBLIC_FILES = ("ca/ca.pem",)
#: files whose program forces their mode whatever the umask, inside a directory no other user enters (accepted,
#: docs/storage-security.md): SeaweedFS's volume info files (version, replication, sizes; no object data), 0644
FORCED = ("s3/data/*.vif", "s3/volume/*.vif")  # the second: a storage cluster's volume server
PUBLIC_TREES = ("apps/code", "apps/static")


def private_umask() -> int:
    """Files this process (and what it starts) creates are its user's only. Returns the previous umask."""
    return os.umask(PRIVATE_UMASK)


def is_public(rel: str) -> bool:
    return rel in PUBLIC_FILES or any(rel == t or rel.startswith(t + "/") for t in PUBLIC_TREES)


def _matches(rel: str, pattern: str) -> bool:
    """Shell pattern matched segment by segment (a `*` never spans a `/`)."""
    parts, wanted = rel.split("/"), pattern.split("/")
    return len(parts) == len(wanted) and all(fnmatchcase(p, w) for p, w in zip(parts, wanted, strict=True))


def wanted_mode(rel: str, mode: int, is_dir: bool) -> int:
    """The permission bits for the path `rel` (relative to the home; "" is the home) that has `mode` now.
    Pure: public paths lose only write for group and others; traversed directories become 0711; everything
    else loses every permission for others (the owner's and group's are the service's business)."""
    perm = stat.S_IMODE(mode)
    if is_public(rel):
        return perm & ~0o022
    if is_dir and any(_matches(rel, pattern) for pattern in TRAVERSED):
        return TRAVERSED_MODE
    return perm & ~0o007


def repair(home: Path) -> list[str]:
    """Give every path under `home` its `wanted_mode` (symbolic links are left: their own mode means nothing;
    SELF_MANAGED trees only at their top; FORCED files not at all). Returns the relative paths changed. Safe while
    the services run: it only ever takes permissions away from others, and the traversed directories keep what
    the daemons need."""
    changed: list[str] = []
    for dirpath, dirnames, filenames in os.walk(home):
        here = "" if dirpath == str(home) else os.path.relpath(dirpath, home)
        if any(_matches(here, pattern) for pattern in SELF_MANAGED):
            dirnames.clear()
            filenames = []
        for path in [dirpath, *(os.path.join(dirpath, name) for name in filenames)]:
            try:
                st = os.lstat(path)
            except FileNotFoundError:  # a session or temp file that went away meanwhile
                continue
            if stat.S_ISLNK(st.st_mode):
                continue
            rel = "" if path == str(home) else os.path.relpath(path, home)
            if forced(rel):  # its program sets the mode back at once: a chmod at every `up` would be churn
                continue
            want = wanted_mode(rel, st.st_mode, stat.S_ISDIR(st.st_mode))
            if want != stat.S_IMODE(st.st_mode):
                try:
                    os.chmod(path, want)
                except FileNotFoundError:
                    continue
                changed.append(rel)
    return changed


def judged(rel: str) -> bool:
    """Pure: whether `repair` (and a verify) looks at the path: not when it lies below the top of a SELF_MANAGED
    tree (whose owner keeps its own files private)."""
    parts = rel.split("/") if rel else []
    return not any(_matches("/".join(parts[:i]), pattern) for i in range(1, len(parts)) for pattern in SELF_MANAGED)


def forced(rel: str) -> bool:
    """Pure: whether the path is one whose program forces its mode (FORCED)."""
    return any(_matches(rel, pattern) for pattern in FORCED)


def violations(entries: Iterable[tuple[str, int, bool]]) -> list[tuple[str, int, int]]:
    """Pure: (rel, mode, wanted) of every judged path whose permission bits are not `wanted_mode`'s (but the
    FORCED ones); `entries` are (path relative to the home, permission bits, is a directory), as
    `find -printf '%P %m %y'` gives them."""
    out = []
    for rel, mode, is_dir in entries:
        if judged(rel) and not forced(rel):
            want = wanted_mode(rel, mode, is_dir)
            if want != stat.S_IMODE(mode):
                out.append((rel, stat.S_IMODE(mode), want))
    return out
