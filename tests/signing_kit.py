"""A throwaway PKI for the signing tests and the benchmark: a CA like the box's, the TSA, agencies' keys (files);
and the real signing service on loopback for the centre's tests (`signing_service`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def signing_service(root: Path, ca: CertificateAuthority, agencies: dict[str, str],
                    platform: str = "test") -> Iterator[tuple[str, dict[str, Path]]]:
    """The platform's real signing service (its WSGI app, `signing/app.py`) over HTTPS on 127.0.0.1, in threads of
    this process (werkzeug), with the TSA's and each agency's key and certificate issued by `ca` (slug -> name) and
    its TLS certificate from `ca` too. Yields (its base URL, slug -> the agency's bearer secret in a 0600 file)."""
    import secrets
    import ssl
    import threading

    from werkzeug.serving import WSGIRequestHandler, make_server

    from govcloud_platform.signing.app import create_app

    issuer = pki.Issuer.load(ca.cert_file.read_bytes(), ca.key_file.read_bytes())
    home = SigningHome(root / "signing")
    home.layout()
    backend = FileKeys(home.keys)
    home.ensure_tsa(backend, issuer, platform)
    files: dict[str, Path] = {}
    for slug, name in agencies.items():
        secret = secrets.token_urlsafe(32)
        home.ensure_agency(backend, issuer, slug, name, platform, secret)
        files[slug] = root / f"{slug}.signing.secret"
        files[slug].write_text(secret + "\n")
        files[slug].chmod(0o600)
    cert, key = ca.issue("signing-test", ["localhost"], ips=["127.0.0.1"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    class Quiet(WSGIRequestHandler):
        def log(self, *args: object) -> None:  # the service's own log names agencies; the access log is noise here
            pass

    server = make_server("127.0.0.1", 0, create_app(home.root, ca.cert_file), threaded=True, ssl_context=context,
                         request_handler=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.port}", files
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
