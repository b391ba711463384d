"""What the nodes would run after a plan is carried out, without running it: for property tests
and the plan benchmarks, which need realistic observed states of any size."""

from __future__ import annotations

from syncd.plan.model import Plan
from syncd.plan.planner import plan
from syncd.spec.desired import DesiredState
from syncd.state import NodeFacts, ObservedInstance, ObservedState


def applied(the_plan: Plan, desired: DesiredState) -> tuple[ObservedInstance, ...]:
    """Kept instances plus every started one, running and healthy at its target hash."""
    instances: list[ObservedInstance] = []
    for deployment in the_plan.deployments:
        instances.extend(deployment.keep)
        wanted = desired.deployment(deployment.deployment_id)
        if wanted is None:
            continue
        resources = wanted.spec.resources
        for placement in deployment.start:
            name = f"{wanted.id}-{placement.replica}-{placement.node_id}"
            instances.append(
                ObservedInstance(
                    node_id=placement.node_id,
                    container_id=name,
                    name=name,
                    deployment_id=wanted.id,
                    replica=placement.replica,
                    spec_hash=wanted.spec_hash,
                    commit="c",
                    state="running",
                    health="healthy",
                    cpu_millis=resources.cpu_millis or 0,
                    memory_bytes=resources.memory_bytes or 0,
                    host_ports=tuple(f"{p.host}/{p.protocol}" for p in wanted.spec.ports),
                )
            )
    return tuple(instances)


def all_reachable(desired: DesiredState) -> ObservedState:
    """Every declared node reachable, nothing running yet."""
    return ObservedState(nodes={n.id: NodeFacts(n.id, reachable=True) for n in desired.nodes})


def steady_state(desired: DesiredState) -> ObservedState:
    """The daemon's usual pass: every replica of the create plan already running healthy."""
    empty = all_reachable(desired)
    return ObservedState(nodes=empty.nodes, instances=applied(plan(desired, empty), desired))
