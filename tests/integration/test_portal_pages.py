"""The portal's citizen pages on the shared design (tests/integration/portal_pages_cases.py), run in a pytest
process of their own: Django reads one project's settings per process, and under `make test` the centre's
in-process tests share this worker. Each case's result is in the child's output, printed when one fails."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CASES = Path(__file__).with_name("portal_pages_cases.py")


def test_the_portal_pages_cases_pass_in_their_own_process() -> None:
    child = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                            str(CASES)], capture_output=True, text=True, timeout=600, check=False,
                           cwd=Path(__file__).parents[2])
    print(child.stdout[-1500:])
    assert child.returncode == 0, child.stdout[-4000:]
    passed = re.search(r"(\d+) passed", child.stdout)
    assert passed and int(passed.group(1)) >= 18 and "skipped" not in child.stdout, child.stdout[-500:]
