"""The two services of the hosts target that publish the apps (on a topology with `apps` hosts), the second of which
also fronts a storage cluster's S3 gateways (`s3_gateways`, with or without apps) and the IdP's portals on several
hosts (`idp_edge`):

- `apps`, the apps' front on the apps host: an nginx master of its own (`apps-nginx`) that serves the apps'
  virtual hosts (`nginx/apps.d/`, written by the app roles, TLS with each app's certificate from the platform CA)
  on `apps_listen_address` and the proxy port. The apps' programs run under the same supervisord.
- `proxy`, the edge: nginx's stream module on the proxy host, listening on its address and the proxy port and
  passing every TLS connection through, untouched, to the apps' front; and on the `s3_edge` port to the S3
  gateways (the gateways' certificate names every edge: `hosts.deploy`). The edge holds no key and sees no
  plaintext: TLS runs from the citizen's browser to the apps host, so the hop between the two hosts is encrypted
  with the app's own certificate, and a client that verifies against the platform CA checks the app's name.

On one machine neither exists: the box's own nginx (the identity service's) is both. How the apps' nginx is
configured is `nginx.render_conf`, the same as the box's; only the servers differ."""

from __future__ import annotations

import socket
from pathlib import Path

from govcloud_platform.box.context import Box
from govcloud_platform.box.llng_store import DAEMON_USER
from govcloud_platform.box.network import LOOPBACK
from govcloud_platform.box.placement import Placement, apps_listen_address
from govcloud_platform.box.secrets import write_private
from govcloud_platform.box.services import nginx
from govcloud_platform.box.services.base import Program, Service, file_holds

APPS_PROGRAM = "apps-nginx"
EDGE_PROGRAM = "edge"
STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"
CONNECT_TIMEOUT_S = 2.0


def listening(address: str, port: int, timeout: float = CONNECT_TIMEOUT_S) -> tuple[bool, str]:
    """Whether something accepts TCP connections on address:port (a real connection, closed at once)."""
    try:
        with socket.create_connection((address, port), timeout):
            return True, f"listening on {address}:{port}"
    except OSError as exc:
        return False, f"nothing accepts on {address}:{port}: {exc.strerror or exc}"


def apps_access(placement: Placement | None) -> str:
    """Pure: who may talk to the apps' front (nginx access rules of its http block). Where it listens on the apps
    host's own address (the edge runs on another host), only the edge's host and the host itself: a client that
    goes around the edge gets 403 (TLS is answered, nothing of an app is). On loopback, nothing to add."""
    listen = apps_listen_address(placement)
    edges = [w.address for w in placement.instances_of("proxy")] if placement is not None else []
    if listen == LOOPBACK or not edges:
        return ""
    allow = "".join(f"    allow {address};\n" for address in [*edges, LOOPBACK, listen])
    return f"    # Only through the edges ({', '.join(edges)}) and from this host.\n{allow}    deny all;\n"


class AppsFrontService(Service):
    name = "apps"
    binaries = (("/usr/sbin/nginx", "nginx-light"),)

    def _conf(self, box: Box) -> str:
        return nginx.render_conf(box, apps_access(box.placement), nginx.apps_paths(box), apps=True,
                                 error_log="apps-nginx-error.log", access_log="apps-nginx-access.log")

    def prepare(self, box: Box) -> None:
        p = nginx.apps_paths(box)
        box.dir("nginx", "apps.d").chmod(0o700)  # the apps' vhosts: read by nginx's master (root) only
        box.dir("nginx", p.tmp.name)
        for d in (p.root, p.tmp):  # nginx's workers (www-data) write their temporary files there
            d.chmod(0o711)  # noqa: S103 - traversed, never listed
        write_private(p.conf, self._conf(box))

    def programs(self, box: Box) -> list[Program]:
        p = nginx.apps_paths(box)
        return [Program(name=APPS_PROGRAM, command=["/usr/sbin/nginx", "-c", str(p.conf), "-p", f"{p.root}/",
                                                    "-e", str(box.log_dir / "apps-nginx-error.log")],
                        priority=32, stopsignal="QUIT")]

    def stale_programs(self, box: Box) -> list[str]:
        return [] if file_holds(nginx.apps_paths(box).conf, self._conf(box)) else [APPS_PROGRAM]

    def published(self, box: Box) -> list[str]:
        """The apps' virtual hosts (their files, the default server's included)."""
        return sorted(f.name for f in nginx.apps_paths(box).apps.glob("*.conf"))

    def check(self, box: Box) -> tuple[bool, str]:
        vhosts = self.published(box)
        if not vhosts:  # nginx listens on the proxy port once the first app's deploy published its vhost
            return True, "no app published yet"
        ok, detail = listening(apps_listen_address(box.placement), box.ports.proxy_https)
        apps = len([v for v in vhosts if not v.startswith("000-")])
        return ok, f"{apps} app(s); {detail}" if ok else detail

    def endpoint(self, box: Box) -> str:
        return f"https://{apps_listen_address(box.placement)}:{box.ports.proxy_https}"


def _failover(name: str, listen: str, port: int, servers: tuple[str, ...], upstream_port: int,
              idle: str = "10m") -> str:
    """Pure: a stream server on listen:port passing TLS through to the first of `servers` while it answers, the
    others as backups (one that refuses, or does not answer within 1 s, is skipped for 10 s). A connection already
    passed to a server that dies stays with it: `idle` closes it once nothing moves for that long, and the client
    reconnects (to the next server)."""
    members = "".join(f"        server {address}:{upstream_port} max_fails=1 fail_timeout=10s"
                      f"{'' if i == 0 else ' backup'};\n" for i, address in enumerate(servers))
    return f"""\
    upstream {name} {{
{members}    }}
    server {{
        listen {listen}:{port};
        proxy_pass {name};
        proxy_connect_timeout 1s;
        proxy_next_upstream on;
        proxy_timeout {idle};
    }}
"""


def render_edge_conf(*, listen: str, upstream: str | None, port: int, pid: Path, logs: Path,
                     s3: tuple[str, ...] = (), s3_port: int = 0, s3_upstream_port: int = 0,
                     idp: tuple[str, ...] = (), idp_port: int = 0, idp_upstream_port: int = 0) -> str:
    """Pure: the edge's nginx.conf: stream servers passing TLS through, untouched, to

    - the apps' front (`upstream`, on `port`; none without apps), by address (one apps host in this version;
      several would route by SNI with `ssl_preread`), with the PROXY protocol header first, so that the apps see
      the client's address;
    - the storage cluster's S3 gateways (`s3`, on `s3_upstream_port`; listening on `s3_port`): every client to the
      first gateway while it answers, the others as backups. One gateway at a time, not a round robin: each
      gateway reads its own host's filer, whose metadata follows the others' asynchronously, so an object just
      written through one gateway could be missing, for a moment, through another. A gateway that refuses, or does
      not answer within 1 s, is skipped for 10 s (the next client tries the next one);
    - the IdP's portals on several hosts (`idp`, on `idp_upstream_port`; listening on `idp_port`), the same way:
      their configuration and sessions are in the database, so any of them serves any session, and the first
      one keeps every host's configuration cache warm on one portal."""
    servers = []
    if upstream is not None:
        servers.append(f"""\
    server {{
        listen {listen}:{port};
        proxy_pass {upstream}:{port};
        proxy_protocol on;  # tells the apps' front who the client is ($govcloud_client)
        proxy_connect_timeout 5s;
        proxy_timeout 10m;
    }}
""")
    if s3:
        servers.append(_failover("s3_gateways", listen, s3_port, s3, s3_upstream_port))
    if idp:
        # a portal answers within seconds: a browser's connection to a lost portal is closed after 30 s of silence
        servers.append(_failover("idp_portals", listen, idp_port, idp, idp_upstream_port, idle="30s"))
    what = ", ".join(w for w, on in (("the apps' front", upstream is not None), ("the S3 gateways", bool(s3)),
                                     ("the IdP's portals", bool(idp))) if on)
    return f"""\
# Written by govcloud (the edge proxy: TLS passed through to {what}); rewritten by `govcloud up`.
load_module {STREAM_MODULE};
user {DAEMON_USER};
worker_processes 1;
daemon off;
pid {pid};
error_log {logs}/edge-error.log warn;

events {{
    worker_connections 1024;
}}

stream {{
{"".join(servers)}}}
"""


def s3_gateways(box: Box) -> tuple[str, ...]:
    """The S3 gateways this edge fronts (`Placement.s3_gateway_addresses`), or none."""
    return box.placement.s3_gateway_addresses if box.placement is not None else ()


class EdgeService(Service):
    name = "proxy"
    binaries = (("/usr/sbin/nginx", "nginx-light"), (STREAM_MODULE, "libnginx-mod-stream"))

    @staticmethod
    def _root(box: Box) -> Path:
        return box.home / "edge"

    @staticmethod
    def _apps(box: Box) -> str | None:
        """The apps' front the edge passes to, or None (an edge that fronts only the S3 gateways)."""
        return apps_listen_address(box.placement) if box.placement and "apps" in box.placement.services else None

    @staticmethod
    def _portals(box: Box) -> tuple[str, ...]:
        return box.placement.idp_addresses if box.placement is not None else ()

    def _conf(self, box: Box) -> str:
        return render_edge_conf(listen=box.address, upstream=self._apps(box), port=box.ports.proxy_https,
                                pid=self._root(box) / "edge.pid", logs=box.log_dir, s3=s3_gateways(box),
                                s3_port=box.ports.s3_edge, s3_upstream_port=box.ports.s3_https,
                                idp=self._portals(box), idp_port=box.ports.idp_edge,
                                idp_upstream_port=box.ports.idp_https)

    def prepare(self, box: Box) -> None:
        box.dir("edge")
        write_private(self._root(box) / "edge.conf", self._conf(box))

    def programs(self, box: Box) -> list[Program]:
        root = self._root(box)
        return [Program(name=EDGE_PROGRAM, command=["/usr/sbin/nginx", "-c", str(root / "edge.conf"),
                                                    "-p", f"{root}/", "-e", str(box.log_dir / "edge-error.log")],
                        # right after the storage's programs (10-13), before the database's: it may carry the
                        # WAL PostgreSQL archives as it stops, so it stops after it
                        priority=14, stopsignal="QUIT")]

    def stale_programs(self, box: Box) -> list[str]:
        return [] if file_holds(self._root(box) / "edge.conf", self._conf(box)) else [EDGE_PROGRAM]

    def check(self, box: Box) -> tuple[bool, str]:
        details = []
        upstream = self._apps(box)
        if upstream is not None:
            ok, detail = listening(box.address, box.ports.proxy_https)
            if not ok:
                return ok, detail
            details.append(f"{detail}, passing TLS through to {upstream}:{box.ports.proxy_https}")
        gateways = s3_gateways(box)
        if gateways:
            ok, detail = listening(box.address, box.ports.s3_edge)
            if not ok:
                return ok, detail
            details.append(f"S3 {detail}, passing TLS through to {len(gateways)} gateways")
        portals = self._portals(box)
        if portals:
            ok, detail = listening(box.address, box.ports.idp_edge)
            if not ok:
                return ok, detail
            details.append(f"IdP {detail}, passing TLS through to {len(portals)} portals")
        return True, "; ".join(details) or "nothing to front"

    def endpoint(self, box: Box) -> str:
        """The apps' published port on this edge, or its S3 port when it fronts only the storage."""
        port = box.ports.proxy_https if self._apps(box) is not None else box.ports.s3_edge
        return f"https://{box.address}:{port}"
