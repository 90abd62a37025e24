"""The `govcloud` entry point: hand the command to the box's CLI agent when one serves this box, else run it here.

Starting Python and importing typer, pydantic, psycopg, boto3 and requests costs about a second of CPU per
command; the brokers' own work is a third of that. The agent (`govcloud_cli.agent`, a supervisord program of
the box) has imported everything once; for each command it forks a child that runs exactly the code this
process would run, on this process's own stdin, stdout and stderr (passed over a Unix socket), in its working
directory, with its environment. So the output, the prompts, the exit code and the audit log are the same
either way; only the start-up is gone. This module imports nothing but the standard library.

Commands that manage the box itself (`up`, `down`, `box`, ...) and commands that need no box never go to
the agent, nor does anything when GOVCLOUD_NO_AGENT is set, when the agent's code differs from ours (a new
govcloud: `up` restarts it) or when no agent answers: the command then runs in this process, as before."""

from __future__ import annotations

import os
import signal
import socket
import struct
import sys

from govcloud_platform.agent_protocol import PROTOCOL, code_digest, socket_path

# Commands that run in this process: the box's own lifecycle (the agent is one of its programs), and those
# that need no box at all.
LOCAL_COMMANDS = frozenset({"up", "down", "box", "init", "validate", "schema", "lab", "hosts", "iaas", "policy"})
# Global options that take a value (their value is not the command).
VALUE_OPTIONS = frozenset({"--spec", "--home", "--actor"})


def home_and_command(argv: list[str]) -> tuple[str, str | None]:
    """The box directory and the command word of a `govcloud` command line, as the root callback will read
    them (`--home DIR`, `--home=DIR`, GOVCLOUD_HOME, else ./.govcloud)."""
    home = os.environ.get("GOVCLOUD_HOME") or ".govcloud"
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in VALUE_OPTIONS and i + 1 < len(argv):
            if arg == "--home":
                home = argv[i + 1]
            i += 2
            continue
        if arg.startswith("--home="):
            home = arg.split("=", 1)[1]
        elif not arg.startswith("-"):
            return home, arg
        i += 1
    return home, None


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        try:
            chunk = sock.recv(size - len(data))
        except InterruptedError:
            continue
        if not chunk:
            return None
        data += chunk
    return data


def via_agent(argv: list[str]) -> int | None:
    """Run the command in a child of the agent; its exit code, or None if no agent takes it (run it here)."""
    if os.environ.get("GOVCLOUD_NO_AGENT"):
        return None
    home, command = home_and_command(argv)
    if command is None or command in LOCAL_COMMANDS or not home:
        return None
    path = socket_path(home)
    if len(path) >= 100:
        return None
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(2)
        sock.connect(path)
    except OSError:
        return None
    import json

    request = json.dumps({"protocol": PROTOCOL, "digest": code_digest(), "argv": argv, "cwd": os.getcwd(),
                          "env": dict(os.environ), "umask": _umask()}).encode()
    try:
        sock.sendall(struct.pack("!I", len(request)))
        socket.send_fds(sock, [request], [0, 1, 2])
        sock.settimeout(None)
        header = _recv_exact(sock, 4)
    except OSError:
        return None
    if header is None:
        return None
    child = struct.unpack("!i", header)[0]
    if child <= 0:  # the agent declined (another govcloud's code): run here
        return None

    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(child, signum)
        except OSError:
            pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    status = _recv_exact(sock, 4)
    if status is None:
        sys.stderr.write("error: the govcloud agent lost the command (see `govcloud logs supervisord`); "
                         "re-run it: it converges\n")
        return 1
    return int(struct.unpack("!i", status)[0])


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def run() -> None:
    code = via_agent(sys.argv[1:])
    if code is None:
        from govcloud_cli.main import run as run_here

        run_here()
        return
    sys.exit(code)


if __name__ == "__main__":
    run()
