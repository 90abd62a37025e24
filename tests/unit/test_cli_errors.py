"""The error funnel's decisions without servers: client libraries' exceptions become one line naming the
service and its endpoint; the registry's damage is told apart from a first run."""

from __future__ import annotations

import sqlite3
import subprocess

import psycopg
import pytest
import requests
from botocore.exceptions import ClientError, EndpointConnectionError

from govcloud_platform.errors import (
    SERVICE_HINT,
    BoxDamaged,
    ConflictError,
    GovCloudError,
    OperationFailed,
    ServiceError,
    translate,
)
from govcloud_platform.state.registry_guard import registry_problem

ENDPOINTS = [
    (18000, "database", "PostgreSQL at 127.0.0.1:18000"),
    (18003, "storage", "S3 at https://127.0.0.1:18003"),
    (18001, "identity", "the IdP at https://localhost:18001"),
    (18002, "identity", "the IdP manager API at http://127.0.0.1:18002"),
]


def _http_error(status: int) -> requests.HTTPError:
    resp = requests.Response()
    resp.status_code = status
    resp.request = requests.Request("GET", "https://localhost:18001/.well-known/openid-configuration").prepare()
    return requests.HTTPError(response=resp, request=resp.request)


def _connection_error() -> requests.ConnectionError:
    req = requests.Request("GET", "http://127.0.0.1:18002/api/v1/providers/oidc/rp").prepare()
    return requests.ConnectionError("Max retries exceeded", request=req)


CASES = [
    (psycopg.OperationalError('connection failed: connection to server at "127.0.0.1", port 18000 failed: '
                              "Connection refused\n\tIs the server running on that host and accepting TCP/IP "
                              "connections?"),
     ServiceError, "database (PostgreSQL at 127.0.0.1:18000) is unreachable: Connection refused"),
    (psycopg.OperationalError(  # a multi-host conninfo (the hosts target): every host libpq tried, as it names them
        'connection failed: connection to server at "10.0.0.3", port 18000 failed: Connection refused\n\tIs the '
        "server running on that host and accepting TCP/IP connections?\nMultiple connection attempts failed. All "
        "failures were:\n- host: '10.0.0.2', port: '18000', hostaddr: '10.0.0.2': connection failed: connection to "
        'server at "10.0.0.2", port 18000 failed: timeout expired\n- host: \'10.0.0.3\', port: \'18000\', '
        "hostaddr: '10.0.0.3': connection failed: connection to server at \"10.0.0.3\", port 18000 failed: "
        "Connection refused"),
     ServiceError, "database (PostgreSQL at 10.0.0.3:18000, 10.0.0.2:18000) is unreachable: Connection refused"),
    (psycopg.OperationalError("consuming input failed: terminating connection due to administrator command"),
     ServiceError, "database (PostgreSQL at 127.0.0.1:18000) is unreachable"),
    (EndpointConnectionError(endpoint_url="https://127.0.0.1:18003/govcloud-backup"),
     ServiceError, "storage (S3 at https://127.0.0.1:18003) is unreachable (EndpointConnectionError)"),
    (ClientError({"Error": {"Code": "InternalError", "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": 500}},
                 "ListObjectsV2"),
     ServiceError, "storage (S3 at https://127.0.0.1:18003) answered InternalError (HTTP 500)"),
    (_http_error(502), ServiceError, "identity (the IdP at https://localhost:18001) answered HTTP 502"),
    (_connection_error(), ServiceError, "identity (the IdP manager API at http://127.0.0.1:18002) is unreachable"),
    (sqlite3.OperationalError("database is locked"), ConflictError, "is busy"),
    (sqlite3.DatabaseError("file is not a database"), BoxDamaged, "cannot be used: file is not a database"),
    (FileNotFoundError(2, "No such file or directory", "/x/y"), OperationFailed, "No such file or directory: /x/y"),
    (subprocess.TimeoutExpired(["pgbackrest", "info"], 120), OperationFailed, "pgbackrest did not finish within 120"),
]


@pytest.mark.parametrize(("exc", "kind", "text"), CASES, ids=[type(c[0]).__name__ + str(i) for i, c in
                                                            enumerate(CASES)])
def test_client_library_errors_become_one_line_naming_the_service(exc: BaseException, kind: type, text: str) -> None:
    err = translate(exc, ENDPOINTS)
    assert isinstance(err, kind), err
    line = str(err)
    assert text in line
    assert "\n" not in line
    if isinstance(err, ServiceError):
        assert SERVICE_HINT in line


@pytest.mark.parametrize("exc", [ValueError("bug"), KeyError("k"), RuntimeError("x"), AssertionError()])
def test_a_bug_is_not_disguised_as_a_service_failure(exc: BaseException) -> None:
    assert translate(exc, ENDPOINTS) is None


def test_no_endpoints_still_names_the_service() -> None:
    err = translate(psycopg.OperationalError("connection failed: Connection refused"), [])
    assert isinstance(err, GovCloudError) and str(err).startswith("database (PostgreSQL)")


FP = "sha256:0123456789abcdef"
OTHER = "sha256:fedcba9876543210"


@pytest.mark.parametrize(("facts", "problem"), [
    # recorded, db exists, key fingerprint, holds secrets, key opens them
    ((None, False, None, False, None), None),  # a new box: nothing made yet
    ((None, True, None, False, None), None),  # an empty registry from before the key: the key may be made
    ((None, True, FP, True, True), None),  # a box older than the record, intact
    ((FP, True, FP, True, True), None),
    ((FP, True, FP, False, None), None),  # recorded, no agency yet
    ((FP, False, FP, False, None), "registry.db is missing"),
    ((None, False, FP, False, None), "registry.db is missing"),  # the key says a registry was made
    ((FP, False, None, False, None), "registry.db and its key are missing"),
    ((FP, True, None, False, None), "registry.key is missing"),
    ((None, True, None, True, None), "registry.key is missing"),  # credentials without their key
    ((FP, True, OTHER, True, False), "not the key of this box"),
    ((None, True, FP, True, False), "does not open the credentials"),
    ((FP, True, FP, True, False), "does not open the credentials"),  # another box's registry.db
])
def test_registry_damage_is_told_apart_from_a_first_run(
        facts: tuple[str | None, bool, str | None, bool, bool | None], problem: str | None) -> None:
    found = registry_problem(*facts)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_status_says_each_unhealthy_service_then_the_fence_in_one_line() -> None:
    from govcloud_platform.errors import ServiceError, unhealthy

    assert unhealthy(4, [], []) is None
    error = unhealthy(4, ["database on h3 (h3:5432): not answering"], ["fence on h2 is not running"])
    assert isinstance(error, ServiceError)
    assert error.message == ("1 of 4 services unhealthy: database on h3 (h3:5432): not answering; "
                             "fence on h2 is not running")
    assert "govcloud up" in (error.hint or "")
    only_fence = unhealthy(4, [], ["h4 holds h2 fenced"])
    assert only_fence is not None and only_fence.message == "h4 holds h2 fenced"
