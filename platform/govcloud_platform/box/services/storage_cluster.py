"""The object storage as a SeaweedFS cluster over the `storage` hosts (three masters or more; issue 13).

Each storage host runs its part of the cluster under its own supervisord, decided here from the topology alone
(pure functions, unit-tested; `storage.StorageService` writes the files and runs the programs):
- a **master** on every master host (`Topology.masters`), all given the same `-peers` list in topology order, with
  hashicorp raft (`-raftHashicorp`). Only the first address bootstraps a new cluster, so the first master must be up
  for the very first start; a bootstrapped cluster restarts from any majority;
- a **volume server** on every volume host, `-rack=<host>`, and the masters' `-defaultReplication=010`: every
  object is written to two volume servers on two different hosts before the gateway answers (with only two volume
  hosts a write then needs both: `hosts.placement.host_losses` says so). The leading master repairs a volume left
  with one copy by itself (`master.toml`'s maintenance script, `volume.fix.replication`), every `REPAIR_MINUTES`;
- a **filer** and an **S3 gateway** on every storage host. Each filer keeps the whole metadata (buckets, object
  entries, S3 identities, quotas) in a store on its own host (leveldb2, SeaweedFS's default) and follows every
  other filer's changes (SeaweedFS's peer metadata sync: filers with separate stores that share masters subscribe
  to one another), so every gateway sees every bucket and object, and the metadata survives while one storage
  host does. It is deliberately NOT in the platform's PostgreSQL: PostgreSQL archives its WAL and pgBackRest keeps
  its backups in this object storage, so a lost database would take the backups' index with it (and a stopping
  leader could not archive its last WAL). Each gateway asks its own host's filer first, then the others
  (`-filer=a,b,c`).

Addresses: every weed port's gRPC port is its port + 10000 (`ports.GRPC_SHIFT`, weed's own default), so a plain
`host:port` names a server everywhere (`-peers`, `-master`, `-filer`, `weed shell -master`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from govcloud_platform.spec.topology import Topology

REPLICATION = "010"  # two copies, on two different racks: each volume host is its own rack
# How often the leading master runs volume.fix.replication, in whole minutes: weed reads a float but sleeps
# `time.Duration(minutes) * time.Minute`, so 0.25 is 0 and every master spins on a core (measured: two cores).
REPAIR_MINUTES = 1


@dataclass(frozen=True)
class Parts:
    """What one storage host runs of the cluster."""

    master: bool
    volume: bool
    gateway: bool  # the filer and the S3 gateway


def parts_of(topology: Topology, host: str) -> Parts:
    """Pure: the parts `host` runs (nothing for a host outside the `storage` group)."""
    storage = {h.name for h in topology.members("storage")}
    masters = {h.name for h in topology.masters()}
    volumes = {h.name for h in topology.volumes()}
    return Parts(host in masters, host in volumes, host in storage)


def host_named(topology: Topology, address: str) -> str | None:
    """Pure: the topology's host at `address` (a host's box knows its address; compared in canonical form)."""
    import ipaddress

    want = ipaddress.ip_address(address)
    return next((h.name for h in topology.hosts if ipaddress.ip_address(h.address) == want), None)


def masters(topology: Topology, port: int) -> str:
    """Pure: `-peers` / `-master`: every master, `host:port`, in topology order (the same list everywhere)."""
    return ",".join(f"{_host(h.address)}:{port}" for h in topology.masters())


def filers(topology: Topology, port: int, first: str) -> str:
    """Pure: a gateway's `-filer`: every storage host's filer, the one on `first` (its own host) first."""
    hosts = topology.members("storage")
    ordered = [h for h in hosts if h.name == first] + [h for h in hosts if h.name != first]
    return ",".join(f"{_host(h.address)}:{port}" for h in ordered)


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


@dataclass(frozen=True)
class Layout:
    """Where one host's part of the cluster lives and listens (`StorageService` fills it from the box)."""

    host: str
    address: str
    data: Path  # <home>/s3
    certs: Path
    s3_config: Path
    master_port: int
    volume_port: int
    filer_port: int
    s3_http: int
    s3_https: int
    volume_max: int
    volume_size_limit_mb: int


def master_command(weed: str, lay: Layout, peers: str) -> list[str]:
    return [
        weed, "master", f"-ip={lay.address}", f"-ip.bind={lay.address}", f"-port={lay.master_port}",
        f"-mdir={lay.data / 'master'}", f"-peers={peers}", "-raftHashicorp",
        f"-defaultReplication={REPLICATION}", f"-volumeSizeLimitMB={lay.volume_size_limit_mb}",
        "-telemetry=false", "-disableHttp",
    ]


def volume_command(weed: str, lay: Layout, peers: str) -> list[str]:
    return [
        weed, "volume", f"-ip={lay.address}", f"-ip.bind={lay.address}", f"-port={lay.volume_port}",
        f"-dir={lay.data / 'volume'}", f"-max={lay.volume_max}", f"-master={peers}",
        "-dataCenter=dc1", f"-rack={lay.host}", "-preStopSeconds=0",
    ]


def filer_command(weed: str, lay: Layout, peers: str, local_socket: Path | None) -> list[str]:
    # no -rack: the filer's writes would then prefer volumes with a copy on its own host
    cmd = [weed, "filer", f"-ip={lay.address}", f"-ip.bind={lay.address}", f"-port={lay.filer_port}",
           f"-master={peers}", f"-defaultStoreDir={lay.data / 'filer'}", "-disableHttp"]
    return cmd + ([f"-localSocket={local_socket}"] if local_socket else [])


def s3_command(weed: str, lay: Layout, filer_list: str, local_socket: Path | None) -> list[str]:
    cmd = [
        weed, "s3", f"-ip={lay.address}", f"-ip.bind={lay.address}", f"-port={lay.s3_http}",
        f"-port.https={lay.s3_https}", f"-cert.file={lay.certs / 's3.pem'}", f"-key.file={lay.certs / 's3.key'}",
        "-port.iceberg=0", "-port.lance=0", "-iam=false", f"-config={lay.s3_config}", f"-filer={filer_list}",
    ]
    return cmd + ([f"-localSocket={local_socket}"] if local_socket else [])


def master_toml() -> str:
    """The leading master's maintenance: repair under-replicated volumes (a volume host that came back empty, or
    was lost for good and another takes the copy)."""
    return "\n".join([
        "# written by govcloud; do not edit",
        "[master.maintenance]",
        'scripts = """',
        "  lock",
        "  volume.fix.replication -apply",
        "  unlock",
        '"""',
        f"sleep_minutes = {REPAIR_MINUTES}",
        "",
    ])
