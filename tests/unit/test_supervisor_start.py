"""`up` never starts a second supervisord beside one that runs but does not answer (a loaded host): the first
would keep its programs, and their ports, out of every later `down`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from govcloud_platform.box.context import Box
from govcloud_platform.box.supervisor import Supervisor
from govcloud_platform.errors import ServiceError
from govcloud_platform.spec import load_spec_text
from govcloud_platform.spec.example import EXAMPLE_SPEC


def test_a_running_supervisord_that_does_not_answer_is_not_doubled(tmp_path: Path) -> None:
    box = Box(home=tmp_path / "home", spec=load_spec_text(EXAMPLE_SPEC), port_base=30000)
    sup = Supervisor(box)
    sup.answer_wait_s = 0.3
    sup.pidfile.parent.mkdir(parents=True, exist_ok=True)
    sup.pidfile.write_text(f"{os.getpid()}\n")  # a live process, and no socket: it does not answer
    before = subprocess.run(["pgrep", "-c", "-f", str(sup.conf)], capture_output=True, text=True).stdout.strip()
    with pytest.raises(ServiceError, match=f"supervisord \\(pid {os.getpid()}\\) runs but does not answer"):
        sup.start()
    after = subprocess.run(["pgrep", "-c", "-f", str(sup.conf)], capture_output=True, text=True).stdout.strip()
    assert before == after == "0"  # none started
    assert not sup.conf.exists()  # nothing written either


def test_a_program_that_dies_is_reported_by_its_fatal_line_not_its_stack_trace() -> None:
    from govcloud_platform.box.supervisor import log_tail

    weed = ("I1202 15:43:37.1 filer.go:120] Start Seaweed Filer\n"
            "F1202 15:43:38.123456 filer.go:335] Filer startup error: resource temporarily unavailable\n"
            "goroutine 1 [running]:\n\tgithub.com/seaweedfs/seaweedfs/weed/command/filer.go:335 +0x6ee\n"
            "main.main()\n\tgithub.com/seaweedfs/seaweedfs/weed/weed.go:97 +0x469\n")
    got = log_tail(weed)
    assert got.startswith("F1202 15:43:38.123456 filer.go:335] Filer startup error: resource temporarily")
    assert got.endswith("main.main() | github.com/seaweedfs/seaweedfs/weed/weed.go:97 +0x469")
    # a plain last line is not repeated; a log without a fatal line is its tail
    assert log_tail("starting\nValueError: bad port\n") == "last log lines: starting | ValueError: bad port"
    assert log_tail("a\nb\nc\nd\n") == "last log lines: b | c | d"
