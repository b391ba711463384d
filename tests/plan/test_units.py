"""Quantities in plans come from syncd.spec.quantities: exact in diffed fields, approximate
only where the planner reports free room."""

from __future__ import annotations

from syncd.plan import plan, plan_offline
from syncd.spec.quantities import parse_memory
from tests.plan.builders import desired_state, observed_state

# the case builders read whole numbers with a unit; these are what "1.3Gi" and "1.31Gi" parse to
GI_1_3 = str(parse_memory("1.3Gi"))
GI_1_31 = str(parse_memory("1.31Gi"))


def test_a_memory_change_no_unit_divides_still_shows_in_the_offline_diff():
    """1.3Gi and 1.31Gi both read "~1.3Gi" rounded: the field must show the exact bytes, or
    the rollout would list no changed field at all."""
    base = {"deployments": [{"id": "api", "memory": GI_1_3}]}
    head = {"deployments": [{"id": "api", "memory": GI_1_31}]}
    (deployment,) = plan_offline(desired_state(base), desired_state(head)).deployments
    assert [(c.path, c.old, c.new) for c in deployment.changes] == [
        ("resources.memory", GI_1_3, GI_1_31)
    ]


def test_free_room_in_an_unplaceable_reason_reads_approximately():
    case = {
        "nodes": [{"id": "node-a", "cpu": "4", "memory": GI_1_3}],
        "deployments": [{"id": "big", "memory": "2Gi"}],
    }
    desired = desired_state(case)
    (deployment,) = plan(desired, observed_state(case, desired)).deployments
    assert [
        [(node, str(why)) for node, why in failure.reasons] for failure in deployment.unplaceable
    ] == [[("node-a", "needs 2Gi memory, ~1.3Gi free")]]
