"""The box's CLI agent: a command through it behaves exactly as in its own process (output, exit code, one
error line), the socket is root's only, a client of other code is declined (it runs the command itself), and
Ctrl-C reaches the command."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import time

import pytest

from govcloud_platform.agent_protocol import PROTOCOL, socket_path
from tests.conftest import GOVCLOUD, BoxHandle, assert_one_error

pytestmark = pytest.mark.integration
LOCAL = {"GOVCLOUD_NO_AGENT": "1"}


def test_the_agent_serves_the_box_from_a_private_socket(box: BoxHandle) -> None:
    path = socket_path(str(box.home))
    st = os.stat(path)
    assert st.st_uid == 0 and st.st_mode & 0o077 == 0
    assert os.stat(os.path.dirname(path)).st_mode & 0o077 == 0


@pytest.mark.parametrize("args", [("--json", "agency", "list"), ("agency", "show", "no-such-agency"),
                                  ("--json", "agency", "credentials", "no-such-agency"), ("agency", "bogus")])
def test_a_command_through_the_agent_is_the_same_as_in_its_own_process(box: BoxHandle, args: tuple[str, ...]) -> None:
    via_agent, local = box.cli(*args), box.cli(*args, env=LOCAL)
    assert (via_agent.rc, via_agent.stdout, via_agent.stderr) == (local.rc, local.stdout, local.stderr)
    if via_agent.rc == 2 and "no-such-agency" in args:
        assert_one_error(via_agent)


def test_a_client_of_other_code_is_declined(box: BoxHandle) -> None:
    request = json.dumps({"protocol": PROTOCOL, "digest": "not-this-code", "argv": ["agency", "list"],
                          "cwd": "/", "env": {}, "umask": 0o22}).encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(socket_path(str(box.home)))
        sock.sendall(struct.pack("!I", len(request)))
        socket.send_fds(sock, [request], [0, 1, 2])
        assert struct.unpack("!i", sock.recv(4, socket.MSG_WAITALL))[0] == 0  # declined: the client runs it


def test_interrupting_the_client_interrupts_the_command(box: BoxHandle) -> None:
    proc = subprocess.Popen([GOVCLOUD, *box.args("logs", "database", "--follow", "-n", "1")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        proc.stdout.readline()  # the command runs (in the agent's child)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0  # as in its own process: Ctrl-C ends --follow quietly
    finally:
        if proc.poll() is None:
            proc.kill()
