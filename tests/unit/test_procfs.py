"""/proc/<pid>/stat read after the command name, which may hold spaces and ')'."""

from __future__ import annotations

import os
from pathlib import Path

from govcloud_platform.procfs import START_TIME, STATE, stat_fields


def test_fields_after_a_command_name_with_spaces_and_parentheses() -> None:
    line = "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10\n"
    fields = stat_fields(line)
    assert fields[STATE] == "S" and fields[START_TIME] == "987654"


def test_our_own_process_is_running_and_has_a_start_time() -> None:
    fields = stat_fields(Path(f"/proc/{os.getpid()}/stat").read_text())
    assert fields[STATE] in ("R", "S") and int(fields[START_TIME]) > 0
