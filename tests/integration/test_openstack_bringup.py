"""The `openstack` target's bring-up after `govcloud iaas up`: the platform stack's outputs recorded in the home
(as `iaas up` records them: `iaas.topology.record_outputs`), then `govcloud up` deploys onto the VMs they name,
reached through the bastion, exactly as onto a `hosts` topology.

No OpenStack runs here: the "VMs" are hosts of a lab (network namespaces, each with its own sshd and host key)
at the addresses the outputs give each role; the bastion is a lab host every other one is reached through
(ProxyJump). What is real: the spec on the openstack target, the outputs file, the topology made of it, SSH
through the jump host, the deploy, `status` and `down`."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from govcloud_platform.box.platform_secrets import needed_by
from govcloud_platform.box.ports import free_port_base
from govcloud_platform.iaas.topology import record_outputs
from tests.conftest import Result, run_cli
from tests.integration.test_lab import LabHandle, start_lab, stop_lab, traversable_tmp

pytestmark = pytest.mark.integration
OUTSIDE = {"GOVCLOUD_NO_AGENT": "1"}
ROLES = ("bastion", "database", "storage", "identity", "backup", "proxy")  # the platform program's PaaS VMs


class Cloud:
    def __init__(self, lab: LabHandle, spec: Path, home: Path) -> None:
        self.lab, self.spec, self.home = lab, spec, home

    def cli(self, *args: str, timeout: float = 600) -> Result:
        return run_cli("--spec", str(self.spec), "--home", str(self.home), *args, env=OUTSIDE, timeout=timeout)


@pytest.fixture(scope="module")
def cloud() -> Iterator[Cloud]:
    root = traversable_tmp("gco-")
    lab = start_lab("os", len(ROLES), root=root)
    try:
        raw = yaml.safe_load(lab.spec.read_text())
        ssh = raw["platform"]["topology"]["ssh"]
        raw["platform"]["target"] = "openstack"
        del raw["platform"]["topology"]
        vms = root / "vm"
        vms.mkdir(mode=0o711)
        raw["platform"]["openstack"]["hosts"] = {"key_file": ssh["key_file"], "known_hosts": ssh["known_hosts"],
                                                 "root": f"{vms}/{{host}}"}
        spec = root / "govcloud.yaml"
        spec.write_text(yaml.safe_dump(raw, sort_keys=False))
        home = root / "c"
        addresses = [h["address"] for h in lab.doc["hosts"]]
        # what `iaas up` of the platform stack records: each VM's fixed address by role, the image's login user
        record_outputs(home, {"paas_hosts": dict(zip(ROLES, addresses, strict=True)), "ssh_user": "root",
                              "project_id": "p-1"})
        yield Cloud(lab, spec, home)
    finally:
        stop_lab(lab)
        shutil.rmtree(root, ignore_errors=True)


def test_before_iaas_up_the_platform_commands_say_what_to_run_first(tmp_path: Path, cloud: Cloud) -> None:
    empty = run_cli("--spec", str(cloud.spec), "--home", str(tmp_path / "none"), "up", env=OUTSIDE, timeout=60)
    assert empty.rc == 2, empty.stderr
    lines = [line for line in empty.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "run `govcloud iaas up` first" in lines[0], empty.stderr
    assert not (tmp_path / "none").exists()  # nothing written


def test_up_deploys_onto_the_vms_of_the_outputs_through_the_bastion(cloud: Cloud) -> None:
    up = cloud.cli("--json", "up", "--port-base", str(free_port_base()))
    try:
        assert up.rc == 0, up.stderr[-3000:]
        services = {s["name"]: s for s in up.json()["services"]}
        assert {n: (s["host"], s["healthy"]) for n, s in services.items()} == {
            "storage": ("storage", True), "database": ("database", True), "identity": ("identity", True),
            "backups": ("database", True)}  # backups run with the database, as on any topology
        address = dict(zip(ROLES, (h["address"] for h in cloud.lab.doc["hosts"]), strict=True))
        assert address["database"] in services["database"]["endpoint"]
        config = (cloud.home / "hosts" / "ssh_config").read_text()
        assert "ProxyJump bastion" in config and "StrictHostKeyChecking yes" in config
        status = cloud.cli("--json", "status")
        assert status.rc == 0, status.stderr[-2000:]
        doc: dict[str, Any] = status.json()
        assert all(s["healthy"] for s in doc["services"]), doc
        again = cloud.cli("--json", "up")
        assert again.rc == 0 and again.json()["changed"] is False, again.stderr[-2000:]
        assert json.loads((cloud.home / "placement.json").read_text())["here"] == []  # the control runs nothing
        # the IdP's VM (facing citizens) holds its own secrets only: not the database superuser's password,
        # with which the database's VM made the IdP's role and operator
        idp_home = cloud.home.parent / "vm" / "identity" / "box"
        assert sorted(p.name for p in (idp_home / "secrets").iterdir()) == needed_by(["identity"])
        assert not (idp_home / "ca" / "ca.key").exists()
    finally:
        down = cloud.cli("--json", "down", timeout=300)
        assert down.rc == 0, down.stderr[-2000:]
        assert down.json()["listening_ports"] == [], down.json()
