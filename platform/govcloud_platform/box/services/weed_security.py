"""SeaweedFS's own security for a box whose agencies run as local users: `security.toml` with JWT keys (volume
server and filer HTTP) and mutual TLS on every gRPC port, certificates from the box CA.

Without it any local process could read every bucket and the S3 secrets of every agency through the filer
(`/etc/iam/identities/*.json`), read or delete needles on the volume server, delete a whole bucket's volumes on
the master (`/col/delete`) and run any admin command over gRPC. The master's and the filer's HTTP APIs are
switched off altogether (`weed server -disableHttp`; the S3 gateway and `weed shell` only use gRPC), the JWT
keys still guard the filer should its HTTP API come back, and the volume server's HTTP (which the S3 gateway
reads and writes needles through) asks for a box client certificate and then for a JWT signed with the
servers' keys for every read, write and delete.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from govcloud_platform.box.context import Box
from govcloud_platform.box.secrets import new_password, write_private

# security.toml section -> certificate name; each certificate serves its server and is its client identity
COMPONENTS = {"master": "weed-master", "volume": "weed-volume", "filer": "weed-filer", "s3": "weed-s3"}
CLIENT = "weed-client"  # weed shell, run by govcloud as root
# security.toml key -> box secret
JWT_KEYS = {
    "jwt.signing": "weed-jwt-volume-write",
    "jwt.signing.read": "weed-jwt-volume-read",
    "jwt.filer_signing": "weed-jwt-filer-write",
    "jwt.filer_signing.read": "weed-jwt-filer-read",
}
JWT_EXPIRES_SECONDS = 10


def security_file(box: Box) -> Path:
    """Where every weed process of the box reads it: the working directory of `weed server` and `weed shell`."""
    return box.home / "s3" / "security.toml"


def jwt_key(box: Box, section: str) -> str:
    return box.secrets.get_or_create(JWT_KEYS[section], lambda: new_password(32))


def render(box: Box) -> str:
    certs = box.ca.directory / "certs"

    def pair(cert: str) -> list[str]:
        return [f"cert = {json.dumps(str(certs / f'{cert}.pem'))}", f"key = {json.dumps(str(certs / f'{cert}.key'))}"]

    ca = f"ca = {json.dumps(str(box.ca_file))}"
    names = ",".join([*COMPONENTS.values(), CLIENT])
    lines = ["# written by govcloud; do not edit (0600: it holds the JWT signing keys)", ""]
    for section in JWT_KEYS:
        lines += [f"[{section}]", f"key = {json.dumps(jwt_key(box, section))}",
                  f"expires_after_seconds = {JWT_EXPIRES_SECONDS}", ""]
    lines += ["[access]", "ui = false", "", "[grpc]", ca, ""]
    for component, cert in COMPONENTS.items():
        lines += [f"[grpc.{component}]", *pair(cert), f"allowed_commonNames = {json.dumps(names)}", ""]
    lines += ["[grpc.client]", *pair(CLIENT), ""]
    # The volume server's HTTP (the S3 gateway's data path) over mutual TLS too: its `ca` makes it ask for a
    # client certificate; every weed client (S3 gateway, filer, shell) then speaks HTTPS with the client's.
    lines += ["[https.client]", "enabled = true", *pair(CLIENT), ca, ""]
    lines += ["[https.volume]", *pair(COMPONENTS["volume"]), ca, ""]
    return "\n".join(lines)


def ensure(box: Box) -> Path:
    """Certificates (CN = the name `allowed_commonNames` checks; client and server use) and security.toml,
    rewritten only when its content changes."""
    for cert in [*COMPONENTS.values(), CLIENT]:
        box.ca.issue(cert, *box.certificate_names(cert), client=True)
    path, text = security_file(box), render(box)
    if not path.exists() or path.read_text() != text:
        write_private(path, text)
    return path


def digest(box: Box) -> str:
    """Short digest of security.toml as this govcloud writes it: in the program's environment, so that a new
    content (another govcloud, new keys) makes the section out of date and `up` restarts storage (weed reads
    the file only at start). Creates nothing: "none" before the first `up` made the keys."""
    if any(box.secrets.get(name) is None for name in JWT_KEYS.values()):
        return "none"
    return hashlib.sha256(render(box).encode()).hexdigest()[:16]
