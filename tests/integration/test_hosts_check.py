"""`govcloud hosts check` and `up` on the `hosts` target, on a real 3-host lab (network namespaces, one sshd
each) over real SSH with Ansible: every host ready; a crashed host, a key the hosts refuse and a port in use
on one host, each named with what to check; a spec of another target refused. One lab for the module, always
taken down."""

from __future__ import annotations

import glob
import json
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from govcloud_platform.hosts.runner import run_on_hosts
from govcloud_platform.spec import load_spec
from tests.conftest import Result, assert_one_error, run_cli
from tests.integration.test_lab import LabHandle, start_lab, stop_lab, traversable_tmp

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lab() -> Iterator[LabHandle]:
    handle = start_lab("c", 3, root=traversable_tmp("gcc-"))
    try:
        yield handle
    finally:
        stop_lab(handle)


def check(spec: Path, *args: str, json_out: bool = True) -> Result:
    return run_cli("--spec", str(spec), *(["--json"] if json_out else []), "hosts", "check", *args, timeout=180)


def spec_variant(lab: LabHandle, name: str, change: Any) -> Path:
    """A copy of the lab's spec with `change(doc)` applied."""
    yaml = YAML()
    doc = yaml.load(lab.spec.read_text())
    change(doc)
    path = lab.root / name
    with path.open("w") as fh:
        yaml.dump(doc, fh)
    return path


def by_name(result: Result) -> dict[str, dict[str, Any]]:
    return {h["name"]: h for h in result.json()["hosts"]}


def leftovers() -> tuple[list[str], list[str]]:
    """Run dirs and SSH masters of hosts runs still there (there must be none once a command returned): a dir
    whose run is over (or that has no owner marker); a live run's (another command on this machine) is its own."""
    from govcloud_platform.apps.runner import OWNER_FILE, owner_is_gone, process_start

    def over(pdd: str) -> bool:
        try:
            return owner_is_gone((Path(pdd) / OWNER_FILE).read_text(), process_start)
        except OSError:
            return True

    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout.splitlines()
    return ([d for d in glob.glob("/tmp/govcloud-hosts-*") if over(d)],
            [p for p in ps if "govcloud-hosts-" in p and p.startswith("ssh")])


def killed_run_dir() -> Path:
    """What an `up` killed outright (SIGKILL) leaves: its run dir, its owner gone."""
    pdd = Path(tempfile.mkdtemp(prefix="govcloud-hosts-", dir="/tmp"))
    (pdd / "ssh_config").write_text("")
    (pdd / ".owner").write_text("4194305 1\n")  # above pid_max: no such process
    return pdd


def test_every_host_ready(lab: LabHandle) -> None:
    """... and the run dir a killed run left behind is swept by this one."""
    stale = killed_run_dir()
    result = check(lab.spec)
    assert result.rc == 0, result.stderr
    doc = result.json()
    assert doc["ok"] is True and "error" not in result.stderr
    assert [(h["name"], h["address"], h["groups"]) for h in doc["hosts"]] == [
        (h["name"], h["address"], h["groups"]) for h in lab.doc["hosts"]]
    for host in doc["hosts"]:
        assert set(host) == {"name", "address", "groups", "ok", "reachable", "problems"}
        assert host["ok"] is True and host["reachable"] is True and host["problems"] == []
    assert not stale.exists() and leftovers() == ([], [])
    human = check(lab.spec, json_out=False)
    assert human.rc == 0 and human.stdout == "" and "h3" in human.stderr  # the table goes to stderr


def test_the_role_is_read_only_and_idempotent(lab: LabHandle) -> None:
    spec = load_spec(lab.spec)
    topology = spec.platform.topology
    assert topology is not None
    names = [h.name for h in topology.hosts]
    root = lab.root / "not-made" / "root"
    hv = {n: {"host_preflight_root": str(root), "host_preflight_ports": []} for n in names}
    for _ in range(2):
        run = run_on_hosts(topology, lab.spec.parent, "host_preflight", names, host_vars=hv)
        assert run.status == "successful", run.outcomes
        for name, outcome in run.outcomes.items():
            assert outcome.ok and outcome.changed == 0, outcome
            facts = outcome.facts["host_preflight"]
            assert facts["hostname"] == name  # really ran on that host
            assert facts["root"]["exists"] is False and facts["root"]["probe"] == str(lab.root)
    assert not root.parent.exists()


def test_a_crashed_host_is_named_with_what_to_check(lab: LabHandle) -> None:
    assert lab.cli("fail", "h2").rc == 0
    try:
        result = check(lab.spec)
        assert result.rc == 1, result.stderr
        hosts = by_name(result)
        assert hosts["h1"]["ok"] and hosts["h3"]["ok"], hosts
        h2 = hosts["h2"]
        assert not h2["ok"] and not h2["reachable"] and len(h2["problems"]) == 1
        assert h2["problems"][0].startswith("unreachable at 'Find Python': ")
        assert "`govcloud lab status`" in h2["problems"][0]
        assert_one_error(result)
        error = result.stderr.strip().splitlines()[-1]
        assert error.startswith(f"error: host preflight failed on 1 host: h2 ({lab.host('h2')['address']}): "
                                "unreachable"), error
        assert "h1" not in error and "h3" not in error and "`govcloud lab status`" in error
        assert leftovers() == ([], [])
    finally:
        assert lab.cli("heal", "h2").rc == 0
    assert lab.ssh("h2", "true").returncode == 0
    assert check(lab.spec).rc == 0


def test_a_key_the_hosts_refuse_is_named(lab: LabHandle) -> None:
    key = lab.root / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    spec = spec_variant(lab, "wrong-key.yaml",
                        lambda doc: doc["platform"]["topology"]["ssh"].update(key_file=str(key)))
    result = check(spec)
    assert result.rc == 1, result.stderr
    assert all(not h["reachable"] for h in result.json()["hosts"])
    assert_one_error(result)
    error = result.stderr.strip().splitlines()[-1]
    assert "failed on 3 hosts: h1 (" in error and "h2 (" in error and "h3 (" in error, error
    assert "SSH login refused at 'Find Python': Permission denied (publickey)" in error
    assert f"the key file {key} is not accepted for root" in error


def test_a_changed_host_key_is_refused_and_named(lab: LabHandle) -> None:
    other = lab.root / "other_host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    pub = " ".join(other.with_suffix(".pub").read_text().split()[:2])
    known = lab.root / "changed_known_hosts"  # every host's name and address, with another key
    known.write_text("".join(f"{h['name']},{h['address']} {pub}\n" for h in lab.doc["hosts"]))
    spec = spec_variant(lab, "changed-key.yaml",
                        lambda doc: doc["platform"]["topology"]["ssh"].update(known_hosts=str(known)))
    result = check(spec)
    assert result.rc == 1, result.stderr
    assert_one_error(result)
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith(f"error: host preflight failed on 3 hosts: h1 ({lab.host('h1')['address']}), h2 ("), error
    assert ("host key not trusted at 'Find Python': its host key differs from the one in known_hosts (REMOTE HOST "
            "IDENTIFICATION HAS CHANGED)") in error
    assert f"the known_hosts file {known}" in error and "a changed key may be an attack" in error


def test_a_port_in_use_on_one_host_is_named_and_up_writes_nothing(lab: LabHandle) -> None:
    spec = load_spec(lab.spec)
    port, address = spec.platform.port_base, lab.host("h2")["address"]  # PostgreSQL's port on h2
    code = ("import socket, sys, time\ns = socket.socket(); s.bind((sys.argv[1], int(sys.argv[2]))); s.listen()\n"
            "print('ready', flush=True); time.sleep(300)")
    holder = subprocess.Popen(["ip", "netns", "exec", lab.host("h2")["netns"], "python3", "-c", code, address,
                               str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        result = check(lab.spec)
        assert result.rc == 1, result.stderr
        hosts = by_name(result)
        assert hosts["h1"]["ok"] and hosts["h3"]["ok"] and hosts["h2"]["reachable"], hosts
        assert hosts["h2"]["problems"] == [
            f"port {port} (postgres) on {address} is in use: stop what holds it (`ss -ltnp 'sport = :{port}'` on "
            "the host) or change platform.port_base"]
        assert_one_error(result)
        assert f"h2 ({address}): port {port} (postgres)" in result.stderr

        home = lab.root / "up-home"
        up = run_cli("--spec", str(lab.spec), "--home", str(home), "up", timeout=180)
        assert up.rc == 1 and f"h2 ({address}): port {port} (postgres)" in up.stderr, up.stderr
        assert_one_error(up)
        assert not home.exists()  # the preflight failed fast: nothing written
    finally:
        holder.terminate()
        holder.wait(timeout=10)


def test_a_spec_of_another_target_is_refused(lab: LabHandle) -> None:
    spec = spec_variant(lab, "local.yaml", lambda doc: doc["platform"].update(target="local"))
    result = check(spec)
    assert result.rc == 2 and result.stdout == ""
    assert_one_error(result)
    assert "platform.target is 'local'; `hosts check` needs target 'hosts'" in result.stderr
    bad = lab.root / "bad.yaml"
    bad.write_text(json.dumps({"platform": {"name": "x"}}))
    assert check(bad).rc == 2
