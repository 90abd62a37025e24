"""Reading /proc/<pid>/stat (proc(5)), for what a pid alone cannot tell: whether a process is a zombie, and
which process a pid names (its start time: a pid is reused, a pid and a start time are not)."""

from __future__ import annotations

# Indexes into `stat_fields`: proc(5)'s field 3 (state) and field 22 (start time in clock ticks since boot).
STATE = 0
START_TIME = 19


def stat_fields(text: str) -> list[str]:
    """Pure: the fields of a stat line after the command name (field 2), which may hold spaces and ')': split
    after the last ')'. STATE and START_TIME index the result."""
    return text.rsplit(")", 1)[-1].split()
