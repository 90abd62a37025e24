"""The signing service of the box (docs/signing.md): the platform's WSGI app (govcloud_platform.signing.app) under
gunicorn, serving HTTPS itself (a certificate from the box CA) on the box's address, port `port_base + 18`. It signs
PDFs (PAdES) and JSON (JWS) with each agency's key and runs the box's RFC 3161 time-stamp authority.

`prepare` (run by `up`, which holds the CA's key) makes the TSA's key and certificate and the TLS certificate; the
agencies' keys are made by the signing broker (brokers/signing.py) at `agency add`. The process never holds the CA's
key. On a box on one machine only (the hosts target does not place it yet)."""

from __future__ import annotations

import json
import sys

from govcloud_platform.box.context import CA_ENV_VARS, Box
from govcloud_platform.box.secrets import write_private
from govcloud_platform.box.services.base import Program, Service, file_holds, first_log_line, https_ok
from govcloud_platform.signing.pki import Issuer
from govcloud_platform.signing.store import SigningHome

PROGRAM = "signing"
WORKERS = 2  # signing is CPU-bound (pyHanko, RSA): one process per core of the 2-core target
THREADS = 4


def public_url(box: Box) -> str:
    return f"https://{box.host_name}:{box.ports.signing_https}"


def home(box: Box) -> SigningHome:
    return SigningHome.of(box.home)


def settings_document(box: Box) -> dict[str, object]:
    """What the service process reads: the key backend (files, or the spec's PKCS#11 token) and the platform."""
    signing = box.spec.platform.services.signing
    doc: dict[str, object] = {"platform": box.spec.platform.name, "backend": signing.backend}
    if signing.backend == "pkcs11" and signing.pkcs11 is not None:
        doc["pkcs11"] = signing.pkcs11.model_dump(mode="json")
    return doc


def _settings_text(box: Box) -> str:
    return json.dumps(settings_document(box), indent=2, sort_keys=True) + "\n"


def issuer(box: Box) -> Issuer:
    """The platform CA as the issuer of the signing certificates (its key: `up` and the CLI only)."""
    box.ca.ensure()
    return Issuer.load(box.ca.cert_file.read_bytes(), box.ca.key_file.read_bytes())


def gunicorn_argv(box: Box) -> list[str]:
    certs = box.ca.directory / "certs"
    bind = f"{box.bind_address('signing_https')}:{box.ports.signing_https}"
    return [sys.executable, "-m", "gunicorn", "--bind", bind,
            "--certfile", str(certs / "signing.pem"), "--keyfile", str(certs / "signing.key"),
            "--workers", str(WORKERS), "--threads", str(THREADS), "--worker-class", "gthread",
            "--access-logfile", "-", "--error-logfile", "-", "--timeout", "60", "--graceful-timeout", "5",
            "govcloud_platform.signing.wsgi:app"]


class SigningService(Service):
    name = "signing"
    serves_brokers = False  # the broker writes files; `agency add` works while the service is down

    def prepare(self, box: Box) -> None:
        sh = home(box)
        sh.layout()
        text = _settings_text(box)
        if not file_holds(sh.settings_file, text):
            write_private(sh.settings_file, text)
        sh.ensure_tsa(sh.backend(settings_document(box)), issuer(box), box.spec.platform.name)
        dns, ips = box.certificate_names()
        box.ca.issue("signing", dns, ips)

    def stale_programs(self, box: Box) -> list[str]:
        return [] if file_holds(home(box).settings_file, _settings_text(box)) else [PROGRAM]

    def programs(self, box: Box) -> list[Program]:
        env = {k: str(box.ca_file) for k in CA_ENV_VARS}
        env.update(GOVCLOUD_SIGNING_HOME=str(home(box).root), GOVCLOUD_SIGNING_CA=str(box.ca_file))
        return [Program(PROGRAM, gunicorn_argv(box), priority=45, directory=str(home(box).root), environment=env,
                        stopwaitsecs=10)]

    ready_interval = 0.1

    def check(self, box: Box) -> tuple[bool, str]:
        resp, why = https_ok(box, f"{public_url(box)}/healthz")
        return (True, "PAdES signing, RFC 3161 TSA at /tsa (HTTPS)") if resp is not None else (False, why)

    def failure_cause(self, box: Box) -> str:
        return first_log_line(box, [f"{PROGRAM}.log"], lambda line: "Error" in line or "[ERROR]" in line)

    def endpoint(self, box: Box) -> str:
        return public_url(box)
