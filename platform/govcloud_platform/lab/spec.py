"""The spec a lab writes: the example spec of `govcloud init`, with `platform.target: hosts` and a
`platform.topology` of the lab's hosts. Pure: text in, text out (comments of the example are kept)."""

from __future__ import annotations

import io
from typing import Any

from govcloud_platform.lab.plan import LabPlan
from govcloud_platform.spec.topology import Topology


def topology_data(plan: LabPlan) -> dict[str, Any]:
    """The lab's topology as it appears in the spec (absolute paths: the spec may be moved, the lab not)."""
    return {
        "ssh": {"user": "root", "key_file": str(plan.key), "known_hosts": str(plan.known_hosts)},
        "hosts": [
            {"name": h.name, "address": h.address, "root": str(h.root), "groups": list(h.groups)}
            for h in plan.hosts
        ],
    }


def topology_for(plan: LabPlan) -> Topology:
    return Topology.model_validate(topology_data(plan))


def lab_spec_text(plan: LabPlan, example: str) -> str:
    """`example` with the lab's target and topology; the topology block goes just before `openstack:`."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    yaml = YAML(typ="rt")
    yaml.width = 120
    yaml.preserve_quotes = True
    doc = yaml.load(example)
    platform = doc["platform"]
    platform["target"] = "hosts"
    data = topology_data(plan)
    ssh = CommentedMap(data["ssh"])
    hosts = CommentedSeq()
    for h in data["hosts"]:
        entry = CommentedMap(h)
        groups = CommentedSeq(h["groups"])
        groups.fa.set_flow_style()
        entry["groups"] = groups
        hosts.append(entry)
    topology = CommentedMap([("ssh", ssh), ("hosts", hosts)])
    keys = list(platform.keys())
    at = keys.index("openstack") if "openstack" in keys else len(keys)
    platform.insert(at, "topology", topology)
    platform.yaml_set_comment_before_after_key(
        "topology",
        before=f"{len(plan.hosts)} host(s) of lab {plan.name!r} in network namespaces on this machine, written by "
        "`govcloud lab up`;\n`govcloud lab down` removes them. Log in with "
        f"`ssh -F {plan.ssh_config} h1`",
        indent=2,
    )
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()
