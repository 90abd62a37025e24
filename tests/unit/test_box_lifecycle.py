"""Pieces of `down` that need no server: stop order and process liveness."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from govcloud_platform.box.runtime import stop_waves
from govcloud_platform.box.supervisor import alive


@pytest.mark.parametrize(
    ("priorities", "waves"),
    [
        # the box's own programs: clients of the database together, then the database, then object storage
        ({"storage": 10, "database": 20, "idp-fastcgi": 30, "nginx": 31, "backup-scheduler": 40},
         [["backup-scheduler"], ["nginx", "idp-fastcgi"], ["database"], ["storage"]]),
        # apps (100) stop together, each band before the ones it needs; unknown sections (999) first
        ({"storage": 10, "portal-a": 100, "data-b": 100, "redis-c": 90, "worker-c": 110, "odd": 999},
         [["odd"], ["worker-c"], ["data-b", "portal-a"], ["redis-c"], ["storage"]]),
        ({}, []),
    ],
)
def test_stop_waves_keep_every_band_before_the_ones_it_needs(
    priorities: dict[str, int], waves: list[list[str]]
) -> None:
    assert stop_waves(priorities) == waves


def test_a_zombie_is_not_alive() -> None:
    """supervisord exits as a child of PID 1, which may reap it seconds later: `down` must not wait for that."""
    proc = subprocess.Popen(["true"])
    try:
        deadline = time.monotonic() + 10
        while alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not alive(proc.pid)
        state = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        assert state == "Z"  # exited, not reaped yet: still in the process table
    finally:
        proc.wait()
    assert not alive(proc.pid)
