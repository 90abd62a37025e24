"""LemonLDAP::NG's configuration store: numbered revisions of one JSON document, read and written by us and by its
manager API. Two backends, one format (a revision's JSON is the same in both):

- **files** (`FileStore`, LLNG's File backend): `lmConf-N.json` in `<home>/idp/conf`, on the one machine that runs
  the IdP when the database runs alone. One writer at a time: callers hold the box lock, as does every other writer
  of ours (the manager API included), so numbers never collide.
- **the database** (`PgStore`, LLNG's CDBI backend): the table `lmconfig(cfgnum, data)` in the IdP's database, when
  the database is a Patroni cluster (`in_database`): the configuration then follows the leader and survives the
  loss of any host, as the sessions do (`identity_conf.session_storage`). LLNG takes no lock on PostgreSQL, so our
  writer locks the table (SHARE ROW EXCLUSIVE: writers one at a time, readers never blocked) and inserts the next
  number, which the primary key keeps unique.

Either way each host's portal reads its configuration from a local cache "without verification" until it expires:
a writer drops that cache (`purge_conf_cache`) so that its next check (`checkTime`, 1 s) loads the newest revision.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from govcloud_platform.box.secrets import write_private

if TYPE_CHECKING:
    import psycopg

    from govcloud_platform.box.context import Box

DAEMON_USER = "www-data"  # the FastCGI daemon and nginx's workers: the revisions are theirs
_BOOKKEEPING = ("cfgNum", "cfgDate", "cfgAuthor", "cfgAuthorIP", "cfgLog", "cfgVersion")
TABLE = "lmconfig"  # LLNG's SQL is unquoted: its `lmConfig` and `cfgNum` fold to these names
# How long a portal trusts its cached configuration when the database holds it: whoever writes a revision (the
# operator's home, any portal's manager) drops no other host's cache, so each portal loads a new revision within
# this, plus its `checkTime` (1 s). On files it is 600 s: the one writer drops the one cache.
DB_CONF_CACHE_S = 2


class Revisions(Protocol):
    def latest(self) -> tuple[int, dict[str, Any]]: ...

    def add(self, num: int, text: str) -> None: ...


@dataclass(frozen=True)
class FileStore:
    """`lmConf-N.json` files in `directory` (LLNG's File backend)."""

    directory: Path

    @property
    def idp_dir(self) -> Path:
        return self.directory.parent

    @contextmanager
    def open(self) -> Iterator[Revisions]:
        yield self  # the box lock keeps writers apart

    def latest(self) -> tuple[int, dict[str, Any]]:
        nums = [int(f.stem.split("-", 1)[1]) for f in self.directory.glob("lmConf-*.json")
                if f.stem.split("-", 1)[1].isdigit()]
        if not nums:
            return 0, {}
        num = max(nums)
        return num, json.loads((self.directory / f"lmConf-{num}.json").read_text())

    def add(self, num: int, text: str) -> None:
        path = self.directory / f"lmConf-{num}.json"
        write_private(path, text)
        if os.geteuid() == 0:
            uid = pwd.getpwnam(DAEMON_USER).pw_uid
            os.chown(path, uid, uid)


@dataclass(frozen=True)
class PgStore:
    """The `lmconfig` table of the IdP's database (LLNG's CDBI backend), reached with `conninfo` (the IdP's role,
    the leader of the cluster). `idp_dir`: this host's IdP directory, whose config cache a write drops."""

    conninfo: dict[str, Any] = field(repr=False)  # holds the role's password
    idp_dir: Path

    @contextmanager
    def open(self) -> Iterator[Revisions]:
        import psycopg

        with psycopg.connect(**self.conninfo, autocommit=False) as conn:
            conn.execute(f"LOCK TABLE {TABLE} IN SHARE ROW EXCLUSIVE MODE")  # noqa: S608 - a constant
            yield _PgRevisions(conn)
            conn.commit()

    def latest(self) -> tuple[int, dict[str, Any]]:
        import psycopg

        with psycopg.connect(**self.conninfo, autocommit=True) as conn:
            return _PgRevisions(conn).latest()


@dataclass(frozen=True)
class _PgRevisions:
    conn: psycopg.Connection[Any]

    def latest(self) -> tuple[int, dict[str, Any]]:
        row = self.conn.execute(f"SELECT cfgnum, data FROM {TABLE} ORDER BY cfgnum DESC LIMIT 1").fetchone()  # noqa: S608
        return (0, {}) if row is None else (int(row[0]), json.loads(row[1]))

    def add(self, num: int, text: str) -> None:
        self.conn.execute(f"INSERT INTO {TABLE} (cfgnum, data) VALUES (%s, %s)", (num, text))  # noqa: S608


ConfStore = FileStore | PgStore


def in_database(box: Box) -> bool:
    """Whether the IdP keeps its configuration and sessions in the database: when that is a Patroni cluster (hosts
    target with several database hosts), so that they survive a failover and every host of the IdP shares them.
    Otherwise in files of the IdP's host (one machine: no round trip to the database per request)."""
    return box.placement is not None and box.placement.ha_database


def seed_from_files(store: PgStore, files: FileStore) -> int:
    """A box whose IdP kept files and now keeps its configuration in the database (its database became a cluster,
    or older code made it): the newest file revision becomes the table's first row, with its number, so that no
    relying party is lost. Nothing when the table has a revision already. Returns the number seeded (0: none)."""
    with store.open() as revisions:
        if revisions.latest()[0]:
            return 0
        num, conf = files.latest()
        if num:
            revisions.add(num, json.dumps(conf, indent=1, sort_keys=True) + "\n")
    return num


def latest_conf(store: ConfStore) -> tuple[int, dict[str, Any]]:
    return store.latest()


def update_conf(store: ConfStore, change: Callable[[dict[str, Any]], dict[str, Any]], log: str) -> int:
    """Apply `change` to a copy of the newest revision (bookkeeping keys removed) and save the result as the next
    number if it differs; the portal picks it up within `checkTime`. Returns the cfgNum."""
    with store.open() as revisions:
        num, current = revisions.latest()
        mine = {k: v for k, v in current.items() if k not in _BOOKKEEPING}
        wanted = change(json.loads(json.dumps(mine)))
        if num and mine == wanted:
            return num
        num += 1
        wanted.update(
            cfgNum=num, cfgDate=str(int(time.time())), cfgAuthor="govcloud", cfgAuthorIP="127.0.0.1",
            cfgLog=log, cfgVersion="2.16.1",
        )
        revisions.add(num, json.dumps(wanted, indent=1, sort_keys=True) + "\n")
    purge_conf_cache(store)
    return num


def purge_conf_cache(store: ConfStore) -> None:
    """The portal reads its configuration from the local cache "without verification" (only the manager's own
    saves refresh it): drop the cached copy so that its next check loads the newest revision from the store."""
    shutil.rmtree(store.idp_dir / "cache" / "lemonldap-ng-config", ignore_errors=True)
