"""HTTPS to an app's public name without DNS: connect to the proxy (127.0.0.1 on the box; the edge's address on
the hosts target) on the proxy port, but send SNI and Host for the name and verify the certificate against the
box CA for that name."""

from __future__ import annotations

import http.client
import socket
import ssl
from urllib.parse import urlsplit

from govcloud_platform.box.context import LOOPBACK, Box


class _PinnedHTTPS(http.client.HTTPSConnection):
    connect_to = LOOPBACK

    def connect(self) -> None:
        sock = socket.create_connection((self.connect_to, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def tls_context(box: Box) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(box.ca_file))


def fetch(box: Box, url: str, timeout: float = 10, connect: str = LOOPBACK) -> tuple[int | None, str]:
    """(HTTP status or None, detail) of a GET through the proxy at `connect`."""
    parts = urlsplit(url)
    conn = _PinnedHTTPS(parts.hostname or "", parts.port or 443, timeout=timeout, context=tls_context(box))
    conn.connect_to = connect
    try:
        conn.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
        resp = conn.getresponse()
        resp.read(65536)
        return resp.status, f"HTTP {resp.status}"
    except ssl.SSLCertVerificationError as exc:
        return None, f"TLS: {exc.verify_message}"
    except (OSError, http.client.HTTPException) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()


def peer_certificate_ok(box: Box, host: str, port: int, timeout: float = 5,
                        connect: str = LOOPBACK) -> tuple[bool, str]:
    """Does the proxy at `connect` present, for `host`, a certificate the box CA vouches for under that name?"""
    try:
        with socket.create_connection((connect, port), timeout) as sock:
            with tls_context(box).wrap_socket(sock, server_hostname=host) as tls:
                cert = tls.getpeercert() or {}
        return True, f"valid for {host}, expires {cert.get('notAfter', '?')}"
    except ssl.SSLCertVerificationError as exc:
        return False, f"TLS: {exc.verify_message}"
    except OSError as exc:
        return False, f"{type(exc).__name__}: {exc}"
