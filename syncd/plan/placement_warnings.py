"""The plan's warnings about where instances run: unreachable nodes, instances outside their regions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from syncd.plan.ordering import replica_order
from syncd.plan.rooms import in_target_regions
from syncd.spec.desired import DesiredState
from syncd.state import NodeFacts, ObservedInstance, ObservedState


def placement_warnings(
    desired: DesiredState,
    observed: ObservedState,
    facts: Mapping[str, NodeFacts],
    by_deployment: Mapping[str, Iterable[ObservedInstance]],
    desired_ids: set[str],
) -> list[str]:
    warnings = []
    unreachable = sorted(node_id for node_id, fact in facts.items() if not fact.reachable)
    # One count over the instances, not one per unreachable node (a whole site can go dark).
    per_node = Counter(i.node_id for i in observed.instances) if unreachable else Counter()
    for node_id in unreachable:
        error = facts[node_id].error
        detail = f": {error}" if error else ""
        warnings.append(
            f"node {node_id} is unreachable{detail}; its {_count(per_node[node_id], 'instance')} "
            "are not counted and cannot be removed until it returns"
        )
    nodes = {node.id: node for node in desired.nodes}
    for wanted in sorted(desired.deployments, key=lambda d: d.id):
        regions = wanted.deployment.target_regions
        if not regions:
            continue
        outside = [
            instance
            for instance in by_deployment.get(wanted.id, ())
            if instance.node_id in nodes and not in_target_regions(nodes[instance.node_id], regions)
        ]
        for instance in sorted(outside, key=replica_order):  # rare: sorted only when found
            warnings.append(
                f"{wanted.id} replica {instance.replica} runs on {instance.node_id}, outside "
                "its target regions; it moves at the next rollout"
            )
    return warnings


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
