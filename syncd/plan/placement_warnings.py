"""The plan's warnings about where instances run: unreachable nodes, instances outside their regions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence

from syncd.plan.ordering import replica_order
from syncd.spec.desired import DesiredState
from syncd.spec.models import NodeSpec, TargetRegion
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
        inside = region_test(regions)
        outside = [
            instance
            for instance in by_deployment.get(wanted.id, ())
            if instance.node_id in nodes and not inside(nodes[instance.node_id])
        ]
        for instance in sorted(outside, key=replica_order):  # rare: sorted only when found
            warnings.append(
                f"{wanted.id} replica {instance.replica} runs on {instance.node_id}, outside "
                "its target regions; it moves at the next rollout"
            )
    return warnings


def region_test(regions: Sequence[TargetRegion]) -> Callable[[NodeSpec], bool]:
    """``in_target_regions(node, regions)`` as one set lookup per node (it is asked for every
    instance of every deployment); ``regions`` must not be empty."""
    clusters = {region.cluster for region in regions if region.zone is None}
    zones = {(region.cluster, region.zone) for region in regions if region.zone is not None}
    if not zones:
        return lambda node: node.cluster in clusters
    return lambda node: node.cluster in clusters or (node.cluster, node.zone) in zones


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
