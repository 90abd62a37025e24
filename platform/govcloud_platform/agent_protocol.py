"""What the `govcloud` launcher and the box's CLI agent agree on (standard library only: the launcher imports
nothing else before it knows whether an agent takes the command)."""

from __future__ import annotations

import os

SOCKET_NAME = "agent.sock"
PROTOCOL = 1


def socket_path(home: str) -> str:
    return os.path.join(os.path.abspath(home), "run", SOCKET_NAME)


def code_digest() -> str:
    """What identifies the installed govcloud code: every module's path, size and modification time (a stat
    per file, about a millisecond in all). The agent refuses a client whose code is not its own."""
    import hashlib
    from importlib.util import find_spec

    h = hashlib.sha256()
    for package in ("govcloud_cli", "govcloud_platform", "govcloud_stacks", "govcloud_policies"):
        spec = find_spec(package)
        for root in sorted(spec.submodule_search_locations or []) if spec else []:
            for directory, dirs, files in os.walk(root):
                dirs.sort()
                for name in sorted(files):
                    if name.endswith(".py"):
                        st = os.stat(os.path.join(directory, name))
                        h.update(f"{directory}/{name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]
