"""Where agencies' signing keys live: a key backend. Each key is named by the agency's slug (the TSA's by `TSA_KEY`)
and signs with RSA PKCS#1 v1.5 over SHA-256; a backend never hands a private key out (an HSM cannot).

- `FileKeys` (the default): one PEM file per key, 0600, in a 0700 directory of the box (`<home>/signing/keys`).
- `Pkcs11Keys`: keys made and kept in a PKCS#11 token (an HSM; tested with SoftHSM), found by their label
  `govcloud-<name>`; the token's user PIN from a 0600 file. The certificates stay files of the box either way.
docs/signing.md says how an HSM plugs in."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from govcloud_platform.box.secrets import write_private

TSA_KEY = "tsa"  # an agency's key is `agency-<slug>` (`key_name`): never this
_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{1,40}$")


class KeyUnavailable(RuntimeError):
    """The backend cannot sign now (no such key, the token is absent, a wrong PIN): the service answers 503/404."""


def key_name(slug: str) -> str:
    """The key of agency `slug` (injective, and never `TSA_KEY`)."""
    return f"agency-{slug}"


def _check_name(name: str) -> str:
    if not _NAME_RE.fullmatch(name):
        raise ValueError(f"bad key name {name!r}")
    return name


class KeyBackend(Protocol):
    kind: str

    def public_key(self, name: str, create: bool = False) -> rsa.RSAPublicKey | None:
        """The key's public half; with `create`, the key is made first when there is none."""

    def sign(self, name: str, data: bytes) -> bytes:
        """RSA PKCS#1 v1.5 signature of SHA-256(data)."""

    def delete(self, name: str) -> None:
        """Destroy the key (an agency's removal with --purge-data); no key: nothing to do."""


class FileKeys:
    kind = "files"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._cache: dict[str, tuple[float, rsa.RSAPrivateKey]] = {}
        self._lock = threading.Lock()

    def path(self, name: str) -> Path:
        return self.directory / f"{_check_name(name)}.key"

    def _private(self, name: str) -> rsa.RSAPrivateKey | None:
        path = self.path(name)
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            return None
        with self._lock:
            cached = self._cache.get(name)
            if cached is not None and cached[0] == mtime:
                return cached[1]
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise KeyUnavailable(f"{path}: not an RSA key")
        with self._lock:
            self._cache[name] = (mtime, key)
        return key

    def public_key(self, name: str, create: bool = False) -> rsa.RSAPublicKey | None:
        key = self._private(name)
        if key is None and create:
            from govcloud_platform.signing.pki import key_pem, new_key

            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.directory.chmod(0o700)
            write_private(self.path(name), key_pem(new_key()))
            key = self._private(name)
        return key.public_key() if key is not None else None

    def sign(self, name: str, data: bytes) -> bytes:
        key = self._private(name)
        if key is None:
            raise KeyUnavailable(f"no signing key {name!r}")
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def delete(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)
        with self._lock:
            self._cache.pop(name, None)


class Pkcs11Keys:
    """Keys in a PKCS#11 token (python-pkcs11). One session per process, opened on first use and shared under a
    lock (a token's sessions are few; signing takes milliseconds)."""

    kind = "pkcs11"

    def __init__(self, module: str, token: str, pin_file: Path) -> None:
        self.module, self.token_label, self.pin_file = module, token, pin_file
        self._session: object | None = None
        self._lock = threading.Lock()

    @staticmethod
    def label(name: str) -> str:
        return f"govcloud-{_check_name(name)}"

    def _open(self) -> object:
        if self._session is None:
            import pkcs11

            try:
                pin = self.pin_file.read_text().strip()
                token = pkcs11.lib(self.module).get_token(token_label=self.token_label)
                self._session = token.open(rw=True, user_pin=pin)
            except (OSError, RuntimeError, pkcs11.PKCS11Error) as exc:
                raise KeyUnavailable(f"PKCS#11 token {self.token_label!r}: {type(exc).__name__}") from None
        return self._session

    def _find(self, name: str, kind: object) -> object | None:
        import pkcs11

        session = self._open()
        try:
            return session.get_key(object_class=kind, key_type=pkcs11.KeyType.RSA,  # type: ignore[attr-defined]
                                   label=self.label(name))
        except pkcs11.NoSuchKey:
            return None

    def public_key(self, name: str, create: bool = False) -> rsa.RSAPublicKey | None:
        import pkcs11

        with self._lock:
            pub = self._find(name, pkcs11.ObjectClass.PUBLIC_KEY)
            if pub is None and create:
                session = self._open()
                pub, _ = session.generate_keypair(  # type: ignore[attr-defined]
                    pkcs11.KeyType.RSA, 2048, label=self.label(name), store=True,
                    private_template={pkcs11.Attribute.SENSITIVE: True, pkcs11.Attribute.EXTRACTABLE: False})
            if pub is None:
                return None
            n = int.from_bytes(pub[pkcs11.Attribute.MODULUS], "big")  # type: ignore[index]
            e = int.from_bytes(pub[pkcs11.Attribute.PUBLIC_EXPONENT], "big")  # type: ignore[index]
        return rsa.RSAPublicNumbers(e, n).public_key()

    def sign(self, name: str, data: bytes) -> bytes:
        import pkcs11

        with self._lock:
            priv = self._find(name, pkcs11.ObjectClass.PRIVATE_KEY)
            if priv is None:
                raise KeyUnavailable(f"no signing key {self.label(name)!r} in the token")
            try:
                return bytes(priv.sign(data, mechanism=pkcs11.Mechanism.SHA256_RSA_PKCS))  # type: ignore[attr-defined]
            except pkcs11.PKCS11Error as exc:
                raise KeyUnavailable(f"PKCS#11 sign: {type(exc).__name__}") from None

    def delete(self, name: str) -> None:
        import pkcs11

        with self._lock:
            for kind in (pkcs11.ObjectClass.PRIVATE_KEY, pkcs11.ObjectClass.PUBLIC_KEY):
                obj = self._find(name, kind)
                if obj is not None:
                    obj.destroy()  # type: ignore[attr-defined]
