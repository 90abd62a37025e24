"""The offline plan through the CLI: zero violations for the example spec, exit 3 naming the policy for
each violation (advisory ones with --strict), and the missing-CLI error of the other verbs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from govcloud_cli.main import app
from govcloud_platform.errors import GovCloudError
from govcloud_platform.spec import load_spec_text
from govcloud_platform.spec.example import EXAMPLE_SPEC

GOVCLOUD = Path(sys.executable).with_name("govcloud")


def _raw() -> dict[str, Any]:
    raw = load_spec_text(EXAMPLE_SPEC).model_dump()
    raw["agencies"][0]["apps"] = ["portal"]
    return raw


def _write(tmp_path: Path, raw: dict[str, Any]) -> Path:
    path = tmp_path / "govcloud.yaml"
    path.write_text(json.dumps(raw), encoding="utf-8")  # JSON is YAML
    return path


def _plan(spec: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    """Run `govcloud --json iaas plan --offline` in-process; GovCloudError -> its exit code, as main.run does."""
    result = CliRunner().invoke(app, ["--spec", str(spec), "--json", "iaas", "plan", "--offline", *extra])
    code = result.exit_code
    if isinstance(result.exception, GovCloudError):
        code = result.exception.exit_code
    elif result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return code, json.loads(result.stdout)


def _policies(doc: dict[str, Any]) -> set[str]:
    return {v["policy"] for v in doc["violations"]}


def test_example_spec_plans_with_zero_violations(tmp_path: Path) -> None:
    spec = tmp_path / "govcloud.yaml"
    spec.write_text(EXAMPLE_SPEC, encoding="utf-8")
    code, doc = _plan(spec)
    assert code == 0, doc["violations"]
    assert doc["violations"] == []
    stacks = {r["stack"] for r in doc["resources"]}
    assert stacks == {"platform", "agency-health", "agency-revenue", "agency-city-council"}
    first = doc["resources"][0]
    assert set(first) >= {"stack", "type", "name", "inputs"}


def test_agency_filter_plans_only_its_stacks(tmp_path: Path) -> None:
    code, doc = _plan(_write(tmp_path, _raw()), "--agency", "health")
    assert code == 0
    assert {r["stack"] for r in doc["resources"]} == {"agency-health", "app-health-portal"}


def _openstack(**changes: Any) -> dict[str, Any]:
    raw = _raw()
    raw["platform"]["openstack"].update(changes)
    return raw


def _bad_flavor() -> dict[str, Any]:
    raw = _raw()
    raw["platform"]["openstack"]["flavors"].append({"name": "m1.small", "vcpus": 1, "ram_mb": 2048})
    return raw


def _bad_image() -> dict[str, Any]:
    raw = _raw()
    raw["platform"]["openstack"]["images"][0]["properties"] = {"os_distro": ""}
    return raw


SPEC_CASES = [
    ("no-public-ingress", lambda: _openstack(proxy_cidr="0.0.0.0/0"), []),
    ("no-public-admin-ports", lambda: _openstack(admin_cidr="0.0.0.0/0"), []),
    ("data-residency", lambda: _openstack(region="RegionTwo"), []),
    ("data-residency", lambda: _openstack(availability_zone="az-abroad"), []),
    ("quota-fits-capacity", lambda: _openstack(capacity={"cores": 10}), []),
    ("scs-flavor-names", _bad_flavor, ["--strict"]),
    ("scs-image-metadata", _bad_image, ["--strict"]),
]


@pytest.mark.parametrize(("policy", "make", "flags"), SPEC_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(SPEC_CASES)])
def test_violating_spec_exits_3_naming_the_policy(tmp_path: Path, policy: str, make: Any, flags: list[str]) -> None:
    code, doc = _plan(_write(tmp_path, make()), *flags)
    assert code == 3, doc["violations"]
    assert policy in _policies(doc)


def _rogue_volume() -> None:
    import pulumi_openstack as openstack

    openstack.blockstorage.Volume("rogue-volume", size=10, volume_type="__DEFAULT__",
                                  metadata={"govcloud:agency": "health", "govcloud:platform": "govcloud-demo"})


def _rogue_network() -> None:
    import pulumi_openstack as openstack

    openstack.networking.Network("rogue-network", name="unlabelled")


@pytest.mark.parametrize(("policy", "program", "flags"), [
    ("encrypted-volumes-only", _rogue_volume, []),
    ("resources-tagged", _rogue_network, ["--strict"]),
])
def test_injected_resource_exits_3_naming_the_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str, program: Any, flags: list[str]
) -> None:
    from govcloud_stacks import programs

    original = programs.stack_defs

    def with_rogue(spec: Any, agency: str | None = None) -> list[programs.StackDef]:
        return [*original(spec, agency), programs.StackDef("rogue", "agency", "health", program)]

    monkeypatch.setattr(programs, "stack_defs", with_rogue)
    code, doc = _plan(_write(tmp_path, _raw()), *flags)
    assert code == 3, doc["violations"]
    violation = next(v for v in doc["violations"] if v["policy"] == policy)
    assert violation["resource"].startswith("urn:pulumi:rogue::")


def test_advisory_violation_is_reported_without_failing(tmp_path: Path) -> None:
    code, doc = _plan(_write(tmp_path, _bad_flavor()))
    assert code == 0
    assert {v["level"] for v in doc["violations"]} == {"advisory"}
    assert "scs-flavor-names" in _policies(doc)


def _generated(agencies: int) -> dict[str, Any]:
    """The example spec with generated agencies (every fourth runs the portal app) and violations in every
    kind of stack: the proxy open to the internet (app stacks), too little capacity (stack rule), an off-grammar
    flavor (platform)."""
    raw = _bad_flavor()
    raw["platform"]["openstack"].update(proxy_cidr="0.0.0.0/0", capacity={"cores": 10})
    raw["agencies"] = [
        {"slug": f"gen-{i:03d}", "name": f"Agency {i}", "email": f"it@a{i}.gov.example",
         "quota": "large" if i % 3 == 0 else "standard", "apps": ["portal"] if i % 4 == 0 else []}
        for i in range(agencies)
    ]
    return raw


def test_parallel_plan_is_identical_to_the_sequential_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from govcloud_platform.iaas import offline
    from govcloud_platform.spec import Spec

    agencies = next(n for n in range(1, 1000) if 1 + n + (n + 3) // 4 >= offline.PARALLEL_MIN_STACKS)
    spec = Spec.model_validate(_generated(agencies))
    sequential = offline.plan(spec, workers=1)

    used: list[int] = []
    original = offline._record_parallel

    def spy(project: str, stacks: Any, workers: int) -> Any:
        used.append(workers)
        return original(project, stacks, workers)

    monkeypatch.setattr(offline, "_record_parallel", spy)
    monkeypatch.setattr(offline.os, "cpu_count", lambda: 2)
    parallel = offline.plan(spec)  # enough stacks: the default splits them over workers

    assert used == [2]
    assert len(sequential.stacks) >= offline.PARALLEL_MIN_STACKS
    expected = json.dumps(sequential.as_json())
    assert json.dumps(parallel.as_json()) == expected
    assert json.dumps(offline.plan(spec, workers=3).as_json()) == expected  # another split, same plan
    stacks = [r.stack for r in sequential.resources]
    assert stacks == sorted(stacks, key=sequential.stacks.index)  # grouped by stack, in stack order
    assert {v.policy for v in sequential.violations} >= {"no-public-ingress", "quota-fits-capacity", "scs-flavor-names"}
    assert len({v.resource.split("::")[0] for v in sequential.mandatory}) > agencies // 4  # many stacks


def test_a_stuck_worker_costs_its_grace_not_the_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    """A forked worker that never answers (a lock copied held) is killed after its grace, and its share is
    recorded in this process: the plan is the same, and nothing is left running."""
    import multiprocessing
    import time

    from govcloud_platform.iaas import offline
    from govcloud_platform.spec import Spec

    spec = Spec.model_validate(_generated(8))
    sequential = offline.plan(spec, workers=1)

    def stuck(chunk: list[int], send: Any) -> None:
        time.sleep(3600)

    monkeypatch.setattr(offline, "_worker", stuck)
    monkeypatch.setattr(offline, "CHILD_GRACE_S", 0.5)
    parallel = offline.plan(spec, workers=3)

    assert json.dumps(parallel.as_json()) == json.dumps(sequential.as_json())
    assert multiprocessing.active_children() == []


def _env_without_pulumi(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{GOVCLOUD.parent}:/usr/bin:/bin"
    env["GOVCLOUD_HOME"] = str(tmp_path / "home")
    return env


def test_real_exit_code_3_from_the_console_script(tmp_path: Path) -> None:
    spec = _write(tmp_path, _openstack(region="RegionTwo"))
    out = subprocess.run([str(GOVCLOUD), "--spec", str(spec), "--json", "iaas", "plan", "--offline"],
                         capture_output=True, text=True, env=_env_without_pulumi(tmp_path), timeout=120)
    assert out.returncode == 3, out.stderr
    assert "data-residency" in out.stderr
    assert "data-residency" in {v["policy"] for v in json.loads(out.stdout)["violations"]}


@pytest.mark.parametrize("verb", ["preview", "up", "refresh"])
def test_without_pulumi_cli_verbs_say_how_to_install_and_exit_1(tmp_path: Path, verb: str) -> None:
    spec = _write(tmp_path, _raw())
    out = subprocess.run([str(GOVCLOUD), "--spec", str(spec), "iaas", verb], capture_output=True, text=True,
                         env=_env_without_pulumi(tmp_path), timeout=60)
    assert out.returncode == 1, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "get.pulumi.com" in lines[0] and "iaas plan --offline" in lines[0]
