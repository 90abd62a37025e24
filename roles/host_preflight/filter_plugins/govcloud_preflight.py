"""`host_preflight`'s judgement inside a run (`host_preflight_judge`): the thin adapter over govcloud's own
pure decision (`govcloud_platform.hosts.preflight.problems`), run by Ansible on the controller, where govcloud
is installed. Used when `up` folds the preflight into its deploy run (a play that stops every host when one
is not ready), so the hosts are judged exactly as `hosts check` judges them."""

from __future__ import annotations

from typing import Any


def preflight_problems(facts: Any, root: str, min_free_mb: int) -> list[str]:
    from govcloud_platform.hosts.preflight import HostNeed, problems

    need = HostNeed(name="", address="", groups=(), root=str(root), ports=(), min_free_mb=int(min_free_mb))
    return problems(need, facts if isinstance(facts, dict) else None)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"govcloud_preflight_problems": preflight_problems}
