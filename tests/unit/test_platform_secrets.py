"""Which platform secrets each service's host gets (`platform_secrets.NEEDS`), and that a host's home never
makes one of its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from govcloud_platform.box import idp_api, platform_secrets
from govcloud_platform.box.context import Box
from govcloud_platform.box.placement import ALL, SERVICES
from govcloud_platform.box.services import identity, nginx, weed_security
from govcloud_platform.box.services.identity_conf import SIGNING_KEY_SECRET
from govcloud_platform.errors import BoxDamaged
from govcloud_platform.spec import load_spec_text
from govcloud_platform.spec.example import EXAMPLE_SPEC


def _box(home: Path) -> Box:
    return Box(home=home, spec=load_spec_text(EXAMPLE_SPEC), port_base=40000)


def test_the_map_names_every_secret_the_control_makes_and_nothing_else(tmp_path: Path) -> None:
    box = _box(tmp_path / "control")
    box.ensure_home()
    made = set(platform_secrets.ensure_all(box)) - {"registry.key"}
    assert set(platform_secrets.needed_by(SERVICES)) == made
    assert set(platform_secrets.NEEDS) == set(ALL)


def test_the_map_uses_the_names_the_services_read() -> None:
    assert set(weed_security.JWT_KEYS.values()) == set(platform_secrets.WEED_JWT)
    assert {identity.OPERATOR_SECRET, nginx.MANAGER_SECRET, SIGNING_KEY_SECRET} < set(platform_secrets.IDP)
    assert idp_api.IDP_PASSWORD_SECRET == platform_secrets.IDP_DB_PASSWORD
    # the superuser's password: only where the database runs (and pgBackRest beside it), never the IdP's host
    assert {s for s, names in platform_secrets.NEEDS.items() if "postgres-superuser" in names} == {"database",
                                                                                                   "backups"}
    # pgBackRest's S3 identity: storage configures it, backups signs with it
    assert set(platform_secrets.S3_BACKUP) <= platform_secrets.NEEDS["storage"] & platform_secrets.NEEDS["backups"]


def test_a_hosts_home_never_makes_a_secret_and_says_where_they_come_from(tmp_path: Path) -> None:
    home = tmp_path / "h1"
    home.mkdir()
    placement = {"here": ["database"], "services": {s: {"host": "h1", "address": "10.231.8.11"} for s in SERVICES}}
    (home / "placement.json").write_text(json.dumps(placement))
    box = _box(home)
    with pytest.raises(BoxDamaged) as err:
        box.secrets.get_or_create("postgres-superuser")
    assert "missing" in str(err.value) and "on the control" in (err.value.hint or "")
    assert not (home / "secrets" / "postgres-superuser").exists()
    control = tmp_path / "control"
    control.mkdir()
    (control / "placement.json").write_text(json.dumps({**placement, "here": []}))
    assert _box(control).secrets.get_or_create("postgres-superuser")  # the control makes them


def test_host_certificates_are_those_the_hosts_own_code_would_issue(tmp_path: Path) -> None:
    """The control issues them with the names the host's `up` asks for (`box.certificate_names` of the host's
    address): the host then finds each one there and never needs the CA's key."""
    from govcloud_platform.box.network import certificate_names

    got = {c.name: c for c in platform_secrets.host_certificates(["storage", "identity"], "10.231.8.11")}
    assert set(got) == {*weed_security.COMPONENTS.values(), weed_security.CLIENT, "s3", "idp"}
    assert got["weed-volume"].client and not got["idp"].client
    assert (list(got["weed-volume"].dns), list(got["weed-volume"].ips)) == certificate_names("10.231.8.11",
                                                                                           "weed-volume")
    assert (list(got["idp"].dns), list(got["idp"].ips)) == certificate_names("10.231.8.11")
    # the database's and backups' host: its server certificate and Patroni's (its REST API, its client of etcd);
    # no weed client: quotas stay with storage
    db = {c.name: c for c in platform_secrets.host_certificates(["database", "backups"], "10.0.0.2")}
    assert set(db) == {"postgres", "patroni"} and db["patroni"].client and not db["postgres"].client
    assert {c.name for c in platform_secrets.host_certificates(["dcs"], "10.0.0.3")} == {"etcd"}


def test_a_hosts_ca_issues_nothing_and_makes_no_ca_of_its_own(tmp_path: Path) -> None:
    """The control issues a host's certificates into ca/hosts/<host>/; the host's sealed CA uses them as they
    are and refuses, naming the file, a certificate it lacks (it has no key to make one, nor may make a CA)."""
    control = _box(tmp_path / "control")
    control.ensure_home()
    control.ca.ensure()
    out = platform_secrets.issue_for_host(control, "h1", "10.231.8.11", ["identity"])
    assert sorted(p.name for p in out.iterdir()) == ["idp.key", "idp.pem"]
    stale = out / "postgres.pem"
    stale.write_text("x")
    platform_secrets.issue_for_host(control, "h1", "10.231.8.11", ["identity"])
    assert not stale.exists()  # a certificate the host no longer needs goes

    home = tmp_path / "h1"
    (home / "ca" / "certs").mkdir(parents=True)
    placement = {"here": ["identity"], "services": {s: {"host": "h1", "address": "10.231.8.11"} for s in SERVICES}}
    (home / "placement.json").write_text(json.dumps(placement))
    (home / "ca" / "ca.pem").write_bytes(control.ca.cert_file.read_bytes())
    for name in ("idp.pem", "idp.key"):
        (home / "ca" / "certs" / name).write_bytes((out / name).read_bytes())
    host = Box(home=home, spec=control.spec, address="10.231.8.11", allow_from=())
    assert host.ca.sealed
    host.ca.ensure()
    assert host.ca.issue("idp", *host.certificate_names())[0] == home / "ca" / "certs" / "idp.pem"
    with pytest.raises(BoxDamaged) as err:
        host.ca.issue("postgres", *host.certificate_names())
    assert "postgres.pem" in str(err.value) and "on the control" in (err.value.hint or "")
    assert not (home / "ca" / "ca.key").exists() and not (home / "ca" / "certs" / "postgres.pem").exists()
    (home / "ca" / "ca.pem").unlink()
    with pytest.raises(BoxDamaged):
        host.ca.ensure()  # never a CA of its own
    assert not (home / "ca" / "ca.pem").exists()


def test_the_backups_host_holds_no_key_to_the_object_storage_but_pgbackrests(tmp_path: Path) -> None:
    assert not platform_secrets.NEEDS["backups"] & {*platform_secrets.S3_ADMIN, *platform_secrets.WEED_JWT}
    assert set(platform_secrets.S3_BACKUP) <= platform_secrets.NEEDS["backups"]


def test_the_quota_enforcement_runs_where_storage_runs(tmp_path: Path) -> None:
    """On one machine the scheduler enforces quotas; on the hosts target a storage host whose backups run on
    another host runs its own quota program, and the backups' host does not."""
    from govcloud_platform.backups.scheduler import quota_once
    from govcloud_platform.box.services import backup_plan
    from govcloud_platform.box.services.storage import StorageService

    one = _box(tmp_path / "one")
    assert not backup_plan.quota_here(one) and one.runs("storage")
    names = {}
    for host, here in (("s", ["storage", "identity"]), ("d", ["database", "backups"]), ("sb", ["storage", "backups"])):
        home = tmp_path / host
        home.mkdir()
        doc = {"here": here, "services": {s: {"host": "h", "address": "10.0.0.1"} for s in SERVICES}}
        (home / "placement.json").write_text(json.dumps(doc))
        box = _box(home)
        names[host] = (backup_plan.quota_here(box), box.runs("storage"))
    assert names == {"s": (True, True), "d": (False, False), "sb": (False, True)}
    storage_host = _box(tmp_path / "s")
    programs = {p.name: p for p in StorageService().programs(storage_host)}
    assert backup_plan.QUOTA_PROGRAM in programs
    assert programs[backup_plan.QUOTA_PROGRAM].command[-2:] == ["--quota-only", str(storage_host.home / "spec.yaml")]
    assert backup_plan.QUOTA_PROGRAM not in {p.name for p in StorageService().programs(one)}
    # a round that fails (no storage runs here) is counted and said; three in a row make status unhealthy
    record: dict = {}
    for _ in range(3):
        assert backup_plan.quota_problem(record) is None
        record = quota_once(storage_host, record)
    assert record["failures"] == 3 and record["error"]
    assert "failed 3 times in a row" in (backup_plan.quota_problem(record) or "")
