"""The box a command works on: `load_box` (an existing one), `create_box` (`up`), and the registry's copy into
the platform's backups after a change. Shared by every command module (no command module imports another's)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from govcloud_cli.output import RUN, Options, platform_spec

if TYPE_CHECKING:
    from govcloud_platform.box.context import Box
    from govcloud_platform.spec import Spec


def load_box(opts: Options, *, registry: bool = True) -> Box:
    """The existing box at --home, for every command but `up`: a --home without a box is refused (exit 2) and
    nothing is created, not even a secret. `registry`: the command uses the registry, which must be there with
    its own key (exit 2 otherwise, saying how to restore it); `status`, `logs`, `down`, `box destroy` and the
    registry's restore work on a box whose registry is lost."""
    from govcloud_platform.box.context import Box, require_box

    spec = platform_spec(opts)  # the command's input first: a bad spec is named even where no box is
    require_box(opts.home)
    box = Box(home=opts.home, spec=spec, create=False)
    RUN.box = box
    if registry:
        from govcloud_platform.state.registry import check_registry

        check_registry(box.home)
    return box


def copy_registry(box: Box) -> None:
    """After a command that changed agencies or apps: a copy of the registry into the platform's backups, so that
    a lost registry.db comes back with this change (backups/registry.py). Best effort: the change is made; a
    copy that fails says so and the next platform backup takes one."""
    from govcloud_platform.backups.registry import take_backup
    from govcloud_platform.text import one_line

    try:
        take_backup(box)
    except Exception as exc:  # noqa: BLE001 - never turn a done change into a failure
        sys.stderr.write(f"warning: the registry was not copied into the platform's backups "
                         f"({one_line(str(exc) or type(exc).__name__, 200)}); `govcloud backup run` copies it\n")


def create_box(opts: Options, spec: Spec | None = None) -> Box:
    """The box at --home for `up`, the only command that makes one (directory, secrets, registry and its key)."""
    from govcloud_platform.box.context import Box

    box = Box(home=opts.home, spec=spec or platform_spec(opts))
    RUN.box = box
    return box
