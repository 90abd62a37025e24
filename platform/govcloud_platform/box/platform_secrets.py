"""Every secret of the platform's own services, made at once in the operator's home on the hosts target.

On one machine each service makes its secrets when it first starts. On the hosts target the services start on
several hosts, and a secret two of them share (the database's superuser password, the S3 keys pgBackRest signs
with, the IdP's database password) must be ONE value: the operator's home makes them all here, with the very
functions the services use, and the deploy copies them to the hosts (0600, never logged), so no host ever
generates one of its own. A host gets only the secrets of the services it runs (`needed_by`), and its home
never makes one (`Box.secrets` is sealed there): a secret a service needs and the map forgot fails that host's
`up` naming the file, instead of a new value that matches nothing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from govcloud_platform.box.context import Box

SUPERUSER = "postgres-superuser"
S3_ADMIN = ("s3-admin-access-key", "s3-admin-secret-key")
S3_BACKUP = ("s3-backup-access-key", "s3-backup-secret-key")
WEED_JWT = ("weed-jwt-filer-read", "weed-jwt-filer-write", "weed-jwt-volume-read", "weed-jwt-volume-write")
IDP_DB_PASSWORD, IDP_OPERATOR = "idp-db-password", "idp-operator-password"
IDP = (IDP_DB_PASSWORD, "idp-manager-password", IDP_OPERATOR, "idp-signing-key")
PGBACKREST_CIPHER = "pgbackrest-cipher-pass"
# Patroni's (a database on several hosts): the replication and pg_rewind roles, and its REST API's unsafe calls
PATRONI = ("patroni-replication-password", "patroni-rewind-password", "patroni-api-password")
# service -> the secrets its `up`, `status` and programs on a host read (a test checks the names against what
# `ensure_all` makes and against the constants of the services that read them):
# - storage: the S3 identities it configures (admin, pgBackRest) and the JWT keys of security.toml;
# - database: its superuser's password; the IdP's role and operator account, which it makes with the
#   superuser when the IdP runs on another host (`identity.make_idp_store`); under Patroni its replication,
#   rewind and REST API passwords, and pgBackRest's keys (any database host may be the leader that archives WAL);
# - dcs: none (etcd admits the platform CA's client certificates only);
# - identity: the IdP's own (its database role's password, the manager API's, the OIDC signing key); never the
#   superuser's (on one host with the database, that service brings it);
# - backups: pgBackRest's S3 keys and cipher, and the superuser (its checks). The bucket-quota enforcement
#   (`weed shell`, as SeaweedFS's admin) stays with storage: a storage host whose backups run elsewhere runs it
#   as a program of its own (`backup_plan.quota_here`).
NEEDS: dict[str, frozenset[str]] = {
    "storage": frozenset({*S3_ADMIN, *S3_BACKUP, *WEED_JWT}),
    "database": frozenset({SUPERUSER, IDP_DB_PASSWORD, IDP_OPERATOR, *PATRONI, PGBACKREST_CIPHER, *S3_BACKUP}),
    "dcs": frozenset(),
    "identity": frozenset({IDP_DB_PASSWORD, "idp-manager-password", "idp-signing-key"}),
    "backups": frozenset({SUPERUSER, PGBACKREST_CIPHER, *S3_BACKUP}),
    # The apps' front and the edge hold no platform secret: an app's own credentials and certificate reach its
    # host with its deploy (`apps.service`), the edge passes TLS through without a key.
    "apps": frozenset(),
    "proxy": frozenset(),
    # Postfix holds no platform secret: the agencies' SMTP logins are set in its SASL database by the control's
    # mail broker over SSH (`box smtp-logins`), the password on stdin.
    "mail": frozenset(),
}


def needed_by(services: Iterable[str]) -> list[str]:
    """Pure: the secret files a host running `services` gets, sorted."""
    return sorted(set().union(*(NEEDS[s] for s in services)))


WEED_CERTS = ("weed-master", "weed-volume", "weed-filer", "weed-s3", "weed-client")  # weed_security's, mutual TLS
# service -> the certificates (name, whether also a TLS client) its `up` issues on its host with the box's own
# code (`ca.issue(name, *box.certificate_names(...))`); on a host the control issues them instead, so the CA's
# key never leaves the control.
CERTS: dict[str, tuple[tuple[str, bool], ...]] = {
    "storage": (*((c, True) for c in WEED_CERTS), ("s3", False)),
    "database": (("postgres", False), ("patroni", True)),  # Patroni's REST API, and its client cert for etcd
    "dcs": (("etcd", True),),  # etcd's clients and peers, both ways
    "identity": (("idp", False),),
    "backups": (),
    "apps": (),
    "proxy": (),
    "mail": (("mail", False),),  # smtpd's STARTTLS certificate (`mail.prepare`: the host's names)
    # the web console's TLS server in the front host's nginx (`hosts.deploy.cert_services`: the placed identity host)
    "console": (("console", False),),
}


@dataclass(frozen=True)
class CertWant:
    name: str
    dns: tuple[str, ...]
    ips: tuple[str, ...]
    client: bool


def host_certificates(services: Iterable[str], address: str, s3_edges: Sequence[str] = (),
                      idp_edges: Sequence[str] = ()) -> list[CertWant]:
    """Pure: the certificates a host at `address` running `services` needs, with the names its own code would
    give them (`network.certificate_names`: a weed certificate's CN is its name, the others' the host's; the S3
    gateway's and the IdP portal's name every edge in front of them too, `s3_edges`, `idp_edges`)."""
    from govcloud_platform.box.network import certificate_names, edge_certificate_names

    wanted: dict[str, bool] = {}
    for service in services:
        for name, client in CERTS[service]:
            wanted[name] = wanted.get(name, False) or client
    out = []
    for name, client in sorted(wanted.items()):
        if name in WEED_CERTS:
            dns, ips = certificate_names(address, name)
        elif name == "s3":
            dns, ips = edge_certificate_names(address, s3_edges)
        elif name == "idp":
            dns, ips = edge_certificate_names(address, idp_edges)
        else:
            dns, ips = certificate_names(address)
        out.append(CertWant(name, tuple(dns), tuple(ips), client))
    return out


def issue_for_host(box: Box, host: str, address: str, services: Iterable[str], s3_edges: Sequence[str] = (),
                   idp_edges: Sequence[str] = ()) -> Path:
    """The control issues a host's certificates into `ca/hosts/<host>/` (0700; each reissued only when its names
    change) and removes those the host no longer needs. Returns the directory (the deploy copies it)."""
    directory = box.ca.directory / "hosts" / host
    directory.parent.mkdir(mode=0o700, exist_ok=True)
    directory.mkdir(mode=0o700, exist_ok=True)  # also for a host that needs none (the apps' front, the edge)
    wanted = host_certificates(services, address, s3_edges, idp_edges)
    for cert in wanted:
        box.ca.issue(cert.name, list(cert.dns), list(cert.ips), client=cert.client, certs=directory)
    keep = {f"{c.name}.{ext}" for c in wanted for ext in ("pem", "key")}
    for path in directory.iterdir():
        if path.name not in keep and not path.name.startswith("."):
            path.unlink()
    return directory


def ensure_all(box: Box) -> list[str]:
    """Make every platform secret that is missing, the CA, and what `weed shell` needs here (its client
    certificate and security.toml); returns the names of the secrets directory."""
    from govcloud_platform.box.secrets import new_password
    from govcloud_platform.box.services import identity, nginx, storage, weed_security
    from govcloud_platform.box.services.identity_conf import signing_key

    box.ca.ensure()
    storage.admin_keys(box)
    storage.backup_keys(box)
    for section in weed_security.JWT_KEYS:
        weed_security.jwt_key(box, section)
    for name in (SUPERUSER, "idp-db-password", PGBACKREST_CIPHER, identity.OPERATOR_SECRET, *PATRONI):
        box.secrets.get_or_create(name)
    box.secrets.get_or_create(nginx.MANAGER_SECRET, lambda: new_password(32))  # as nginx.py makes it
    signing_key(box)
    weed_security.ensure(box)  # the client certificate and security.toml `weed shell` reads here
    return sorted(p.name for p in (box.home / "secrets").iterdir() if p.is_file())
