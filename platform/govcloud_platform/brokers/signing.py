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


def _ready_agency(box: Box, slug: str) -> str:
    """The agency's name; InputError unless it is a ready agency with a signing key on this box."""
    from govcloud_platform.errors import InputError
    from govcloud_platform.state.registry import READY, Registry

    record = Registry(box.home).agency(slug)
    if record is None or record.state != READY:
        raise InputError(f"unknown or not ready agency {slug!r}", hint="`govcloud agency list` shows the agencies")
    if signing_service.home(box).certificate(key_name(slug)) is None:
        raise InputError(f"agency {slug} has no signing key on this box", hint="run `govcloud apply`")
    return record.name


def certificate_request(box: Box, slug: str) -> bytes:
    """A PKCS#10 request (PEM) for the agency's signing key, for an agency's or a national CA (docs/signing.md)."""
    name = _ready_agency(box, slug)
    sh = signing_service.home(box)
    return sh.certificate_request(sh.backend(signing_service.settings_document(box)), slug, name,
                                  box.spec.platform.name)


def install_certificate(box: Box, slug: str, chain_pem: bytes) -> dict[str, Any]:
    """Sign for the agency with a certificate from its own or a national CA (the certificate, then its chain); the
    service picks it up at the next request. InputError when it does not fit the agency's key."""
    from govcloud_platform.errors import InputError

    _ready_agency(box, slug)
    sh = signing_service.home(box)
    try:
        cert = sh.install_certificate(sh.backend(signing_service.settings_document(box)), slug, chain_pem)
    except ValueError as exc:
        raise InputError(f"agency {slug}: {exc}") from None
    return {"agency": slug, "subject": cert.subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string(),
            "serial": format(cert.serial_number, "x"), "not_after": cert.not_valid_after_utc.isoformat()}
