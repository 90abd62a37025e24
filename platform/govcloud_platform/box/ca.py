"""The box certificate authority: one CA, and TLS certificates for every service, issued idempotently."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from govcloud_platform.box.secrets import write_private

_VALID_DAYS = 825


SEALED_HINT = "run `govcloud up` on the control: it issues each host the certificates of its services"


class CertificateAuthority:
    """`sealed` (a host's home of the hosts target): the CA's key is not here, only its public certificate; a
    certificate that is missing or whose names changed is refused, naming it, never issued (nor a new CA made:
    it would match nothing the clients trust). The control issues the hosts' certificates
    (`box.platform_secrets.host_certificates`)."""

    def __init__(self, directory: Path, platform: str, sealed: bool = False) -> None:
        self.directory = directory
        self.platform = platform
        self.sealed = sealed

    @property
    def cert_file(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def key_file(self) -> Path:
        return self.directory / "ca.key"

    def _layout(self) -> None:
        """`ca/` is traversed by everyone to the public `ca.pem` (0644) and listed by no one; the key and the
        service certificates (`certs/`) are root's."""
        self.directory.mkdir(mode=0o711, parents=True, exist_ok=True)
        self.directory.chmod(0o711)  # noqa: S103 - traversed to ca.pem only
        certs = self.directory / "certs"
        certs.mkdir(mode=0o700, exist_ok=True)
        certs.chmod(0o700)

    def ensure(self) -> None:
        """Create the CA once; an existing CA is kept (clients trust it)."""
        self._layout()
        if self.sealed:
            if not self.cert_file.exists():
                from govcloud_platform.errors import BoxDamaged

                raise BoxDamaged(f"the CA certificate {self.cert_file} is missing", hint=SEALED_HINT)
            return
        if self.cert_file.exists() and self.key_file.exists():
            return
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "govcloud"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"govcloud box CA ({self.platform})"),
            ]
        )
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                    key_encipherment=False, data_encipherment=False, key_agreement=False,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        write_private(
            self.key_file,
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
        )
        write_private(self.cert_file, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)  # public

    def issue(
        self, name: str, dns_names: list[str], ips: list[str] | None = None, client: bool = False,
        certs: Path | None = None,
    ) -> tuple[Path, Path]:
        """(cert, key) for a service; reissued only if missing or its names or usages changed. `client` adds
        TLS client authentication (mutual TLS, where one certificate serves both ends). `certs`: where to keep
        them (default: this CA's `certs/`; the control keeps each host's apart)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        ips = ips or []
        certs = certs or self.directory / "certs"
        cert_path, key_path = certs / f"{name}.pem", certs / f"{name}.key"
        wanted = sorted(dns_names) + sorted(ips)
        usages = [ExtendedKeyUsageOID.SERVER_AUTH] + ([ExtendedKeyUsageOID.CLIENT_AUTH] if client else [])
        if cert_path.exists() and key_path.exists():
            existing = x509.load_pem_x509_certificate(cert_path.read_bytes())
            san = existing.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            have = sorted(san.get_values_for_type(x509.DNSName)) + sorted(
                str(i) for i in san.get_values_for_type(x509.IPAddress)
            )
            eku = list(existing.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
            if have == wanted and eku == usages:
                return cert_path, key_path
        if self.sealed:
            from govcloud_platform.errors import BoxDamaged

            raise BoxDamaged(f"the certificate {cert_path} for {', '.join(wanted)} is missing or names others",
                             hint=SEALED_HINT)
        self.ensure()
        ca_key = serialization.load_pem_private_key(self.key_file.read_bytes(), password=None)
        ca_cert = x509.load_pem_x509_certificate(self.cert_file.read_bytes())
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = dt.datetime.now(dt.UTC)
        alt: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
        alt += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_names[0])]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=_VALID_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
        )
        self._layout()
        certs.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private(
            key_path,
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            ),
        )
        write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM) + self.cert_file.read_bytes())
        return cert_path, key_path
