"""Data sharing between agencies (G2G) in the web app: `POST /api/g2g/requests` answers a peer agency's signed
request (`application/jose` in, `application/jose` out; refusals as JSON `{"error", "detail"}`), `run_steps` does
this agency's own G2G process steps (called by `centre_run_timers` each round), and `accesses` gives the tracking
page what it lists. Configured from the env file: `G2G_DIRECTORY` (the directory the role renders from the spec,
JSON), the agency's key in the platform's signing service (`SIGNING_URL`, `SIGNING_SECRET_FILE`), or where the
platform runs none (the hosts target) `G2G_KEY_FILE` and `G2G_CERT_FILE` (a key, 0600, and its certificate from the
platform CA), `G2G_CA_FILE` (the platform CA; default `CA_FILE`). Without `G2G_DIRECTORY` the endpoint answers 404
and no step runs."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from centre_core import g2g, g2g_store
from centre_core.errors import CentreError
from centre_core.g2g_keys import FileSigner, ServiceSigner, Signer
from centre_core.signing import HttpSigner

from . import runtime

JOSE = "application/jose"


@dataclass(frozen=True)
class Setup:
    directory: g2g.Directory
    signer: Signer
    ca: x509.Certificate
    ca_file: str


def _env(name: str) -> str:
    return str(getattr(settings, "ENV", {}).get(name, ""))


@lru_cache(maxsize=4)
def _setup(directory: str, key: str, cert: str, ca: str, signing_url: str, secret_file: str, tls_ca: str) -> Setup:
    doc = json.loads(Path(directory).read_text())
    if signing_url and secret_file:  # wherever the platform runs one: the agency's key in the signing service
        signer: Signer = ServiceSigner(HttpSigner(signing_url, secret_file, tls_ca or ca or None, 10.0))
    elif key:  # the hosts target: the key a deploy wrote (no signing service there yet)
        signer = FileSigner(Path(key), Path(cert))
    else:
        raise CentreError("G2G needs the signing service (SIGNING_URL, SIGNING_SECRET_FILE) or G2G_KEY_FILE")
    return Setup(g2g.directory(doc), signer, x509.load_pem_x509_certificate(Path(ca).read_bytes()), ca)


def setup() -> Setup | None:
    """This agency's G2G setup, or None when the spec gives it none (read once per process and files). The key: the
    agency's in the platform's signing service (`SIGNING_URL`, `SIGNING_SECRET_FILE`: its `/jws/<agency>` through
    the one client, `centre_core.signing.HttpSigner`), or the files a deploy wrote where there is no signing service
    (`G2G_KEY_FILE`, `G2G_CERT_FILE`: the hosts target)."""
    directory = _env("G2G_DIRECTORY")
    if not directory:
        return None
    return _setup(directory, _env("G2G_KEY_FILE"), _env("G2G_CERT_FILE"), _env("G2G_CA_FILE") or _env("CA_FILE"),
                  _env("SIGNING_URL"), _env("SIGNING_SECRET_FILE"), _env("CA_FILE"))


@csrf_exempt  # a peer agency's server, authenticated by its signature, not a browser
@require_http_methods(["POST"])
def requests(request: HttpRequest) -> HttpResponse:
    found = setup()
    if found is None:
        return JsonResponse({"error": "not_found", "detail": "this agency takes no G2G requests"}, status=404)
    if request.content_type != JOSE or len(request.body) > g2g.MAX_TOKEN:
        return JsonResponse({"error": "malformed", "detail": f"send one compact JWS as {JOSE}"}, status=415)
    status, body = g2g_store.answer(runtime.connection(), runtime.tracking_key(), found.directory, found.ca,
                                    found.signer, request.body.decode("ascii", "replace").strip(), runtime.now())
    if status == 200:
        return HttpResponse(body, content_type=JOSE)
    return HttpResponse(body, status=status, content_type="application/json")


class _Pinned(http.client.HTTPSConnection):
    """HTTPS to a peer's public name through the edge proxy at `connect_to`: SNI, Host and the certificate's name
    are the peer's (as govcloud_platform.apps.probe does), without DNS for the platform's names."""

    connect_to = ""

    def connect(self) -> None:
        sock = socket.create_connection((self.connect_to, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def transport(ca_file: str, timeout: float = 10.0, connect: str = "") -> g2g_store.Transport:
    """POST a token to a peer over HTTPS verified with the platform CA (plain http only to loopback, for tests);
    `connect`: the address the peers' public names are reached at (the edge proxy), else DNS."""
    context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()

    def send(url: str, token: str) -> tuple[int, str]:
        if not (url.startswith("https://") or url.startswith("http://127.0.0.1:")):
            raise OSError(f"refusing to send a G2G request to {url!r} (https only)")
        if connect and url.startswith("https://"):
            return _pinned_post(url, token, context, timeout, connect)
        req = urllib.request.Request(url, data=token.encode(), method="POST",  # noqa: S310 - scheme checked
                                     headers={"Content-Type": JOSE})
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=context) as answer:  # noqa: S310 - checked
                return answer.status, answer.read(g2g.MAX_TOKEN + 1).decode("ascii", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(4096).decode("utf-8", "replace")

    return send


def _pinned_post(url: str, token: str, context: ssl.SSLContext, timeout: float, connect: str) -> tuple[int, str]:
    parts = urlsplit(url)
    conn = _Pinned(parts.hostname or "", parts.port or 443, timeout=timeout, context=context)
    conn.connect_to = connect
    try:
        conn.request("POST", parts.path or "/", body=token.encode(), headers={"Content-Type": JOSE})
        answer = conn.getresponse()
        return answer.status, answer.read(g2g.MAX_TOKEN + 1).decode("utf-8", "replace")
    except http.client.HTTPException as exc:
        raise OSError(str(exc)) from None
    finally:
        conn.close()


def run_steps() -> int:
    """Do the G2G steps waiting (the timers' job, each round); how many were done."""
    found = setup()
    if found is None:
        return 0
    g2g_store.purge_nonces(runtime.connection(), runtime.now())
    return len(g2g_store.run_steps(runtime.connection(), runtime.tracking_key(), found.directory, found.ca,
                                   found.signer, transport(found.ca_file, connect=found.directory.connect),
                                   runtime.now(), runtime.calendar()))


def access_rows(reference: str, language: str) -> list[dict[str, str]] | None:
    """The tracking page's list (None when this agency shares no data): when (in the agency's time zone), which office
    looked, at what, why."""
    from .texts import t

    found = setup()
    if found is None:
        return None
    d = found.directory
    here = str(settings.AGENCY_NAME)
    zone = runtime.calendar().zone
    rows = []
    for a in g2g_store.accesses(runtime.connection(), reference):
        title = d.titles.get(a.service, {}).get(language) or a.service.replace("_", " ")
        peer = d.names.get(a.peer, a.peer)
        at = a.at.astimezone(zone) if zone else a.at
        if a.side == "asked":  # this application's office checked a record held by the peer
            who, what = here, t("g2g_record_at", service=title, agency=peer)
        else:  # the peer read this application's record
            who, what = peer, t("g2g_this_application", service=title)
        rows.append({"when": at.strftime("%Y-%m-%d %H:%M"), "who": who, "what": what, "why": a.purpose})
    return rows
