#!/usr/bin/python
"""Puts the files a host's box home needs in place in ONE module call: its directories with their modes, then
each file (the spec, the placement, the platform's secrets, the CA) written atomically with its mode, only
when its content or mode differs. One call instead of a `copy` per file: on a host with ~20 files that is one
SSH round trip instead of twenty (a `copy` costs ~1 s on a loaded machine). The files' contents are module
arguments marked no_log: never in a log, never on a command line (Ansible pipelines the module on stdin)."""

from __future__ import annotations

import os
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: govcloud_box_files
short_description: Directories and files of a host's box home, written atomically, only when they differ
options:
  directories:
    type: list
    elements: dict
    default: []
    description: Each with C(path) and C(mode) (an octal string); made when missing, given the mode.
  paths:
    type: list
    elements: path
    default: []
    description: The files, in order.
  contents:
    type: list
    elements: str
    default: []
    description: Each file's content (secret; never logged).
  modes:
    type: list
    elements: str
    default: []
    description: Each file's mode (an octal string).
  exclusive:
    type: list
    elements: path
    default: []
    description: Directories that hold only the files given in C(paths) (e.g. the home's secrets/ when a host
      runs fewer services than before); any other regular file there is removed. Names starting with a dot
      (a file being written) are left alone.
"""


def _mode(text: str) -> int:
    return int(str(text), 8)


def _ensure_dir(path: str, mode: int) -> bool:
    changed = False
    if not os.path.isdir(path):
        os.makedirs(path, exist_ok=True)
        changed = True
    if stat.S_IMODE(os.stat(path).st_mode) != mode:
        os.chmod(path, mode)
        changed = True
    return changed


def _ensure_file(path: str, content: str, mode: int) -> bool:
    data = content.encode()
    try:
        with open(path, "rb") as fh:
            same = fh.read() == data
        if same:
            if stat.S_IMODE(os.stat(path).st_mode) != mode:
                os.chmod(path, mode)
                return True
            return False
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=os.path.dirname(path))
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return True


def _prune(directory: str, keep: set[str]) -> list[str]:
    removed = []
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return removed
    for name in names:
        path = os.path.join(directory, name)
        if name.startswith(".") or path in keep or not os.path.isfile(path) or os.path.islink(path):
            continue
        os.unlink(path)
        removed.append(path)
    return removed


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "directories": {"type": "list", "elements": "dict", "default": []},
            "paths": {"type": "list", "elements": "path", "default": []},
            "contents": {"type": "list", "elements": "str", "default": [], "no_log": True},
            "modes": {"type": "list", "elements": "str", "default": []},
            "exclusive": {"type": "list", "elements": "path", "default": []},
        },
        supports_check_mode=False,
    )
    paths, contents, modes = module.params["paths"], module.params["contents"], module.params["modes"]
    if not len(paths) == len(contents) == len(modes):
        module.fail_json(msg=f"{len(paths)} paths, {len(contents)} contents and {len(modes)} modes")
    changed: list[str] = []
    removed: list[str] = []
    try:
        for item in module.params["directories"]:
            if _ensure_dir(str(item["path"]), _mode(item["mode"])):
                changed.append(str(item["path"]))
        for path, content, mode in zip(paths, contents, modes):  # noqa: B905 - lengths checked; hosts may run 3.8
            if _ensure_file(str(path), str(content), _mode(mode)):
                changed.append(str(path))
        keep = {os.path.normpath(str(p)) for p in paths}
        for directory in module.params["exclusive"]:
            removed += _prune(os.path.normpath(str(directory)), keep)
    except OSError as exc:
        module.fail_json(msg=f"{exc.filename or ''}: {exc.strerror}")
    module.exit_json(changed=bool(changed or removed), written=changed, removed=removed)


if __name__ == "__main__":
    main()
