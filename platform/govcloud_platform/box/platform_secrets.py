"""Every secret of the platform's own services, made at once in the operator's home on the hosts target.

On one machine each service makes its secrets when it first starts. On the hosts target the services start on
several hosts, and a secret two of them share (the database's superuser password, the S3 keys pgBackRest signs
with, the IdP's database password) must be ONE value: the operator's home makes them all here, with the very
functions the services use, and the deploy copies them to the hosts (0600, never logged), so no host ever
generates one of its own."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from govcloud_platform.box.context import Box


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
    for name in ("postgres-superuser", "idp-db-password", "pgbackrest-cipher-pass", identity.OPERATOR_SECRET):
        box.secrets.get_or_create(name)
    box.secrets.get_or_create(nginx.MANAGER_SECRET, lambda: new_password(32))  # as nginx.py makes it
    signing_key(box)
    weed_security.ensure(box)  # the client certificate and security.toml `weed shell` reads here
    return sorted(p.name for p in (box.home / "secrets").iterdir() if p.is_file())
