"""The centre role's G2G variables (data sharing between agencies, docs/centre.md): the agency's part of the spec's
directory (`spec.g2g.directory`) and its signing key with a certificate from the platform CA naming
`<slug>.g2g.govcloud` (the name the other centres check against the agency a request claims)."""

from __future__ import annotations

from typing import Any

from govcloud_platform.box.context import LOOPBACK, Box
from govcloud_platform.names import app_host
from govcloud_platform.spec.g2g import directory

CERT_SUFFIX = ".g2g.govcloud"  # as centre_core.g2g.CERT_SUFFIX


def g2g_cert_name(slug: str) -> str:
    return f"{slug}{CERT_SUFFIX}"


def _centre_url(box: Box, slug: str) -> str:
    """The agency's centre's public URL, as apps.layout.public_url (which imports this module: not imported back)."""
    return f"https://{app_host(slug, 'centre', box.spec.platform.domain)}:{box.ports.proxy_https}"


def centre_g2g_vars(box: Box, slug: str, connect: str = LOOPBACK) -> dict[str, Any]:
    """{} when the agency takes no part; else its directory, and its key and certificate on the controller (issued
    once by the box CA, reissued only when missing), which the role copies to the instance (0600). `connect`: where
    the apps host reaches the peers' public names (the edge proxy: the box's own on one machine), without DNS."""
    spec = box.spec
    names = {a.slug: a.name for a in spec.agencies}
    found = directory(spec.platform.g2g, slug, names,
                      lambda agency: _centre_url(box, agency) + "/api/g2g/requests")
    if found is None:
        return {}
    cert, key = box.ca.issue(f"g2g-{slug}", [g2g_cert_name(slug)], client=True)
    return {"g2g_directory": {**found, "connect": connect}, "g2g_cert_src": str(cert), "g2g_key_src": str(key)}
