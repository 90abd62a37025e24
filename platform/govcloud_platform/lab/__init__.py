"""A lab of hosts on one machine: N network namespaces on a private bridge, each with its own address,
sshd, host key and hostname, and the spec that describes them as a `hosts` topology. For users who want
to try the `hosts` target, and for tests of it.

The entry points check every input before touching anything (bad input: nothing made), then lock the
lab's directory and hand the plan to the adapter."""

from __future__ import annotations

from pathlib import Path

from govcloud_platform.errors import ConflictError, InputError
from govcloud_platform.lab.adapter import Lab, Say
from govcloud_platform.lab.plan import LabPlan, check_lab_name, lab_name_for, plan_lab
from govcloud_platform.lab.spec import lab_spec_text


def _name(spec_path: Path, name: str | None) -> str:
    chosen = name if name is not None else lab_name_for(spec_path)
    try:
        return check_lab_name(chosen)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def lab_up(spec_path: Path, hosts: int, *, name: str | None = None, force: bool = False,
           say: Say | None = None) -> Lab:
    """Make (or complete) the lab and write its spec to `spec_path`."""
    from govcloud_platform.spec.example import EXAMPLE_SPEC

    lab_name = _name(spec_path, name)
    if spec_path.is_dir():
        raise InputError(f"--spec {spec_path} is a directory", hint="give the path of the spec file to write")
    if not spec_path.parent.resolve().is_dir():
        raise InputError(f"directory {spec_path.parent} does not exist", hint="create it, or pass another --spec")
    try:
        plan = plan_lab(lab_name, hosts, spec_path)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    Lab.preflight()
    text = lab_spec_text(plan, EXAMPLE_SPEC)
    existing = Lab.load(spec_path, lab_name)
    if existing is not None and len(existing.plan.hosts) != hosts:
        raise ConflictError(f"lab {lab_name} has {len(existing.plan.hosts)} host(s), not {hosts}",
                            hint="run `govcloud lab down` first")
    if spec_path.exists() and not force and spec_path.read_text(encoding="utf-8", errors="replace") != text:
        raise ConflictError(f"{spec_path} exists", hint="use --force to overwrite it")
    lab = Lab(plan, say)
    with lab.locked():
        lab.up(text)
    return lab


def open_lab(spec_path: Path, name: str | None = None, say: Say | None = None) -> Lab:
    """The lab recorded next to the spec; exit 2 when there is none."""
    lab_name = _name(spec_path, name)
    lab = Lab.load(spec_path, lab_name, say)
    if lab is None:
        raise InputError(f"no lab {lab_name!r} next to {spec_path}", hint="run `govcloud lab up --hosts N` first")
    return lab


def lab_down(spec_path: Path, name: str | None = None, say: Say | None = None) -> list[str]:
    """Remove the lab; a lab that is not there is already down (nothing to do, no error)."""
    lab_name = _name(spec_path, name)
    Lab.preflight()
    lab = Lab.load(spec_path, lab_name, say)
    if lab is None:
        return []
    with lab.locked():
        return lab.down()


__all__ = ["Lab", "LabPlan", "lab_down", "lab_up", "open_lab", "plan_lab"]
