"""The one adapter over `ansible_runner.run(...)`: a fresh private_data_dir per run (0700, deleted after: it
holds the extra vars, secrets included), progress from the event stream, typed errors from status and rc.

`run_playbook` is the adapter itself (any playbook, any inventory: the box with `connection: local`, the
`hosts` target over SSH); it returns the run's status and a trimmed copy of its per-host events, and the
callers decide what they mean (`summarise` for a role run on the box, `govcloud_platform.hosts.runner` per
host). A run over SSH keeps its connection masters in its own short run directory (`ssh_run_dir`, `ssh_env`);
`run_role_on` runs an app's role on the apps' host of the hosts target with the control's recorded ssh_config."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govcloud_platform.box.secrets import write_private
from govcloud_platform.errors import MissingDependency, ProvisioningError, ServiceError
from govcloud_platform.procfs import START_TIME, stat_fields
from govcloud_platform.progress import Progress, quiet

if TYPE_CHECKING:
    from govcloud_platform.box.context import Box

RUN_TIMEOUT_S = 1800
# The events a caller may look at, and the keys of their result kept (the rest, e.g. module args, is dropped).
HOST_EVENTS = frozenset({"runner_on_ok", "runner_on_failed", "runner_on_unreachable", "runner_on_skipped"})
RESULT_KEYS = ("changed", "msg", "stderr", "reason", "censored", "ansible_facts", "unreachable", "failed")
# What a failed task says (a loop's items: each its own why), kept only for the failure message.
FAILURE_KEYS = ("msg", "stderr", "stdout", "censored", "failed")


def roles_path() -> Path:
    """`roles/` of the checkout (editable install), or GOVCLOUD_ROLES_PATH."""
    override = os.environ.get("GOVCLOUD_ROLES_PATH")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[3] / "roles"


def require_role(role: str) -> None:
    if not (roles_path() / role / "tasks" / "main.yml").exists():
        raise MissingDependency(f"Ansible role {role!r} not found in {roles_path()}",
                                hint="set GOVCLOUD_ROLES_PATH to the roles/ folder of the checkout")


@dataclass
class RoleResult:
    role: str
    action: str
    changed: int
    ok: int
    seconds: float
    changed_tasks: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class PlaybookRun:
    """What a run left: ansible-runner's status and rc, its stats, and the per-host events (trimmed)."""

    status: str
    rc: int | None
    seconds: float
    stats: dict[str, Any]
    events: list[dict[str, Any]]


@dataclass
class Summary:
    """A run's events read for one caller: failures (task: message), changed tasks, facts, time per task."""

    failures: list[str] = field(default_factory=list)
    changed_tasks: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def trim(event: dict[str, Any]) -> dict[str, Any] | None:
    """The part of an ansible-runner event a decision needs, or None for events no decision reads."""
    kind = event.get("event", "")
    if kind not in HOST_EVENTS:
        return None
    data = event.get("event_data", {}) or {}
    res = data.get("res", {}) or {}
    return {
        "event": kind,
        "host": str(data.get("host", "")),
        "task": str(data.get("task", "")),
        "duration": data.get("duration"),
        "ignore_errors": bool(data.get("ignore_errors")),
        "res": _trim_result(res, kind) if isinstance(res, dict) else {},
    }


def _trim_result(res: dict[str, Any], kind: str) -> dict[str, Any]:
    out = {k: res[k] for k in RESULT_KEYS if k in res}
    if kind == "runner_on_failed":
        if "stdout" in res:
            out["stdout"] = str(res["stdout"])[-2000:]
        out["results"] = [{k: item[k] if k in ("censored", "failed") else str(item[k])[-2000:]
                           for k in FAILURE_KEYS if k in item}
                          for item in res.get("results") or [] if isinstance(item, dict) and item.get("failed")]
    return out


def failure_message(res: dict[str, Any], limit: int | None = 600) -> str:
    """Why a task failed, from its result (its last `limit` characters); never what a `no_log` task hid."""
    if res.get("censored"):
        return "details hidden (no_log)"
    failed_items = [r for r in res.get("results") or [] if isinstance(r, dict) and r.get("failed")]
    if failed_items:  # a loop: "One or more items failed" says nothing; each failed item says why
        msg = "; ".join(failure_message(r, None) for r in failed_items)
        return msg[-limit:] if limit else msg
    msg = str(res.get("msg") or res.get("stderr") or res.get("reason") or "failed").strip()
    said = str(res.get("stderr") or "").strip() or str(res.get("stdout") or "")  # some tools answer on stdout
    last = [line.strip() for line in said.splitlines() if line.strip()][-1:]
    if msg in ("non-zero return code", "failed") and last:  # a command's own last word says why (a traceback's)
        msg = f"{msg}: {last[0][-300:]}"
    return msg[-limit:] if limit else msg


def summarise(events: list[dict[str, Any]]) -> Summary:
    """Pure: failures, changed tasks, facts and timings of trimmed events (every host together)."""
    out = Summary()
    for ev in events:
        task, res = ev["task"], ev["res"]
        if ev["event"] == "runner_on_ok":
            if ev.get("duration") is not None:
                out.timings[task] = out.timings.get(task, 0.0) + float(ev["duration"])
            if res.get("changed"):
                out.changed_tasks.append(task)
            if isinstance(res.get("ansible_facts"), dict):
                out.facts.update(res["ansible_facts"])
        elif ev["event"] in ("runner_on_failed", "runner_on_unreachable") and not ev["ignore_errors"]:
            out.failures.append(f"{task}: {failure_message(res)}")
    return out


OWNER_FILE = ".owner"


def process_start(pid: int) -> str | None:
    """The start time (clock ticks since boot) of process `pid`, or None when there is no such process: with the
    pid, it names one process even after the pid is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat_fields(stat)[START_TIME]


def owner_is_gone(owner: str, start_of: Callable[[int], str | None]) -> bool:
    """Whether the run that wrote `owner` ("PID START") is over: no such process, or another one on its pid. An
    unreadable owner is not ours to judge: kept."""
    parts = owner.split()
    if len(parts) != 2 or not parts[0].isdigit():
        return False
    return start_of(int(parts[0])) != parts[1]


def sweep_stale_runs(parent: Path, prefix: str, start_of: Callable[[int], str | None] = process_start) -> list[Path]:
    """Delete the run dirs under `parent` left by runs that were killed (SIGKILL leaves no `finally`): only those
    of this user carrying an owner marker whose process is gone. Returns what it deleted."""
    gone = []
    for pdd in parent.glob(f"{prefix}*"):
        try:
            if pdd.is_symlink() or pdd.stat().st_uid != os.getuid():
                continue
            owner = (pdd / OWNER_FILE).read_text()
        except OSError:
            continue
        if owner_is_gone(owner, start_of):
            shutil.rmtree(pdd, ignore_errors=True)
            gone.append(pdd)
    return gone


@contextmanager
def private_run_dir(parent: Path | None, prefix: str) -> Iterator[Path]:
    """A fresh 0700 directory for one run (under `parent`, which must exist, else the system's temporary
    directory), deleted afterwards whatever happens: it holds the extra vars. A run killed outright cannot
    delete its own: its owner marker lets the next run with the same prefix do it. The parent's mode is the
    caller's."""
    sweep_stale_runs(parent or Path(tempfile.gettempdir()), prefix)
    pdd = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))  # mkdtemp makes it 0700
    try:
        (pdd / OWNER_FILE).write_text(f"{os.getpid()} {process_start(os.getpid())}\n")
        yield pdd
    finally:
        shutil.rmtree(pdd, ignore_errors=True)


def base_env(extra: dict[str, str] | None = None, env: dict[str, str] | None = None) -> dict[str, str]:
    """ansible-playbook's environment: quiet, no retry files, the venv's bin on PATH (or rc 127)."""
    out = dict(os.environ if env is None else env)
    out.update({
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_FORCE_HANDLERS": "True",
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_ROLES_PATH": str(roles_path()),
    })
    out.update(extra or {})
    out["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), out.get("PATH", "")])
    return out


def run_playbook(pdd: Path, playbook: list[dict[str, Any]], inventory: dict[str, Any], variables: dict[str, Any],
                 env: dict[str, str], *, progress: Progress = quiet, timeout: int = RUN_TIMEOUT_S,
                 forks: int | None = None) -> PlaybookRun:
    """Run `playbook` on `inventory` in the private directory `pdd` (see `private_run_dir`). Extra vars go in
    a 0600 file (`-e @file`), never on ansible-playbook's command line (ps shows it). Raises only when
    ansible-playbook itself cannot run; what happened on the hosts is in the returned events."""
    import ansible_runner

    events: list[dict[str, Any]] = []
    last: list[str] = [""]

    def on_event(event: dict[str, Any]) -> bool:
        kind = event.get("event", "")
        task = str((event.get("event_data", {}) or {}).get("task", ""))
        if kind == "playbook_on_task_start" and task and task != last[0]:  # once, not once per host
            last[0] = task
            progress(task)
        kept = trim(event)
        if kept is not None:
            events.append(kept)
        return True  # keep it: `stats` is computed from the stored events (deleted with the run dir)

    (pdd / "project").mkdir(exist_ok=True)
    (pdd / "inventory").mkdir(exist_ok=True)
    (pdd / "project" / "main.yml").write_text(json.dumps(playbook))
    write_private(pdd / "env" / "extravars", json.dumps(variables))
    (pdd / "inventory" / "hosts.json").write_text(json.dumps(inventory))
    t0 = time.monotonic()
    result = ansible_runner.run(
        private_data_dir=str(pdd), playbook="main.yml", envvars=env, quiet=True, event_handler=on_event,
        timeout=timeout, suppress_env_files=True, **({"forks": forks} if forks else {}),
    )
    seconds = time.monotonic() - t0
    if result.rc == 127:
        raise MissingDependency("ansible-playbook not found (rc 127)",
                                hint=f"install ansible-core into {Path(sys.executable).parent}")
    return PlaybookRun(status=str(result.status), rc=result.rc, seconds=seconds, stats=result.stats or {},
                       events=events)


def role_playbook(role: str, action: str, hosts: str = "target") -> list[dict[str, Any]]:
    return [{
        "name": f"{role} {action}",
        "hosts": hosts,
        "gather_facts": False,
        "roles": [{"role": role, f"{role}_action": action}],
    }]


def run_role(box: Box, role: str, action: str, variables: dict[str, Any], progress: Progress = quiet,
             timeout: int = RUN_TIMEOUT_S) -> RoleResult:
    """Run `role` with `<role>_action=action` against the box itself (`connection: local`)."""
    require_role(role)
    runs = box.dir("apps", "runs")
    runs.chmod(0o700)
    with private_run_dir(runs, f"{role}-{action}-") as pdd:
        inventory = {"all": {"hosts": {"target": {
            "ansible_connection": "local",
            "ansible_host": "127.0.0.1",
            "ansible_python_interpreter": sys.executable,
        }}}}
        env = base_env({"ANSIBLE_LOCAL_TEMP": str(pdd / "tmp"), "ANSIBLE_REMOTE_TEMP": str(pdd / "tmp")},
                       env=box.child_env())
        try:
            run = run_playbook(pdd, role_playbook(role, action), inventory, variables, env, progress=progress,
                               timeout=timeout)
        except MissingDependency as exc:
            raise MissingDependency(f"{role} {action}: {exc.message}", hint=exc.hint) from None
    return role_result(role, action, run, timeout)


def role_result(role: str, action: str, run: PlaybookRun, timeout: int, where: str = "") -> RoleResult:
    """What a role's run means: its result, or the typed error naming the failed task (`where`: " on <host>")."""
    if run.status == "timeout":
        raise ServiceError(f"{role} {action}{where}: timed out after {timeout} s", hint="re-run: the role converges")
    summary = summarise(run.events)
    if run.status != "successful" or run.rc != 0:
        detail = "; ".join(summary.failures) or f"ansible-runner status {run.status}, rc {run.rc}"
        raise ProvisioningError(f"{role} {action} failed{where}: {detail}",
                                hint="fix the cause and re-run: it converges")
    return RoleResult(
        role=role, action=action, seconds=run.seconds,
        changed=sum((run.stats.get("changed") or {}).values()),
        ok=sum((run.stats.get("ok") or {}).values()),
        changed_tasks=summary.changed_tasks, facts=summary.facts, timings=summary.timings,
    )


def ssh_env(pdd: Path) -> dict[str, str]:
    """SSH settings of a run: masters inside the run dir (closed at its end), host keys checked, no retries."""
    return {
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(pdd / "cp"),
        "ANSIBLE_SSH_ARGS": "-o ControlMaster=auto -o ControlPersist=30s",
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_SSH_RETRIES": "0",
        "ANSIBLE_TIMEOUT": "10",
        "ANSIBLE_LOCAL_TEMP": str(pdd / "tmp"),
    }


def close_masters(control_dir: Path) -> None:
    """Ask every SSH connection master of a run to exit (they would otherwise linger for ControlPersist)."""
    if not control_dir.is_dir():
        return
    for sock in control_dir.iterdir():
        subprocess.run(["ssh", "-F", "/dev/null", "-o", f"ControlPath={sock}", "-O", "exit", "govcloud-host"],
                       capture_output=True, stdin=subprocess.DEVNULL, timeout=10, check=False)


@contextmanager
def ssh_run_dir() -> Iterator[Path]:
    """`private_run_dir` for a run over SSH: it holds ssh_config and the SSH masters' sockets (`cp/`), so its path
    is kept short (a Unix socket path has at most ~107 bytes): the system's temporary directory, or /tmp when
    TMPDIR is long. The masters are closed when it goes."""
    parent = None if len(tempfile.gettempdir()) <= 40 else Path("/tmp")
    with private_run_dir(parent, "govcloud-hosts-") as pdd:
        (pdd / "cp").mkdir(mode=0o700, exist_ok=True)
        try:
            yield pdd
        finally:
            close_masters(pdd / "cp")


def run_role_on(box: Box, host: str, role: str, action: str, variables: dict[str, Any], progress: Progress = quiet,
                timeout: int = RUN_TIMEOUT_S) -> RoleResult:
    """`apps.runner.run_role` on a host of the hosts target (the apps' host), over SSH with what the control's
    deploy recorded (`box.remote`'s ssh_config: host keys checked, never a prompt). The extra vars stay in the
    run's 0600 file on the control; the role's `no_log` tasks carry the secrets to the host."""
    from govcloud_platform.box import remote

    require_role(role)
    config = remote.ssh_config(box)
    if not config.is_file():
        from govcloud_platform.errors import BoxDamaged

        raise BoxDamaged(f"{config}: missing", hint="run `govcloud up`: the hosts deploy writes it")
    with ssh_run_dir() as pdd:
        args = f"-F {shlex.quote(str(config))}"
        inv = {"all": {"vars": {"ansible_python_interpreter": "/usr/bin/python3"},
                       "hosts": {host: {"ansible_host": host, "ansible_ssh_common_args": args}}}}
        run = run_playbook(pdd, role_playbook(role, action, host), inv, variables, base_env(ssh_env(pdd)),
                           progress=progress, timeout=timeout, forks=1)
    return role_result(role, action, run, timeout, where=f" on {host}")
