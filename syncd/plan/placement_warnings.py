"""The plan's warnings about where instances run: unreachable nodes, instances outside their regions."""

from __future__ import annotations

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
    for node_id in sorted(facts):
        fact = facts[node_id]
        if not fact.reachable:
            held = sum(1 for i in observed.instances if i.node_id == node_id)
            detail = f": {fact.error}" if fact.error else ""
            warnings.append(
                f"node {node_id} is unreachable{detail}; its {_count(held, 'instance')} "
                "are not counted and cannot be removed until it returns"
            )
    nodes = {node.id: node for node in desired.nodes}
    for wanted in sorted(desired.deployments, key=lambda d: d.id):
        regions = wanted.deployment.target_regions
        if not regions:
            continue
        for instance in sorted(by_deployment.get(wanted.id, ()), key=replica_order):
            node = nodes.get(instance.node_id)
            if node is not None and not in_target_regions(node, regions):
                warnings.append(
                    f"{wanted.id} replica {instance.replica} runs on {node.id}, outside its "
                    "target regions; it moves at the next rollout"
                )
    return warnings


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
