#!/usr/bin/python
"""Looks at one host of the `hosts` target for what its groups will need, and changes nothing: whether the
host's root exists or can be made (and its file system is writable), the free disk under it, and whether each
TCP port its services will bind is free on the address it will be bound to. Binding a port to test it is the
only way to ask the kernel (a listener on 0.0.0.0 takes the port of every address; a missing address is
EADDRNOTAVAIL); the socket is closed at once and never listens. Observations only: govcloud decides what they
mean (govcloud_platform.hosts.preflight)."""

from __future__ import annotations

import errno
import os
import socket

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: govcloud_host_probe
short_description: Observe a host's root directory, free disk and TCP ports (read-only)
options:
  root:
    type: path
    required: true
    description: Directory that will hold every file of the host's services.
  ports:
    type: list
    elements: dict
    default: []
    description: Ports to test, each with C(label), C(port) and C(address).
  python:
    type: str
    default: ""
    description: Version of the host's Python, as the role found it.
"""


def nearest_existing(path: str) -> str:
    while not os.path.lexists(path) and path not in ("", "/"):
        path = os.path.dirname(path)
    return path or "/"


def closed_ancestor(path: str):
    """The first directory from `path` up to / that others cannot pass through (no o+x), or None: the
    services' own users (postgres, www-data) must reach the root's box home."""
    while True:
        try:
            if os.path.isdir(path) and not os.stat(path).st_mode & 0o001:
                return path
        except OSError:
            return None
        if path in ("", "/"):
            return None
        path = os.path.dirname(path)


def root_facts(root: str) -> dict:
    exists = os.path.lexists(root)
    probe = root if exists else nearest_existing(root)
    out = {"path": root, "exists": exists, "is_dir": os.path.isdir(root), "probe": probe,
           "probe_is_dir": os.path.isdir(probe), "writable": os.access(probe, os.W_OK | os.X_OK),
           "closed": closed_ancestor(probe)}
    try:
        st = os.statvfs(probe)
        out.update(read_only=bool(st.f_flag & os.ST_RDONLY), free_mb=st.f_bavail * st.f_frsize // 2**20)
    except OSError as exc:
        out.update(read_only=None, free_mb=None, error=exc.strerror or str(exc))
    return out


def port_state(address: str, port: int) -> str:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the services bind: TIME_WAIT is free
        sock.bind((address, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return "in_use"
        if exc.errno == errno.EADDRNOTAVAIL:
            return "not_held"
        return "error: " + (exc.strerror or str(exc))
    finally:
        sock.close()
    return "free"


def main() -> None:
    module = AnsibleModule(
        argument_spec={"root": {"type": "path", "required": True},
                       "ports": {"type": "list", "elements": "dict", "default": []},
                       "python": {"type": "str", "default": ""}},
        supports_check_mode=True,
    )
    busy = []
    for item in module.params["ports"]:
        state = port_state(str(item["address"]), int(item["port"]))
        if state != "free":
            busy.append({"label": str(item.get("label", "")), "port": int(item["port"]),
                         "address": str(item["address"]), "state": state})
    facts = {"python": module.params["python"], "hostname": socket.gethostname(),
             "root": root_facts(module.params["root"]), "ports_checked": len(module.params["ports"]),
             "ports_busy": busy}
    module.exit_json(changed=False, ansible_facts={"host_preflight": facts})


if __name__ == "__main__":
    main()
