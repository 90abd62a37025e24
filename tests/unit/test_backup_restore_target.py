"""Without servers: which platform restore targets are refused before anything is stopped, and how the
platform's and agencies' backups are merged into one list."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from govcloud_platform.backups import cluster, listing
from govcloud_platform.backups.common import BackupRecord, iso, utcnow
from govcloud_platform.errors import InputError

NOW = utcnow()


def record(scope: str, started: dt.datetime, rid: str = "") -> BackupRecord:
    finished = started + dt.timedelta(minutes=1)
    return BackupRecord(rid or f"{scope}-{iso(started)}", scope, "full" if scope == "platform" else "logical",
                        iso(started), iso(finished), 1)


OLDEST = record("platform", NOW - dt.timedelta(days=2))


@pytest.mark.parametrize(
    ("backups", "to", "refused"),
    [
        ([], None, "no backup"),
        ([], iso(NOW - dt.timedelta(hours=1)), "no backup"),
        ([OLDEST], iso(NOW - dt.timedelta(days=3)), "oldest backup"),
        ([OLDEST], iso(NOW + dt.timedelta(hours=1)), "future"),
        ([OLDEST], "not a time", "not a time"),
        ([OLDEST], None, ""),
        ([OLDEST], OLDEST.finished, "oldest backup"),  # it may have ended after the target, in that second
        ([OLDEST], iso(dt.datetime.fromisoformat(OLDEST.finished) + dt.timedelta(seconds=1)), ""),
        ([OLDEST], iso(NOW - dt.timedelta(hours=1)), ""),
    ],
    # ids without the times (relative to now): every worker of a parallel run collects the same tests
    ids=["none", "none-an-hour-ago", "before-the-oldest", "future", "not-a-time", "latest", "in-the-oldests-second",
         "a-second-after-the-oldest", "an-hour-ago"],
)
def test_check_target(monkeypatch: pytest.MonkeyPatch, backups: list[BackupRecord], to: str | None,
                      refused: str) -> None:
    monkeypatch.setattr(cluster, "list_backups", lambda box: backups)
    if refused:
        with pytest.raises(InputError, match=refused):
            cluster.check_target(object(), to)  # type: ignore[arg-type]
    else:
        cluster.check_target(object(), to)  # type: ignore[arg-type]


def test_the_recovery_starts_from_the_newest_backup_that_surely_ended_before_the_target() -> None:
    base = NOW.replace(microsecond=0) - dt.timedelta(days=1)
    first, second = record("platform", base, "first"), record("platform", base + dt.timedelta(hours=1), "second")
    end = dt.datetime.fromisoformat(second.finished)
    assert cluster.backup_set_for([first, second], end + dt.timedelta(seconds=1, microseconds=5)) == second
    # a target in the second the backup ended in: that backup may have ended after it, the one before did not
    assert cluster.backup_set_for([first, second], end + dt.timedelta(microseconds=900_000)) == first
    assert cluster.backup_set_for([second, first], end + dt.timedelta(hours=1)) == second  # any order
    assert cluster.backup_set_for([first], dt.datetime.fromisoformat(first.finished)) is None


def test_list_all_merges_platform_and_agencies_oldest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    day = dt.timedelta(days=1)
    platform = [record("platform", NOW - 3 * day), record("platform", NOW - day)]
    agencies = {"a": [record("agency:a", NOW - 2 * day)], "b": [], "c": [record("agency:c", NOW - 4 * day)]}
    asked: list[str] = []

    def agency_list(box: Any, slug: str) -> list[BackupRecord]:
        asked.append(slug)
        return agencies[slug]

    monkeypatch.setattr(listing, "require_storage", lambda box, what: None)
    monkeypatch.setattr(listing, "agencies_with_backups", lambda box: sorted(agencies))
    monkeypatch.setattr(listing.cluster, "list_backups", lambda box: list(platform))
    monkeypatch.setattr(listing.agency, "list_backups", agency_list)
    merged = listing.list_all(object())  # type: ignore[arg-type]
    assert [r.scope for r in merged] == ["agency:c", "platform", "agency:a", "platform"]
    assert sorted(asked) == ["a", "b", "c"]
