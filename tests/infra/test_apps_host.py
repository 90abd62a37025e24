"""testinfra on the real host: what `govcloud verify` checks, asserted with testinfra's own modules."""

from __future__ import annotations

from typing import Any

import pytest

from govcloud_platform.apps.layout import instance_dir
from govcloud_platform.apps.verify import verify
from govcloud_platform.box.supervisor import Supervisor
from govcloud_platform.names import app_program, system_user
from tests.apps_helpers import OPENDATA_AGENCY, PORTAL_AGENCIES, deploy_session_apps
from tests.conftest import BoxHandle

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DEPLOYED = [(slug, "portal") for slug in PORTAL_AGENCIES] + [(OPENDATA_AGENCY, "opendata")]


@pytest.fixture(scope="module")
def apps(box: BoxHandle) -> dict[str, Any]:
    return deploy_session_apps(box)


@pytest.mark.parametrize(("agency", "app"), DEPLOYED)
def test_program_runs_as_the_agency_user_and_binds_loopback_only(
    host: Any, box: BoxHandle, apps: dict[str, Any], agency: str, app: str
) -> None:
    b = box.box()
    sup = Supervisor(b)
    program = host.supervisor(app_program(agency, app), supervisorctl_path=str(_supervisorctl()),
                              supervisorctl_conf=str(sup.conf))
    assert program.is_running, program.status
    assert host.process.get(pid=program.pid).user == system_user(agency)
    port = next(a["port"] for a in box.cli("--json", "app", "list").json()["apps"]
                if a["agency"] == agency and a["app"] == app)
    listening = [s for s in host.socket.get_listening_sockets() if s.rsplit(":", 1)[-1] == str(port)]
    assert listening == [f"tcp://127.0.0.1:{port}"]


@pytest.mark.parametrize(("agency", "app"), DEPLOYED)
def test_secrets_file_is_private_to_the_agency_user(host: Any, box: BoxHandle, apps: dict[str, Any], agency: str,
                                                    app: str) -> None:
    env = host.file(str(instance_dir(box.box(), agency, app) / f"{app}.env"))
    assert env.exists and env.mode == 0o600 and env.user == system_user(agency)
    assert host.file(str(instance_dir(box.box(), agency, app))).mode == 0o700
    conf = host.file(str(Supervisor(box.box()).programs_dir / f"{app_program(agency, app)}.conf"))
    assert "PASSWORD" not in conf.content_string and "SECRET" not in conf.content_string


def test_verify_passes_every_check(box: BoxHandle, apps: dict[str, Any]) -> None:
    results = verify(box.box())
    assert results, "no checks ran"
    failed = [r for r in results if not r.ok]
    assert not failed, failed
    assert {(r.agency, r.app) for r in results} == set(DEPLOYED)
    only = verify(box.box(), agency="health", app="opendata")
    assert {(r.agency, r.app) for r in only} == {("health", "opendata")}


def test_verify_fails_when_a_process_is_stopped(box: BoxHandle, apps: dict[str, Any]) -> None:
    b = box.box()
    sup = Supervisor(b)
    sup.stop(app_program(OPENDATA_AGENCY, "opendata"))
    try:
        failed = {r.check for r in verify(b, agency=OPENDATA_AGENCY, app="opendata") if not r.ok}
        assert "process running" in failed
        assert any(c.startswith("health ") for c in failed)
        listed = box.cli("--json", "app", "list", "--agency", OPENDATA_AGENCY).json()["apps"]
        assert [a["healthy"] for a in listed if a["app"] == "opendata"] == [False]
    finally:
        sup.ensure_running(app_program(OPENDATA_AGENCY, "opendata"))
    r = box.cli("--json", "app", "deploy", OPENDATA_AGENCY, "opendata", timeout=600)  # converges, healthy again
    assert r.rc == 0, r.stderr[-2000:]
    assert all(c.ok for c in verify(b, agency=OPENDATA_AGENCY, app="opendata"))


def _supervisorctl() -> str:
    import sys
    from pathlib import Path

    return str(Path(sys.executable).parent / "supervisorctl")
