"""Quota limits reach the servers and stay there (issue 10 item 4, issue 11 item 1), on the session box with
private specs: a changed value of a quota class is applied by `apply` (it compared only the class's name);
`doctor` names every limit a server holds that differs from the applied quota and `apply` restores it; `agency
usage` reports what the servers enforce; an older box's databases (owned by the agency, catalogs open) are
converged by `apply`."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from govcloud_platform.box.services.storage import weed_shell
from tests.conftest import BoxHandle, Result, run_cli

pytestmark = pytest.mark.integration
CLASS = ("  limits-class:\n    inherits: standard\n    database_connections: {connections}\n"
         "    storage_gb: {storage}\n")
AGENCY = "  - slug: {slug}\n    name: Limits {slug}\n    email: it@{slug}.example\n    quota: limits-class\n"


class Spec:
    """A private spec: the session spec plus a quota class `limits-class` and agencies of it."""

    def __init__(self, box: BoxHandle, path: Path, slugs: list[str]) -> None:
        self.box, self.path, self.slugs = box, path, slugs

    def write(self, connections: int, storage: float) -> None:
        text = self.box.spec_path.read_text().replace(
            "quota_classes:\n", "quota_classes:\n" + CLASS.format(connections=connections, storage=storage), 1)
        self.path.write_text(text + "".join(AGENCY.format(slug=s) for s in self.slugs))

    def cli(self, *args: str) -> Result:
        return run_cli("--home", str(self.box.home), "--spec", str(self.path), *args)

    def ok(self, *args: str) -> Any:
        result = self.cli(*args)
        assert result.rc == 0, result.stderr[-1500:]
        return result.json()


@pytest.fixture(scope="module")
def spec(box: BoxHandle) -> Iterator[Spec]:
    s = Spec(box, box.root / "limits-spec.yaml", ["limits-a", "limits-b"])
    s.write(connections=7, storage=0.5)
    assert set(s.slugs) <= set(s.ok("--json", "apply")["added"])
    yield s
    for slug in s.slugs:
        s.cli("agency", "remove", slug, "--purge-data", "--yes")


def server_limits(box: BoxHandle, slug: str) -> dict[str, Any]:
    """What PostgreSQL and SeaweedFS hold, read as the platform."""
    db = f"ag_{slug.replace('-', '_')}"
    b = box.box()
    with b.pg_admin() as conn:
        row = conn.execute("SELECT pg_get_userbyid(datdba), datconnlimit FROM pg_database WHERE datname = %s",
                           (db,)).fetchone()
        roles = dict(conn.execute("SELECT rolname, rolconnlimit FROM pg_roles WHERE rolname IN (%s, %s)",
                                  (db, db + "__ro")).fetchall())
    listing = weed_shell(b, ["s3.bucket.list"])
    quota = re.search(rf"^\s*ag-{slug}\t.*?quota:(\d+)", listing, re.M)
    assert row is not None
    return {"owner": row[0], "database": row[1], "owner_role": roles[db], "reader_role": roles[db + "__ro"],
            "bucket": int(quota.group(1)) if quota else None}


def test_changed_class_values_are_applied_and_usage_agrees(box: BoxHandle, spec: Spec) -> None:
    for slug in spec.slugs:
        assert server_limits(box, slug) == {"owner": "postgres", "database": 7, "owner_role": 7, "reader_role": 7,
                                            "bucket": 512 * 1024**2}
    spec.write(connections=9, storage=0.75)
    doctor = spec.cli("--json", "doctor")
    assert set(doctor.json()["pending"]) >= set(spec.slugs), doctor.stdout  # the spec moved, the servers not yet
    report = spec.ok("--json", "apply")
    assert set(report["updated"]) == set(spec.slugs), report  # before the fix: both "unchanged", nothing applied
    for slug in spec.slugs:
        assert server_limits(box, slug) == {"owner": "postgres", "database": 9, "owner_role": 9, "reader_role": 9,
                                            "bucket": 768 * 1024**2}
    usage = {u["slug"]: u for u in spec.ok("--json", "agency", "usage")["usage"]}
    for slug in spec.slugs:
        assert usage[slug]["database"]["connection_limit"] == 9 and usage[slug]["database"]["enforced"] is True
        assert usage[slug]["storage"]["limit_bytes"] == 768 * 1024**2 and usage[slug]["storage"]["enforced"] is True
    again = spec.ok("--json", "apply")
    assert set(again["unchanged"]) >= set(spec.slugs) and not again["updated"] and not again["restored"]
    assert spec.ok("--json", "doctor")["pending"] == []


def test_doctor_reports_drift_usage_shows_it_and_apply_restores_it(box: BoxHandle, spec: Spec) -> None:
    slug = spec.slugs[0]
    db = f"ag_{slug.replace('-', '_')}"
    expected = server_limits(box, slug)
    b = box.box()
    with b.pg_admin() as conn:  # someone with the server's privileges changes them
        conn.execute(f'ALTER DATABASE "{db}" CONNECTION LIMIT -1')
        conn.execute(f'ALTER ROLE "{db}__ro" CONNECTION LIMIT 1000')
        conn.execute(f'GRANT CONNECT ON DATABASE "{db}" TO PUBLIC')
    weed_shell(b, [f"s3.bucket.quota -name=ag-{slug} -op=set -sizeMB=999999"])

    doctor = spec.cli("--json", "doctor")
    assert doctor.rc == 1, doctor.stdout
    found = {(d["object"], d["setting"]): d for d in doctor.json()["limits"] if d["agency"] == slug}
    assert found[(f"database {db}", "connection limit")]["actual"] == -1
    assert found[(f"database {db}", "connection limit")]["expected"] == expected["database"]
    assert found[(f"role {db}__ro", "connection limit")]["actual"] == 1000
    assert "=c/postgres" in found[(f"database {db}", "access")]["actual"]  # PUBLIC may connect
    assert found[(f"bucket ag-{slug}", "quota bytes")]["actual"] == 999999 * 1024**2
    human = spec.cli("doctor")
    assert human.rc == 1 and f"database {db} connection limit is -1" in human.stderr

    usage = spec.ok("--json", "agency", "usage", slug)["usage"][0]
    assert usage["database"]["connection_limit"] == -1 and usage["database"]["enforced"] is False
    assert usage["storage"]["limit_bytes"] == 999999 * 1024**2 and usage["storage"]["enforced"] is False

    report = spec.ok("--json", "apply")
    assert report["restored"] == [slug], report
    assert server_limits(box, slug) == expected
    with b.pg_admin() as conn:
        assert conn.execute("SELECT has_database_privilege('public', %s, 'CONNECT')", (db,)).fetchone() == (False,)
    assert spec.cli("--json", "doctor").rc == 0
    audit = spec.ok("--json", "agency", "show", slug)["audit"]
    assert any(a["result"] == "limit restored" and "connection limit is -1" in a["detail"] for a in audit), audit


def test_an_older_box_is_converged_by_apply(box: BoxHandle, spec: Spec) -> None:
    """As an older govcloud left it: the agency's role owns its database, the catalogs are open to PUBLIC, no
    applied quota is recorded. `apply` makes the database the platform's and hides the catalogs again; the
    agency's own work goes on."""
    slug = spec.slugs[1]
    db = f"ag_{slug.replace('-', '_')}"
    creds = spec.ok("--json", "agency", "credentials", slug, "--show-secrets")["database"]
    b = box.box()
    with b.pg_admin() as conn:
        conn.execute(f'ALTER DATABASE "{db}" OWNER TO "{db}"')
    with b.pg_admin(db) as conn:
        conn.execute("GRANT SELECT ON pg_catalog.pg_roles, pg_catalog.pg_stat_activity, pg_catalog.pg_database "
                     "TO PUBLIC")
    (box.home / "pg" / "catalog-hardening").unlink()
    with sqlite3.connect(box.home / "registry.db") as reg:
        reg.execute("DELETE FROM applied_quotas WHERE agency = ?", (slug,))

    def as_agency(query: str) -> Any:
        with psycopg.connect(host=creds["host"], port=creds["port"], dbname=creds["dbname"], user=creds["user"],
                             password=creds["password"], sslmode="verify-full", sslrootcert=creds["sslrootcert"],
                             autocommit=True) as conn:
            cursor = conn.execute(query)
            return cursor.fetchall() if cursor.description else None

    assert as_agency("SELECT rolconnlimit FROM pg_roles")  # open, as before the fix
    as_agency("CREATE TABLE IF NOT EXISTS kept (v int)")
    report = spec.ok("--json", "apply")
    assert slug in report["restored"], report
    assert server_limits(box, slug)["owner"] == "postgres"
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_agency("SELECT rolconnlimit FROM pg_roles")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_agency(f'ALTER DATABASE "{db}" CONNECTION LIMIT -1')
    as_agency("INSERT INTO kept VALUES (1)")  # its table is still its own
    assert (box.home / "pg" / "catalog-hardening").exists()
    assert spec.ok("--json", "doctor")["healthy"] is True
