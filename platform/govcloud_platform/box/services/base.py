"""The contract every box service implements, and the supervisord program it runs as."""

from __future__ import annotations

import shutil
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govcloud_platform.box.context import Box
from govcloud_platform.box.modes import PRIVATE_UMASK
from govcloud_platform.errors import MissingDependency, ServiceError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable


def file_holds(path: Path, text: str) -> bool:
    """Whether the file at `path` holds exactly `text` (a missing or unreadable file does not)."""
    try:
        return path.read_text() == text
    except OSError:
        return False


@dataclass(frozen=True)
class Program:
    """One supervisord [program:...] section."""

    name: str
    command: list[str]
    priority: int  # lower starts first and stops last; one band of ten (30-39) stops together
    user: str | None = None
    directory: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    stopsignal: str = "TERM"
    stopwaitsecs: int = 10
    startsecs: int = 1
    umask: int = PRIVATE_UMASK  # what it creates is its user's only


@dataclass(frozen=True)
class Health:
    name: str
    healthy: bool
    endpoint: str
    detail: str = ""
    pid: int | None = None
    role: str | None = None  # an instance's part in its cluster (leader, sync_replica, replica, follower), if any


class Service(ABC):
    """A shared service of the box. `up` calls, in service order: check_binaries, prepare, (supervisord
    starts programs), wait_ready, post_start. Every step is idempotent: `up` may be re-run at any point."""

    name: str
    #: (executable path or name on PATH, Debian/PyPI package that provides it)
    binaries: tuple[tuple[str, str], ...] = ()

    def check_binaries(self, box: Box) -> None:
        for binary, package in self.binaries:
            found = Path(binary).exists() if binary.startswith("/") else shutil.which(binary) is not None
            if not found:
                raise MissingDependency(
                    f"{self.name}: {binary} not found",
                    hint=f"install the {package} package (`make install` does it)",
                )

    @abstractmethod
    def prepare(self, box: Box) -> None:
        """Write configuration, create data directories and certificates (before the programs start)."""

    @abstractmethod
    def programs(self, box: Box) -> list[Program]:
        """The supervisord programs of this service."""

    #: seconds between two readiness probes
    ready_interval: float = 0.2
    #: `box destroy` may SIGKILL its programs: their data is deleted next, so a clean close buys nothing
    killed_when_discarding: bool = False
    #: onboarding and removal need it running (the brokers talk to it); the web console they do not
    serves_brokers: bool = True
    #: the spec turns it on (`Box.runs`): once turned off, `up` stops its programs and forgets them
    opt_in: bool = False

    def wait_ready(self, box: Box, timeout: float) -> None:
        """Poll the real readiness probe (`check`) until `timeout`; then one line saying why and where to look."""
        deadline = time.monotonic() + timeout
        while True:
            ok, detail = self.check(box)
            if ok:
                return
            if time.monotonic() >= deadline:
                cause = self.failure_cause(box)
                raise ServiceError(
                    f"{self.name} not ready after {timeout:.0f}s: {detail}" + (f"; {cause}" if cause else ""),
                    hint=f"see `govcloud logs {self.name}` ({box.log_dir})",
                )
            time.sleep(self.ready_interval)

    def failure_cause(self, box: Box) -> str:
        """One line from the service's own logs that explains a failed start ("" if none)."""
        return ""

    def post_start(self, box: Box) -> None:  # noqa: B027 - optional hook
        """Converge runtime state (users, identities, stanza) once the service is ready."""

    def reconfigure(self, box: Box) -> bool:
        """Write the configuration its running programs re-read by themselves; True if it changed. `up` calls it
        on a running box every time, also when every service is up (nothing restarts)."""
        return False

    def stale_programs(self, box: Box) -> list[str]:
        """Running programs whose configuration file is not what `prepare` writes now (an older govcloud's, a
        hand edit). They read it only at start and their supervisord sections did not change, so `up`
        re-prepares the service and restarts them."""
        return []

    def after_stop(self, box: Box) -> None:  # noqa: B027 - optional hook
        """Remove what the stopped programs leave outside the box directory (called by `down`, also when
        supervisord was not running: a box that crashed)."""

    @abstractmethod
    def check(self, box: Box) -> tuple[bool, str]:
        """One real readiness probe: (healthy, detail)."""

    def probe(self, box: Box) -> tuple[bool, str]:
        """What `status` asks: the readiness probe, unless a service has a lighter one that still talks to its
        servers (status should answer in a fraction of a second)."""
        return self.check(box)

    def probe_role(self, box: Box) -> tuple[bool, str, str | None]:
        """`probe` and, when healthy, this instance's part in its cluster for `status` (the database under Patroni,
        etcd; from the same answer of its server); None: it runs alone, or as one of equals."""
        return (*self.probe(box), None)

    @abstractmethod
    def endpoint(self, box: Box) -> str:
        """What clients connect to."""


def first_log_line(box: Box, names: Iterable[str], picked: Callable[[str], bool]) -> str:
    """A service's `failure_cause`: the first line of these logs (in the box's log directory) that `picked` picks, as
    `<log>: <line>` (200 characters at most), or "" when none does."""
    for name in names:
        path = box.log_dir / name
        if path.exists():
            for line in path.read_text(errors="replace").splitlines():
                if picked(line):
                    return f"{name}: {line.strip()[:200]}"
    return ""


def https_ok(box: Box, url: str, timeout: float = 5.0) -> tuple[Any, str]:
    """A readiness probe's GET over TLS checked against the box CA: (the 200 response, "") or (None, why not)."""
    import requests

    try:
        with requests.Session() as s:
            s.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
            resp = s.get(url, verify=str(box.ca_file), timeout=timeout)
    except requests.RequestException as exc:
        return None, f"{url}: {type(exc).__name__}"
    if resp.status_code != 200:
        return None, f"{url}: HTTP {resp.status_code}"
    return resp, ""
