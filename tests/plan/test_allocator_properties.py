"""Allocator and planner invariants, over generated clusters (hypothesis): never over capacity,
deterministic, stable, regions respected, host ports never shared, spread as even as allowed."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncd.plan.model import ActionKind
from syncd.plan.planner import plan
from syncd.plan.rooms import in_target_regions
from syncd.state import ObservedInstance, ObservedState
from testkit.simulated import applied
from tests.plan.builders import desired_state, node_facts

CLUSTERS = ("c1", "c2")
ZONES = ("z1", "z2", None)

node_st = st.fixed_dictionaries(
    {
        "cluster": st.sampled_from(CLUSTERS),
        "zone": st.sampled_from(ZONES),
        "cpu": st.integers(1, 8).map(lambda n: f"{n * 500}m"),
        "memory": st.integers(1, 8).map(lambda n: f"{n * 256}Mi"),
    }
)
deployment_st = st.fixed_dictionaries(
    {
        "replicas": st.integers(1, 5),
        "cpu": st.one_of(st.none(), st.integers(1, 6).map(lambda n: f"{n * 250}m")),
        "memory": st.one_of(st.none(), st.integers(1, 6).map(lambda n: f"{n * 128}Mi")),
        "regions": st.lists(
            st.fixed_dictionaries({"cluster": st.sampled_from(CLUSTERS)}), max_size=2
        ),
        "ports": st.sampled_from([[], ["8080:80"], ["9090:90/udp"]]),
    }
)
case_st = st.fixed_dictionaries(
    {
        "nodes": st.lists(node_st, min_size=1, max_size=6),
        "deployments": st.lists(deployment_st, min_size=1, max_size=4),
        "unreachable": st.sets(st.integers(0, 5), max_size=2),
    }
).map(lambda raw: _named(raw))


def _named(raw: dict[str, Any]) -> dict[str, Any]:
    nodes = []
    for index, node in enumerate(raw["nodes"]):
        nodes.append({**node, "id": f"n{index}", "reachable": index not in raw["unreachable"]})
    deployments = [{**d, "id": f"d{index}"} for index, d in enumerate(raw["deployments"])]
    return {
        "nodes": nodes,
        "deployments": [{k: v for k, v in d.items() if v is not None} for d in deployments],
    }


def _observed(case: dict[str, Any], instances: tuple[ObservedInstance, ...] = ()) -> ObservedState:
    return ObservedState(nodes={n["id"]: node_facts(n) for n in case["nodes"]}, instances=instances)


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(case_st)
def test_never_over_capacity_regions_and_ports_respected(case):
    desired = desired_state(case)
    result = plan(desired, _observed(case))
    running = applied(result, desired)
    nodes = {n.id: n for n in desired.nodes}
    cpu: Counter[str] = Counter()
    memory: Counter[str] = Counter()
    ports: dict[str, Counter[str]] = defaultdict(Counter)
    for instance in running:
        cpu[instance.node_id] += instance.cpu_millis
        memory[instance.node_id] += instance.memory_bytes
        for port in instance.host_ports:
            ports[instance.node_id][port] += 1
    for node_id, node in nodes.items():
        assert node.capacity is not None
        assert cpu[node_id] <= node.capacity.cpu_millis
        assert memory[node_id] <= node.capacity.memory_bytes
        assert all(count == 1 for count in ports[node_id].values())
    reachable = {n["id"] for n in case["nodes"] if n["reachable"]}
    for deployment in result.deployments:
        wanted = desired.deployment(deployment.deployment_id)
        for placement in deployment.start:
            assert placement.node_id in reachable
            assert in_target_regions(nodes[placement.node_id], wanted.deployment.target_regions)
        # every replica is either placed or explained, node by node
        assert len(deployment.start) + deployment.unplaceable_replicas == wanted.replicas
        for failure in deployment.unplaceable:
            assert {node for node, _ in failure.reasons} == set(nodes)


@FAST
@given(case_st)
def test_deterministic_whatever_the_input_order(case):
    desired = desired_state(case)
    first = plan(desired, _observed(case))
    assert plan(desired, _observed(case)) == first
    reversed_case = {**case, "deployments": case["deployments"][::-1], "nodes": case["nodes"][::-1]}
    assert plan(desired_state(reversed_case), _observed(reversed_case)) == first


@FAST
@given(case_st, st.integers(0, 3))
def test_stable_healthy_instances_never_move(case, extra):
    desired = desired_state(case)
    running = applied(plan(desired, _observed(case)), desired)
    again = plan(desired, _observed(case, running))
    for deployment in again.deployments:
        assert not deployment.remove and not deployment.replace
        if not deployment.unplaceable:
            assert deployment.actions == (ActionKind.NOOP,)
    # Growing one deployment never touches what runs.
    grown = {**case, "deployments": [dict(d) for d in case["deployments"]]}
    grown["deployments"][0]["replicas"] += extra
    after = plan(desired_state(grown), _observed(grown, running))
    kept = {i.container_id for d in after.deployments for i in d.keep}
    assert kept == {i.container_id for i in running}


@FAST
@given(
    st.lists(st.tuples(st.sampled_from(ZONES), st.just(None)), min_size=1, max_size=6),
    st.integers(1, 12),
)
def test_spread_is_as_even_as_capacity_allows(zones, replicas):
    case = {
        "nodes": [{"id": f"n{i}", "zone": zone} for i, (zone, _) in enumerate(zones)],
        "deployments": [{"id": "web", "replicas": replicas}],
    }
    desired = desired_state(case)
    (deployment,) = plan(desired, _observed(case)).deployments
    per_node = Counter(p.node_id for p in deployment.start)
    zone_of = {n["id"]: n["zone"] for n in case["nodes"]}
    per_zone = Counter(zone_of[p.node_id] for p in deployment.start)
    zones_present = set(zone_of.values())
    counts = [per_zone.get(zone, 0) for zone in zones_present]
    assert max(counts) - min(counts) <= 1
    for zone in zones_present:
        in_zone = [per_node.get(n, 0) for n, z in zone_of.items() if z == zone]
        assert max(in_zone) - min(in_zone) <= 1


@FAST
@given(case_st, st.integers(0, 3))
def test_fast_placement_equals_the_brute_force_scan(case, extra):
    """Allocator.place searches zones and nodes in order; place_by_scan looks at every node.
    Same answer, including after some instances already run and the counts grow."""
    from unittest import mock

    from syncd.plan.allocator import Allocator

    desired = desired_state(case)
    fast = plan(desired, _observed(case))
    with mock.patch.object(Allocator, "place", Allocator.place_by_scan):
        assert plan(desired, _observed(case)) == fast
    grown = {
        **case,
        "deployments": [dict(d, replicas=d["replicas"] + extra) for d in case["deployments"]],
    }
    running = applied(fast, desired)
    again = plan(desired_state(grown), _observed(grown, running))
    with mock.patch.object(Allocator, "place", Allocator.place_by_scan):
        assert plan(desired_state(grown), _observed(grown, running)) == again
