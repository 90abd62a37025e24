"""Reading a run on several hosts: per-host outcomes from ansible-runner's events, why ssh could not get in,
and what the operator should check. Pure; real runs over SSH are in tests/integration/test_hosts_check.py."""

from __future__ import annotations

import os
from typing import Any

import pytest

from govcloud_platform.apps.runner import summarise, trim
from govcloud_platform.hosts.runner import (
    HostOutcome,
    HostSsh,
    classify_unreachable,
    describe,
    host_outcomes,
    ssh_env,
    ssh_reason,
    what_to_check,
)

# Messages as Ansible 2.19 reports them for the lab's hosts (taken from real runs).
TIMED_OUT = ("Task failed: Failed to connect to the host via ssh: ssh: connect to host 10.231.30.12 port 22: "
             "Connection timed out")
REFUSED_KEY = ("Task failed: Failed to connect to the host via ssh: root@10.231.30.11: Permission denied "
               "(publickey).")
UNKNOWN_KEY = ("Task failed: Failed to connect to the host via ssh: No ED25519 host key is known for 10.231.30.11 "
               "and you have requested strict checking.\r\nHost key verification failed.")
CHANGED_KEY = ("Failed to connect to the host via ssh: @@@@@@@@@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! "
               "@@@@@@@@@@@ IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY! " + "Add correct host key. " * 40
               + "Host key verification failed.")  # longer than what failure_message keeps by default


def event(kind: str, host: str, task: str = "t", **res: Any) -> dict[str, Any]:
    return {"event": kind, "event_data": {"host": host, "task": task, "res": res, "duration": 0.5,
                                          "ignore_errors": res.pop("_ignore", False)}}


def events(*raw: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in (trim(e) for e in raw) if t is not None]


@pytest.mark.parametrize("message,kind", [
    (TIMED_OUT, "unreachable"),
    ("ssh: connect to host 10.0.0.1 port 22: No route to host", "unreachable"),
    ("ssh: connect to host 10.0.0.1 port 22: Connection refused", "unreachable"),
    (REFUSED_KEY, "auth"),
    ("Load key \"/k\": invalid format\r\nroot@10.0.0.1: Permission denied (publickey).", "auth"),
    (UNKNOWN_KEY, "host_key"),
    (CHANGED_KEY, "host_key"),
])
def test_why_ssh_could_not_get_in(message: str, kind: str) -> None:
    assert classify_unreachable(message) == kind


@pytest.mark.parametrize("message,reason", [
    (TIMED_OUT, "Connection timed out"),
    (REFUSED_KEY, "Permission denied (publickey)"),
    (UNKNOWN_KEY, "no host key is known for it (host keys are checked strictly)"),
    (CHANGED_KEY, "its host key differs from the one in known_hosts (REMOTE HOST IDENTIFICATION HAS CHANGED)"),
    ("Task failed: " + "x" * 300, "x" * 199 + "…"),
])
def test_ssh_reason_drops_the_wrapping_and_the_host(message: str, reason: str) -> None:
    assert ssh_reason(message) == reason


def test_outcomes_per_host() -> None:
    evs = events(
        event("runner_on_ok", "h1", "Find Python", changed=False),
        event("runner_on_ok", "h1", "Look", ansible_facts={"host_preflight": {"python": "3.11.2"}}),
        event("runner_on_unreachable", "h2", "Find Python", msg=TIMED_OUT, unreachable=True),
        event("runner_on_failed", "h3", "Check", msg="ignored", _ignore=True),
        event("runner_on_failed", "h3", "Look", msg="boom"),
        event("runner_on_failed", "h3", "Later", msg="second failure is not the cause"),
        event("runner_on_ok", "other", "Look", changed=True),  # not asked about
        {"event": "playbook_on_stats", "event_data": {}},
    )
    out = host_outcomes(["h1", "h2", "h3", "h4"], evs, "failed")
    assert out["h1"] == HostOutcome("h1", facts={"host_preflight": {"python": "3.11.2"}})
    assert out["h1"].ok and out["h1"].reachable and out["h1"].changed == 0
    assert (out["h2"].kind, out["h2"].step, out["h2"].message) == ("unreachable", "Find Python", "Connection timed out")
    assert not out["h2"].reachable
    assert (out["h3"].kind, out["h3"].step, out["h3"].message) == ("failed", "Look", "boom") and out["h3"].reachable
    assert out["h4"].kind == "no_result" and "failed" in (out["h4"].message or "")
    assert set(out) == {"h1", "h2", "h3", "h4"}


def test_a_long_host_key_warning_is_read_whole() -> None:
    out = host_outcomes(["h1"], events(event("runner_on_unreachable", "h1", "Find Python", msg=CHANGED_KEY)))
    assert (out["h1"].kind, out["h1"].message) == (
        "host_key", "its host key differs from the one in known_hosts (REMOTE HOST IDENTIFICATION HAS CHANGED)")


def test_a_no_log_failure_shows_no_detail() -> None:
    out = host_outcomes(["h1"], events(event("runner_on_failed", "h1", "Secret", msg="pw=hunter2", censored="x")))
    assert out["h1"].message == "details hidden (no_log)"


def test_changed_tasks_are_counted() -> None:
    out = host_outcomes(["h1"], events(event("runner_on_ok", "h1", changed=True), event("runner_on_ok", "h1")))
    assert out["h1"].changed == 1


SSH = HostSsh("h2", "10.0.0.12", "debian", 2222, "/keys/op", "/keys/known_hosts")


@pytest.mark.parametrize("kind,expected", [
    ("unreachable", "sshd listens on port 2222 and the network; in a lab: `govcloud lab status`"),
    ("no_result", "check the host's address"),
    ("auth", "the key file /keys/op is not accepted for debian"),
    ("host_key", "the known_hosts file /keys/known_hosts"),
    ("failed", "fix it on h2"),
])
def test_what_to_check(kind: str, expected: str) -> None:
    assert expected in what_to_check(kind, SSH)


def test_a_host_of_an_ssh_config_file_points_at_it() -> None:
    ssh = HostSsh("h2", "10.0.0.12", "root", 22, None, None, config_file="/etc/ops/ssh_config")
    assert what_to_check("auth", ssh) == ("check the ssh config file /etc/ops/ssh_config "
                                          "(`ssh -F /etc/ops/ssh_config h2 true`)")


def test_describe_names_host_address_step_and_check() -> None:
    line = describe(HostOutcome("h2", "auth", "Find Python", "Permission denied (publickey)"), SSH)
    assert line.startswith("h2 (10.0.0.12): SSH login refused at 'Find Python': Permission denied (publickey) (")


def test_ssh_settings_check_host_keys_and_never_outlive_the_run(tmp_path: Any) -> None:
    env = ssh_env(tmp_path)
    assert env["ANSIBLE_HOST_KEY_CHECKING"] == "True" and env["ANSIBLE_SSH_RETRIES"] == "0"
    assert env["ANSIBLE_SSH_CONTROL_PATH_DIR"].startswith(str(tmp_path))  # masters die with the run dir
    assert "StrictHostKeyChecking" not in " ".join(env.values())


def test_summary_of_a_role_on_the_box() -> None:
    s = summarise(events(event("runner_on_ok", "target", "a", changed=True, ansible_facts={"x": 1}),
                         event("runner_on_failed", "target", "b", msg="  no space  "),
                         event("runner_on_unreachable", "target", "c", msg="gone", _ignore=True)))
    assert (s.changed_tasks, s.facts, s.failures, s.timings) == (["a"], {"x": 1}, ["b: no space"], {"a": 0.5})


def test_a_run_dir_is_private_and_gone_after_and_its_parent_untouched(tmp_path: Any) -> None:
    from govcloud_platform.apps.runner import private_run_dir

    tmp_path.chmod(0o755)
    with pytest.raises(RuntimeError), private_run_dir(tmp_path, "x-") as pdd:
        assert pdd.parent == tmp_path and pdd.stat().st_mode & 0o777 == 0o700
        (pdd / "env").mkdir()
        raise RuntimeError("a run that fails")
    assert not pdd.exists() and tmp_path.stat().st_mode & 0o777 == 0o755


def test_a_run_killed_outright_has_its_dir_swept_by_the_next_and_nothing_else_is() -> None:
    """SIGKILL leaves no `finally`: the next run with the same prefix deletes the dirs whose owner is gone (no such
    pid, or a pid reused by another process), never a live run's, one without a marker or another prefix's."""
    from govcloud_platform.apps.runner import owner_is_gone, process_start

    starts = {10: "500", 11: "700"}
    assert owner_is_gone("12 500", starts.get)  # no such process
    assert owner_is_gone("10 400", starts.get)  # pid 10 reused since
    assert not owner_is_gone("10 500", starts.get)
    assert not owner_is_gone("garbage", starts.get) and not owner_is_gone("", starts.get)
    assert process_start(os.getpid()) is not None and process_start(2**22 + 1) is None


def test_private_run_dir_sweeps_only_dead_runs(tmp_path: Any) -> None:
    from govcloud_platform.apps.runner import OWNER_FILE, private_run_dir, process_start

    def made(name: str, owner: str | None) -> Any:
        d = tmp_path / name
        d.mkdir()
        if owner is not None:
            (d / OWNER_FILE).write_text(owner)
        return d

    dead = made("x-dead", "4194305 1")
    reused = made("x-reused", f"{os.getpid()} 1")
    alive = made("x-alive", f"{os.getpid()} {process_start(os.getpid())}")
    unmarked = made("x-unmarked", None)
    other = made("y-dead", "4194305 1")
    with private_run_dir(tmp_path, "x-") as pdd:
        assert (pdd / OWNER_FILE).read_text().split()[0] == str(os.getpid())
    assert not dead.exists() and not reused.exists()
    assert alive.exists() and unmarked.exists() and other.exists()


def test_a_failed_command_says_its_last_line_of_stderr_or_stdout() -> None:
    from govcloud_platform.apps.runner import failure_message

    traceback = "Traceback (most recent call last):\n  File \"manage.py\"\nOperationalError: database is gone\n\n"
    assert failure_message({"msg": "non-zero return code", "stderr": traceback, "rc": 1}) == (
        "non-zero return code: OperationalError: database is gone")
    assert failure_message({"msg": "non-zero return code", "stderr": ""}) == "non-zero return code"
    # a tool that answers on stdout (supervisorctl) is heard when its stderr says nothing
    assert failure_message({"msg": "non-zero return code", "stderr": "", "stdout": "app: ERROR (spawn error)\n"}) == (
        "non-zero return code: app: ERROR (spawn error)")
    assert failure_message({"msg": "non-zero return code", "stderr": "why", "stdout": "noise"}) == (
        "non-zero return code: why")
    # a command judged by failed_when has no message of its own: its last word is the reason
    assert failure_message({"stdout": "app: ERROR (already started)", "rc": 0}) == (
        "failed: app: ERROR (already started)")
    # a loop says why each failed item failed, and hides what a no_log item hid
    loop = {"msg": "One or more items failed", "results": [
        {"msg": "a: ERROR (spawn error)", "failed": True}, {"changed": True},
        {"msg": "s3cr3t", "failed": True, "censored": "hidden"}]}
    assert failure_message(loop) == "a: ERROR (spawn error); details hidden (no_log)"
    assert failure_message({"msg": "boom", "stderr": "x"}) == "boom"
    assert failure_message({"msg": "non-zero return code", "stderr": "s3cr3t", "censored": "x"}) == (
        "details hidden (no_log)")
