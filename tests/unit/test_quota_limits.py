"""Limits without servers: what each agency's databases, roles and bucket must hold for its quota, what drifted,
what `apply` reports, how SeaweedFS's bucket listing is read, and the registry's record of applied quotas."""

from __future__ import annotations

from pathlib import Path

import pytest

from govcloud_platform.box.services import pg_hardening
from govcloud_platform.brokers.database import PLATFORM_OWNER, agency_databases, database_limits, expected_acl
from govcloud_platform.brokers.limits import Limit, changed_fields, drifted, outcome, quota_values
from govcloud_platform.brokers.storage import (
    cluster_limits,
    lagging_filers,
    parse_bucket_quotas,
    quota_bytes,
    quota_command,
    storage_limits,
)
from govcloud_platform.spec import load_spec_text
from govcloud_platform.spec.example import EXAMPLE_SPEC
from govcloud_platform.state.registry import Registry
from tests.registry_kit import older_registry

SPEC = load_spec_text(EXAMPLE_SPEC)
STANDARD = SPEC.resolve_quota("standard")
LARGE = SPEC.resolve_quota("large")


def healthy_server(slug: str = "health", apps: tuple[str, ...] = ()) -> tuple[dict[str, tuple[str, int, list[str]]],
                                                                                dict[str, int]]:
    base = "ag_" + slug.replace("-", "_")
    n = STANDARD.database_connections
    dbs = {base: (PLATFORM_OWNER, n, expected_acl(base, [base + "__ro"]))}
    roles = {base: n, base + "__ro": n}
    for app in apps:
        dbs[f"{base}__{app}"] = (PLATFORM_OWNER, n, expected_acl(f"{base}__{app}", []))
        roles[f"{base}__{app}"] = n
    return dbs, roles


def test_expected_acl_is_the_platform_the_agency_and_its_readers_only() -> None:
    assert expected_acl("ag_x", ["ag_x__ro"]) == ["ag_x=CTc/postgres", "ag_x__ro=c/postgres", "postgres=CTc/postgres"]
    assert not any(item.startswith("=") for item in expected_acl("ag_x", []))  # no PUBLIC


def test_a_converged_server_has_no_drift_and_covers_every_object() -> None:
    dbs, roles = healthy_server(apps=("portal",))
    limits = database_limits({"health": STANDARD}, dbs, roles)
    assert drifted(limits) == []
    targets = {(lim.target, lim.setting) for lim in limits}
    assert ("database ag_health", "connection limit") in targets
    assert ("database ag_health__portal", "owner") in targets
    assert ("role ag_health__ro", "connection limit") in targets
    assert ("role ag_health__portal", "connection limit") in targets


@pytest.mark.parametrize(("change", "target", "setting", "actual"), [
    (lambda d, r: d.update(ag_health=("ag_health", 20, d["ag_health"][2])), "database ag_health", "owner", "ag_health"),
    (lambda d, r: d.update(ag_health=(PLATFORM_OWNER, -1, d["ag_health"][2])), "database ag_health",
     "connection limit", -1),
    (lambda d, r: d.update(ag_health=(PLATFORM_OWNER, 20, sorted([*d["ag_health"][2], "=c/postgres"]))),
     "database ag_health", "access", sorted(["=c/postgres", *expected_acl("ag_health", ["ag_health__ro"])])),
    (lambda d, r: r.update(ag_health__ro=1000), "role ag_health__ro", "connection limit", 1000),
    (lambda d, r: d.pop("ag_health"), "database ag_health", "connection limit", None),
    (lambda d, r: r.pop("ag_health"), "role ag_health", "connection limit", None),
])
def test_each_drift_is_named_with_expected_and_actual(change: object, target: str, setting: str,
                                                      actual: object) -> None:
    dbs, roles = healthy_server()
    change(dbs, roles)  # type: ignore[operator]
    off = [(lim.target, lim.setting, lim.actual) for lim in drifted(database_limits({"health": STANDARD}, dbs, roles))]
    assert (target, setting, actual) in off


def test_the_expected_values_follow_the_quota() -> None:
    dbs, roles = healthy_server()
    off = drifted(database_limits({"health": LARGE}, dbs, roles))
    assert {(lim.target, lim.expected) for lim in off if lim.setting == "connection limit"} == {
        ("database ag_health", LARGE.database_connections), ("role ag_health", LARGE.database_connections),
        ("role ag_health__ro", LARGE.database_connections)}


def test_other_agencies_and_an_app_role_without_database_are_left_out() -> None:
    dbs, roles = healthy_server()
    other, other_roles = healthy_server("health-x")
    roles["ag_health__wiki"] = 3  # an app's role whose database is gone: nothing to restore
    limits = database_limits({"health": STANDARD}, {**dbs, **other}, {**roles, **other_roles})
    assert {lim.slug for lim in limits} == {"health"}
    assert not any("health_x" in lim.target or "wiki" in lim.target for lim in limits)
    assert set(agency_databases("health", {"ag_health", "ag_health__portal", "ag_health_x", "postgres"})) == {
        "ag_health", "ag_health__portal"}


LISTING = (
    "  ag-health\tsize:1024\tlogical:1024\tchunk:1\tquota:10737418240\tusage:0.00%\towner:\"admin\"\n"
    "  ag-revenue\tsize:0\tlogical:0\tchunk:0\towner:\"admin\"\n"
    "  govcloud-backup\tsize:6858152\tlogical:6858152\tchunk:7\towner:\"admin\"\n"
    "  ag-off\tsize:0\tlogical:0\tchunk:0\tquota:-10737418240\towner:\"admin\"\n"
)


def test_bucket_listing_is_parsed_and_compared() -> None:
    live = parse_bucket_quotas(LISTING)
    assert live == {"ag-health": 10 * 1024**3, "ag-revenue": None, "govcloud-backup": None, "ag-off": None}
    limits = storage_limits({"health": STANDARD, "revenue": STANDARD, "gone": STANDARD}, live)
    assert [(lim.slug, lim.drifted) for lim in limits] == [("gone", True), ("health", False), ("revenue", True)]


def test_a_cluster_names_the_filer_that_holds_another_quota() -> None:
    """A storage cluster's filers each keep their own store: when they agree, one limit per agency as on one
    machine; when one returned from a crash with an older value (measured on the lab: the quota gone), a limit for
    that filer, naming its host, and none for the filers that hold the right value."""
    live = parse_bucket_quotas(LISTING)
    stale = {**live, "ag-health": None}
    agree = cluster_limits({"health": STANDARD}, {"h2": live, "h3": live, "h4": live})
    assert [(lim.target, lim.drifted) for lim in agree] == [("bucket ag-health", False)]
    one_off = cluster_limits({"health": STANDARD, "revenue": STANDARD}, {"h2": stale, "h3": live, "h4": live})
    assert [(lim.slug, lim.target, lim.actual) for lim in one_off] == [
        ("health", "bucket ag-health (the filer on h2)", None), ("revenue", "bucket ag-revenue", None)]
    assert all(lim.drifted for lim in one_off)
    assert cluster_limits({"health": STANDARD}, {}) == storage_limits({"health": STANDARD}, {})  # none answered


def test_a_filer_lacking_a_bucket_another_holds_lags_and_a_quota_alone_does_not() -> None:
    """`restore_limits` restarts a filer that lacks a bucket its peers hold (one not following a peer); a bucket
    with another quota, or without one, is set again through it instead; a bucket no filer holds lags nowhere."""
    both = {"ag-alpha": 10, "ag-beta": None}
    assert lagging_filers({"h2": both, "h3": both}, ["ag-alpha", "ag-beta"]) == []
    assert lagging_filers({"h2": both, "h3": {"ag-alpha": 5}, "h4": {}}, ["ag-beta"]) == ["h3", "h4"]
    assert lagging_filers({"h2": both, "h3": {"ag-alpha": 5}}, ["ag-alpha"]) == []
    assert lagging_filers({"h2": both, "h3": both}, ["ag-gamma"]) == []
    assert lagging_filers({}, ["ag-alpha"]) == []


@pytest.mark.parametrize("gb", [0.001, 0.5, 0.75, 10, 100, 1234.5])
def test_the_quota_read_back_is_the_quota_set(gb: float) -> None:
    mb = int(quota_command("b", gb).rsplit("=", 1)[1])
    assert quota_bytes(gb) == mb * 1024 * 1024


def test_changed_fields_and_what_apply_reports() -> None:
    assert changed_fields(quota_values(STANDARD), STANDARD) == []
    assert "database_connections" in changed_fields(quota_values(STANDARD), LARGE)
    assert changed_fields(None, STANDARD) == sorted(quota_values(STANDARD))
    drift = [Limit("health", "database ag_health", "connection limit", 20, -1)]
    assert outcome([], [], recorded=True) == "unchanged"
    assert outcome(["storage_gb"], [], recorded=True) == "updated"
    assert outcome(["storage_gb"], drift, recorded=True) == "updated"
    assert outcome([], drift, recorded=True) == "restored"
    assert outcome(["storage_gb"], [], recorded=False) == "unchanged"  # an older box: first record
    assert outcome(["storage_gb"], drift, recorded=False) == "restored"
    assert "is -1, expected 20" in drift[0].describe()


def test_applied_quotas_are_recorded_and_go_with_their_agency(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    reg.save_agency("health", "Health", "a@b.cd", "standard", ["database"], "ready")
    assert reg.applied_quota("health") is None
    reg.save_applied_quota("health", quota_values(STANDARD))
    assert reg.applied_quota("health") == quota_values(STANDARD)
    reg.save_applied_quota("health", quota_values(LARGE))
    assert reg.applied_quota("health") == quota_values(LARGE)
    reg.delete_agency("health")
    assert reg.applied_quota("health") is None


def test_a_registry_of_version_2_gains_the_table_and_keeps_its_rows(tmp_path: Path) -> None:
    reg = older_registry(tmp_path, 2)
    assert [r.slug for r in reg.agencies()] == ["health"]
    assert reg.applied_quota("health") is None
    reg.save_applied_quota("health", quota_values(STANDARD))
    assert reg.applied_quota("health") == quota_values(STANDARD)


def test_hardening_sql_hides_what_it_says_and_keeps_what_apps_read() -> None:
    text = pg_hardening.database_sql()
    for relation in pg_hardening.HIDDEN_RELATIONS:
        assert f"pg_catalog.{relation}" in text
    assert "REVOKE SELECT ON pg_catalog.pg_database FROM PUBLIC" in text
    granted = text.split("GRANT SELECT (", 1)[1].split(")", 1)[0].split(", ")
    assert {"datname", "datcollate", "datctype"} <= set(granted)  # Synapse's start-up check
    assert not {"datconnlimit", "datacl", "datdba"} & set(granted)
    assert "pg_settings" not in pg_hardening.HIDDEN_RELATIONS and "pg_tablespace" not in pg_hardening.HIDDEN_RELATIONS
