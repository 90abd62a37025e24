"""What one local user can do to a list of paths: run by tests/security/test_local.py under the system Python,
standard library only, as that user from exec on (the test hands its source to `python3 -c`, so the user needs
no access to the checkout). Reads {"read": [...], "list": [...], "write_dir": [...], "write_file": [...],
"connect": [...]} on stdin and prints the same keys with only the paths where the attempt SUCCEEDED, plus the
uid it ran as. No attempt changes anything: a file created in a directory is removed at once, a file opened
for writing is closed without a byte written."""

import json
import os
import socket
import sys


def can_read(path: str) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        os.read(fd, 1)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def can_list(path: str) -> bool:
    try:
        os.listdir(path)
    except OSError:
        return False
    return True


def can_create_in(path: str) -> bool:
    probe = os.path.join(path, f".govcloud-local-probe-{os.getpid()}")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return False
    os.close(fd)
    os.unlink(probe)
    return True


def can_open_for_writing(path: str) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK)
    except OSError:
        return False
    os.close(fd)
    return True


def can_connect(path: str) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM, socket.SOCK_SEQPACKET):
        sock = socket.socket(socket.AF_UNIX, kind)
        sock.settimeout(2)
        try:
            sock.connect(path)
            return True
        except OSError as exc:
            if exc.errno != 91:  # EPROTOTYPE: the socket is of another type, try the next
                return False
        finally:
            sock.close()
    return False


CHECKS = {"read": can_read, "list": can_list, "write_dir": can_create_in, "write_file": can_open_for_writing,
          "connect": can_connect}


def main() -> None:
    todo = json.load(sys.stdin)
    done = {kind: [p for p in todo.get(kind, []) if check(p)] for kind, check in CHECKS.items()}
    json.dump({"uid": os.getuid(), "euid": os.geteuid(), "groups": os.getgroups(), **done}, sys.stdout)


if __name__ == "__main__":
    main()
