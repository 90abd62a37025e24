"""nginx, the box's front door: the IdP's portal and manager API (server blocks the identity service gives)
and every app's virtual host (`apps.d/`, written by the app roles, which take their paths from here). One
process, started and stopped with the identity service."""

from __future__ import annotations

import base64
import hashlib
import os
import pwd
from dataclasses import dataclass
from pathlib import Path

from govcloud_platform.box.context import Box
from govcloud_platform.box.llng_store import DAEMON_USER
from govcloud_platform.box.secrets import new_password, write_private
from govcloud_platform.box.services.base import Program, file_holds

PROGRAM = "nginx"


@dataclass(frozen=True)
class Paths:
    root: Path  # nginx's prefix
    conf: Path
    htpasswd: Path  # the manager API's only credential
    apps: Path  # the apps' virtual hosts
    tmp: Path
    pid: Path


def paths(box: Box) -> Paths:
    root = box.home / "nginx"
    return Paths(root, root / "nginx.conf", root / "manager.htpasswd", root / "apps.d", root / "tmp",
                 root / "nginx.pid")


def apps_paths(box: Box) -> Paths:
    """The nginx that serves the apps' virtual hosts: the box's own on one machine; on the hosts target the apps'
    front of the apps host (`edge.AppsFrontService`), a master of its own beside the IdP's nginx (same
    `apps.d/`, its own configuration, pid and temporary files)."""
    if box.placement is None:
        return paths(box)
    root = box.home / "nginx"
    return Paths(root, root / "apps-nginx.conf", root / "manager.htpasswd", root / "apps.d", root / "tmp-apps",
                 root / "apps-nginx.pid")


def prepare(box: Box, servers: str) -> None:
    p = paths(box)
    box.dir("nginx", "apps.d").chmod(0o700)  # app vhosts: read by nginx's master (root) only
    box.dir("nginx", "tmp")
    for d in (p.root, p.tmp):  # nginx's workers (www-data) traverse to the password file and temp files
        d.chmod(0o711)  # noqa: S103 - traversed, never listed
    write_htpasswd(box, p.htpasswd)
    write_private(p.conf, render_conf(box, servers))  # read by the master (root)


def stale(box: Box, servers: str) -> bool:
    """nginx reads its configuration at start only (a wrong password file needs a rewrite, not a restart)."""
    p = paths(box)
    return not file_holds(p.conf, render_conf(box, servers)) or not htpasswd_current(box, p.htpasswd)


def program(box: Box) -> Program:
    p = paths(box)
    return Program(name=PROGRAM, command=["/usr/sbin/nginx", "-c", str(p.conf), "-p", f"{p.root}/",
                                          "-e", str(box.log_dir / "nginx-error.log")],
                   priority=31, stopsignal="QUIT")

MANAGER_USER = "govcloud"
MANAGER_SECRET = "idp-manager-password"


def htpasswd_current(box: Box, path: Path) -> bool:
    """The file holds exactly the manager secret's entry (its salt is random: compare by checking the hash)."""
    password = box.secrets.get(MANAGER_SECRET)
    try:
        current = path.read_text()
    except OSError:
        return False
    prefix = f"{MANAGER_USER}:{{SSHA}}"
    if password is None or not current.startswith(prefix) or current.count("\n") != 1:
        return False
    try:
        raw = base64.b64decode(current[len(prefix):].strip(), validate=True)
    except ValueError:
        return False
    return hashlib.sha1(password.encode() + raw[20:]).digest() == raw[:20]  # noqa: S324 - nginx's format


def write_htpasswd(box: Box, path: Path) -> None:
    """The manager API's only credential, for nginx's auth_basic: salted SHA-1 ({SSHA}) of a 32-byte random
    secret, readable by nginx's worker user only."""
    password = box.secrets.get_or_create(MANAGER_SECRET, lambda: new_password(32))
    if htpasswd_current(box, path):  # keep it (and its salt) when it still matches the secret
        return
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()  # noqa: S324 - nginx's format
    write_private(path, f"{MANAGER_USER}:{{SSHA}}{base64.b64encode(digest + salt).decode()}\n")
    if os.geteuid() == 0:
        uid = pwd.getpwnam(DAEMON_USER).pw_uid
        os.chown(path, uid, uid)



def render_conf(box: Box, servers: str, p: Paths | None = None, apps: bool | None = None,
                error_log: str = "nginx-error.log", access_log: str = "nginx-access.log") -> str:
    """nginx.conf: the http settings, the servers given (the IdP's), and every app's virtual host (`apps`: on one
    machine; on the hosts target the apps' front serves them, `apps_paths`)."""
    p = p or paths(box)
    apps = box.placement is None if apps is None else apps
    logs = box.log_dir
    where = f"{box.bind_address('proxy_https')}:{box.ports.proxy_https}" if box.placement is None else "the apps' front"
    include = (f"    # Per-app virtual hosts on the proxy port ({where}).\n"
               f"    include {p.apps}/*.conf;\n") if apps else ""
    tmp = p.tmp

    return f"""\
# Written by govcloud (box nginx, the front door); rewritten by `govcloud up`.
user {DAEMON_USER};
worker_processes 1;
daemon off;
pid {p.pid};
error_log {logs}/{error_log} warn;

events {{
    worker_connections 512;
}}

http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    # The client's address: what an edge said in the PROXY protocol (hosts target), else the connection's.
    map $proxy_protocol_addr $govcloud_client {{
        ""      $remote_addr;
        default $proxy_protocol_addr;
    }}
    log_format govcloud '$govcloud_client $remote_addr [$time_local] "$request" $status $body_bytes_sent';
    access_log {logs}/{access_log} govcloud;
    client_body_temp_path {tmp}/body;
    fastcgi_temp_path {tmp}/fastcgi;
    proxy_temp_path {tmp}/proxy;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server_tokens off;
    sendfile on;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:1m;
{servers}
{include}}}
"""
