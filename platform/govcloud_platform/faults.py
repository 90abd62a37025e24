"""Test faults, all in one place: GOVCLOUD_TEST_FAULT names one point at which a command stops a box program
or fails, to prove that a failure half-way is clean and converges on re-run. Inert unless the variable is set
(nothing reads it otherwise). Its grammar:

- `<before|after>:<step>:stop:<program>`: stop a supervisord program before or after an onboarding step
  (`<step>` is a service, e.g. `storage`, for add and apply; `remove:<service>` for a removal);
- `fail:<step>`: the onboarding step fails itself (a ServiceError before its broker runs);
- `backup:stop:<program>`: stop a program, in the background, as an agency backup's first dump starts;
- `restore:fail:<point>`: a restore fails at that point (`swap`, `objects`, `platform`), to prove its rollback.

The lab has its own (GOVCLOUD_LAB_FAULT: it kills its own process at a step, govcloud_platform.lab)."""

from __future__ import annotations

import os
import threading

from govcloud_platform.box.context import Box
from govcloud_platform.errors import OperationFailed, ServiceError

ENV = "GOVCLOUD_TEST_FAULT"


def _spec() -> str:
    return os.environ.get(ENV, "")


def _stop(box: Box, program: str, background: bool = False) -> None:
    from govcloud_platform.box.supervisor import Supervisor

    if background:
        threading.Thread(target=Supervisor(box).stop, args=(program,), daemon=True).start()
    else:
        Supervisor(box).stop(program)


def onboarding_step(when: str, step: str, box: Box) -> None:
    """Before or after an onboarding step: stop a program (`<when>:<step>:stop:<program>`), or fail the step."""
    spec = _spec()
    parts = spec.split(":")
    if len(parts) >= 4 and parts[0] == when and ":".join(parts[1:-2]) == step and parts[-2] == "stop":
        _stop(box, parts[-1])
    if when == "before" and spec == f"fail:{step}":
        raise ServiceError(f"test fault before {step} ({ENV})")


def backup_started(box: Box) -> None:
    """As an agency backup's first dump starts: `backup:stop:<program>` stops it in the background."""
    parts = _spec().split(":")
    if len(parts) == 3 and parts[0] == "backup" and parts[1] == "stop":
        _stop(box, parts[2], background=True)


def restore_point(point: str) -> None:
    """`restore:fail:<point>` makes a restore fail here."""
    if _spec() == f"restore:fail:{point}":
        raise OperationFailed(f"fault injected for a test at {point} ({ENV})")
