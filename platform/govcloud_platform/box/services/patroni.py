"""PostgreSQL under Patroni: the database of the hosts target when it runs on several hosts.

Each database host runs Patroni (PyPI) as user postgres; Patroni runs PostgreSQL, takes the leader key in etcd
(`dcs`) or follows the holder, and promotes a synchronous replica when the leader's key expires (`ttl`). The
PostgreSQL settings are the box's own (`database.server_settings`: ONE source of truth with the box on one
machine), plus what replication needs; pg_hba.conf stays govcloud's (`hba_file` outside the data directory:
Patroni then leaves it alone), so every database host admits the same agencies' roles.

- **No acknowledged commit is lost on failover**: `synchronous_mode` makes a commit wait for one replica, and
  only that synchronous replica may be promoted. With its replica gone the leader goes on alone (not `strict`):
  the platform keeps writing, and no other host could have been promoted anyway.
- **A failed leader returns as a replica by itself** (`use_pg_rewind`; `wal_log_hints` is implied by the data
  checksums initdb turns on); if rewinding fails Patroni clones it again (`remove_data_directory_on_*`).
- **Replication is TLS with SCRAM** (`verify-full` against the platform CA), between database hosts only.
- **The REST API** listens on the host's address only, over TLS, and asks a password for every unsafe call
  (switchover, restart, configuration); the health answers (GET) are open to the hosts, which status reads.

Clients reach the leader with libpq's multi-host connection (`Box.pg_hosts`, `target_session_attrs=read-write`):
no proxy to run, to fail over, or to trust; libpq tries the hosts in turn and keeps the one that accepts writes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from govcloud_platform.box.context import Box

REPLICATOR, REWINDER, API_USER = "replicator", "rewinder", "patroni"
SECRETS = {"replication": "patroni-replication-password", "rewind": "patroni-rewind-password",
           "api": "patroni-api-password"}
# Failover timing: the leader's key lives `ttl` s unless renewed every `loop_wait` s, so a lost leader is replaced
# in about `ttl` s; Patroni accepts no ttl under 20, and requires loop_wait + 2 * retry_timeout <= ttl.
TTL, LOOP_WAIT, RETRY_TIMEOUT = 20, 2, 4
# A synchronous replica that falls silent (its host lost, no RST) holds every commit until the leader's WAL sender
# gives it up; Patroni then lets the leader go on alone. PostgreSQL's default is 60 s: a minute without writes.
# The sender asks the replica for a reply at half of it, so 15 s still leaves a loaded replica 7.5 s to answer.
WAL_SENDER_TIMEOUT = "15s"


def scope(box: Box) -> str:
    return f"govcloud-{box.spec.platform.name}"


def conf(box: Box, name: str, server: dict[str, str], files: dict[str, Path], etcd_hosts: list[str]
         ) -> dict[str, Any]:
    """Pure but for the secrets it reads: patroni.yml for member `name`. `server`: PostgreSQL's settings as the
    box has them (`database.server_settings`), `files`: this host's paths (data, bin, socket, tls, hba, pgpass),
    `etcd_hosts`: `address:port` of every etcd member."""
    address, port, api = box.address, box.ports.postgres, box.ports.patroni_api
    ca = str(box.ca_file)
    tls = {"sslmode": "verify-full", "sslrootcert": ca}
    secret = box.secrets.get_or_create
    parameters = {k: v.strip("'") for k, v in server.items()
                  if k not in ("listen_addresses", "port", "unix_socket_directories")}
    parameters.update({
        "ssl_cert_file": str(files["tls"] / "server.crt"), "ssl_key_file": str(files["tls"] / "server.key"),
        "ssl_ca_file": "",
        "hba_file": str(files["hba"]),
        "unix_socket_directories": str(files["socket"]),
        "hot_standby": "on", "max_wal_senders": "10", "max_replication_slots": "10", "wal_keep_size": "256MB",
        "wal_sender_timeout": WAL_SENDER_TIMEOUT,
    })
    return {
        "scope": scope(box),
        "namespace": "/govcloud/",
        "name": name,
        "log": {"level": "INFO", "format": "%(asctime)s %(levelname)s: %(message)s"},
        "restapi": {
            "listen": f"{address}:{api}", "connect_address": f"{address}:{api}",
            "certfile": str(files["tls"] / "patroni.pem"), "keyfile": str(files["tls"] / "patroni.key"),
            "cafile": ca,
            "authentication": {"username": API_USER, "password": secret(SECRETS["api"])},
        },
        "ctl": {"insecure": False, "cacert": ca},
        "etcd3": {"hosts": etcd_hosts, "protocol": "https", "cacert": ca,
                  "cert": str(files["tls"] / "patroni.pem"), "key": str(files["tls"] / "patroni.key")},
        "bootstrap": {
            "dcs": {
                "ttl": TTL, "loop_wait": LOOP_WAIT, "retry_timeout": RETRY_TIMEOUT,
                "maximum_lag_on_failover": 16 * 1024 * 1024,
                "synchronous_mode": True,
                # etcd without a quorum: the leader goes on writing while it still reaches every other member
                # (which then cannot be leaders), instead of demoting itself after retry_timeout
                "failsafe_mode": True,
                "postgresql": {"use_pg_rewind": True, "use_slots": True,
                               "parameters": {"wal_level": "replica", "hot_standby": "on", "wal_log_hints": "on",
                                              "max_wal_senders": 10, "max_replication_slots": 10,
                                              "max_connections": int(parameters["max_connections"])}},
            },
            "initdb": [{"encoding": "UTF8"}, {"locale": "C.UTF-8"}, "data-checksums", {"auth-local": "peer"},
                       {"auth-host": "scram-sha-256"}],
        },
        "postgresql": {
            "listen": f"{address}:{port}", "connect_address": f"{address}:{port}",
            "data_dir": str(files["data"]), "bin_dir": str(files["bin"]), "pgpass": str(files["pgpass"]),
            "use_unix_socket": True, "use_unix_socket_repl": False,
            "authentication": {
                "superuser": {"username": "postgres", "password": secret("postgres-superuser"), **tls},
                "replication": {"username": REPLICATOR, "password": secret(SECRETS["replication"]), **tls},
                "rewind": {"username": REWINDER, "password": secret(SECRETS["rewind"]), **tls},
            },
            "parameters": {**parameters, "port": str(port)},
            "remove_data_directory_on_rewind_failure": True,
            "remove_data_directory_on_diverged_timelines": True,
            "create_replica_methods": ["basebackup"],
            "basebackup": [{"checkpoint": "fast"}],
        },
        "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False, "nosync": False},
    }


def role_of(member: dict[str, Any]) -> str:
    """Pure: a member of Patroni's /cluster answer as `status` names it."""
    role = str(member.get("role", ""))
    return {"leader": "leader", "master": "leader", "primary": "leader", "sync_standby": "sync_replica",
            "standby_leader": "leader", "replica": "replica"}.get(role, role or "unknown")


def lag_of(member: dict[str, Any]) -> int | None:
    """Pure: the replication lag in bytes Patroni reports for a member (None for the leader or unknown)."""
    lag = member.get("lag")
    return lag if isinstance(lag, int) else None
