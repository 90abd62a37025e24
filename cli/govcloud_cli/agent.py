"""The box's CLI agent: a process that has imported govcloud once and forks a child per command.

`govcloud_cli.launcher` connects to `<home>/run/agent.sock` (root's only: the directory is 0700 and the peer
must be root), sends its command line, working directory, environment, umask and a digest of its code, and
passes its stdin, stdout and stderr. The agent forks; the child takes those descriptors as its own 0, 1 and 2
and runs `govcloud_cli.main.run` exactly as the launcher would have, then reports its exit code. Nothing
survives from one command to the next: the agent itself holds no connection, no secret and no box state, only
imported modules (so a fork shares nothing that would break in two processes)."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import sys
from pathlib import Path
from typing import Any

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
    while True:
        try:
            conn, _ = server.accept()
        except InterruptedError:
            continue
        if os.fork() == 0:
            server.close()
            _child(conn, digest)  # never returns
        conn.close()


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


def _child(conn: socket.socket, digest: str) -> None:
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
