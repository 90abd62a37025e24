"""supervisord as the box's process supervisor: config files, start, XML-RPC control, ordered stop."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import xmlrpc.client
from pathlib import Path
from typing import Any

from govcloud_platform.box.context import Box
from govcloud_platform.box.modes import PRIVATE_UMASK
from govcloud_platform.box.secrets import write_private
from govcloud_platform.box.services.base import Program
from govcloud_platform.errors import ServiceError
from govcloud_platform.procfs import STATE, stat_fields


def _quote(arg: str) -> str:
    if arg and all(c.isalnum() or c in "-_./=:,@%+" for c in arg):
        return arg
    return "'" + arg.replace("'", "'\"'\"'") + "'"


class Supervisor:
    answer_wait_s = 30.0  # how long `start` waits for a running supervisord that does not answer yet

    def __init__(self, box: Box) -> None:
        self.box = box
        self.dir = box.home / "supervisor"
        self.conf = self.dir / "supervisord.conf"
        self.sock = self.dir / "supervisor.sock"
        self.pidfile = self.dir / "supervisord.pid"
        self.programs_dir = self.dir / "programs"

    # --- configuration ------------------------------------------------------------------------
    def write_main_config(self) -> None:
        """supervisord's umask (077) is inherited by every program and applies to the logs it writes: what the
        services and supervisord create is private from the start (each program also says so, for a
        supervisord that an older govcloud started)."""
        self.box.dir("supervisor", "programs")
        self.dir.chmod(0o700)
        text = f"""; written by govcloud; do not edit
[unix_http_server]
file={self.sock}
chmod=0700

[supervisord]
umask={PRIVATE_UMASK:03o}
logfile={self.box.log_dir / "supervisord.log"}
logfile_maxbytes=10MB
logfile_backups=2
pidfile={self.pidfile}
childlogdir={self.box.log_dir}
identifier=govcloud-{self.box.spec.platform.name}
nodaemon=false
silent=true
minfds=4096

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{self.sock}

[include]
files={self.programs_dir}/*.conf
"""
        self._write_if_changed(self.conf, text)

    def write_program(self, program: Program) -> bool:
        """Write a program's section; True if it changed."""
        return self._write_if_changed(self.programs_dir / f"{program.name}.conf", self.render_program(program))

    def is_current(self, program: Program) -> bool:
        """Whether supervisord holds this exact section (a newer govcloud may run a program differently)."""
        path = self.programs_dir / f"{program.name}.conf"
        return path.exists() and path.read_text() == self.render_program(program)

    def render_program(self, program: Program) -> str:
        env = ",".join(f'{k}="{v}"' for k, v in sorted(program.environment.items()))
        lines = [
            f"[program:{program.name}]",
            f"command={' '.join(_quote(a) for a in program.command)}",
            f"priority={program.priority}",
            "autostart=false",
            "autorestart=false",
            f"startsecs={program.startsecs}",
            "startretries=1",
            f"stopsignal={program.stopsignal}",
            f"stopwaitsecs={program.stopwaitsecs}",
            f"umask={program.umask:03o}",
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            f"stdout_logfile={self.box.log_dir / (program.name + '.log')}",
            "stdout_logfile_maxbytes=20MB",
            "stdout_logfile_backups=2",
        ]
        if program.user:
            lines.append(f"user={program.user}")
        if program.directory:
            lines.append(f"directory={program.directory}")
        if env:
            lines.append(f"environment={env}")
        return "\n".join(lines) + "\n"

    @staticmethod
    def _write_if_changed(path: Path, text: str) -> bool:
        if path.exists() and path.read_text() == text:
            return False
        write_private(path, text)  # root's supervisord reads it; nobody else has to
        return True

    # --- lifecycle ----------------------------------------------------------------------------
    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if alive(pid) else None

    def running(self) -> bool:
        if self.pid() is None or not self.sock.exists():
            return False
        try:
            self.rpc().getState()
        except (OSError, xmlrpc.client.Fault):
            return False
        return True

    def start(self) -> None:
        if self.running():
            return
        pid = self.pid()
        if pid is not None:  # alive but not answering yet (a loaded host): never a second one beside it
            if self._answers_within(self.answer_wait_s, 0.2):
                return
            raise ServiceError(f"supervisord (pid {pid}) runs but does not answer on {self.sock}",
                               hint=f"see {self.box.log_dir / 'supervisord.log'}; stop it (`kill {pid}`), then "
                                    "`govcloud up` again")
        self.write_main_config()
        self.sock.unlink(missing_ok=True)
        supervisord = Path(sys.executable).parent / "supervisord"
        cmd = [str(supervisord) if supervisord.exists() else "supervisord", "-c", str(self.conf)]
        result = subprocess.run(cmd, env=self.box.child_env(), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ServiceError(f"supervisord failed to start: {(result.stderr or result.stdout).strip()[-300:]}")
        if not self._answers_within(10, 0.05):
            raise ServiceError(f"supervisord did not answer on {self.sock}; see {self.box.log_dir / 'supervisord.log'}")

    def _answers_within(self, seconds: float, every: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.running():
                return True
            time.sleep(every)
        return False

    def rpc(self) -> Any:
        from supervisor.xmlrpc import SupervisorTransport

        transport = SupervisorTransport(None, None, serverurl=f"unix://{self.sock}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor

    def sync_programs(self, programs: list[Program]) -> None:
        """Load new or changed program sections into the running supervisord."""
        changed = {p.name for p in programs if self.write_program(p)}
        rpc = self.rpc()
        added, modified, removed = rpc.reloadConfig()[0]
        for name in modified + [n for n in changed if n not in added and n not in modified]:
            try:
                rpc.stopProcess(name, True)
            except xmlrpc.client.Fault:
                pass
            try:
                rpc.removeProcessGroup(name)
            except xmlrpc.client.Fault:
                pass
            rpc.addProcessGroup(name)
        for name in added:
            rpc.addProcessGroup(name)

    def remove(self, name: str) -> bool:
        """Stop program `name` and forget it (its section too). True if there was one to remove."""
        conf = self.programs_dir / f"{name}.conf"
        if not conf.exists():
            return False
        self.stop(name)
        conf.unlink()
        rpc = self.rpc()
        rpc.reloadConfig()
        try:
            rpc.removeProcessGroup(name)
        except xmlrpc.client.Fault:
            pass
        return True

    def info(self) -> dict[str, dict[str, Any]]:
        if not self.running():
            return {}
        return {p["name"]: p for p in self.rpc().getAllProcessInfo()}

    def ensure_running(self, name: str, timeout: float = 90) -> None:
        """Start the program unless it runs; a program still STARTING or STOPPING (an interrupted `up` or
        `down`) is waited for first."""
        rpc = self.rpc()
        deadline = time.monotonic() + timeout
        while True:
            state = rpc.getProcessInfo(name)["statename"]
            if state == "RUNNING":
                return
            if state in ("STARTING", "STOPPING") and time.monotonic() < deadline:
                time.sleep(0.2)
                continue
            try:
                rpc.startProcess(name, True)
                return
            except xmlrpc.client.Fault as exc:
                if "ALREADY_STARTED" in exc.faultString and time.monotonic() < deadline:
                    continue
                raise ServiceError(
                    f"{name} failed to start ({exc.faultString}); see `govcloud logs` and {self.box.log_dir}",
                    hint=_tail(self.box.log_dir / f"{name}.log"),
                ) from None

    def signal(self, name: str, sig: str) -> bool:
        """Send `sig` (e.g. HUP) to program `name` if it runs; whether it did."""
        try:
            self.rpc().signalProcess(name, sig)
        except xmlrpc.client.Fault as exc:
            if "NOT_RUNNING" in exc.faultString or "BAD_NAME" in exc.faultString:
                return False
            raise
        return True

    def stop(self, name: str) -> None:
        try:
            self.rpc().stopProcess(name, True)
        except xmlrpc.client.Fault as exc:
            if "NOT_RUNNING" not in exc.faultString and "BAD_NAME" not in exc.faultString:
                raise

    def stop_together(self, names: list[str], timeout: float = 120, kill: frozenset[str] = frozenset()) -> None:
        """Signal every program at once and wait until all have stopped. supervisord SIGKILLs each after its
        own stopwaitsecs; `timeout` only guards against a supervisord that stops answering. Programs in `kill`
        get SIGKILL at once (`box destroy`: their data goes next)."""
        rpc = self.rpc()
        for name in names:
            try:
                if name in kill:
                    rpc.signalProcess(name, "KILL")
                else:
                    rpc.stopProcess(name, False)
            except xmlrpc.client.Fault as exc:
                if "NOT_RUNNING" not in exc.faultString and "BAD_NAME" not in exc.faultString:
                    raise
        deadline = time.monotonic() + timeout
        while True:
            busy = [p["name"] for p in rpc.getAllProcessInfo() if p["name"] in names and p["statename"] in ACTIVE]
            if not busy:
                return
            if time.monotonic() >= deadline:
                raise ServiceError(f"{', '.join(busy)} did not stop within {timeout:.0f}s",
                                   hint=f"see `govcloud logs` ({self.box.log_dir})")
            time.sleep(0.05)

    def shutdown(self, timeout: float = 90) -> None:
        pid = self.pid()
        if pid is None:
            return
        try:
            self.rpc().shutdown()
        except (OSError, xmlrpc.client.Fault):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not alive(pid):
                break
            time.sleep(0.02)
        else:
            os.kill(pid, signal.SIGKILL)
        self.sock.unlink(missing_ok=True)


# supervisord states of a program that has not stopped yet
ACTIVE = ("STARTING", "RUNNING", "BACKOFF", "STOPPING")


def alive(pid: int) -> bool:
    """Whether the process still runs. A zombie does not: it has exited and holds no port, file or memory, but
    stays in the process table until its parent reaps it. supervisord daemonizes, so its parent is PID 1, which
    here reaps only every second or two (waiting for that made `down` ~1.5 s slower)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return not Path("/proc/self").exists()  # gone since kill(0); or no /proc, and kill(0) is all we know
    except OSError:
        return True
    return stat_fields(stat)[STATE] != "Z"


# The line that says why a program died, where its last lines would only be a stack trace: glog's fatal line
# (weed: "F1202 15:43:38.123456 filer.go:335] Filer listener error: ..."), a Go panic, a Python exception.
_FATAL = re.compile(r"^(F\d{4} \d\d:\d\d:\d\d|panic: |FATAL|[A-Za-z_.]+(Error|Exception): )")


def log_tail(text: str, lines: int = 3) -> str:
    """The last lines of a program's log, after its last fatal line if there is one."""
    rows = [row.strip() for row in text.strip().splitlines()]
    tail = "last log lines: " + " | ".join(rows[-lines:])
    fatal = [row for row in rows if _FATAL.match(row)]
    return f"{fatal[-1][:300]}; {tail}" if fatal and fatal[-1] not in rows[-lines:] else tail


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "no log yet"
    return log_tail(text, lines)
