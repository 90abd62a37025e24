"""`preview|up|destroy|refresh` through the Automation API. Each stack is an inline program with a stable
work dir (`<home>/pulumi/work/<stack>`, so Pulumi.<stack>.yaml can be reviewed), the backend of
`backend.py`, the pinned provider plugin, and the policy pack on every preview and up."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from govcloud_platform.errors import InputError, MissingDependency, OperationFailed, PolicyViolation, last_line
from govcloud_platform.iaas.backend import backend_for, ensure_s3_bucket, passphrase
from govcloud_platform.iaas.providers import provider_for
from govcloud_platform.spec import Spec
from govcloud_stacks.naming import PLATFORM_STACK

Action = Literal["preview", "up", "destroy", "refresh"]
POLICY_PACK = Path(__file__).resolve().parents[3] / "policies"
INSTALL_HINT = (
    "the pulumi CLI is not installed: install it with `curl -fsSL https://get.pulumi.com | sh` "
    "(see https://www.pulumi.com/docs/install/); `govcloud iaas plan --offline` works without it"
)


@dataclass
class StackResult:
    stack: str
    action: str
    summary: dict[str, Any]


def require_cli() -> None:
    if shutil.which("pulumi") is None:
        raise MissingDependency(INSTALL_HINT)


def run(spec: Spec, home: Path, action: Action, agency: str | None = None,
        progress: Callable[[str], None] | None = None) -> list[StackResult]:
    """Run `action` on every stack (or one agency's), in dependency order (reverse for destroy)."""
    require_cli()
    if agency is not None and spec.agency(agency) is None:
        raise InputError(f"unknown agency {agency!r}", hint="see `agencies:` in the spec")
    from pulumi import automation as auto

    from govcloud_policies import PolicyContext

    provider = provider_for(spec)
    backend = backend_for(spec, home)
    ec2 = provider.name == "ec2"
    if backend.url.startswith("s3://"):
        ensure_s3_bucket(backend.url, spec.platform.ec2.endpoints.s3 if ec2 else spec.platform.openstack.s3_endpoint)
    say = progress or (lambda _m: None)
    if ec2 and action in ("preview", "up"):
        from govcloud_platform.iaas.ec2_cloud import prepare

        prepare(spec, say)  # images, instance types and zones exist; the operator key is imported
    context_file = backend.work_root / "policy-context.json"
    context_file.parent.mkdir(parents=True, exist_ok=True)
    context_file.write_text(PolicyContext.from_spec(spec).to_json(), encoding="utf-8")
    env = {
        "PULUMI_CONFIG_PASSPHRASE": passphrase(backend),
        "PULUMI_BACKEND_URL": backend.url,
        "GOVCLOUD_POLICY_CONTEXT": str(context_file),
    }
    stacks = provider.stacks(spec, agency)
    if action == "destroy":
        stacks = list(reversed(stacks))
    results: list[StackResult] = []
    for st in stacks:
        work_dir = backend.work_dir(st.name)
        work_dir.mkdir(parents=True, exist_ok=True)
        say(f"{st.name}: {action}")
        try:
            stack = auto.create_or_select_stack(
                stack_name=st.name, project_name=spec.platform.name, program=st.program,
                opts=auto.LocalWorkspaceOptions(
                    work_dir=str(work_dir), env_vars={**os.environ, **env},
                    secrets_provider="passphrase",
                    project_settings=auto.ProjectSettings(
                        name=spec.platform.name, runtime="python",
                        backend=auto.ProjectBackend(url=backend.url),
                    ),
                ),
            )
            stack.workspace.install_plugin(provider.plugin, f"v{provider.plugin_version}")
            stack.set_all_config({k: auto.ConfigValue(v) for k, v in provider.config(spec).items()})
            results.append(_act(stack, st.name, action, say, home if st.name == PLATFORM_STACK else None))
        except FileNotFoundError as exc:  # the Automation API's way of saying there is no pulumi binary
            raise MissingDependency(INSTALL_HINT) from exc
        except auto.errors.CommandError as exc:
            text = str(exc)
            if "mandatory policy violation" in text.lower() or "policy violation" in text.lower():
                raise PolicyViolation(f"{st.name}: {action} blocked by a mandatory policy",
                                      hint="run `govcloud iaas plan --offline` to see which") from None
            raise OperationFailed(f"{st.name}: pulumi {action} failed: {last_line(text)}") from None
    return results


def plain_outputs(outputs: Any) -> dict[str, Any]:
    """Pure: the Automation API's outputs (name -> OutputValue(value, secret)) as plain values; a secret one is
    left out (its value never reaches a file of ours)."""
    return {name: out.value for name, out in (outputs or {}).items() if not getattr(out, "secret", False)}


def _act(stack: Any, name: str, action: Action, say: Callable[[str], None], home: Path | None = None) -> StackResult:
    """One action on one stack. `home`: the platform stack's `up` records its outputs there (the VMs' addresses
    that `govcloud up` deploys onto: `iaas.topology.record_outputs`)."""
    def on_event(event: Any) -> None:
        pre = getattr(event, "resource_pre_event", None)
        if pre is not None and pre.metadata is not None:
            say(f"{name}: {pre.metadata.op.value} {pre.metadata.type} {pre.metadata.urn.rsplit('::', 1)[-1]}")
        diag = getattr(event, "diagnostic_event", None)
        if diag is not None and diag.severity in ("error", "warning"):
            say(f"{name}: {diag.severity}: {diag.message.strip()}")
        policy = getattr(event, "policy_event", None)
        if policy is not None:
            say(f"{name}: policy {policy.policy_name} ({policy.enforcement_level}): {policy.message.strip()}")

    packs = [str(POLICY_PACK)]
    if action == "preview":
        res = stack.preview(on_event=on_event, policy_packs=packs)
        return StackResult(name, action, dict(res.change_summary))
    if action == "up":
        res = stack.up(on_event=on_event, policy_packs=packs)
        if home is not None:
            from govcloud_platform.iaas.topology import record_outputs

            record_outputs(home, plain_outputs(res.outputs))
    elif action == "destroy":
        res = stack.destroy(on_event=on_event)
    else:
        res = stack.refresh(on_event=on_event)
    return StackResult(name, action, dict(res.summary.resource_changes or {}))
