"""The centre role's G2G variables (data sharing between agencies, docs/centre.md): the agency's part of the spec's
directory (`spec.g2g.directory`), and where its G2G key lives.

One key home for an agency: wherever the platform runs the signing service (a box on one machine), the agency signs
G2G requests and answers with the key the service holds for it (its certificate names the agency as `OU=<slug>,
O=govcloud <platform>`), through the centre's one client (`SIGNING_URL`); no G2G key is issued or copied. Only
where there is no signing service (the hosts target: `ports.NOT_ON_HOSTS`) does the deploy issue a key with a
certificate from the platform CA naming `<slug>.g2g.govcloud` and hand it to the role (`file_key_vars`, the one
place)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from govcloud_platform.box.context import LOOPBACK, Box
from govcloud_platform.spec.g2g import directory

CERT_SUFFIX = ".g2g.govcloud"  # as centre_core.g2g.CERT_SUFFIX


def g2g_cert_name(slug: str) -> str:
    return f"{slug}{CERT_SUFFIX}"


def centre_g2g_vars(box: Box, slug: str, centre_url: Callable[[str], str], connect: str = LOOPBACK,
                    key_in_service: bool = False) -> dict[str, Any]:
    """{} when the agency takes no part; else its directory, and (`key_in_service` False: no signing service for
    it) its key files. `connect`: where the apps host reaches the peers' public names (the edge proxy: the box's
    own on one machine), without DNS. `centre_url`: an agency's centre's public URL (`layout.public_url`, handed in:
    layout calls this module). `key_in_service`: the deploy hands the centre the agency's signing credentials."""
    spec = box.spec
    names = {a.slug: a.name for a in spec.agencies}
    found = directory(spec.platform.g2g, slug, names,
                      lambda agency: centre_url(agency) + "/api/g2g/requests")
    if found is None:
        return {}
    keys = drop_file_key(box, slug) if key_in_service else file_key_vars(box, slug)
    return {"g2g_directory": {**found, "connect": connect}, **keys}


def file_key_vars(box: Box, slug: str) -> dict[str, Any]:
    """Where the platform runs no signing service (the hosts target) only: the agency's G2G key and certificate on
    the controller (issued once by the box CA, reissued only when missing), which the role copies to the instance
    (0600)."""
    cert, key = box.ca.issue(g2g_key_name(slug), [g2g_cert_name(slug)], client=True)
    return {"g2g_cert_src": str(cert), "g2g_key_src": str(key)}


def drop_file_key(box: Box, slug: str) -> dict[str, Any]:
    """The signing service holds the agency's key: a G2G key file an earlier deploy issued is removed from the
    controller (the role removes the instance's copy), so that the agency has one key. Its certificate stays valid
    until it ends (the platform CA publishes no revocation yet), but no copy of its key is kept."""
    for path in (box.ca.directory / "certs" / f"{g2g_key_name(slug)}.key",
                 box.ca.directory / "certs" / f"{g2g_key_name(slug)}.pem"):
        path.unlink(missing_ok=True)
    return {}


def g2g_key_name(slug: str) -> str:
    return f"g2g-{slug}"
