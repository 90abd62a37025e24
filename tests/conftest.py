"""Shared fixtures: the `govcloud` CLI as a subprocess, and a real box on free ports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from govcloud_platform.box import ports
from govcloud_platform.box.context import Box
from govcloud_platform.box.ports import free_port_base
from govcloud_platform.box.runtime import leftover_system_users
from govcloud_platform.spec import load_spec
from govcloud_platform.spec.example import EXAMPLE_SPEC
from tests.security.matrix import MATRIX, matrix_rows

GOVCLOUD = str(Path(sys.executable).parent / "govcloud")
# Box directories must be traversable by the postgres user; pytest's own tmp dirs are 0700.
TEST_ROOT = Path(os.environ.get("GOVCLOUD_TEST_ROOT", "/var/tmp/govcloud-tests"))

# --- two workers side by side (`make test`: pytest-xdist, -n 2) ------------------------------------------------
# Most of the suite waits on servers (measured: the CPUs idle ~60% of a two-worker run), so it runs as two pytest
# workers, and each test module goes whole to one of two groups: "apart", the modules that bring up labs of network
# namespaces (every lab in one worker: `lab` tests compare the machine's namespaces, and two labs at once would
# starve each other's Patroni and SeaweedFS), the unit tests and the modules that bring up boxes or servers of their
# own whose apps never meet the session box's; and "box", the modules on the session box (one box: its agencies'
# apps run as host-wide users named after them). The labs are ~2,300 s of the suite, the session box's modules as
# many, with a few own-box modules on the labs' side the groups are even. A third
# worker was tried and made both slower (2 cores: the box group went from ~2,300 to 3,289 s). The controller, which
# collects nothing, groups by path; a test of APART that asks for the session box fails, saying so. Boxes chosen by
# both workers at once take disjoint port stripes.
APART = ("tests/unit/", *(f"tests/integration/test_{name}.py" for name in (
    "box_address", "host_fence", "hosts_check", "hosts_deploy", "hosts_ha", "lab", "openstack_bringup",
    # boxes and servers of their own (~500 s), which evens the two groups out (measured at e6ff76c: box 2,015 s,
    # apart 1,911 s)
    "backups_inplace", "centre_api", "centre_browser", "centre_store", "centre_web", "iaas_cloud", "identity",
    "identity_db", "scheduler", "storage_capacity", "ec2_cloud",
    # added at 69a55bc with the console's own box (~65 s with its attacker's rows) and the centre's SMS and retention
    # modules (own servers): the box group had ~190 s more than this one in the last whole run
    "console", "console_requests", "centre_sms", "centre_retention",
    # the console's usage over time, chargeback and credentials: on the shared console box (console_session)
    "console_usage",
    # the console's apps, backups and jobs (issue 15), on the shared console box
    "console_jobs",
    # the console's script clients (on the shared console box: ~9 s of its own)
    "console_scripts",
    # the console's members (shares `console_session` with the two above)
    "console_members",
    # the whole journey in Chromium (shares `console_session`)
    "console_journey",
    # the centre's signed certificates (issue 16): its own PostgreSQL and SeaweedFS, no box (~70 s)
    "centre_certificates",
    # G2G between two centres (its own PostgreSQL and gunicorn, ~40 s)
    "centre_g2g")), "tests/security/test_console.py")
GROUPS = ("box", "apart")


def group_of(nodeid: str) -> str:
    return "apart" if nodeid.startswith(APART) else "box"


def _worker(config: Any) -> str | None:
    """This process's worker id (gw0, gw1) under pytest-xdist; None in the controller or a plain run."""
    return getattr(config, "workerinput", {}).get("workerid")


def _on_session_box(item: Any) -> bool:
    """Whether the test asks for this file's session `box` (unit modules have `box` fixtures of their own)."""
    defs = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {}).get("box", ())
    return bool(defs) and defs[-1].func.__module__ == __name__  # the last is the one the test gets


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    if _worker(config) is None:
        return
    for item in items:
        if group_of(item.nodeid) == "apart" and _on_session_box(item):
            item.add_marker(pytest.mark.usefixtures("_misgrouped"))


@pytest.fixture
def _misgrouped(request: pytest.FixtureRequest) -> None:
    module = request.node.nodeid.split("::")[0]
    pytest.fail(f"tests/conftest.py: APART lists {module}, which uses the session box: "
                "its tests would bring up a second one in the other worker", pytrace=False)


def pytest_sessionfinish(session: Any) -> None:
    """A worker hands its attacker's matrix to the controller, which prints the whole suite's."""
    out = getattr(session.config, "workeroutput", None)
    if out is not None:
        out["matrix"] = json.dumps(MATRIX)


class _Controller:
    @pytest.hookimpl
    def pytest_xdist_make_scheduler(self, config: Any, log: Any) -> Any:
        from xdist.scheduler import LoadScopeScheduling

        class ByGroup(LoadScopeScheduling):  # type: ignore[misc]
            def _split_scope(self, nodeid: str) -> str:
                return group_of(nodeid)

        return ByGroup(config, log)

    @pytest.hookimpl
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        for cls, rows in json.loads(getattr(node, "workeroutput", {}).get("matrix", "{}")).items():
            MATRIX[cls].extend((what, ok) for what, ok in rows)


def pytest_configure(config: Any) -> None:
    worker = _worker(config)
    if worker is not None:
        ports.STRIPE = (int(worker.removeprefix("gw")) % 2, 2)
    elif config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_Controller(), "govcloud-xdist-controller")


@dataclass
class Result:
    rc: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 600, input: str | None = None) -> Result:
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    proc = subprocess.run(
        [GOVCLOUD, *args], capture_output=True, text=True, env=full_env, timeout=timeout, input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def assert_one_error(result: Result) -> None:
    """Exactly one `error:` line on stderr, and it is the last line (progress lines may precede it)."""
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    assert "Traceback" not in result.stderr


def new_home(prefix: str = "box") -> Path:
    TEST_ROOT.mkdir(parents=True, exist_ok=True)
    os.chmod(TEST_ROOT, 0o711)
    home = Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=TEST_ROOT))
    os.chmod(home, 0o711)
    return home


@dataclass
class BoxHandle:
    """A running box: its directory, spec file and CLI arguments."""

    root: Path
    spec_path: Path
    port_base: int

    @property
    def home(self) -> Path:
        return self.root / "home"

    def args(self, *rest: str) -> list[str]:
        return ["--home", str(self.home), "--spec", str(self.spec_path), *rest]

    def cli(self, *rest: str, **kw: Any) -> Result:
        return run_cli(*self.args(*rest), **kw)

    def box(self) -> Box:
        return Box(home=self.home, spec=load_spec(self.spec_path))


def make_box(prefix: str, spec_text: str = EXAMPLE_SPEC) -> BoxHandle:
    root = new_home(prefix)
    spec_path = root / "govcloud.yaml"
    spec_path.write_text(spec_text)
    (root / OWNER_FILE).write_text(f"{os.getpid()}\n")  # whose box: a killed run's is destroyed by the next
    return BoxHandle(root=root, spec_path=spec_path, port_base=free_port_base())


OWNER_FILE = "pytest.pid"


def _orphaned_boxes() -> list[BoxHandle]:
    """Test boxes whose pytest is gone (a killed run): still running, their apps' users block the next run."""
    found = []
    for root in TEST_ROOT.glob("*-*"):
        try:
            owner = int((root / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if owner != os.getpid() and not Path(f"/proc/{owner}").exists():
            found.append(BoxHandle(root=root, spec_path=root / "govcloud.yaml", port_base=0))
    return found


def teardown_box(handle: BoxHandle) -> None:
    """`box destroy`: a clean stop but for storage, killed (its data goes; `down` itself is tested apart)."""
    handle.cli("box", "destroy", "--yes", timeout=300)
    shutil.rmtree(handle.root, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def _no_leftover_system_users() -> None:
    """A killed run leaves the system users its boxes' apps ran as (the host's, not the box's): the names are the
    agencies', so the next run's deploys would rightly refuse them. Boxes of a run that is gone are destroyed, and
the users of test boxes no longer running go."""
    for orphan in _orphaned_boxes():
        teardown_box(orphan)
    labs = [d for d in Path("/var/tmp").glob("gcl*-*") if d.is_dir()]  # tests.integration.test_lab.traversable_tmp
    for user in [u for root in (TEST_ROOT, *labs) for u in leftover_system_users(root)]:
        subprocess.run(["userdel", user], capture_output=True, check=False)
        subprocess.run(["groupdel", user], capture_output=True, check=False)


@pytest.fixture(scope="session")
def box() -> Iterator[BoxHandle]:
    """One real box for the whole session, brought up through `govcloud up` and always torn down."""
    handle = make_box("session")
    try:
        result = handle.cli("--json", "up", "--port-base", str(handle.port_base), timeout=600)
        assert result.rc == 0, f"govcloud up failed: {result.stderr[-2000:]}"
        yield handle
    finally:
        teardown_box(handle)


@pytest.fixture(scope="session")
def console_session() -> Iterator[BoxHandle]:
    """One box with the web console enabled, shared by the console's modules (all in the "apart" group, so in one
    worker): each onboards its own agencies on it (`tests.console_kit.onboard`, slugs no other module uses). A box
    per module cost ~65 s each."""
    from tests import console_kit  # it imports this module

    with console_kit.console_box("console", ()) as handle:
        yield handle


# --- where the suite's time goes: seconds per test file (setup + call + teardown), printed at the end -------
FILE_SECONDS: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::", 1)[0]
    FILE_SECONDS[path] = FILE_SECONDS.get(path, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter: Any) -> None:
    _matrix_summary(terminalreporter)
    if len(FILE_SECONDS) < 2:
        return
    terminalreporter.section("slowest files (s: setup + call + teardown)")
    ranked = sorted(FILE_SECONDS.items(), key=lambda kv: -kv[1])
    for path, seconds in ranked[:20]:
        terminalreporter.write_line(f"{seconds:8.1f}  {path}")
    terminalreporter.write_line(f"{sum(FILE_SECONDS.values()):8.1f}  all {len(FILE_SECONDS)} files")
    groups = {g: sum(sec for path, sec in FILE_SECONDS.items() if group_of(path) == g) for g in GROUPS}
    terminalreporter.write_line("groups (one worker each): " + ", ".join(f"{g} {s:.0f} s" for g, s in groups.items()))


def _matrix_summary(terminalreporter: Any) -> None:
    if not any(MATRIX.values()):
        return
    rows = matrix_rows()
    terminalreporter.section("attacker's matrix (goal: 0 successes)")
    terminalreporter.write_line(f"{'class':<10} {'attempts':>9} {'successes':>10}")
    for row in rows:
        terminalreporter.write_line(f"{row['class']:<10} {row['attempts']:>9} {row['successes']:>10}")
        for what in row["succeeded"]:
            terminalreporter.write_line(f"    succeeded: {what}")
    total = sum(r["attempts"] for r in rows), sum(r["successes"] for r in rows)
    terminalreporter.write_line(f"{'all':<10} {total[0]:>9} {total[1]:>10}")
    try:
        TEST_ROOT.mkdir(parents=True, exist_ok=True)
        (TEST_ROOT / f"security-matrix-{os.getpid()}.json").write_text(json.dumps(rows, indent=1) + "\n")
    except OSError:
        pass
