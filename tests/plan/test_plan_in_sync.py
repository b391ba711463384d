"""A deployment that runs as wanted is planned without a draft (``_unchanged``, the daemon's usual
pass); the general path (``_assess`` then ``_finish``) must give the very same plan for it, and a
deployment that is not quite in sync must never take the short cut."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.plan.allocator import Allocator
from syncd.plan.model import ActionKind
from syncd.plan.planner import _assess, _finish, _in_sync, _unchanged, plan
from syncd.state import NodeFacts, ObservedInstance, ObservedState
from tests.plan.builders import desired_state

NODES = [{"id": f"n{i}", "cluster": "c1", "cpu": "8", "memory": "8Gi"} for i in range(4)]
_T0 = datetime(2026, 1, 1)

instance_st = st.fixed_dictionaries(
    {
        "node": st.sampled_from([n["id"] for n in NODES]),
        "health": st.sampled_from(["healthy", "none", "starting"]),
        "state": st.sampled_from(["running", "restarting", "paused"]),
        "minutes": st.integers(0, 100),
        "container": st.text("abcdef0123456789", min_size=4, max_size=8),
    }
)


def _instances(target: str, raw: list[dict[str, object]]) -> list[ObservedInstance]:
    return [
        ObservedInstance(
            node_id=str(item["node"]),
            container_id=f"{item['container']}{index}",
            name=f"d0-{index}",
            deployment_id="d0",
            replica=index,
            spec_hash=target,
            commit="c",
            state=item["state"],  # type: ignore[arg-type]
            health=item["health"],  # type: ignore[arg-type]
            created_at=_T0 + timedelta(minutes=int(str(item["minutes"]))),
            cpu_millis=100,
        )
        for index, item in enumerate(raw)
    ]


@settings(max_examples=200, deadline=None)
@given(
    raw=st.lists(instance_st, min_size=1, max_size=5),
    shuffle=st.randoms(use_true_random=False),
    autoscaled=st.booleans(),
)
def test_the_short_cut_gives_the_plan_of_the_general_path(raw, shuffle, autoscaled):
    desired = desired_state({"nodes": NODES, "deployments": [{"id": "d0", "replicas": 1}]})
    wanted = desired.deployments[0]
    instances = _instances(wanted.spec_hash, raw)
    shuffle.shuffle(instances)  # the observed order is the engines', not the replicas'
    replicas = len(instances)
    reachable = {n["id"] for n in NODES}
    assert _in_sync(instances, replicas, wanted.spec_hash, reachable)
    facts = {n: NodeFacts(n, reachable=True) for n in reachable}
    allocator = Allocator(desired.nodes, facts, instances)
    draft = _assess(wanted, replicas, instances, reachable, allocator)
    draft.autoscaled = autoscaled
    assert _unchanged(wanted, replicas, instances, autoscaled) == _finish(draft)


@settings(max_examples=200, deadline=None)
@given(
    raw=st.lists(instance_st, min_size=1, max_size=4),
    flaw=st.sampled_from(["old hash", "failed", "duplicate", "unreachable", "one more"]),
)
def test_a_deployment_not_quite_in_sync_takes_the_general_path(raw, flaw):
    desired = desired_state({"nodes": NODES, "deployments": [{"id": "d0", "replicas": 1}]})
    wanted = desired.deployments[0]
    instances = _instances(wanted.spec_hash, raw)
    replicas = len(instances)
    reachable = {n["id"] for n in NODES}
    first = instances[0]
    if flaw == "old hash":
        instances[0] = ObservedInstance(**{**vars(first), "spec_hash": "0" * 64})
    elif flaw == "failed":
        instances[0] = ObservedInstance(**{**vars(first), "state": "exited"})
    elif flaw == "duplicate":
        instances.append(ObservedInstance(**{**vars(first), "container_id": "dup"}))
        replicas += 1  # the count matches; the index repeats
    elif flaw == "unreachable":
        reachable.discard(first.node_id)
    else:
        replicas += 1
    assert not _in_sync(instances, replicas, wanted.spec_hash, reachable)
    observed = ObservedState(
        nodes={n["id"]: NodeFacts(n["id"], reachable=n["id"] in reachable) for n in NODES},
        instances=tuple(instances),
    )
    result = plan(desired, observed, replica_overrides={"d0": replicas})
    assert result.deployments[0].actions != (ActionKind.NOOP,)
