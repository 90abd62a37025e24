"""The spec: the example is valid, every problem is reported with key path and line, fuzzing never crashes."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govcloud_platform.errors import SpecError
from govcloud_platform.spec import check_slug, load_spec_text
from govcloud_platform.spec.example import EXAMPLE_SPEC
from tests.conftest import run_cli


def problems_of(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_spec_text(text, "g.yaml")
    return [str(p) for p in info.value.problems]


def test_example_is_valid_and_has_three_agencies() -> None:
    spec = load_spec_text(EXAMPLE_SPEC)
    assert [a.slug for a in spec.agencies] == ["health", "revenue", "city-council"]
    assert spec.platform.target == "local"


def test_quota_inheritance_resolves_through_the_chain() -> None:
    spec = load_spec_text(EXAMPLE_SPEC)
    large = spec.resolve_quota("large")
    assert large.database_connections == 50  # own
    assert large.volumes == 8  # inherited from standard
    assert large.floating_ips == 1  # built-in default


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("port_base: 18000", "port_base: 80", "g.yaml:9: platform.port_base: Input should be greater than or equal"),
        ("target: local", "target: azure", "g.yaml:8: platform.target:"),
        ("domain: gov.example", "domain: Not A Domain", "g.yaml:7: platform.domain: invalid DNS domain"),
        ("quota: large", "quota: huge", "g.yaml:53: agencies[0].quota: unknown quota class 'huge'"),
        ("slug: revenue", "slug: Revenue!", "g.yaml:56: agencies[1].slug: invalid slug"),
        ("slug: revenue", "slug: postgres", "g.yaml:56: agencies[1].slug: slug 'postgres' is reserved"),
        ("slug: revenue", "slug: health", "g.yaml:56: agencies[1].slug: duplicate agency slug 'health'"),
        ("email: it@health.gov.example", "email: nope", "g.yaml:52: agencies[0].email: invalid email"),
        (
            "    inherits: standard",
            "    inherits: nothing",
            "g.yaml:42: quota_classes.large.inherits: unknown quota class",
        ),
        ("version: 1", "version: 1\nbogus: true", "g.yaml:4: bogus: unknown key"),
        ('schedule: "0 1 * * 0"', 'schedule: "every day"', "platform.services.backups.schedule: invalid cron"),
        ("apps: []", "apps: [wordpress]", "g.yaml:55: agencies[0].apps[0]:"),
    ],
)
def test_each_problem_names_file_line_and_key_path(old: str, new: str, expected: str) -> None:
    assert old in EXAMPLE_SPEC
    found = problems_of(EXAMPLE_SPEC.replace(old, new, 1))
    assert any(expected in p for p in found), found


def test_every_problem_is_reported_not_just_the_first() -> None:
    text = EXAMPLE_SPEC.replace("port_base: 18000", "port_base: 80").replace("slug: revenue", "slug: -x")
    assert len(problems_of(text)) == 2


def test_yaml_syntax_error_has_a_line() -> None:
    found = problems_of("platform:\n  name: [unclosed\n")
    assert found[0].startswith("g.yaml:") and "YAML syntax error" in found[0]


def test_quota_inheritance_cycle_is_reported() -> None:
    text = EXAMPLE_SPEC.replace("  standard:\n    description", "  standard:\n    inherits: large\n    description")
    assert any("inheritance cycle" in p for p in problems_of(text))


@pytest.mark.parametrize(
    "slug",
    [
        "ab",
        "a" * 33,
        "1abc",
        "abc-",
        "ABC",
        "a_b",
        "a b",
        "rоot",
        "x'; drop table--",
        "$(rm -rf /)",
        "admin",
        "template1",
    ],
)
def test_bad_slugs_are_rejected(slug: str) -> None:
    with pytest.raises(ValueError):
        check_slug(slug)


@pytest.mark.parametrize("slug", ["abc", "health", "city-council", "a1-b2", "x" * 32])
def test_good_slugs_pass(slug: str) -> None:
    assert check_slug(slug) == slug


yaml_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.text(max_size=20),
    st.sampled_from(["local", "openstack", "standard", "health", "0 2 * * *", "gov.example"]),
)
yaml_values = st.recursive(
    yaml_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(["name", "slug", "quota", "port_base", "platform", "agencies", "x"]), inner, max_size=3
        ),
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    key=st.sampled_from(["name", "domain", "target", "port_base", "slug", "email", "quota", "services", "apps"]),
    value=yaml_values,
)
def test_fuzzed_values_give_spec_errors_never_crashes(key: str, value: object) -> None:
    """Replace one key's value with arbitrary YAML: the result is valid or a SpecError with a line."""
    lines = EXAMPLE_SPEC.splitlines()
    idx = next(
        i for i, line in enumerate(lines) if line.strip().startswith(f"{key}:") or line.strip().startswith(f"- {key}:")
    )
    prefix = lines[idx].split(f"{key}:")[0]
    lines[idx] = f"{prefix}{key}: {json.dumps(value)}"
    try:
        load_spec_text("\n".join(lines) + "\n", "g.yaml")
    except SpecError as exc:
        assert exc.problems
        assert all(p.line is None or p.line >= 1 for p in exc.problems)


def test_cli_init_validate_schema(tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "govcloud.yaml"
    assert run_cli("--spec", str(spec), "init").rc == 0
    again = run_cli("--spec", str(spec), "init")
    assert again.rc == 4 and "--force" in again.stderr
    assert run_cli("--spec", str(spec), "init", "--force").rc == 0
    ok = run_cli("--spec", str(spec), "--json", "validate")
    assert ok.rc == 0 and ok.json()["valid"] is True
    spec.write_text(spec.read_text().replace("quota: large", "quota: huge"))
    bad = run_cli("--spec", str(spec), "--json", "validate")
    assert bad.rc == 2
    assert bad.json()["problems"][0]["path"] == "agencies[0].quota"
    assert bad.json()["problems"][0]["line"] == 53
    schema = run_cli("schema").json()
    assert "platform" in schema["properties"] and schema["title"] == "govcloud.yaml"
    missing = run_cli("--spec", str(tmp_path / "nope.yaml"), "validate")
    assert missing.rc == 2 and "govcloud init" in missing.stderr
