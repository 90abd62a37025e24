"""Signing broker: an agency's signing key and certificate (issued by the platform CA) and the bearer secret with
which its apps ask the box's signing service to sign (docs/signing.md).

Every agency has it on a box that runs the signing service (`Box.runs("signing")`: one machine), whatever its
`services` list says: it costs two small files and no server, and the Citizen's Centre of any agency needs it. The
secret is random (`new_password`), kept encrypted in the registry like every broker credential; the service gets
only its SHA-256. Removal revokes the secret at once; with --purge-data it also destroys the key and certificate
(what was signed still validates: each signature carries its certificate). A retired agency keeps its key."""

from __future__ import annotations

from typing import Any

from govcloud_platform.box.context import Box
from govcloud_platform.box.secrets import new_password
from govcloud_platform.box.services import signing as signing_service
from govcloud_platform.brokers.base import Broker
from govcloud_platform.signing.keys import key_name
from govcloud_platform.spec import Quota

SERVICE = "signing"


class SigningBroker(Broker):
    service = SERVICE

    def new_credentials(self, box: Box, slug: str) -> dict[str, Any]:
        return {"secret": new_password(32)}

    def provision(self, box: Box, slug: str, name: str, quota: Quota, creds: dict[str, Any], new: bool = False) -> None:
        sh = signing_service.home(box)
        sh.layout()
        backend = sh.backend(signing_service.settings_document(box))
        sh.ensure_agency(backend, signing_service.issuer(box), slug, name, box.spec.platform.name, creds["secret"])

    def bind(self, box: Box, slug: str, creds: dict[str, Any]) -> dict[str, Any]:
        url = signing_service.public_url(box)
        return {"url": url, "sign_url": f"{url}/sign/{slug}", "jws_url": f"{url}/jws/{slug}", "tsa_url": f"{url}/tsa",
                "certificate_url": f"{url}/certificate/{slug}", "secret": creds["secret"], "ca_file": str(box.ca_file)}

    def deprovision(self, box: Box, slug: str, purge: bool) -> None:
        sh = signing_service.home(box)
        if not sh.root.exists():
            return
        sh.revoke_secret(slug)
        if purge:
            sh.remove_agency(sh.backend(signing_service.settings_document(box)), slug)

    def usage(self, box: Box, slug: str) -> dict[str, Any]:
        cert = signing_service.home(box).certificate(key_name(slug))
        return {"certificate": cert is not None,
                "serial": format(cert.serial_number, "x") if cert is not None else None,
                "not_after": cert.not_valid_after_utc.isoformat() if cert is not None else None}

    def taken(self, box: Box, slugs: list[str]) -> dict[str, list[str]]:
        return {}  # nothing outside the box's own files: a key left by a crash is the platform's, reused

    def orphans(self, box: Box, known: set[str]) -> list[str]:
        return [f"signing key {key_name(s)}" for s in signing_service.home(box).agencies() if s not in known]
