"""Rules that `validate` used to let through: a missing version, YAML numbers and booleans where names are
expected, an agency without services, a quota class that does not exist by default, and cron schedules
out of range. Each is an error with file, line and key path."""

from __future__ import annotations

import datetime as dt

import pytest
from croniter import croniter

from govcloud_platform.errors import SpecError
from govcloud_platform.spec import load_spec_text
from govcloud_platform.spec.cron import check_cron
from govcloud_platform.spec.example import EXAMPLE_SPEC


def problems_of(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_spec_text(text, "g.yaml")
    return [str(p) for p in info.value.problems]


def only_problem(old: str, new: str) -> str:
    assert old in EXAMPLE_SPEC
    found = problems_of(EXAMPLE_SPEC.replace(old, new, 1))
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        ("", "g.yaml:4: version: required key is missing (add `version: 1` as the first line)"),
        ("version: 2", "g.yaml:3: version: unsupported spec version 2: this govcloud reads `version: 1`"),
        ("version: true", "g.yaml:3: version: unsupported spec version True"),
        ('version: "1"', "g.yaml:3: version: unsupported spec version '1'"),
        ("version: 1.0", "g.yaml:3: version: unsupported spec version 1.0"),
    ],
)
def test_version_is_required_and_is_1(new: str, expected: str) -> None:
    assert only_problem("version: 1\n", f"{new}\n" if new else "").startswith(expected)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("name: Revenue Board", "name: 12345", "g.yaml:57: agencies[1].name: expected a string, got the number 12345"),
        ("name: Revenue Board", "name: true", "g.yaml:57: agencies[1].name: expected a string, got the boolean true"),
        ("name: Revenue Board", "name: 1.5", "g.yaml:57: agencies[1].name: expected a string, got the number 1.5"),
        ("name: govcloud-demo", "name: 2024", "g.yaml:6: platform.name: expected a string, got the number 2024"),
        ("email: it@revenue.gov.example", "email: 7", "g.yaml:58: agencies[1].email: expected a string"),
        ("quota: large", "quota: 1", "g.yaml:53: agencies[0].quota: expected a string, got the number 1"),
        ("    inherits: standard", "    inherits: false", "g.yaml:42: quota_classes.large.inherits: expected a str"),
        ("cloud: govcloud", "cloud: 0x1f", "g.yaml:24: platform.openstack.cloud: expected a string, got the number 31"),
        ("operator_user: operator", "operator_user: null",
         "g.yaml:16: platform.services.identity.operator_user: Input should be a valid string, got null"),
        ("  large:\n", "  2024:\n", "g.yaml:41: quota_classes: the key '2024' is the number 2024; keys must be str"),
        ("  large:\n", "  true:\n", "g.yaml:41: quota_classes: the key 'true' is the boolean true; keys must be str"),
        ("port_base: 18000", 'port_base: "18000"', "g.yaml:9: platform.port_base: Input should be a valid integer, "
                                                    "got the string '18000'"),
        ("storage_gb: 100", "storage_gb: yes", "g.yaml:44: quota_classes.large.storage_gb: Input should be a valid "
                                               "number, got the string 'yes'"),
        ("target: local", "target: true", "g.yaml:8: platform.target: Input should be 'local', 'openstack', "
                                          "'hosts' or 'ec2', got the boolean true"),
    ],
)
def test_no_coercion_between_yaml_types(old: str, new: str, expected: str) -> None:
    assert only_problem(old, new).startswith(expected)


def test_names_that_look_like_other_types_in_yaml_1_1_are_strings() -> None:
    """YAML 1.2 core schema: `yes`, `no`, `on` and dates are strings (as with ruamel before)."""
    text = EXAMPLE_SPEC.replace("name: Revenue Board", "name: no").replace("name: City Council", "name: 2024-01-01")
    spec = load_spec_text(text)
    assert (spec.agencies[1].name, spec.agencies[2].name) == ("no", "2024-01-01")


def test_an_agency_needs_a_service() -> None:
    found = only_problem("    services: [database, storage, identity, backups]\n", "    services: []\n")
    assert found.startswith("g.yaml:54: agencies[0].services: an agency needs at least one service")


def test_without_quota_classes_standard_is_built_in() -> None:
    head, _, rest = EXAMPLE_SPEC.partition("# Quota classes")
    text = head + "agencies:" + rest.split("agencies:")[1]
    spec = load_spec_text(text.replace("quota: large", "quota: standard"))
    assert list(spec.quota_classes) == ["standard"] and spec.resolve_quota("standard").cores == 8


def test_default_quota_class_must_exist_when_classes_are_defined() -> None:
    text = EXAMPLE_SPEC.replace("  standard:\n", "  basic:\n").replace("inherits: standard", "inherits: basic")
    text = text.replace("    quota: standard\n    backup_schedule", "    backup_schedule")
    found = problems_of(text)
    assert found[0] == (
        "g.yaml:56: agencies[1].quota: no `quota` given and the default class 'standard' is not defined "
        "(known: basic, large); set `quota:` or define quota_classes.standard")
    assert found[1].startswith("g.yaml:63: agencies[2].quota: unknown quota class 'standard'")  # given: a typo


def test_a_long_inheritance_chain_and_its_cycle_are_reported_once() -> None:
    classes = "".join(f"  c{i}:\n    inherits: c{i + 1}\n" for i in range(3000)) + "  c3000:\n    inherits: c0\n"
    text = EXAMPLE_SPEC.split("# Quota classes")[0] + "quota_classes:\n" + classes + "agencies: []\n"
    found = problems_of(text)
    assert found == ["g.yaml:32: quota_classes.c0.inherits: inheritance cycle: c0 -> c1 -> c2 -> c3 -> c4 -> ... "
                     "-> c2997 -> c2998 -> c2999 -> c3000 -> c0 (3001 classes)"]


CRON_PLACES = [
    ('schedule: "0 1 * * 0"', "schedule: {}", "g.yaml:20: platform.services.backups.schedule"),
    ('diff_schedule: "0 1 * * 1-6"', "diff_schedule: {}", "g.yaml:21: platform.services.backups.diff_schedule"),
    ('agency_schedule: "30 2 * * *"', "agency_schedule: {}", "g.yaml:22: platform.services.backups.agency_schedule"),
    ('backup_schedule: "0 3 * * *"', "backup_schedule: {}", "g.yaml:60: agencies[1].backup_schedule"),
]
BAD_CRONS = [
    ("99 99 99 99 99", "minute field '99': 99 is out of range 0-59"),
    ("0 24 * * *", "hour field '24': 24 is out of range 0-23"),
    ("0 0 0 * *", "day-of-month field '0': 0 is out of range 1-31"),
    ("0 0 * 13 *", "month field '13': 13 is out of range 1-12"),
    ("0 0 * * 8", "day-of-week field '8': 8 is out of range 0-7"),
    ("*/0 * * * *", "minute field '*/0': step 0 is out of range 1-59"),
    ("0 0 1-31/32 * *", "step 32 is out of range 1-31"),
    ("30-10 * * * *", "range '30-10' runs backwards"),
    ("0 0 * * FRI-MON", "range 'FRI-MON' runs backwards"),
    ("0 0 * * sunday", "'sunday' is not a number or a name SUN-SAT"),
    ("0 MON * * *", "hour field 'MON': 'MON' is not a number"),
    ("0 0 L * *", "day-of-month field 'L'"),
    ("0 0 * * 1#2", "is not `*`, `N`, `N-M` or one of them with `/step`"),
    ("0 0 ? * *", "is not `*`"),
    ("1,,2 * * * *", "minute field '1,,2': '' is not"),
    ("@daily", "expected five fields"),
    ("0 2 * *", "expected five fields"),
    ("0 0 2 * * * *", "expected five fields"),
    ("0 0 30 2 *", "no chosen month has the chosen day-of-month, so it never fires"),
    ("0 0 31 4,6,9,11 *", "never fires"),
]


@pytest.mark.parametrize(("old", "template", "where"), CRON_PLACES, ids=[p[2].split(": ")[1] for p in CRON_PLACES])
@pytest.mark.parametrize(("cron", "why"), BAD_CRONS[:3] + BAD_CRONS[-2:])
def test_bad_cron_everywhere_a_cron_appears(old: str, template: str, where: str, cron: str, why: str) -> None:
    found = only_problem(old, template.format(f'"{cron}"'))
    assert found.startswith(f"{where}: invalid cron schedule '{cron}': ") and why in found, found


@pytest.mark.parametrize(("cron", "why"), BAD_CRONS)
def test_bad_cron(cron: str, why: str) -> None:
    with pytest.raises(ValueError, match="invalid cron schedule") as info:
        check_cron(cron)
    assert why in str(info.value)


GOOD_CRONS = ["0 2 * * *", "*/15 * * * *", "0 */6 * * *", "5/15 0-6 1,15 * *", "0 1 * * 1-6", "0 0 29 2 *",
              "0 3 * JAN-mar,oct mon-FRI", "0 0 * * 7", "0 0 * * 0", "59 23 31 12 6", "0-59/5 0-23/2 1-31/7 1-12/3 *",
              "00 02 * * *", "0 0 31 1-12 *", "0 0 * * sun,sat"]


@pytest.mark.parametrize("cron", GOOD_CRONS)
def test_good_cron_is_accepted_and_runs_in_croniter(cron: str) -> None:
    """What validate accepts, the scheduler (croniter) can use: next and previous fire times exist."""
    assert check_cron(cron) == cron
    now = dt.datetime(2027, 3, 1, 12, 0, tzinfo=dt.UTC)
    it = croniter(cron, now)
    assert it.get_next(dt.datetime) > now and croniter(cron, now).get_prev(dt.datetime) < now


def test_cron_spacing_is_normalised() -> None:
    spec = load_spec_text(EXAMPLE_SPEC.replace('"0 3 * * *"', '"  0   3 *\t* * "'))
    assert spec.agencies[1].backup_schedule == "0 3 * * *"
