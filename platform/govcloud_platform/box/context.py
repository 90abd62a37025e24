"""`Box`: everything a service needs to know about one box directory (paths, ports, secrets, CA)."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govcloud_platform.box import modes, network
from govcloud_platform.box import placement as placement_record
from govcloud_platform.box.ca import CertificateAuthority
from govcloud_platform.box.network import LOOPBACK
from govcloud_platform.box.ports import CONSOLE_PORTS, PAYDEMO_PORTS, SIGNING_PORTS, Ports
from govcloud_platform.box.secrets import SecretStore, write_private
from govcloud_platform.errors import BoxDamaged, InputError, NoBox

if TYPE_CHECKING:
    import psycopg

    from govcloud_platform.spec import Spec

# Variables of these machines that point clients at the system CA bundle; children get the box CA instead.
CA_ENV_VARS = ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")
_S3_ADMIN_LOCK = threading.Lock()  # boto3 client creation is not thread-safe
# One boto3 session per process: its loader reads the S3 API model once (a new session reads it again, ~50 ms),
# and the CLI agent's workers inherit it loaded. Clients are made from it under the lock.
_S3_SESSION: list[Any] = []
_S3_SESSION_LOCK = threading.Lock()


def require_box(home: Path) -> None:
    """Refuse (NoBox, exit 2) a --home that holds no box, creating nothing. A box is a directory with the
    box.json that `govcloud up` writes before it starts anything."""
    if not str(home):
        raise InputError("--home is empty", hint="pass --home DIR (or set GOVCLOUD_HOME) to the box directory")
    if not home.exists():
        raise NoBox(home)
    if not home.is_dir():
        raise InputError(f"--home {home} is not a directory", hint="pass the --home of your box (GOVCLOUD_HOME)")
    if not (home / "box.json").is_file():
        raise NoBox(home, "the directory has no box.json")


@dataclass
class Box:
    """One box directory. `create`: whether missing secrets may be generated (only `govcloud up` makes a box;
    every other command opens an existing one, and a missing secret there is damage, not a first run).
    `address` and `allow_from` (`network`): where its services listen and which other networks may connect to
    its database; as `up` recorded them in box.json unless given (127.0.0.1 and none for a new box)."""

    home: Path
    spec: Spec
    port_base: int = field(default=0)
    create: bool = True
    address: str = ""
    allow_from: tuple[str, ...] | None = None
    _s3_admin: Any = field(default=None, init=False, repr=False, compare=False)
    _s3_own: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.home = self.home.resolve()
        if not self.port_base:
            self.port_base = self.recorded_port_base() or self.spec.platform.port_base
        if not self.address or self.allow_from is None:
            address, allow_from = self.recorded_network()
            self.address = self.address or address or LOOPBACK
            self.allow_from = tuple(allow_from) if self.allow_from is None else self.allow_from

    # --- layout -------------------------------------------------------------------------------
    @property
    def ports(self) -> Ports:
        return Ports(self.port_base)

    @cached_property
    def secrets(self) -> SecretStore:
        if not self.keeps_registry:  # a host's home: the control made every secret and copies what it needs
            return SecretStore(self.home / "secrets", create=False,
                               hint="run `govcloud up` on the control: it copies each host the secrets of its "
                                    "services (govcloud_platform.box.platform_secrets.NEEDS)")
        return SecretStore(self.home / "secrets", create=self.create)

    @cached_property
    def ca(self) -> CertificateAuthority:
        # a host's home: the control keeps the CA's key and issues the host's certificates
        return CertificateAuthority(self.home / "ca", self.spec.platform.name, sealed=not self.keeps_registry)

    @property
    def ca_file(self) -> Path:
        return self.ca.cert_file

    def dir(self, *parts: str) -> Path:
        """A directory of the box; missing levels are created 0700 whatever the umask (a service that shares
        one gives it its mode itself: `modes`)."""
        path = self.home
        if not path.is_dir():
            path.mkdir(parents=True, exist_ok=True)
        for part in Path(*parts).parts if parts else ():
            path = path / part
            if not path.is_dir():
                path.mkdir(mode=0o700, exist_ok=True)
        return path

    @property
    def log_dir(self) -> Path:
        return self.dir("logs")

    @property
    def state_file(self) -> Path:
        return self.home / "box.json"

    def recorded_port_base(self) -> int | None:
        try:
            return int(json.loads(self.state_file.read_text())["port_base"])
        except (OSError, KeyError, ValueError):
            return None

    def recorded_network(self) -> tuple[str | None, list[str]]:
        """(address, allow_from) as `up` recorded them; a box.json that another hand made wrong is refused
        rather than bound to whatever it says."""
        try:
            data = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None, []
        address, allow_from = data.get("address"), data.get("allow_from", [])
        try:
            if address is not None:
                network.check_address(str(address))
            if not isinstance(allow_from, list):
                raise InputError("allow_from is not a list")
            network.check_allow_from(str(address or LOOPBACK), [str(n) for n in allow_from])
        except InputError as exc:
            raise BoxDamaged(f"{self.state_file}: {exc}",
                             hint="record them again: `govcloud up --address A [--allow-from NET]`") from None
        return address, [str(n) for n in allow_from]

    # --- where it listens ---------------------------------------------------------------------
    @cached_property
    def placement(self) -> placement_record.Placement | None:
        """Where each service runs when the box is spread over hosts (`placement.json`); None on one machine."""
        return placement_record.read(self.home)

    def placement_written(self) -> None:
        """The hosts deploy wrote placement.json: read it again (`placement` is read once per Box)."""
        self.__dict__.pop("placement", None)

    def runs(self, service: str) -> bool:
        """Whether this home runs `service` itself (every service on one machine, but the console only when the spec
        enables it). The console's process runs where the registry is (`keeps_registry`): one machine, or the
        control of the hosts target (its front is the placed identity host's nginx: `fronts_console`)."""
        if service == "console":
            return self.keeps_registry and self.spec.platform.services.console.enabled
        if service == "signing":  # not placed on the hosts target yet
            return self.placement is None
        if service == "paydemo":  # the demo payment provider: only when the spec enables it, on one machine
            return self.placement is None and self.spec.platform.services.paydemo.enabled
        return self.placement is None or self.placement.runs(service)

    @property
    def fronts_console(self) -> bool:
        """Whether this home's nginx serves the console's TLS server block: one machine's when the spec enables the
        console; on the hosts target the placed identity host's (`placement.console_front`), whose loopback reaches
        the console's process on the control through the control's SSH tunnel (docs/console.md)."""
        if not self.spec.platform.services.console.enabled:
            return False
        if self.placement is None:
            return True
        return placement_record.console_front(self.placement) == self.address and self.placement.runs("identity")

    def unbound_ports(self) -> tuple[str, ...]:
        """The labels of `ports.all()` nothing of this home binds: its placement's (`placement.unbound_ports`), and
        the console's ports while the spec does not enable it; on the hosts target the control binds the console's
        app port (its loopback), the front host its HTTPS port."""
        if self.placement is None:
            off = ((() if self.runs("console") else CONSOLE_PORTS) + (() if self.runs("signing") else SIGNING_PORTS)
                   + (() if self.runs("paydemo") else PAYDEMO_PORTS))
            return tuple(dict.fromkeys(placement_record.unbound_ports(None) + off))
        placed = placement_record.unbound_ports(self.placement, console_front=self.fronts_console)
        if self.runs("console"):
            return tuple(p for p in placed if p != "console_app")
        return placed

    @property
    def keeps_registry(self) -> bool:
        """Whether this home holds the registry: one machine, or the operator's home of the hosts target (a
        host's home runs services only: nothing there may write, or back up, a registry of its own)."""
        return self.placement is None or not self.placement.here

    def address_of(self, service: str) -> str:
        """Where clients reach `service`: its host's address on the hosts target, else the box's own."""
        placed = self.placement.address_of(service) if self.placement is not None else None
        return placed or self.address

    def name_of(self, service: str) -> str:
        """The name clients use for `service`: `localhost` on 127.0.0.1, else its address (`network.host_name`)."""
        return network.host_name(self.address_of(service))

    def host_of(self, service: str) -> str | None:
        """The topology host that runs `service` (None on one machine)."""
        return self.placement.host_of(service) if self.placement is not None else None

    @property
    def host_name(self) -> str:
        """The name clients use for the box: `localhost` on 127.0.0.1, else its address (`network.host_name`)."""
        return network.host_name(self.address)

    @property
    def client_networks(self) -> list[str]:
        """Who may connect to its database: its own address, then `allow_from` (`network.client_networks`)."""
        return network.client_networks(self.address, self.allow_from or ())

    def bind_address(self, label: str) -> str:
        """Where the port `label` of the plan listens: the box's address, or loopback for the manager API and
        the apps' proxy."""
        return network.bind_address(label, self.address)

    def certificate_names(self, *names: str) -> tuple[list[str], list[str]]:
        return network.certificate_names(self.address, *names)

    def record(self, **values: Any) -> None:
        data: dict[str, Any] = {}
        if self.state_file.exists():
            data = json.loads(self.state_file.read_text())
        data.update(values)
        tmp = self.state_file.with_name(f".box.json.{os.getpid()}.tmp")  # never a half-written box.json
        write_private(tmp, json.dumps(data, indent=2) + "\n")
        os.replace(tmp, self.state_file)

    def ensure_home(self) -> None:
        """Create the box directory, or say clearly why it cannot be used; give every path in it the mode of
        the box's permission scheme (`modes`: a box made by an older govcloud has world-readable files)."""
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            probe = self.home / ".write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise InputError(
                f"box directory {self.home} is not writable ({exc.strerror})",
                hint="pass --home DIR (or set GOVCLOUD_HOME) to a writable directory",
            ) from None
        modes.repair(self.home)  # the home itself included: 0711, traversed by the daemons, never listed

    # --- clients ------------------------------------------------------------------------------
    def child_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """Environment for processes we start: the box CA instead of the system bundle."""
        env = {k: v for k, v in os.environ.items() if k not in CA_ENV_VARS}
        env.update({k: str(self.ca_file) for k in CA_ENV_VARS})
        env["PATH"] = os.pathsep.join([str(Path(__import__("sys").executable).parent), env.get("PATH", "")])
        if extra:
            env.update(extra)
        return env

    @property
    def pg_hosts(self) -> str:
        """Where clients reach the database, as libpq's `host`: its host's address, or under Patroni every
        database host's, comma-separated (with `pg_session_attrs`, libpq keeps the one that accepts writes)."""
        placement = self.placement
        if placement is not None and placement.ha_database:
            return ",".join(w.address for w in placement.instances_of("database"))
        return self.address_of("database")

    @property
    def pg_session_attrs(self) -> str | None:
        """libpq's `target_session_attrs` for `pg_hosts`: `read-write` when they are several, else None."""
        return "read-write" if "," in self.pg_hosts else None

    def pg_conninfo(
        self, dbname: str = "postgres", user: str = "postgres", password: str | None = None, local: bool = False
    ) -> dict[str, Any]:
        """Connection parameters over TLS verifying the box CA (verify-full on each host's address): to the
        database's leader, or with `local` to this host's own server (a replica's under Patroni)."""
        if password is None and user == "postgres":
            password = self.secrets.get_or_create("postgres-superuser")
        info: dict[str, Any] = {
            "host": self.address if local else self.pg_hosts,
            "port": self.ports.postgres,
            "dbname": dbname,
            "user": user,
            "password": password,
            "sslmode": "verify-full",
            "sslrootcert": str(self.ca_file),
            "connect_timeout": 5,
        }
        if self.pg_session_attrs and not local:
            info["target_session_attrs"] = self.pg_session_attrs
        return info

    def pg_admin(self, dbname: str = "postgres", autocommit: bool = True, local: bool = False
                 ) -> psycopg.Connection[Any]:
        import psycopg

        return psycopg.connect(**self.pg_conninfo(dbname, local=local), autocommit=autocommit)

    @property
    def s3_front(self) -> tuple[str, int]:
        """(address, port) where this home's clients of the object storage connect. When the edges front a
        storage cluster (`Placement.s3_edge`): this host's own edge if it runs one (a database host's archiving
        then outlives any other host), else the first edge (what agencies are given; in production a floating
        address in front of the edges). Otherwise the storage host's gateway."""
        placement = self.placement
        if placement is not None and placement.s3_edge:
            edge = self.address if placement.runs("proxy") else placement.instances_of("proxy")[0].address
            return edge, self.ports.s3_edge
        return self.address_of("storage"), self.ports.s3_https

    @property
    def s3_endpoint(self) -> str:
        name, port = self.s3_front
        return f"https://{name}:{port}"

    def s3_client(self, access_key: str | None = None, secret_key: str | None = None) -> Any:
        """boto3 S3 client verifying the box CA; the admin identity by default (cached: creating a client
        costs ~0.1 s). Safe to call from several threads: the admin client is made once, under a lock."""
        if access_key is None:
            with _S3_ADMIN_LOCK:
                if self._s3_admin is None:
                    self._s3_admin = self._new_s3_client(None, None)
                return self._s3_admin
        return self._new_s3_client(access_key, secret_key)

    @property
    def own_s3_endpoint(self) -> str:
        """This home's own S3 gateway (a storage host of a cluster: `s3_endpoint` is the edge's)."""
        return f"https://{network.host_name(self.address)}:{self.ports.s3_https}"

    def own_s3_client(self) -> Any:
        """The admin S3 client of this home's own gateway (cached, as `s3_client`'s)."""
        with _S3_ADMIN_LOCK:
            if self._s3_own is None:
                self._s3_own = self._new_s3_client(None, None, self.own_s3_endpoint)
            return self._s3_own

    def _new_s3_client(self, access_key: str | None, secret_key: str | None, endpoint: str | None = None) -> Any:
        import boto3
        from botocore.config import Config

        if access_key is None:
            access_key = self.secrets.get_or_create("s3-admin-access-key", lambda: "admin" + os.urandom(8).hex())
            secret_key = self.secrets.get_or_create("s3-admin-secret-key")
        cfg = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries={"max_attempts": 2, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
        )
        with _S3_SESSION_LOCK:
            if not _S3_SESSION:
                _S3_SESSION.append(boto3.session.Session())
            return _S3_SESSION[0].client(
                "s3",
                endpoint_url=endpoint or self.s3_endpoint,
                aws_access_key_id=access_key,
                aws_secret_access_key=secret_key,
                region_name="us-east-1",
                verify=str(self.ca_file),
                config=cfg,
            )

    @property
    def issuer(self) -> str:
        """The OIDC issuer: `https://localhost:<port>` on 127.0.0.1, `https://<address>:<port>` elsewhere (the
        identity host's address on the hosts target; with portals on several hosts the first edge's, on its IdP
        port: `Placement.idp_edge`). One name everywhere: every client and every portal says the same."""
        placement = self.placement
        if placement is not None and placement.idp_edge:
            return f"https://{self.issuer_host}:{self.ports.idp_edge}"
        return f"https://{self.issuer_host}:{self.ports.idp_https}"

    @property
    def issuer_host(self) -> str:
        """The issuer's host name (the portal's cookie domain): the identity host's, or the first edge's."""
        placement = self.placement
        if placement is not None and placement.idp_edge:
            return network.host_name(placement.idp_edge_addresses[0])
        return self.name_of("identity")
