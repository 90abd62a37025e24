"""The CLI agent as a program of the box (`govcloud_cli.agent`): started by `up`, restarted by `up` when the
installed govcloud changes (its code digest is in the program's environment), stopped first by `down`. It is
an accelerator, not a service: without it every command still runs, in its own process."""

from __future__ import annotations

import sys

from govcloud_platform.agent_protocol import code_digest
from govcloud_platform.box.context import Box
from govcloud_platform.box.services.base import Program
from govcloud_platform.box.supervisor import Supervisor

NAME = "cli-agent"
PRIORITY = 95  # starts after every service, stops before them


def program(box: Box, digest: str) -> Program:
    return Program(NAME, [sys.executable, "-m", "govcloud_cli.agent", "--home", str(box.home)], priority=PRIORITY,
                   environment={"GOVCLOUD_AGENT_CODE": digest}, stopsignal="TERM", stopwaitsecs=5, startsecs=0)


def ensure(box: Box, sup: Supervisor) -> None:
    """The agent's section as this govcloud writes it, and the agent running (a changed section restarts it)."""
    prog = program(box, code_digest())
    if not sup.is_current(prog):
        sup.sync_programs([prog])
    sup.ensure_running(prog.name)
