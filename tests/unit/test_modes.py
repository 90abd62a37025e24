"""The box's permission scheme (box/modes.py): the pure decision and the repair of an old box's tree."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from govcloud_platform.box.modes import PRIVATE_UMASK, private_umask, repair, wanted_mode


@pytest.mark.parametrize(("rel", "mode", "is_dir", "wanted"), [
    ("", 0o755, True, 0o711),  # the home: traversed, never listed
    ("ca", 0o755, True, 0o711),
    ("ca/ca.pem", 0o644, False, 0o644),  # public: clients trust it
    ("ca/ca.pem", 0o666, False, 0o644),  # ... but writable by root only
    ("ca/ca.key", 0o600, False, 0o600),
    ("ca/certs", 0o755, True, 0o750),
    ("ca/certs/s3.pem", 0o644, False, 0o640),
    ("logs", 0o755, True, 0o750),
    ("logs/database.log", 0o644, False, 0o640),
    ("s3/data/ag-x_1.dat", 0o644, False, 0o640),
    ("s3/s3.sock", 0o140755, False, 0o750),
    ("pg", 0o755, True, 0o711),
    ("pg/run", 0o755, True, 0o750),
    ("pg/run/.s.PGSQL.5432", 0o140777, False, 0o770),
    ("pg/data", 0o700, True, 0o700),
    ("idp/conf/lmConf-3.json", 0o644, False, 0o640),
    ("idp/conf/lmConf-3.json", 0o640, False, 0o640),
    ("idp/lemonldap-ng.ini", 0o640, False, 0o640),
    ("nginx/tmp", 0o755, True, 0o711),
    ("nginx/tmp/body", 0o700, True, 0o700),
    ("apps/instances/health", 0o711, True, 0o711),
    ("apps/instances/health/portal", 0o700, True, 0o700),  # a `*` never spans a `/`
    ("apps/instances/health/portal", 0o755, True, 0o750),
    ("apps/instances/health/portal/portal.env", 0o644, False, 0o640),
    ("apps/code", 0o755, True, 0o755),
    ("apps/code/portal/manage.py", 0o644, False, 0o644),
    ("apps/code/portal/manage.py", 0o666, False, 0o644),
    ("apps/static/portal/css/site.css", 0o644, False, 0o644),
    ("apps/codex", 0o755, True, 0o750),  # not public because it starts like a public tree
    ("box.json", 0o644, False, 0o640),
    ("backups/scratch", 0o700, True, 0o711),
    ("backups/staging/health/x.csv", 0o644, False, 0o640),
])
def test_wanted_mode(rel: str, mode: int, is_dir: bool, wanted: int) -> None:
    assert wanted_mode(rel, mode, is_dir) == wanted


def test_a_traversed_file_is_not_a_directory() -> None:
    assert wanted_mode("pg", 0o644, False) == 0o640


def test_repair_makes_an_old_tree_private_and_is_idempotent(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for d in ("logs", "s3/data", "ca/certs", "apps/code/opendata", "apps/instances/health/opendata"):
        (home / d).mkdir(parents=True)
    files = {"logs/database.log": 0o644, "s3/data/1.dat": 0o644, "s3/data/1.vif": 0o644, "ca/ca.pem": 0o644,
             "ca/ca.key": 0o600,
             "apps/code/opendata/plugin.py": 0o664, "apps/instances/health/opendata/opendata.env": 0o600}
    for rel, mode in files.items():
        (home / rel).write_text("x")
        (home / rel).chmod(mode)
    for dirpath, _, _ in os.walk(home):
        os.chmod(dirpath, 0o755)
    for rel in ("pg/data/base", "apps/instances/health/opendata/data"):  # self-managed: only their top
        (home / rel).mkdir(parents=True)
        (home / rel / "f").write_text("x")
        (home / rel / "f").chmod(0o644)
    (home / "pg" / "data").chmod(0o755)
    (home / "apps" / "venvs").mkdir()
    (home / "apps" / "venvs" / "opendata").symlink_to("/nonexistent")
    changed = repair(home)
    assert "logs/database.log" in changed and "" in changed and "ca/ca.key" not in changed
    assert "s3/data/1.vif" not in changed  # SeaweedFS forces it back to 0644 at once: left as it is

    def mode(rel: str) -> int:
        return stat.S_IMODE((home / rel).lstat().st_mode)

    assert mode("") == mode("ca") == mode("apps/instances/health") == mode("apps/venvs") == 0o711
    assert mode("logs") == mode("s3/data") == mode("apps/instances/health/opendata") == 0o750
    assert mode("logs/database.log") == mode("s3/data/1.dat") == 0o640
    assert mode("ca/ca.pem") == 0o644 and mode("apps/code/opendata/plugin.py") == 0o644
    assert mode("apps/code/opendata") == 0o755
    assert mode("pg/data") == 0o750 and mode("pg/data/base/f") == 0o644  # PostgreSQL's own business
    assert mode("apps/instances/health/opendata/data/f") == 0o644  # inside the agency's 0750 (was 0755) dir
    assert repair(home) == []


def test_private_umask() -> None:
    before = private_umask()
    try:
        assert os.umask(PRIVATE_UMASK) == PRIVATE_UMASK
    finally:
        os.umask(before)
