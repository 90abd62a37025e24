"""The CLI agent as a program of the box (`govcloud_cli.agent`): started by `up`, restarted by `up` when the
installed govcloud changes (its code digest is in the program's environment), stopped first by `down`. It is
an accelerator, not a service: without it every command still runs, in its own process."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from govcloud_platform.agent_protocol import code_digest, socket_path
from govcloud_platform.box.context import Box
from govcloud_platform.box.services.base import Program
from govcloud_platform.box.supervisor import Supervisor

NAME = "cli-agent"
PRIORITY = 95  # starts after every service, stops before them
READY_WAIT_S = 20.0  # an agent that is not listening by then is not waited for: commands run in their own process


def program(box: Box, digest: str) -> Program:
    return Program(NAME, [sys.executable, "-m", "govcloud_cli.agent", "--home", str(box.home)], priority=PRIORITY,
                   environment={"GOVCLOUD_AGENT_CODE": digest}, stopsignal="TERM", stopwaitsecs=5, startsecs=0)


def ensure(box: Box, sup: Supervisor) -> None:
    """The agent's section as this govcloud writes it, and the agent running (a changed section restarts it). A
    host's home of the hosts target runs none (an older govcloud's is removed): the control drives it over SSH
    without an agent, and an agent costs ~160 MiB for what an operator types there now and then."""
    if not box.keeps_registry:
        sup.remove(NAME)
        return
    prog = program(box, code_digest())
    if not sup.is_current(prog):
        sup.sync_programs([prog])
    sup.ensure_running(prog.name)
    deadline = time.monotonic() + READY_WAIT_S
    path = Path(socket_path(str(box.home)))
    while not path.is_socket() and time.monotonic() < deadline:  # its imports take a second or two
        time.sleep(0.05)
