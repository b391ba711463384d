"""Recreate arithmetic, exhaustively, against the in-memory driver (testkit.memory_driver).

1 to 10 replicas, a fault at every new instance (crash at once, crash later, create refused) and
a node lost at every step: at every recorded change the instances that exist (parked ones aside)
are of one version; a failure brings exactly the old containers back; a lost node, once back,
lets the next pass converge. The RollingUpdate grid is in test_rollout_arithmetic.py.
"""

from __future__ import annotations

import pytest

from syncd.apply.instances import Redactor, create_instance
from syncd.plan.model import Placement
from testkit.memory_driver import Fault, MemoryCluster
from tests.apply.rolloutkit import (
    DEPLOYMENT,
    NODES,
    RECREATE,
    RECREATE_GRID,
    STEP_FAULTS,
    assert_converged,
    assert_one_version_at_a_time,
    assert_reverted_whole,
    one_pass,
    roll,
    update,
    versions_fixture,  # noqa: F401 (pytest finds it as the `versions` fixture)
    with_shape,
)


@pytest.mark.parametrize("replicas", RECREATE_GRID)
def test_recreate_never_runs_two_versions_and_converges(versions, replicas) -> None:
    rollout = roll(*update(versions, replicas, RECREATE))
    assert rollout.result.outcome == "ok", rollout.result
    assert_one_version_at_a_time(rollout.snapshots())
    assert_converged(rollout, replicas)


@pytest.mark.parametrize("kind", STEP_FAULTS)
@pytest.mark.parametrize("replicas", RECREATE_GRID)
def test_a_recreate_failing_at_any_step_is_reverted_whole(versions, replicas, kind) -> None:
    old, new = update(versions, replicas, RECREATE)
    for step in range(replicas):
        rollout = roll(old, new, Fault(kind, at=step))
        assert_one_version_at_a_time(rollout.snapshots())
        assert_reverted_whole(rollout)
        (faulted,) = rollout.cluster.faulted
        assert faulted in rollout.result.reason, (f"{kind} at new instance {step}", rollout.result)


@pytest.mark.parametrize("replicas", RECREATE_GRID)
def test_a_recreate_losing_a_node_at_any_step_then_back_converges(versions, replicas) -> None:
    old, new = update(versions, replicas, RECREATE)
    clean = roll(old, new)
    # every node operation, not only each step's first: a Recreate has few enough
    for step in range(clean.cluster.operations - clean.operations_before):
        rollout = roll(old, new, Fault("unreachable", at=step))
        (lost,) = rollout.cluster.unreachable
        assert rollout.result.outcome == "error" and rollout.result.retryable, rollout.result
        assert_one_version_at_a_time(rollout.snapshots())
        rollout.cluster.reconnect(lost)
        assert rollout.another_pass(new).ok, (f"{lost} lost at operation {step}", rollout.report)
        assert_one_version_at_a_time(rollout.snapshots())
        assert_converged(rollout, replicas)


def test_a_pass_after_a_kill_waits_for_the_new_instance_it_keeps(versions) -> None:
    """A Recreate killed right after creating replica 0 of the new version (still starting, and
    about to crash): the next pass keeps it and starts replica 1. It must not report the
    deployment up to date before replica 0 has served."""
    new = with_shape(versions["v2"], 2, RECREATE)
    (desired,) = new.deployments
    cluster = MemoryCluster(node.id for node in NODES)
    cluster.inject(Fault("crash_later", at=0))
    killed_pass_driver = cluster.pool().driver("node-a")
    create_instance(
        killed_pass_driver,
        desired,
        Placement(node_id="node-a", replica=0),
        commit="killed",
        env=desired.spec.env,
        redact=Redactor(),
    )
    report = one_pass(cluster, new, commit="v2")
    result = report.result(DEPLOYMENT)
    assert result is not None and result.outcome != "ok", (
        "reported ok, yet the kept replica 0 crashes on its next health look"
    )
