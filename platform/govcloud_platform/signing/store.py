"""The signing service's files in the box (`<home>/signing/`, 0700, root's), and what the platform does with them:
the TSA's key and certificate (`govcloud up`), an agency's key, certificate and secret (`agency add`), their removal.

| path under `<home>/signing/` | what |
|---|---|
| `keys/<name>.key` (0600) | a key of the files backend: `tsa`, `agency-<slug>` (`keys.key_name`) |
| `certs/<name>.pem` | its certificate, issued by the platform CA (public) |
| `secrets/<slug>.sha256` (0600) | SHA-256 of the agency's bearer secret: what the service compares |
| `settings.json` | what the service process reads: the key backend, the platform's name |

(The secret itself is the registry's, encrypted, like every broker credential.)
With the `pkcs11` backend the keys are in the token and `keys/` stays empty."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from govcloud_platform.box.secrets import write_private
from govcloud_platform.signing import pki
from govcloud_platform.signing.keys import TSA_KEY, FileKeys, KeyBackend, Pkcs11Keys, key_name


class SigningHome:
    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def of(cls, home: Path) -> SigningHome:
        return cls(home / "signing")

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def certs(self) -> Path:
        return self.root / "certs"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def settings_file(self) -> Path:
        return self.root / "settings.json"

    def cert_file(self, name: str) -> Path:
        return self.certs / f"{name}.pem"

    def chain_file(self, name: str) -> Path:
        """The issuing chain of a certificate from another CA (an agency's or a national CA): its intermediates and
        root, PEM. Absent: the platform CA issued it."""
        return self.certs / f"{name}.chain.pem"

    def chain(self, name: str, platform_ca: x509.Certificate) -> list[x509.Certificate]:
        """The certificates a signature of `name` carries after its own: the external chain, else the platform CA."""
        try:
            return x509.load_pem_x509_certificates(self.chain_file(name).read_bytes())
        except (OSError, ValueError):
            return [platform_ca]

    def secret_file(self, slug: str) -> Path:
        return self.secrets / f"{slug}.sha256"

    def layout(self) -> None:
        for directory in (self.root, self.keys, self.certs, self.secrets):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            directory.chmod(0o700)

    # --- settings ------------------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        try:
            data = json.loads(self.settings_file.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def backend(self, settings: dict[str, Any] | None = None) -> KeyBackend:
        """The key backend the settings name (files when none)."""
        settings = self.settings() if settings is None else settings
        token = settings.get("pkcs11")
        if settings.get("backend") == "pkcs11" and isinstance(token, dict):
            import os

            os.environ.update({str(k): str(v) for k, v in token.get("environment", {}).items()})  # SOFTHSM2_CONF
            return Pkcs11Keys(str(token["module"]), str(token["token"]), Path(str(token["pin_file"])))
        return FileKeys(self.keys)

    # --- certificates --------------------------------------------------------------------------
    def certificate(self, name: str) -> x509.Certificate | None:
        try:
            return x509.load_pem_x509_certificate(self.cert_file(name).read_bytes())
        except (OSError, ValueError):
            return None

    def ensure_certificate(self, backend: KeyBackend, name: str, issuer: pki.Issuer,
                           issue: Any) -> x509.Certificate:
        """The key `name` (made when missing) and its certificate, issued again when missing, for another key, by
        another CA, or near its end. `issue(public_key)` makes one."""
        public = backend.public_key(name, create=True)
        assert public is not None
        cert = self.certificate(name)
        if cert is not None and self.chain_file(name).exists() and cert.public_key() == public:
            return cert  # issued by an agency's or a national CA (`install_certificate`): theirs to renew
        if cert is None or cert.public_key() != public or not pki.still_good(cert, issuer.cert):
            cert = issue(public)
            self.certs.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_private(self.cert_file(name), pki.pem(cert))
        return cert

    def ensure_tsa(self, backend: KeyBackend, issuer: pki.Issuer, platform: str) -> x509.Certificate:
        return self.ensure_certificate(backend, TSA_KEY, issuer, lambda pub: pki.issue_tsa(issuer, pub, platform))

    def ensure_agency(self, backend: KeyBackend, issuer: pki.Issuer, slug: str, name: str, platform: str,
                      secret: str) -> x509.Certificate:
        """An agency's key, certificate and secret (its hash); a re-run converges (a renamed agency: a new
        certificate naming it)."""
        def issue(pub: Any) -> x509.Certificate:
            return pki.issue_signing(issuer, pub, slug, name, platform)

        cert = self.ensure_certificate(backend, key_name(slug), issuer, issue)
        if cert.subject != pki.agency_subject(slug, name, platform) and not self.chain_file(key_name(slug)).exists():
            cert = issue(cert.public_key())
            write_private(self.cert_file(key_name(slug)), pki.pem(cert))
        self.secrets.mkdir(mode=0o700, parents=True, exist_ok=True)
        digest = secret_digest(secret)
        path = self.secret_file(slug)
        if not path.exists() or path.read_text().strip() != digest:
            write_private(path, digest + "\n")
        return cert

    def revoke_secret(self, slug: str) -> None:
        self.secret_file(slug).unlink(missing_ok=True)

    def remove_agency(self, backend: KeyBackend, slug: str) -> None:
        """The agency's key and certificate (a purge): what it signed still validates (the certificate is in each
        signature), nothing more can be signed."""
        self.revoke_secret(slug)
        backend.delete(key_name(slug))
        self.cert_file(key_name(slug)).unlink(missing_ok=True)
        self.chain_file(key_name(slug)).unlink(missing_ok=True)

    # --- an agency's or a national CA ----------------------------------------------------------
    def certificate_request(self, backend: KeyBackend, slug: str, name: str, platform: str) -> bytes:
        """A PKCS#10 request (PEM) for the agency's key, signed by the backend (the key never leaves it, an HSM's
        included): what the agency's or the national CA signs instead of the platform CA."""
        from asn1crypto import csr, keys, pem

        public = backend.public_key(key_name(slug))
        if public is None:
            raise ValueError(f"agency {slug} has no signing key yet")
        info = csr.CertificationRequestInfo({
            "version": "v1",
            "subject": asn1_x509.Name.load(pki.agency_subject(slug, name, platform).public_bytes()),
            "subject_pk_info": keys.PublicKeyInfo.load(public.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)),
            "attributes": [],
        })
        request = csr.CertificationRequest({
            "certification_request_info": info,
            "signature_algorithm": {"algorithm": "sha256_rsa"},
            "signature": backend.sign(key_name(slug), info.dump()),
        })
        return pem.armor("CERTIFICATE REQUEST", request.dump())

    def install_certificate(self, backend: KeyBackend, slug: str, chain_pem: bytes) -> x509.Certificate:
        """Use the agency's certificate from another CA: `chain_pem` holds it first, then its issuers up to the root.
        Refused (ValueError) unless it is for the agency's key, valid now, for signing (digitalSignature or
        nonRepudiation), and each certificate is issued by the next."""
        import datetime as dt

        try:
            certs = x509.load_pem_x509_certificates(chain_pem)
        except ValueError:
            raise ValueError("not PEM certificates") from None
        leaf, issuers = certs[0], certs[1:]
        if not issuers:
            raise ValueError("give the certificate followed by its issuing CA's chain (at least the root)")
        if leaf.public_key() != backend.public_key(key_name(slug)):
            raise ValueError(f"the certificate is not for the signing key of agency {slug}")
        now = dt.datetime.now(dt.UTC)
        if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
            raise ValueError("the certificate is not valid now")
        try:
            usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
            if not (usage.digital_signature or usage.content_commitment):
                raise ValueError("the certificate's keyUsage allows no signature")
        except x509.ExtensionNotFound:
            pass
        for cert, parent in zip(certs, issuers, strict=False):
            try:
                cert.verify_directly_issued_by(parent)
            except (ValueError, TypeError, Exception):  # noqa: BLE001 - any mismatch is the same refusal
                raise ValueError(f"{cert.subject.rfc4514_string()} is not issued by the next certificate") from None
        write_private(self.chain_file(key_name(slug)), b"".join(pki.pem(c) for c in issuers))
        write_private(self.cert_file(key_name(slug)), pki.pem(leaf))
        return leaf

    def agencies(self) -> list[str]:
        """Slugs whose certificate is here."""
        prefix = key_name("")
        return sorted(p.stem.removeprefix(prefix) for p in self.certs.glob(f"{prefix}*.pem")) if \
            self.certs.is_dir() else []


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
