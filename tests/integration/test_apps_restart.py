"""How the app roles' programs take a change (`app_common`'s restart, every app role's handler): each is
restarted; one that does not start is started once more; one that dies again fails the deploy with
supervisord's answer and the last line of its log (the CI once saw only "Restart Datasette: non-zero return
code")."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from govcloud_platform.apps.runner import run_role
from govcloud_platform.errors import ProvisioningError
from tests.conftest import BoxHandle, new_home

pytestmark = [pytest.mark.integration]

SUPERVISORCTL = str(Path(sys.executable).parent / "supervisorctl")
PROGRAM = """[program:{name}]
command={command}
startsecs=1
startretries=0
autostart=true
autorestart=false
redirect_stderr=true
stdout_logfile={log_dir}/{name}.log
"""


class Sup:
    def __init__(self, root: Path) -> None:
        self.root, self.log_dir, self.programs = root, root / "log", root / "programs"
        self.conf = root / "supervisord.conf"

    def ctl(self, *args: str) -> str:
        return subprocess.run([SUPERVISORCTL, "-c", str(self.conf), *args], capture_output=True, text=True,
                              timeout=60).stdout

    def pid(self, name: str) -> int:
        return int(self.ctl("pid", name).strip())

    def add(self, name: str, command: str) -> str:
        (self.programs / f"{name}.conf").write_text(PROGRAM.format(name=name, command=command, log_dir=self.log_dir))
        return self.ctl("update", name)

    def restart(self, box: BoxHandle, programs: list[str]) -> None:
        run_role(box.box(), "app_common", "restart", {
            "app_common_supervisorctl": SUPERVISORCTL, "app_common_supervisor_conf": str(self.conf),
            "app_common_programs": programs, "app_common_log_dir": str(self.log_dir)})


@pytest.fixture(scope="module")
def sup() -> Iterator[Sup]:
    s = Sup(new_home("restart"))
    s.log_dir.mkdir(parents=True)
    s.programs.mkdir()
    s.conf.write_text(f"""[unix_http_server]
file={s.root}/supervisor.sock
chmod=0700
[supervisord]
logfile={s.log_dir}/supervisord.log
pidfile={s.root}/supervisord.pid
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl=unix://{s.root}/supervisor.sock
[include]
files={s.programs}/*.conf
""")
    subprocess.run([str(Path(sys.executable).parent / "supervisord"), "-c", str(s.conf)], check=True, timeout=30)
    try:
        yield s
    finally:
        s.ctl("shutdown")
        for _ in range(100):
            if not (s.root / "supervisord.pid").exists():
                break
            time.sleep(0.1)
        shutil.rmtree(s.root, ignore_errors=True)


def test_a_running_program_is_restarted(box: BoxHandle, sup: Sup) -> None:
    assert "app-web: added process group" in sup.add("app-web", "sleep 600")
    for _ in range(50):
        if "RUNNING" in sup.ctl("status", "app-web"):
            break
        time.sleep(0.1)
    first = sup.pid("app-web")
    sup.restart(box, ["app-web"])
    assert sup.pid("app-web") not in (0, first) and "RUNNING" in sup.ctl("status", "app-web")


def test_a_program_that_fails_one_start_is_started_once_more(box: BoxHandle, sup: Sup) -> None:
    # It fails its first two starts (supervisord's autostart, then the restart), then runs.
    count = sup.root / "starts"
    sup.add("app-slow", f"sh -c 'echo x >> {count}; [ $(wc -l < {count}) -gt 2 ] || exit 3; exec sleep 600'")
    sup.restart(box, ["app-slow"])
    assert "RUNNING" in sup.ctl("status", "app-slow") and len(count.read_text().splitlines()) == 3


def test_a_program_that_dies_while_starting_fails_with_its_reason(box: BoxHandle, sup: Sup) -> None:
    sup.add("app-broken", "sh -c 'echo starting; echo cannot listen on 127.0.0.1:28623: address in use; exit 3'")
    with pytest.raises(ProvisioningError) as err:
        sup.restart(box, ["app-broken"])
    message = str(err.value)
    assert "app-broken: ERROR (spawn error)" in message, message
    assert "its log ends: cannot listen on 127.0.0.1:28623: address in use" in message, message
