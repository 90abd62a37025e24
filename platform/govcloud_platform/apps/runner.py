"""The one adapter over `ansible_runner.run(...)`: a fresh private_data_dir per run (0700, deleted after: it
holds the extra vars, secrets included), progress from the event stream, typed errors from status and rc."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govcloud_platform.box.context import Box
from govcloud_platform.box.secrets import write_private
from govcloud_platform.errors import MissingDependency, ProvisioningError, ServiceError
from govcloud_platform.progress import Progress, quiet

RUN_TIMEOUT_S = 1800


def roles_path() -> Path:
    """`roles/` of the checkout (editable install), or GOVCLOUD_ROLES_PATH."""
    override = os.environ.get("GOVCLOUD_ROLES_PATH")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[3] / "roles"


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



def _playbook(role: str, action: str) -> list[dict[str, Any]]:
    return [{
        "name": f"{role} {action}",
        "hosts": "target",
        "gather_facts": False,
        "roles": [{"role": role, f"{role}_action": action}],
    }]


def run_role(box: Box, role: str, action: str, variables: dict[str, Any], progress: Progress = quiet,
             timeout: int = RUN_TIMEOUT_S) -> RoleResult:
    """Run `role` with `<role>_action=action` against the box itself (`connection: local`)."""
    import ansible_runner

    if not (roles_path() / role / "tasks" / "main.yml").exists():
        raise MissingDependency(f"Ansible role {role!r} not found in {roles_path()}",
                                hint="set GOVCLOUD_ROLES_PATH to the roles/ folder of the checkout")
    runs = box.dir("apps", "runs")
    runs.chmod(0o700)
    pdd = Path(tempfile.mkdtemp(prefix=f"{role}-{action}-", dir=runs))
    failures: list[str] = []
    changed_tasks: list[str] = []
    facts: dict[str, Any] = {}
    timings: dict[str, float] = {}

    def on_event(event: dict[str, Any]) -> bool:
        kind = event.get("event", "")
        data = event.get("event_data", {})
        task = str(data.get("task", ""))
        if kind == "playbook_on_task_start" and task:
            progress(task)
        elif kind == "runner_on_ok":
            res = data.get("res", {}) or {}
            if data.get("duration") is not None:
                timings[task] = timings.get(task, 0.0) + float(data["duration"])
            if res.get("changed"):
                changed_tasks.append(task)
            if isinstance(res.get("ansible_facts"), dict):
                facts.update(res["ansible_facts"])
        elif kind in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
            res = data.get("res", {}) or {}
            msg = res.get("msg") or res.get("stderr") or res.get("reason") or "failed"
            if res.get("censored"):
                msg = "details hidden (no_log)"
            failures.append(f"{task}: {str(msg).strip()[-600:]}")
        return True  # keep it: `stats` is computed from the stored events (deleted with the run dir)

    try:
        (pdd / "project").mkdir()
        (pdd / "inventory").mkdir()
        (pdd / "project" / "main.yml").write_text(json.dumps(_playbook(role, action)))
        # Extra vars go in a 0600 file (`-e @file`), never on ansible-playbook's command line (ps shows it).
        write_private(pdd / "env" / "extravars", json.dumps(variables))
        (pdd / "inventory" / "hosts.json").write_text(json.dumps({
            "all": {"hosts": {"target": {
                "ansible_connection": "local",
                "ansible_host": "127.0.0.1",
                "ansible_python_interpreter": sys.executable,
            }}},
        }))
        env = box.child_env({
            "ANSIBLE_ROLES_PATH": str(roles_path()),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOCALHOST_WARNING": "False",
            "ANSIBLE_DEPRECATION_WARNINGS": "False",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_LOCAL_TEMP": str(pdd / "tmp"),
            "ANSIBLE_REMOTE_TEMP": str(pdd / "tmp"),
            "ANSIBLE_FORCE_HANDLERS": "True",
            "ANSIBLE_PIPELINING": "True",
        })
        # The venv's bin must be on PATH (ansible-playbook, supervisorctl) or the run ends with rc 127.
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        t0 = time.monotonic()
        result = ansible_runner.run(
            private_data_dir=str(pdd),
            playbook="main.yml",
            envvars=env,
            quiet=True,
            event_handler=on_event,
            timeout=timeout,
            suppress_env_files=True,
        )
        seconds = time.monotonic() - t0
        status, rc = result.status, result.rc
        stats = result.stats or {}
    finally:
        shutil.rmtree(pdd, ignore_errors=True)

    if rc == 127:
        raise MissingDependency(f"{role} {action}: ansible-playbook not found (rc 127)",
                                hint=f"install ansible-core into {Path(sys.executable).parent}")
    if status == "timeout":
        raise ServiceError(f"{role} {action}: timed out after {timeout} s", hint="re-run: the role converges")
    if status != "successful" or rc != 0:
        detail = "; ".join(failures) or f"ansible-runner status {status}, rc {rc}"
        raise ProvisioningError(f"{role} {action} failed: {detail}", hint="fix the cause and re-run: it converges")
    return RoleResult(
        role=role, action=action, seconds=seconds,
        changed=sum((stats.get("changed") or {}).values()),
        ok=sum((stats.get("ok") or {}).values()),
        changed_tasks=changed_tasks, facts=facts, timings=timings,
    )
