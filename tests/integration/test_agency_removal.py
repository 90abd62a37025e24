"""A removal that fails half-way (the IdP's nginx stopped as the identity step starts): the agency is
`removing`, never a hollow `ready`; add, apply and credentials refuse it; doctor names it with the command that
finishes it; the failure is audited; the same command run again removes every server object."""

from __future__ import annotations

from typing import Any

import pytest

from govcloud_platform import names
from govcloud_platform.box import idp_api
from govcloud_platform.box.services.storage import BACKUP_BUCKET, dynamic_identities
from govcloud_platform.brokers.backups import ensure_repository
from govcloud_platform.state.registry import Registry
from tests.conftest import BoxHandle, assert_one_error, run_cli

pytestmark = pytest.mark.integration
SLUG = "half-gone"


def _objects(box: BoxHandle) -> list[str]:
    """Every server-side object of SLUG that exists."""
    b = box.box()
    owner, reader = names.pg_owner(SLUG), names.pg_reader(SLUG)
    with b.pg_admin() as conn:
        roles = [r[0] for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)",
                                            ([owner, reader],))]
        dbs = [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname = %s", (owner,))]
    s3 = b.s3_client()
    buckets = [x["Name"] for x in s3.list_buckets()["Buckets"] if x["Name"] == names.bucket(SLUG)]
    restic = s3.list_objects_v2(Bucket=BACKUP_BUCKET, Prefix=names.restic_prefix(SLUG), MaxKeys=1).get("Contents")
    return ([f"role {r}" for r in roles] + [f"database {d}" for d in dbs] + [f"bucket {x}" for x in buckets]
            + [f"S3 identity {i}" for i in dynamic_identities(b) if i == names.s3_identity(SLUG)]
            + [f"OIDC client {c}" for c in idp_api.list_oidc_clients(b) if c == names.oidc_client(SLUG)]
            + [f"IdP user {u}" for u in idp_api.list_users(b) if u == names.admin_login(SLUG)]
            + (["restic repository"] if restic else []))


def _state(box: BoxHandle) -> str | None:
    listing = box.cli("--json", "agency", "list").json()["agencies"]
    return next((a["state"] for a in listing if a["slug"] == SLUG), None)


@pytest.mark.slow
def test_failed_purge_is_removing_refused_audited_and_completed_by_a_rerun(box: BoxHandle) -> None:
    added = box.cli("--json", "agency", "add", SLUG, "--name", "Half Gone Office")
    assert added.rc == 0, added.stderr
    registry = Registry(box.home)
    binding = registry.binding(SLUG, "backups")
    assert binding is not None
    assert ensure_repository(box.box(), SLUG, binding["restic_password"])
    before = _objects(box)
    assert set(before) == {f"role {names.pg_owner(SLUG)}", f"role {names.pg_reader(SLUG)}",
                           f"database {names.pg_owner(SLUG)}", f"bucket {names.bucket(SLUG)}",
                           f"S3 identity {names.s3_identity(SLUG)}", f"OIDC client {names.oidc_client(SLUG)}",
                           f"IdP user {names.admin_login(SLUG)}", "restic repository"}, before

    failed = box.cli("agency", "remove", SLUG, "--purge-data", "--yes",
                     env={"GOVCLOUD_TEST_FAULT": "before:remove:identity:stop:nginx"})
    assert failed.rc == 1, failed.stderr
    assert_one_error(failed)
    assert "identity removal failed" in failed.stderr and f"govcloud agency remove {SLUG} --purge-data" in failed.stderr
    assert _state(box) == "removing"

    audit = box.cli("--json", "agency", "show", SLUG).json()["audit"]
    results = [(a["command"], a["result"]) for a in audit]
    assert ("agency remove", "failed") in results and ("agency remove", "started") in results
    assert "identity" in next(a["detail"] for a in audit if a["result"] == "failed")

    assert box.cli("up").rc == 0  # nginx again (doctor asks the IdP too)
    left = _objects(box)  # backups went first (its repository is gone); identity failed; storage and database wait
    assert "restic repository" not in left and f"database {names.pg_owner(SLUG)}" in left, left
    assert f"bucket {names.bucket(SLUG)}" in left and f"OIDC client {names.oidc_client(SLUG)}" in left, left
    readd = box.cli("agency", "add", SLUG, "--name", "Half Gone Office")
    assert readd.rc == 4 and "finish the removal first" in readd.stderr, readd.stderr
    assert_one_error(readd)
    assert box.cli("agency", "credentials", SLUG).rc == 4
    doctor = box.cli("--json", "doctor")
    assert doctor.rc == 1
    report: dict[str, Any] = doctor.json()
    assert SLUG in report["unfinished"] and report["removing"][SLUG].endswith("--purge-data --yes")
    private = box.root / "removal-spec.yaml"  # the spec still lists it: apply converges nothing, changes nothing
    private.write_text(box.spec_path.read_text() + f"  - slug: {SLUG}\n    name: Half Gone Office\n"
                       "    email: it@half.gov.example\n    quota: standard\n")
    applied = run_cli("--home", str(box.home), "--spec", str(private), "apply")
    assert applied.rc == 4 and "finish the removal first" in applied.stderr, applied.stderr
    keep = box.cli("agency", "remove", SLUG)  # started as a purge: not completed as a retirement
    assert keep.rc == 4 and "--purge-data" in keep.stderr, keep.stderr
    assert _state(box) == "removing"

    done = box.cli("--json", "agency", "remove", SLUG, "--purge-data", "--yes")
    assert done.rc == 0, done.stderr
    assert _state(box) is None
    assert _objects(box) == []
    entries = [(e["command"], e["result"]) for e in Registry(box.home).audit_log(limit=20, target=SLUG)]
    assert entries[0] == ("agency remove", "purged") and ("agency remove", "failed") in entries
    doctor = box.cli("--json", "doctor").json()
    assert SLUG not in doctor["unfinished"] and not [o for o in doctor["orphans"] if SLUG in o]
