"""etcd, the consensus store Patroni elects the database's leader in (the hosts target, several database hosts).

One member per `dcs` host (3 or 5 keep a quorum when one or two are lost; `spec.topology` refuses an even count),
each on its host's address: the client port for Patroni, the peer port for the members' raft. Both are TLS with
certificates from the platform CA, and both ask the other side for one (`--client-cert-auth`): only holders of
a platform certificate with client authentication (the database hosts' `patroni`, the members' own `etcd`) reach
it at all. The v2 API is off; Patroni speaks v3 through etcd's gRPC gateway.

A member's data directory keeps its identity: the `--initial-cluster` flags count only for the first start of a
new cluster (every member starts at once in the deploy's play), and a member that returns rejoins with its data.
"""

from __future__ import annotations

import os
import pwd
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govcloud_platform.box.context import Box
from govcloud_platform.box.services.base import Program, Service

ETCD_USER = "etcd"  # Debian's etcd-server makes it
CERT = "etcd"


@dataclass(frozen=True)
class Member:
    name: str
    address: str


def members(box: Box) -> list[Member]:
    """Every member of the cluster, in placement order (the topology's)."""
    placement = box.placement
    return [Member(w.host, w.address) for w in placement.instances_of("dcs")] if placement is not None else []


def my_name(box: Box, service: str) -> str:
    """This host's name in the topology: the instance of `service` at the box's address."""
    placement = box.placement
    mine = [w.host for w in placement.instances_of(service) if w.address == box.address] if placement else []
    if not mine:
        from govcloud_platform.errors import BoxDamaged

        raise BoxDamaged(f"{box.home}: placement.json places no {service} at {box.address}",
                         hint="run `govcloud up` from the operator's home again")
    return mine[0]


def url(address: str, port: int) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"https://{host}:{port}"


def client_urls(box: Box) -> list[str]:
    """Where Patroni reaches the cluster: every member's client URL."""
    return [url(m.address, box.ports.etcd_client) for m in members(box)]


def etcd_argv(box: Box, name: str, address: str, data: Path, tls: Path) -> list[str]:
    """Pure but for `box`'s settings: the member's command line (no secret on it: certificates are files)."""
    cluster = ",".join(f"{m.name}={url(m.address, box.ports.etcd_peer)}" for m in members(box))
    cert, key, ca = str(tls / "etcd.pem"), str(tls / "etcd.key"), str(tls / "ca.pem")
    return [
        "etcd", "--name", name, "--data-dir", str(data),
        "--listen-client-urls", url(address, box.ports.etcd_client),
        "--advertise-client-urls", url(address, box.ports.etcd_client),
        "--listen-peer-urls", url(address, box.ports.etcd_peer),
        "--initial-advertise-peer-urls", url(address, box.ports.etcd_peer),
        "--initial-cluster", cluster, "--initial-cluster-token", f"govcloud-{box.spec.platform.name}",
        "--initial-cluster-state", "new",
        "--cert-file", cert, "--key-file", key, "--trusted-ca-file", ca, "--client-cert-auth",
        "--peer-cert-file", cert, "--peer-key-file", key, "--peer-trusted-ca-file", ca, "--peer-client-cert-auth",
        "--cipher-suites", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "--auto-compaction-mode", "periodic", "--auto-compaction-retention", "1h",
        "--heartbeat-interval", "100", "--election-timeout", "1000",
        "--logger", "zap", "--log-outputs", "stderr",
    ]


def client_tls(box: Box) -> tuple[tuple[str, str], str]:
    """(cert, key) and the CA a client of the cluster presents and trusts here: the member's own certificate
    on a dcs host, Patroni's on a database host."""
    name = CERT if box.runs("dcs") else "patroni"
    cert, key = box.ca.issue(name, *box.certificate_names(), client=True)
    return (str(cert), str(key)), str(box.ca_file)


def etcd_post(box: Box, base: str, path: str, body: dict[str, Any], timeout: float = 2.0) -> dict[str, Any]:
    """One call of etcd's v3 JSON gateway with this host's client certificate."""
    import requests

    cert, ca = client_tls(box)
    reply = requests.post(f"{base}{path}", json=body, cert=cert, verify=ca, timeout=timeout)
    reply.raise_for_status()
    data = reply.json()
    return data if isinstance(data, dict) else {}


def raft_role(status: dict[str, Any]) -> str:
    """Pure: `leader` or `follower` from a member's /v3/maintenance/status answer."""
    header = status.get("header") or {}
    return "leader" if status.get("leader") and status.get("leader") == header.get("member_id") else "follower"


class DcsService(Service):
    name = "dcs"
    binaries = (("etcd", "etcd-server"),)
    ready_interval = 0.2

    def _dir(self, box: Box) -> Path:
        return box.home / "etcd"

    def prepare(self, box: Box) -> None:
        entry = pwd.getpwnam(ETCD_USER)
        base = box.dir("etcd")
        for path in (base, base / "data", base / "tls"):
            path.mkdir(mode=0o700, exist_ok=True)
            os.chown(path, entry.pw_uid, entry.pw_gid)
            path.chmod(0o700)
        cert, key = box.ca.issue(CERT, *box.certificate_names(), client=True)
        for src, dst in ((cert, base / "tls" / "etcd.pem"), (key, base / "tls" / "etcd.key"),
                         (box.ca_file, base / "tls" / "ca.pem")):
            if not dst.exists() or dst.read_bytes() != Path(src).read_bytes():
                shutil.copyfile(src, dst)
            os.chown(dst, entry.pw_uid, entry.pw_gid)
            dst.chmod(0o600)

    def programs(self, box: Box) -> list[Program]:
        name = my_name(box, "dcs")
        base = self._dir(box)
        return [Program("dcs", etcd_argv(box, name, box.address, base / "data", base / "tls"), priority=15,
                        user=ETCD_USER, directory=str(base), stopwaitsecs=20, startsecs=2)]

    def check(self, box: Box) -> tuple[bool, str]:
        return self.probe_role(box)[:2]

    def probe_role(self, box: Box) -> tuple[bool, str, str | None]:
        """The member's own view: it answers, and its cluster has a raft leader (a member without quorum has
        none); its raft role."""
        import requests

        try:
            status = etcd_post(box, url(box.address, box.ports.etcd_client), "/v3/maintenance/status", {})
        except (requests.RequestException, ValueError) as exc:
            return False, f"etcd unreachable ({type(exc).__name__})", None
        if not status.get("leader") or status.get("leader") == "0":
            return False, "no raft leader (fewer than a quorum of members up)", None
        role = raft_role(status)
        return True, f"raft {role}, {len(members(box))} members", role

    def endpoint(self, box: Box) -> str:
        return url(box.address, box.ports.etcd_client)
