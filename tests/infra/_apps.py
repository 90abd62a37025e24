"""Apps deployed once per test session on the session box (shared by tests/integration and tests/infra:
whichever asks first deploys, the other gets the cached result)."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.conftest import BoxHandle

PORTAL_AGENCIES = ("health", "revenue")
OPENDATA_AGENCY = "health"
_DEPLOYED: dict[str, dict[str, Any]] = {}


def deploy_session_apps(box: BoxHandle) -> dict[str, Any]:
    key = str(box.home)
    if key in _DEPLOYED:
        return _DEPLOYED[key]
    applied = box.cli("--json", "apply", timeout=600)
    assert applied.rc == 0, applied.stderr[-2000:]
    results: dict[str, Any] = {}
    for slug in PORTAL_AGENCIES:
        r = box.cli("--json", "app", "deploy", slug, "portal", timeout=900)
        assert r.rc == 0, r.stderr[-3000:]
        results[f"{slug}/portal"] = r.json()
    r = box.cli("--json", "app", "deploy", OPENDATA_AGENCY, "opendata", timeout=900)
    assert r.rc == 0, r.stderr[-3000:]
    results[f"{OPENDATA_AGENCY}/opendata"] = r.json()
    _DEPLOYED[key] = results
    return results


@contextmanager
def resolve_to_loopback(domain: str) -> Iterator[None]:
    """Names under `domain` resolve to 127.0.0.1 (what DNS would say for the box), so that clients send
    the real name in SNI and Host and verify the certificate for it."""
    original = socket.getaddrinfo

    def fake(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and (host == domain or host.endswith("." + domain)):
            host = "127.0.0.1"
        return original(host, *args, **kwargs)

    socket.getaddrinfo = fake
    try:
        yield
    finally:
        socket.getaddrinfo = original


def system_user_exists(name: str) -> bool:
    """`getent passwd NAME` finds it (and so does `getent group`: the apps create both together)."""
    found = [subprocess.run(["getent", db, name], capture_output=True, check=False).returncode == 0
             for db in ("passwd", "group")]
    assert found[0] == found[1], f"user and group {name} out of step: {found}"
    return found[0]
