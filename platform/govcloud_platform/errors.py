"""Typed errors. Each carries the exit code the CLI returns and a message that says what to do."""

from __future__ import annotations

import re

# What to do about a registry that is missing, damaged or not the box's own (state/registry_guard.py, the sqlite
# errors translated below); the backup scheduler recognises a registry failure by it.
RESTORE_HINT = "restore it from the platform's backup: `govcloud backup restore --registry` (docs/backups.md)"


class GovCloudError(Exception):
    """Base error: one clear line for the user, and a documented exit code."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class OperationFailed(GovCloudError):
    """An operation against a real service failed (exit 1)."""

    exit_code = 1


class ServiceError(OperationFailed):
    """A shared service is down, unready or answered with an error."""


# What every service error tells the operator to do.
SERVICE_HINT = "run `govcloud status`, then `govcloud up`"


def service_failure(service: str, where: str, what: str) -> ServiceError:
    """The one shape of a service's failure: `identity (the IdP at https://localhost:8001) answered HTTP 502
    (run `govcloud status`, then `govcloud up`)`: which service, where it was asked, what went wrong."""
    return ServiceError(f"{service} ({where}) {what}", hint=SERVICE_HINT)


def unhealthy(total: int, bad: list[str], problems: list[str]) -> ServiceError | None:
    """`status`'s one error line, on one machine and from the control home alike: "N of M services unhealthy:" with
    each bad service's line, then the fence's problems; None when there is nothing to say."""
    parts = ([f"{len(bad)} of {total} services unhealthy: " + "; ".join(bad)] if bad else []) + problems
    if not parts:
        return None
    return ServiceError("; ".join(parts), hint="run `govcloud up`: it starts what is stopped and reports")


class ProvisioningError(OperationFailed):
    """A broker could not provision or bind."""


class MissingDependency(OperationFailed):
    """A binary or tool we need is not installed; the message names the package."""


class HostError(OperationFailed):
    """Something failed on hosts of the topology (`hosts` target): the message names each host, the step and
    what to check there; `hosts` lists their names."""

    def __init__(self, message: str, *, hosts: tuple[str, ...] = (), hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.hosts = hosts


class InputError(GovCloudError):
    """Bad input from the user: a spec, an argument, a name (exit 2)."""

    exit_code = 2


class NoBox(InputError):
    """The --home directory holds no box: only `govcloud up` creates one (exit 2, nothing created)."""

    def __init__(self, home: object, why: str = "") -> None:
        super().__init__(f"no box at {home}{f' ({why})' if why else ''}",
                         hint="run `govcloud up` to make one there, or pass the --home of your box")


class BoxDamaged(InputError):
    """The box exists but its registry or the registry's key is missing or does not match: refuse to run rather
    than make a new one (which would orphan every credential) (exit 2)."""


class RegistryDamaged(BoxDamaged):
    """The agencies' registry (or its key) is missing, foreign or unreadable: what `backup restore --registry`
    repairs, and what the backup scheduler tells apart from its other failures (exit 2)."""

    def __init__(self, message: str, *, hint: str | None = RESTORE_HINT) -> None:
        super().__init__(message, hint=hint)


class SpecError(InputError):
    """The spec file is invalid. `problems` lists every problem with its key path and line."""

    def __init__(self, message: str, problems: list[SpecProblem] | None = None, *, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.problems = problems or []


class PolicyViolation(GovCloudError):
    """A mandatory policy was violated (exit 3)."""

    exit_code = 3


class ConflictError(GovCloudError):
    """The requested change conflicts with what exists, or a lock is held (exit 4)."""

    exit_code = 4


class SpecProblem:
    """One problem in a spec file: where it is and what is wrong."""

    def __init__(self, file: str, path: str, line: int | None, message: str) -> None:
        self.file = file
        self.path = path
        self.line = line
        self.message = message

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "path": self.path, "line": self.line, "message": self.message}


EXIT_CODES = {
    0: "success",
    1: "operation failed (a service is down, a command failed)",
    2: "bad input (invalid spec, unknown agency, bad argument)",
    3: "policy violation",
    4: "conflict (a lock is held, or the change conflicts with what exists)",
}


def last_line(output: bytes | str | None, default: str = "") -> str:
    """The line that says why a command failed: its last line naming an error (ERROR, Fatal, error), else its
    last line, else `default`; at most 300 characters (a message, never a dump). The one helper every adapter
    of a command line (pgBackRest, restic, pg_dump, weed, pulumi) reports failures with."""
    text = output.decode(errors="replace") if isinstance(output, bytes) else (output or "")
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR" in line or "Fatal" in line or "error" in line.lower()]
    return ((errors or lines or [default])[-1])[:300]


# --- foreign exceptions that reach the CLI's funnel ---------------------------------------------------------
# (port, service, where) of every endpoint of a box, e.g. (8000, "database", "PostgreSQL at 127.0.0.1:8000").
Endpoint = tuple[int, str, str]
_PORT_RE = re.compile(r"""(?:port\s+|:)(\d{2,5})\b""")


def _first_line(text: str, limit: int = 200) -> str:
    line = next((ln.strip() for ln in str(text).splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _module(exc: BaseException) -> str:
    """The top-level package that defined the exception (or one of its bases): psycopg, botocore, requests..."""
    for cls in type(exc).__mro__:
        root = cls.__module__.split(".")[0]
        if root not in ("builtins", "abc"):
            return root
    return "builtins"


def _endpoint(endpoints: list[Endpoint], *, port: int | None = None, service: str | None = None) -> Endpoint | None:
    for ep in endpoints:
        if (port is not None and ep[0] == port) or (port is None and service is not None and ep[1] == service):
            return ep
    return None


_PG_SERVER_RE = re.compile(r'server at "([^"]+)", port (\d+)')


def _pg_servers(text: str) -> list[str]:
    """Every `host:port` libpq names in its message, in order, once each (a multi-host conninfo tries several)."""
    return list(dict.fromkeys(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in _PG_SERVER_RE.findall(text)))


def _port_in(text: str) -> int | None:
    match = _PORT_RE.search(text)
    return int(match.group(1)) if match else None


def translate(exc: BaseException, endpoints: list[Endpoint], registry: str = "registry.db") -> GovCloudError | None:
    """A typed error for an exception of a client library (psycopg, botocore, requests, supervisord's XML-RPC,
    sqlite3) or of the OS, naming the service and its endpoint; None when it is none of those (a bug). Pure:
    it looks at the exception's package, attributes and text only."""
    module = _module(exc)
    text = str(exc)
    if module == "psycopg":
        ep = _endpoint(endpoints, port=_port_in(text)) or _endpoint(endpoints, service="database")
        service, where = (ep[1], ep[2]) if ep else ("database", "PostgreSQL")
        servers = _pg_servers(text)  # the hosts libpq tried, not the port's endpoint on the first host
        if servers:
            where = f"{where.split(' at ')[0]} at {', '.join(servers)}"
        reason = _first_line(text).rsplit(" failed: ", 1)[-1] or type(exc).__name__
        verb = "is unreachable" if type(exc).__name__ in ("OperationalError", "InterfaceError") else "answered"
        return service_failure(service, where, f"{verb}: {reason}")
    if module in ("botocore", "boto3", "s3transfer"):
        ep = _endpoint(endpoints, port=_port_in(text)) or _endpoint(endpoints, service="storage")
        service, where = (ep[1], ep[2]) if ep else ("storage", "S3")
        response = getattr(exc, "response", None)
        if isinstance(response, dict) and "Error" in response:
            code = response.get("Error", {}).get("Code", "?")
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
            return service_failure(service, where, f"answered {code} (HTTP {status})")
        return service_failure(service, where, f"is unreachable ({type(exc).__name__})")
    if module in ("requests", "urllib3"):
        request = getattr(exc, "request", None)
        url = str(getattr(request, "url", "") or "")
        ep = _endpoint(endpoints, port=_port_in(url or text))
        service, where = (ep[1], ep[2]) if ep else ("a box service", url.split("?")[0] or "HTTP")
        response = getattr(exc, "response", None)
        if response is not None and getattr(response, "status_code", None):
            return service_failure(service, where, f"answered HTTP {response.status_code}")
        return service_failure(service, where, f"is unreachable ({type(exc).__name__})")
    if module == "xmlrpc" or (module == "supervisor"):
        return service_failure("supervisord", "the box's process supervisor", f"failed: {_first_line(text)}")
    if module == "sqlite3":
        if "locked" in text or "busy" in text:
            return ConflictError(f"the registry {registry} is busy ({_first_line(text)})",
                                 hint="another govcloud command holds it: wait for it, then re-run")
        return RegistryDamaged(f"the registry {registry} cannot be used: {_first_line(text)}")
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return OperationFailed(f"{exc.strerror}{where}")
    if type(exc).__name__ == "TimeoutExpired" and module == "subprocess":
        cmd = getattr(exc, "cmd", None)
        name = cmd[0] if isinstance(cmd, list | tuple) and cmd else str(cmd)
        return OperationFailed(f"{name} did not finish within {getattr(exc, 'timeout', '?')} s",
                               hint=SERVICE_HINT)
    return None
