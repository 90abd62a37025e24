"""The box's CLI agent: a process that has imported govcloud once and forks a child per command.

`govcloud_cli.launcher` connects to `<home>/run/agent.sock` (root's only: the directory is 0700 and the peer
must be root), sends its command line, working directory, environment, umask and a digest of its code, and
passes its stdin, stdout and stderr. A worker forked ahead of the command (prefork) takes the connection,
takes those descriptors as its own 0, 1 and 2 and runs `govcloud_cli.main.run` exactly as the launcher would
have, then reports its exit code. While it waits, the worker starts a `weed shell` on the box's master, which a
command that talks to object storage then uses instead of paying the binary's start (~0.25 s). Nothing survives
from one command to the next: the agent holds no connection, no secret and no box state, only imported modules
(so a fork shares nothing that would break in two processes)."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any, NoReturn

from govcloud_platform.agent_protocol import PROTOCOL, SOCKET_NAME, code_digest

MAX_REQUEST = 4 * 1024 * 1024


def warm() -> None:
    """Import what commands import, once: the CLI, the core and the clients of every service."""
    import boto3  # noqa: F401
    import botocore.session
    import cryptography.fernet  # noqa: F401
    import psycopg  # noqa: F401
    import requests  # noqa: F401
    import rich.console  # noqa: F401
    import rich.table  # noqa: F401

    import govcloud_cli.main  # noqa: F401
    import govcloud_platform.apps.service  # noqa: F401
    import govcloud_platform.backups.agency  # noqa: F401
    import govcloud_platform.box.runtime  # noqa: F401
    import govcloud_platform.onboarding  # noqa: F401
    import govcloud_platform.spec  # noqa: F401

    botocore.session.get_session().get_service_model("s3")  # the S3 API model: JSON read once
    import boto3.s3.transfer  # noqa: F401 - what a client's creation imports
    import supervisor.xmlrpc  # noqa: F401
    import typer._adapters  # noqa: F401
    import yaml  # noqa: F401

    import govcloud_platform.brokers.backups  # noqa: F401
    import govcloud_platform.brokers.identity  # noqa: F401
    import govcloud_platform.brokers.storage  # noqa: F401
    import govcloud_platform.upgrade  # noqa: F401
    from govcloud_platform.box.context import LOOPBACK, Box
    from govcloud_platform.spec import load_spec_text
    from govcloud_platform.spec.example import EXAMPLE_SPEC

    # What a command does first, once here: the spec loader's first run (its regular expressions), and the
    # process's boto3 session with the S3 model loaded by a client's creation (the box's own is made per command).
    spec = load_spec_text(EXAMPLE_SPEC)
    client = Box(home=Path("/nonexistent-govcloud-agent-warmup"), spec=spec)._new_s3_client(LOOPBACK, "warm-up")
    client.get_paginator("list_objects_v2")  # its model, read once
    govcloud_cli.main.command()  # the click command Typer builds from the app


def serve(home: Path) -> None:
    warm()
    digest = code_digest()
    run_dir = home / "run"
    run_dir.mkdir(mode=0o700, exist_ok=True)
    run_dir.chmod(0o700)
    path = run_dir / SOCKET_NAME
    path.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o077)
    server.bind(str(path))
    os.umask(old)
    server.listen(64)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children reap themselves
    def stop(_signum: int, _frame: object) -> None:
        path.unlink(missing_ok=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    sys.stderr.write(f"govcloud agent: serving {path} (code {digest})\n")
    sys.stderr.flush()
    worker = _fork_worker(server, home, digest)
    while True:
        try:
            conn, _ = server.accept()
        except InterruptedError:
            continue
        while True:  # hand the connection to the waiting worker (a new one if it died), then fork the next
            try:
                socket.send_fds(worker, [b"c"], [conn.fileno()])
                break
            except OSError:
                worker.close()
                worker = _fork_worker(server, home, digest)
        conn.close()
        worker.close()
        worker = _fork_worker(server, home, digest)


def _fork_worker(server: socket.socket, home: Path, digest: str) -> socket.socket:
    """A child forked ahead of the next command (prefork): it starts a `weed shell` while it waits, so a
    command that talks to object storage does not wait for the binary's start. Returns the parent's end of
    the socket pair the connection is handed over."""
    mine, theirs = socket.socketpair()
    if os.fork() != 0:
        theirs.close()
        return mine
    mine.close()
    server.close()
    # Its own session: supervisord stops the agent's whole process group, and a command that is running when
    # the agent is restarted (`up` with a new govcloud) must go on, as it would in its own process.
    os.setsid()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # its weed shell is its own child, to be waited for
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    spare = _start_spare(home)
    while not select.select([theirs], [], [], REFRESH_SPARE_S)[0]:  # idle: keep the spare fresh
        _stop(spare)
        spare = _start_spare(home)
    try:
        _, fds, _, _ = socket.recv_fds(theirs, 1, 1)
    except OSError:
        fds = []
    if not fds:  # the agent went away
        _stop(spare)
        os._exit(0)
    if spare is not None:
        from govcloud_platform.box.services.storage import offer_spare

        offer_spare(*spare)
    _child(socket.socket(fileno=fds[0]), digest)  # never returns


REFRESH_SPARE_S = 60.0
Spare = tuple[str, Path, "subprocess.Popen[str]", float, int | None]


def _start_spare(home: Path) -> Spare | None:
    """A `weed shell` on the box's master, if object storage answers (else commands start their own)."""
    import time

    from govcloud_platform.box.network import LOOPBACK
    from govcloud_platform.box.ports import GRPC_SHIFT, Ports
    from govcloud_platform.box.services.storage import master_listener, start_shell

    try:
        recorded = json.loads((home / "box.json").read_text())
        ports, address = Ports(int(recorded["port_base"])), str(recorded.get("address", LOOPBACK))
        master, filer = ports.weed_master, f"{address}:{ports.weed_filer}"
        cwd = home / "s3"
        if not (cwd / "security.toml").exists():
            return None
        socket.create_connection((address, master + GRPC_SHIFT), timeout=1).close()
        listener = master_listener(master + GRPC_SHIFT)  # a restarted master makes the spare useless
        shell = start_shell(f"{address}:{master}", cwd, filer)
        return f"{address}:{master}", cwd, shell, time.monotonic(), listener
    except (OSError, ValueError, KeyError):
        return None


def _stop(spare: Spare | None) -> None:
    if spare is not None:
        spare[2].kill()
        spare[2].communicate()


def _peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[1])


def _read_request(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    header = conn.recv(4, socket.MSG_WAITALL)
    if len(header) != 4:
        raise ValueError("short header")
    size = struct.unpack("!I", header)[0]
    if size > MAX_REQUEST:
        raise ValueError("request too large")
    data, fds, _, _ = socket.recv_fds(conn, size, 3)
    while len(data) < size:
        more = conn.recv(size - len(data))
        if not more:
            raise ValueError("short request")
        data += more
    return json.loads(data), fds


def _child(conn: socket.socket, digest: str) -> NoReturn:
    """Become the command: its descriptors, directory, environment, umask, arguments; report the exit code."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # subprocess must wait for its own children
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    fds: list[int] = []
    try:
        if _peer_uid(conn) != os.getuid():
            raise PermissionError("peer is another user")
        request, fds = _read_request(conn)
        if request.get("protocol") != PROTOCOL or request.get("digest") != digest or len(fds) != 3:
            conn.sendall(struct.pack("!i", 0))  # declined: the launcher runs the command itself
            os._exit(0)
    except (OSError, ValueError):
        os._exit(1)
    conn.sendall(struct.pack("!i", os.getpid()))
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the client's, for the life of the command
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.umask(int(request["umask"]))
    sys.argv = ["govcloud", *request["argv"]]
    main_module = sys.modules["__main__"]
    main_module.__package__ = None  # else click names the program `python -m govcloud_cli.govcloud`
    code = 1
    try:
        from govcloud_cli.main import run

        run()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - main.run funnels errors; anything else is a crash
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except OSError:
                pass
        try:
            conn.sendall(struct.pack("!i", code))
        except OSError:
            pass
        os._exit(code)


def main() -> None:
    if len(sys.argv) != 3 or sys.argv[1] != "--home":
        sys.stderr.write("usage: python -m govcloud_cli.agent --home DIR\n")
        sys.exit(2)
    serve(Path(sys.argv[2]).resolve())


if __name__ == "__main__":
    main()
