"""Which host of the topology runs each shared service (a pure decision, unit-tested).

Every service but the edge and a highly available database runs once:
- **storage** on the first `storage` host that runs both a SeaweedFS master and a volume server (one host
  holds master, volume, filer and S3 gateway);
- **database** and **identity** each on the host of their group that has the fewest services so far (ties:
  topology order), so the services spread over the hosts instead of piling onto the first one;
- **backups** (pgBackRest's stanza and the backup scheduler) with the database: pgBackRest reads PostgreSQL's
  data directory and WAL locally; its repository is the object storage, wherever that runs;
- when the topology has `apps` hosts: **apps** (the apps' front) on the `apps` host with the fewest services, and
  **proxy** (the edge that publishes them) on the `proxy` host with the fewest; the edge also when the storage is a
  cluster, apps or not: it fronts the S3 gateways of every storage host (`box.placement.Placement.s3_edge`);
- with a `mail` host (one at most, validation): **mail** (Postfix, docs/mail.md) there;
- with several `database` hosts (`ha_database`): **database** on every one of them (PostgreSQL under Patroni;
  the first is where `services` points, and backups run there) and **dcs** (etcd) on every `dcs` host;
- with a database under Patroni and several `identity` hosts (`ha_identity`): **identity** on every one of them (the
  portals share their configuration and sessions in the database: `box.llng_store.in_database`), fronted by the
  edges, which are then placed too: the issuer is the first edge's address (`box.placement.Placement.idp_edge`);
- with three SeaweedFS masters or more (`storage_cluster`): **storage** on every `storage` host, as a cluster
  (each host its part, `box.services.storage_cluster.parts_of`); the host `_storage_host` picks comes first (its
  S3 gateway is where clients connect).
"""

from __future__ import annotations

from govcloud_platform.box.placement import ALL, Placement, Where
from govcloud_platform.spec.topology import Host, Topology


def _storage_host(topology: Topology) -> Host:
    masters = {h.name for h in topology.masters()}
    volumes = {h.name for h in topology.volumes()}
    both = [h for h in topology.members("storage") if h.name in masters and h.name in volumes]
    return (both or topology.members("storage"))[0]


def ha_database(topology: Topology) -> bool:
    """Pure: whether the database runs on several hosts under Patroni (the spec asks for a `dcs` group then)."""
    return len(topology.members("database")) > 1


def ha_identity(topology: Topology) -> bool:
    """Pure: whether the IdP's portal runs on every `identity` host: several of them, and a database under Patroni
    to share their configuration and sessions (with one database host the portal runs once: its files are its
    own, and the database would be the single point of failure anyway)."""
    return ha_database(topology) and len(topology.members("identity")) > 1


def storage_cluster(topology: Topology) -> bool:
    """Pure: whether the object storage is a SeaweedFS cluster (three masters or more, a raft that survives the
    loss of one; validation refuses an even number)."""
    return len(topology.masters()) >= 3


def place(topology: Topology) -> dict[str, Host]:
    """service -> the host that runs it. The topology is valid (every required group has a host)."""
    load: dict[str, int] = {h.name: 0 for h in topology.hosts}
    chosen: dict[str, Host] = {}

    def take(service: str, host: Host) -> None:
        chosen[service] = host
        load[host.name] += 1

    take("storage", _storage_host(topology))
    singles = ["database", "identity"]
    if ha_database(topology):  # an instance on every host of the group: each counts as a service of its host
        for service in ("dcs", "database"):
            members = topology.members(service)
            chosen[service] = min(members, key=lambda h: (load[h.name], topology.hosts.index(h)))
            for host in members:
                load[host.name] += 1
        singles.remove("database")
    for service in singles:
        members = topology.members(service)
        take(service, min(members, key=lambda h: (load[h.name], topology.hosts.index(h))))
    take("backups", chosen["database"])
    if topology.members("mail"):  # one host (validation): the mail service runs there, once
        take("mail", topology.members("mail")[0])
    if topology.members("apps"):
        apps = topology.members("apps")
        take("apps", min(apps, key=lambda h: (load[h.name], topology.hosts.index(h))))
    if topology.members("apps") or storage_cluster(topology) or ha_identity(topology):
        take("proxy", min(edge_hosts(topology, chosen.get("apps")),
                          key=lambda h: (load[h.name], topology.hosts.index(h))))
    return {s: chosen[s] for s in ALL if s in chosen}


def edge_hosts(topology: Topology, apps: Host | None) -> list[Host]:
    """Pure: the hosts that run the edge: every `proxy` host but the apps' own, unless it is the only one (an edge
    and the apps' front on one host share the proxy port: the front stays on loopback, which another host's edge
    could not reach); every `proxy` host when there are no apps (the edge then fronts only the S3 gateways)."""
    members = topology.members("proxy")
    others = [h for h in members if apps is None or h.name != apps.name]
    return others or members


def instances(topology: Topology) -> dict[str, list[Host]]:
    """Pure: service -> every host that runs an instance of it, the one `place` chose first (the edge runs on every
    host `edge_hosts` gives; every other service once)."""
    placed = place(topology)
    out = {s: [h] for s, h in placed.items()}
    if "dcs" in placed:  # the chosen instance first (where backups run, and where `up` puts the leader)
        for service in ("dcs", "database"):
            out[service] = [placed[service]] + [h for h in topology.members(service) if h.name != placed[service].name]
    if storage_cluster(topology):
        out["storage"] = [placed["storage"]] + [h for h in topology.members("storage")
                                                if h.name != placed["storage"].name]
    if ha_identity(topology):
        out["identity"] = [placed["identity"]] + [h for h in topology.members("identity")
                                                  if h.name != placed["identity"].name]
    if "proxy" in placed:
        out["proxy"] = [placed["proxy"]] + [h for h in edge_hosts(topology, placed.get("apps"))
                                            if h.name != placed["proxy"].name]
    return out


def placement_for(topology: Topology, here: str | None) -> Placement:
    """The placement record of the home of host `here` (None: the operator's home, which runs nothing)."""
    placed = place(topology)
    every = instances(topology)
    return Placement(
        tuple(s for s in placed if here is not None and any(h.name == here for h in every[s])),
        {s: Where(h.name, h.address) for s, h in placed.items()},
        {s: tuple(Where(h.name, h.address) for h in hs) for s, hs in every.items() if len(hs) > 1},
    )


def hosts_in_use(topology: Topology) -> list[Host]:
    """The hosts that run at least one service, in topology order."""
    used = {h.name for hs in instances(topology).values() for h in hs}
    return [h for h in topology.hosts if h.name in used]


def host_losses(topology: Topology) -> list[tuple[str, list[str]]]:
    """Pure: (host, the services whose only instance it runs), for every host in use, in topology order. Losing a
    host stops what it runs alone; the edge (every proxy host) and a database under Patroni go on elsewhere. A
    storage cluster survives a master's or a volume server's loss while two volume servers remain (two copies on
    two hosts); its clients reach the S3 gateways through the edges (the first edge's address, in production a
    floating address in front of them all: `docs/topology.md`)."""
    every = instances(topology)
    volumes = [h.name for h in topology.volumes()]
    out = []
    for h in hosts_in_use(topology):
        stops = [s for s, hs in every.items() if [x.name for x in hs] == [h.name]]
        cluster = [x.name for x in every["storage"]]
        edges = [x.name for x in every.get("proxy", [])]
        if len(cluster) > 1 and ((h.name in volumes and len(volumes) < 3) or (edges and h.name == edges[0])):
            stops.append("storage")  # a volume server of two, or the edge the clients connect to
        if len(every["identity"]) > 1 and edges and h.name == edges[0]:
            stops.append("identity")  # the issuer's address
        dcs = [x.name for x in every.get("dcs", [])]
        if h.name in dcs and len(dcs) - 1 <= len(dcs) // 2:  # etcd loses its quorum: Patroni stops every write
            stops += [s for s in ("dcs", "database") if s not in stops]
        out.append((h.name, [s for s in every if s in stops]))
    return out


def resilience_note(topology: Topology) -> str:
    """Pure: what `up` and `status` say of a host's loss, plainly ("" when any one host may be lost)."""
    losses = "; ".join(f"losing {host} stops {', '.join(services)}" for host, services in host_losses(topology)
                       if services)
    if not losses:
        return ""
    return f"not every host may be lost: {losses}"
