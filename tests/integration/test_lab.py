"""`govcloud lab` on this machine: real network namespaces, a real bridge, a real sshd per host, real ssh and
Ansible clients. Traffic goes only to the labs' own addresses. Every lab is taken down by its fixture."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from govcloud_platform.lab.plan import subnet_index
from tests.conftest import Result, assert_one_error, new_home, run_cli

pytestmark = pytest.mark.integration


@dataclass
class LabHandle:
    root: Path
    name: str
    doc: dict[str, Any]  # `lab status --json` after up

    @property
    def spec(self) -> Path:
        return self.root / f"{self.name}.yaml"

    @property
    def dir(self) -> Path:
        return Path(self.doc["dir"])

    @property
    def ssh_config(self) -> Path:
        return Path(self.doc["ssh_config"])

    def cli(self, *args: str, json: bool = False, **kw: Any) -> Result:
        return run_cli("--spec", str(self.spec), *(["--json"] if json else []), "lab", *args, **kw)

    def host(self, name: str) -> dict[str, Any]:
        return next(h for h in self.doc["hosts"] if h["name"] == name)

    def ssh(self, host: str, command: str, *opts: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ssh", "-F", str(self.ssh_config), *opts, host, command], capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _names(stem: str) -> Iterator[str]:
    """Lab names whose subnets differ from each other (another lab on this machine may hold one)."""
    seen: set[int] = set()
    for i in range(200):
        name = f"{stem}{os.getpid() % 1000}x{i}"
        if subnet_index(name) not in seen:
            seen.add(subnet_index(name))
            yield name


LAB_TMP_PREFIX = "gcl"  # every lab of the tests and benchmarks: /var/tmp/gcl<x>-..., short for the sockets


def traversable_tmp(prefix: str) -> Path:
    """A short directory for a lab (the hosts' homes hold Unix sockets: at most 107 bytes of path) that the
    hosts' daemons (postgres, www-data) can pass through to their homes: mkdtemp makes it 0700. Its name starts
    with LAB_TMP_PREFIX, so that the system users its apps ran as can be found after a killed run."""
    path = Path(tempfile.mkdtemp(prefix=LAB_TMP_PREFIX + prefix, dir="/var/tmp"))
    path.chmod(0o711)
    return path


def start_lab(stem: str, hosts: int, root: Path | None = None, avoid: tuple[LabHandle, ...] = ()) -> LabHandle:
    root = root or new_home(f"lab-{stem}")
    taken = {subnet_index(h.name) for h in avoid}
    for name in _names(stem):
        if subnet_index(name) in taken:
            continue
        handle = LabHandle(root, name, {})
        result = handle.cli("up", "--hosts", str(hosts), timeout=120, json=True)
        if result.rc == 2 and "in use" in result.stderr:
            continue  # another lab of this machine holds that subnet
        assert result.rc == 0, result.stderr
        handle.doc = result.json()
        return handle
    raise AssertionError("no free lab subnet")


def stop_lab(handle: LabHandle) -> None:
    result = handle.cli("down", timeout=120)
    assert result.rc == 0, result.stderr
    shutil.rmtree(handle.root, ignore_errors=True)


@pytest.fixture(scope="module")
def lab3() -> Iterator[LabHandle]:
    handle = start_lab("a", 3)
    try:
        yield handle
    finally:
        stop_lab(handle)


def test_each_host_has_its_own_name_address_and_tmp(lab3: LabHandle) -> None:
    for h in lab3.doc["hosts"]:
        by_name = lab3.ssh(h["name"], "hostname; ip -4 -o addr show dev eth0; touch /tmp/mine-$(hostname); ls /tmp")
        assert by_name.returncode == 0, by_name.stderr
        name, addr_line, *tmp = by_name.stdout.split("\n")
        assert name == h["name"] and f" {h['address']}/24 " in addr_line, by_name.stdout
        assert [t for t in tmp if t.startswith("mine-")] == [f"mine-{h['name']}"]  # /tmp is per host
        by_address = lab3.ssh(h["address"], "hostname")
        assert by_address.stdout.strip() == h["name"], by_address.stderr
    hosts_seen = lab3.ssh("h1", "getent hosts h3").stdout.split()
    assert hosts_seen == [lab3.host("h3")["address"], "h3"]


def test_status_json(lab3: LabHandle) -> None:
    result = lab3.cli("status", json=True)
    assert result.rc == 0, result.stderr
    doc = result.json()
    assert [(h["name"], h["sshd_alive"], h["link_up"]) for h in doc["hosts"]] == [
        ("h1", True, True), ("h2", True, True), ("h3", True, True)]
    assert doc["subnet"].startswith("10.231.") and result.stderr == ""


def test_files_hold_secrets_with_0600(lab3: LabHandle) -> None:
    for path in [lab3.dir / "id_ed25519", *(lab3.dir / "hosts" / h / "ssh_host_ed25519_key" for h in ("h1", "h2"))]:
        assert path.stat().st_mode & 0o777 == 0o600, path


def _ssh_direct(lab: LabHandle, address: str, key: Path, known_hosts: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ssh", "-F", "/dev/null", "-i", str(key), "-o", "IdentitiesOnly=yes",
         "-o", f"UserKnownHostsFile={known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
         "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
         "-o", "ConnectTimeout=5", f"root@{address}", "hostname"],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )


def test_a_wrong_key_is_refused(lab3: LabHandle, tmp_path: Path) -> None:
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    address = lab3.host("h1")["address"]
    good = _ssh_direct(lab3, address, lab3.dir / "id_ed25519", lab3.dir / "known_hosts")
    assert good.returncode == 0 and good.stdout.strip() == "h1", good.stderr
    bad = _ssh_direct(lab3, address, other, lab3.dir / "known_hosts")
    assert bad.returncode == 255 and "Permission denied (publickey)" in bad.stderr, bad.stderr


def test_a_changed_or_unknown_host_key_is_refused(lab3: LabHandle, tmp_path: Path) -> None:
    address = lab3.host("h2")["address"]
    lines = (lab3.dir / "known_hosts").read_text().splitlines()
    h1_key = next(line for line in lines if line.startswith("h1,")).split()[1:]
    changed = tmp_path / "known_hosts"  # h2's entry carries h1's key: as if h2's key had changed
    changed.write_text("".join(f"h2,{address} {' '.join(h1_key)}\n"))
    result = _ssh_direct(lab3, address, lab3.dir / "id_ed25519", changed)
    assert result.returncode == 255 and "REMOTE HOST IDENTIFICATION HAS CHANGED" in result.stderr, result.stderr
    empty = tmp_path / "empty"
    empty.write_text("")
    result = _ssh_direct(lab3, address, lab3.dir / "id_ed25519", empty)
    assert result.returncode == 255 and "Host key verification failed" in result.stderr, result.stderr
    assert empty.read_text() == ""  # nothing learnt on first use


def test_ansible_reaches_every_host_through_the_topologys_inventory(lab3: LabHandle, tmp_path: Path) -> None:
    import sys

    import ansible_runner

    from govcloud_platform.hosts.inventory import inventory, ssh_config_text
    from govcloud_platform.spec.topology import Topology

    doc = YAML(typ="safe").load(lab3.spec.read_text())
    topo = Topology.model_validate(doc["platform"]["topology"])
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(ssh_config_text(topo, lab3.spec.parent))
    env = {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "ANSIBLE_SSH_ARGS": "-o ControlMaster=no"}  # no persistent ssh masters left behind by the test
    seen: dict[str, str] = {}
    (tmp_path / "runner").mkdir()

    def on_event(event: dict[str, Any]) -> bool:
        data = event.get("event_data", {})
        if event.get("event") == "runner_on_ok":
            seen[data["host"]] = data["res"]["stdout"]
        return True

    result = ansible_runner.run(  # service groups resolve through the role groups: h1, h2 and h3
        private_data_dir=str(tmp_path / "runner"), inventory=inventory(topo, lab3.spec.parent, ssh_config),
        host_pattern="postgresql:app_hosts", module="ansible.builtin.command", module_args="hostname",
        envvars=env, event_handler=on_event, quiet=True,
    )
    assert (result.status, result.rc) == ("successful", 0), result.stdout.read()
    assert seen == {"h1": "h1", "h2": "h2", "h3": "h3"}


def _leftovers(handle: LabHandle, doc: dict[str, Any], pids: list[int]) -> list[str]:
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    left = [h["netns"] for h in doc["hosts"] if h["netns"] in netns.split()]
    left += [name for name in [doc["bridge"]] if f" {name}:" in links or f" {name}@" in links]
    left += [f"pid {p} ({_cmdline(p)})" for p in pids if _alive(p)]
    left += [str(p) for p in (handle.dir, handle.dir.parent, handle.spec) if p.exists()]
    left += [f"/etc/netns/{h['netns']}" for h in doc["hosts"] if Path("/etc/netns", h["netns"]).exists()]
    return left


def _alive(pid: int) -> bool:
    """A process that has not exited. An exited one may linger a moment as a zombie until this machine's
    PID 1, its new parent, reaps it: that is dead already (no memory, no namespace, no socket)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_two_labs_coexist_and_down_leaves_nothing(lab3: LabHandle) -> None:
    other = start_lab("b", 2, avoid=(lab3,))
    try:
        assert other.doc["subnet"] != lab3.doc["subnet"]
        for lab in (other, lab3):
            result = lab.ssh("h1", "hostname; ip -4 -o addr show dev eth0")
            assert result.stdout.startswith("h1\n") and lab.host("h1")["address"] in result.stdout, result.stderr
        pids = [h["sshd_pid"] for h in other.doc["hosts"]]
        busy = other.ssh("h2", "sleep 300 >/dev/null 2>&1 & echo $!").stdout.strip()  # a process of the host
        assert busy.isdigit()
        pids.append(int(busy))
    finally:
        down = other.cli("down", timeout=120, json=True)
    assert down.rc == 0, down.stderr
    assert any(r.startswith("bridge ") for r in down.json()["removed"])
    assert _leftovers(other, other.doc, pids) == []
    assert lab3.ssh("h3", "hostname").stdout.strip() == "h3"  # the other lab is untouched
    assert other.cli("down").rc == 0  # down again: nothing to do
    shutil.rmtree(other.root, ignore_errors=True)


@pytest.mark.parametrize("fault", ["state", "host:h2", "sshd:h1"])
def test_an_interrupted_up_converges_and_can_be_taken_down(fault: str) -> None:
    root = new_home("lab-int")
    name = next(_names("i"))
    handle = LabHandle(root, name, {})
    try:
        killed = handle.cli("up", "--hosts", "3", env={"GOVCLOUD_LAB_FAULT": fault}, timeout=120)
        if killed.rc == 2 and "in use" in killed.stderr:
            pytest.skip("another lab of this machine holds the subnet")  # pragma: no cover
        assert killed.rc == -9, killed.stderr  # SIGKILLed half-way
        assert not handle.spec.exists()
        again = handle.cli("up", "--hosts", "3", timeout=120, json=True)
        assert again.rc == 0, again.stderr
        handle.doc = again.json()
        assert all(h["sshd_alive"] and h["link_up"] for h in handle.doc["hosts"])
        assert handle.ssh("h2", "hostname").stdout.strip() == "h2"
        same = handle.cli("up", "--hosts", "3", timeout=120)  # up on a lab that is up: nothing changes
        assert same.rc == 0, same.stderr
        steady = ("address", "netns", "sshd_pid", "link_up")  # same sshds, same links: nothing was remade
        assert [[h[k] for k in steady] for h in handle.cli("status", json=True).json()["hosts"]] == [
            [h[k] for k in steady] for h in handle.doc["hosts"]]
        if fault == "sshd:h1":  # and a killed up followed by down alone leaves nothing either
            assert handle.cli("down", timeout=120).rc == 0
            killed = handle.cli("up", "--hosts", "3", env={"GOVCLOUD_LAB_FAULT": "sshd:h2"}, timeout=120)
            assert killed.rc == -9
    finally:
        down = handle.cli("down", timeout=120)
    assert down.rc == 0, down.stderr
    assert _leftovers(handle, handle.doc, []) == []
    shutil.rmtree(root, ignore_errors=True)


def _lab_state() -> tuple[str, str]:
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    return netns, links


@pytest.mark.parametrize(
    ("args", "spec_name", "rc", "text"),
    [
        (["--hosts", "0"], "lab.yaml", 2, "--hosts must be between 1 and 32, not 0"),
        (["--hosts", "200"], "lab.yaml", 2, "--hosts must be between 1 and 32, not 200"),
        (["--hosts", "3"], "missing/lab.yaml", 2, "does not exist"),
        (["--hosts", "3", "--name", "Bad_Name"], "lab.yaml", 2, "invalid lab name"),
        (["--hosts", "3"], "existing.yaml", 4, "exists (use --force to overwrite it)"),
    ],
)
def test_bad_input_makes_nothing(args: list[str], spec_name: str, rc: int, text: str) -> None:
    root = new_home("lab-bad")
    (root / "existing.yaml").write_text("mine\n")
    before = _lab_state()
    result = run_cli("--spec", str(root / spec_name), "lab", "up", *args, timeout=60)
    assert result.rc == rc and text in result.stderr, result.stderr
    assert_one_error(result)
    assert len(result.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in root.iterdir()) == ["existing.yaml"]
    assert (root / "existing.yaml").read_text() == "mine\n"
    assert _lab_state() == before
    shutil.rmtree(root, ignore_errors=True)


def test_fail_partition_heal(lab3: LabHandle) -> None:
    quick = ("-o", "ConnectTimeout=2")
    busy = lab3.ssh("h2", "sleep 300 >/dev/null 2>&1 & echo $!").stdout.strip()
    failed = lab3.cli("fail", "h2", json=True)
    assert failed.rc == 0, failed.stderr
    doc = failed.json()
    assert (doc["sshd_alive"], doc["link_up"], doc["processes"]) == (False, False, 0)
    assert not _alive(int(busy))
    assert lab3.ssh("h2", "true", *quick).returncode == 255
    assert lab3.ssh("h1", "hostname").stdout.strip() == "h1"  # the others live on
    assert lab3.cli("status").rc == 1
    healed = lab3.cli("heal", "h2", json=True)
    assert healed.rc == 0 and healed.json()["sshd_alive"], healed.stderr
    assert lab3.ssh("h2", "hostname").stdout.strip() == "h2"
    # a partition keeps the host's processes but cuts it off
    pid = lab3.cli("status", json=True).json()["hosts"][2]["sshd_pid"]
    cut = lab3.cli("partition", "h3", json=True)
    assert cut.rc == 0 and cut.json()["sshd_pid"] == pid and not cut.json()["link_up"], cut.stdout
    assert lab3.ssh("h3", "true", *quick).returncode == 255
    assert lab3.cli("heal", "h3").rc == 0
    assert lab3.ssh("h3", "hostname").stdout.strip() == "h3"
    assert lab3.cli("status", json=True).json()["hosts"][2]["sshd_pid"] == pid  # not restarted: it never died
    unknown = lab3.cli("fail", "h9")
    assert unknown.rc == 2 and "no host 'h9'" in unknown.stderr
    assert_one_error(unknown)


def test_spec_written_is_the_labs_and_down_keeps_an_edited_one() -> None:
    handle = start_lab("c", 1)
    try:
        doc = YAML(typ="safe").load(handle.spec.read_text())
        assert doc["platform"]["target"] == "hosts"
        assert [h["address"] for h in doc["platform"]["topology"]["hosts"]] == [handle.host("h1")["address"]]
        handle.spec.write_text(handle.spec.read_text() + "# my note\n")
        digest = hashlib.sha256(handle.spec.read_bytes()).hexdigest()
    finally:
        down = handle.cli("down", timeout=120)
    assert down.rc == 0 and "kept" in down.stderr, down.stderr
    assert hashlib.sha256(handle.spec.read_bytes()).hexdigest() == digest
    assert not handle.dir.exists()
    shutil.rmtree(handle.root, ignore_errors=True)


def test_up_with_another_count_conflicts_and_commands_without_a_lab_say_so(lab3: LabHandle) -> None:
    other = lab3.cli("up", "--hosts", "2")
    assert other.rc == 4 and "has 3 host(s), not 2" in other.stderr, other.stderr
    assert_one_error(other)
    root = new_home("lab-none")
    try:
        none = run_cli("--spec", str(root / "nothing.yaml"), "lab", "status")
        assert none.rc == 2 and "no lab 'nothing'" in none.stderr, none.stderr
        assert_one_error(none)
        assert run_cli("--spec", str(root / "nothing.yaml"), "lab", "down").rc == 0
        assert list(root.iterdir()) == []
    finally:
        shutil.rmtree(root, ignore_errors=True)
