"""Pieces of `up` and `down` that need no server: stop order, process liveness, what SeaweedFS leaves in /tmp,
its flags, and the IdP's manager password file."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from govcloud_platform.box.context import Box
from govcloud_platform.box.ports import GRPC_SHIFT, free_port_base
from govcloud_platform.box.runtime import stop_waves
from govcloud_platform.box.services.nginx import MANAGER_SECRET, htpasswd_current, write_htpasswd
from govcloud_platform.box.services.storage import StorageService, leftover_sockets
from govcloud_platform.box.supervisor import alive
from govcloud_platform.spec import load_spec_text
from govcloud_platform.spec.example import EXAMPLE_SPEC


def _box(home: Path, port_base: int = 30000) -> Box:
    return Box(home=home, spec=load_spec_text(EXAMPLE_SPEC), port_base=port_base)


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


def test_storage_flags_keep_it_quiet_and_its_socket_in_the_box(tmp_path: Path) -> None:
    box = _box(tmp_path / "home")
    (program,) = StorageService().programs(box)
    assert "-master.telemetry=false" in program.command
    assert f"-s3.localSocket={box.home / 's3' / 's3.sock'}" in program.command
    assert f"-filer.localSocket={box.home / 's3' / 'filer.sock'}" in program.command
    assert "-s3.iam=false" in program.command
    # a Unix socket path longer than sun_path would stop weed at start: keep its default (/tmp) then
    long_box = _box(tmp_path / ("x" * 100) / "home")
    (program,) = StorageService().programs(long_box)
    assert not any(arg.startswith(("-s3.localSocket", "-filer.localSocket")) for arg in program.command)


@pytest.fixture
def weed_sockets(tmp_path: Path) -> Iterator[tuple[Box, list[Path]]]:
    """The sockets a stopped `weed server` of this box leaves (on free ports, so none is another box's)."""
    box = _box(tmp_path / "home", free_port_base())
    (box.home / "s3").mkdir(parents=True)
    p = box.ports
    paths = [Path(f"/tmp/seaweedfs-{part}-grpc-{port + GRPC_SHIFT}.sock")  # noqa: S108
             for part, port in (("master", p.weed_master), ("volume", p.weed_volume),
                                ("filer", p.weed_filer), ("s3", p.s3_http))]
    paths += [Path(f"/tmp/seaweedfs-s3-{p.s3_http}.sock"), box.home / "s3" / "s3.sock",  # noqa: S108
              Path(f"/tmp/seaweedfs-filer-{p.weed_filer}.sock"), box.home / "s3" / "filer.sock"]  # noqa: S108
    for path in paths:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(path))  # left behind as a socket file, as weed's are
    try:
        yield box, paths
    finally:
        for path in paths:
            path.unlink(missing_ok=True)


def test_down_removes_the_sockets_weed_leaves_in_tmp(weed_sockets: tuple[Box, list[Path]]) -> None:
    box, paths = weed_sockets
    assert sorted(leftover_sockets(box)) == sorted(paths)
    StorageService().after_stop(box)
    assert [path for path in paths if path.exists()] == []


def test_a_socket_whose_port_is_in_use_belongs_to_a_live_weed(weed_sockets: tuple[Box, list[Path]]) -> None:
    box, paths = weed_sockets
    filer_grpc = box.ports.weed_filer + GRPC_SHIFT
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", filer_grpc))
        listener.listen()
        StorageService().after_stop(box)
    assert [path for path in paths if path.exists()] == [Path(f"/tmp/seaweedfs-filer-grpc-{filer_grpc}.sock")]  # noqa: S108


def test_htpasswd_is_current_only_with_exactly_the_secrets_entry(tmp_path: Path) -> None:
    box = _box(tmp_path / "home")
    path = box.home / "nginx" / "manager.htpasswd"
    assert not htpasswd_current(box, path)
    write_htpasswd(box, path)
    written = path.read_text()
    assert htpasswd_current(box, path)
    write_htpasswd(box, path)
    assert path.read_text() == written  # kept, salt and all
    path.write_text(written + "intruder:{PLAIN}open\n")
    assert not htpasswd_current(box, path)
    path.write_text(written.replace("govcloud:", "someone:"))
    assert not htpasswd_current(box, path)
    box.secrets.put(MANAGER_SECRET, "rotated-" + "z" * 32)
    path.write_text(written)
    assert not htpasswd_current(box, path)


@pytest.mark.parametrize("stripe", [(0, 2), (1, 2)])
def test_side_by_side_runs_take_port_bases_that_share_no_port(monkeypatch: pytest.MonkeyPatch,
                                                              stripe: tuple[int, int]) -> None:
    """Two test workers choose boxes at once: each takes its own stripe of bases, and every port of a box (its
    gRPC shifts too) falls in spans of its stripe, so no two boxes of different workers share one."""
    from govcloud_platform.box import ports

    monkeypatch.setattr(ports, "STRIPE", stripe)
    for _ in range(20):
        base = free_port_base()
        spans = {port // 100 % 2 for _, _, port in ports.Ports(base).all()}
        assert spans == {stripe[0]}


def test_test_boxes_take_ports_clear_of_the_ephemeral_range() -> None:
    """A port of the plan inside the kernel's ephemeral range can be any outgoing connection's source port when a
    server restarts (a failover test) or `down` checks what still listens: test and benchmark boxes avoid it."""
    from govcloud_platform.box.ports import Ports, clear_of_ephemeral, ephemeral_range

    assert clear_of_ephemeral(10000, 100, (32768, 60999)) and clear_of_ephemeral(22600, 100, (32768, 60999))
    assert not clear_of_ephemeral(22700, 100, (32768, 60999))  # its gRPC twin reaches 32799
    assert not clear_of_ephemeral(40000, 100, (32768, 60999)) and clear_of_ephemeral(61000, 100, (1024, 60999))
    low, high = ephemeral_range()
    assert 0 < low <= high < 65536
    for _ in range(20):
        base = free_port_base()
        assert all(not low <= port <= high for _, _, port in Ports(base).all()), base
