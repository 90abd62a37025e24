"""A throwaway PKI for the signing tests and the benchmark: a CA like the box's, the TSA, agencies' keys (files)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from govcloud_platform.box.ca import CertificateAuthority
from govcloud_platform.signing import pades, pki, tsa
from govcloud_platform.signing.keys import TSA_KEY, FileKeys, KeyBackend, key_name
from govcloud_platform.signing.store import SigningHome, to_asn1


@dataclass
class Kit:
    root: Path
    ca: CertificateAuthority
    issuer: pki.Issuer
    home: SigningHome
    backend: KeyBackend
    tsa: tsa.TsaIdentity

    @property
    def ca_asn1(self):  # type: ignore[no-untyped-def]
        return to_asn1(self.issuer.cert)

    def agency(self, slug: str, secret: str = "s3cret-" + "x" * 20) -> pades.BackendSigner:
        cert = self.home.ensure_agency(self.backend, self.issuer, slug, f"Agency {slug}", "test", secret)
        return pades.BackendSigner(self.backend, key_name(slug), to_asn1(cert), [self.ca_asn1])

    def timestamper(self) -> pades.LocalTimeStamper:
        return pades.LocalTimeStamper(self.tsa)


def make_kit(root: Path, backend: KeyBackend | None = None) -> Kit:
    ca = CertificateAuthority(root / "ca", "test")
    ca.ensure()
    issuer = pki.Issuer.load(ca.cert_file.read_bytes(), ca.key_file.read_bytes())
    home = SigningHome(root / "signing")
    home.layout()
    backend = backend or FileKeys(home.keys)
    cert = home.ensure_tsa(backend, issuer, "test")
    identity = tsa.TsaIdentity((to_asn1(cert), to_asn1(issuer.cert)), lambda data: backend.sign(TSA_KEY, data))
    return Kit(root, ca, issuer, home, backend, identity)
