"""The apps' shared virtualenvs: one per app, packages and interpreter in a cache every box of the host uses
(`app_common`'s venv), built once, reused by the next box, rebuilt when the packages change."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from govcloud_platform.apps.layout import SYSTEM_PYTHON, system_ca_bundle
from govcloud_platform.apps.runner import run_role
from tests.conftest import BoxHandle, new_home

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_cached_virtualenv_is_reused_and_rebuilt_for_other_packages(box: BoxHandle) -> None:
    b = box.box()
    root = new_home("venv-cache")
    cache = root / "cache"
    links = [root / f"box{i}" / "apps" / "venvs" / "tiny" for i in (1, 2)]

    def build(link_index: int, packages: list[str]) -> int:
        return run_role(b, "app_common", "venv", {
            "app_common_app": "tiny", "app_common_packages": packages, "app_common_python": SYSTEM_PYTHON,
            "app_common_venv": str(links[link_index]), "app_common_venv_cache": str(cache),
            "app_common_pip_ca_bundle": system_ca_bundle(),
        }).changed

    def version(link_index: int) -> str:
        return subprocess.run([str(links[link_index] / "bin" / "python"), "-c", "import six; print(six.__version__)"],
                              capture_output=True, text=True, check=True).stdout.strip()

    try:
        assert build(0, ["six==1.16.0"]) > 0
        first = links[0].resolve()
        assert links[0].is_symlink() and first.parent == cache.resolve() and first.name.startswith("tiny-")
        assert version(0) == "1.16.0"
        assert build(0, ["six==1.16.0"]) == 0  # idempotent
        # Another box: its path links to the same virtualenv, nothing is installed again.
        build(1, ["six==1.16.0"])
        assert links[1].resolve() == first and sorted(p.name for p in cache.iterdir()) == [first.name]
        # Another version: another virtualenv, the link moves, the old one stays for the boxes still on it.
        assert build(0, ["six==1.17.0"]) > 0
        assert links[0].resolve() != first and version(0) == "1.17.0"
        assert version(1) == "1.16.0" and len(list(cache.iterdir())) == 2
    finally:
        shutil.rmtree(root, ignore_errors=True)
