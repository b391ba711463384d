"""RollingUpdate arithmetic, exhaustively, against the in-memory driver (testkit.memory_driver).

Every maxSurge/maxUnavailable pair from 0 to ``replicas`` for 1 to 10 replicas (but both 0, which
the schema refuses), each with a fault injected at every step of the rollout: the first new
instance of a step crashes at once, crashes after a few health looks (while later steps
progress) or cannot be created; the node of a step's first operation stops answering; the whole
version crashes; the image cannot be pulled; the version never becomes healthy. The real planner
and apply engine run unchanged; the fake records a snapshot after every change, and at every one
of them both bounds hold: instances that exist and are not parked <= replicas + maxSurge,
serving ones >= replicas - maxUnavailable (docs/apply.md, syncd/apply/strategies.py).

At the end, success leaves every replica index once at the new version; a failure leaves exactly
the old containers serving (the bad version reverted whole), nothing parked or stray, and the
report's outcome and retryable follow the failure. The real-engine tests (test_rollouts.py)
stay: they prove that Docker and the driver behave as the fake assumes.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from syncd.apply.strategies import resolve_bounds
from syncd.errors import SpecError
from syncd.spec.repository import load_repository
from testkit.memory_driver import Fault, MemoryCluster
from testkit.repo import TestRepo
from testkit.services import deployment
from tests.apply.rolloutkit import (
    DEPLOYMENT,
    GRID,
    MISSING_IMAGE,
    NODES,
    OPTIONS,
    RECREATE,
    STEP_FAULTS,
    assert_converged,
    assert_one_version_at_a_time,
    assert_reverted_whole,
    assert_rolling_bounds,
    one_pass,
    roll,
    rolling,
    steps_of,
    update,
    versions_fixture,  # noqa: F401 (pytest finds it as the `versions` fixture)
)


def test_both_bounds_zero_is_refused(tmp_path: Path) -> None:
    """The one pair the grid leaves out: the loader refuses it before any plan."""
    repo = TestRepo(tmp_path / "repo", NODES)
    strategy = {"type": "RollingUpdate", "maxSurge": 0, "maxUnavailable": 0}
    repo.write([deployment(DEPLOYMENT, 3, strategy=strategy)])
    with pytest.raises(SpecError, match="maxSurge and maxUnavailable are both 0"):
        load_repository(repo.root)


@pytest.mark.parametrize(("replicas", "surge", "unavailable"), GRID)
def test_rolling_update_keeps_both_bounds_and_converges(
    versions, replicas, surge, unavailable
) -> None:
    strategy = rolling(surge, unavailable)
    rollout = roll(*update(versions, replicas, strategy))
    assert rollout.result.outcome == "ok", rollout.result
    assert_rolling_bounds(rollout.snapshots(), replicas, strategy)
    assert_converged(rollout, replicas)
    assert (rollout.result.started, rollout.result.removed) == (replicas, replicas)


@pytest.mark.parametrize("kind", STEP_FAULTS)
@pytest.mark.parametrize(("replicas", "surge", "unavailable"), GRID)
def test_a_failure_at_any_step_is_reverted_whole(
    versions, replicas, surge, unavailable, kind
) -> None:
    strategy = rolling(surge, unavailable)
    old, new = update(versions, replicas, strategy)
    starts = [step.create for step in steps_of(old, new) if step.create is not None]
    assert starts, "a clean rollout starts new instances"
    for first_new in starts:
        rollout = roll(old, new, Fault(kind, at=first_new))
        context = f"{kind} at new instance {first_new}"
        assert_rolling_bounds(rollout.snapshots(), replicas, strategy)
        assert_reverted_whole(rollout)
        (faulted,) = rollout.cluster.faulted
        assert faulted in rollout.result.reason, (context, rollout.result)


@pytest.mark.parametrize(("replicas", "surge", "unavailable"), GRID)
def test_a_version_crashing_everywhere_costs_nothing(
    versions, replicas, surge, unavailable
) -> None:
    strategy = rolling(surge, unavailable)
    rollout = roll(*update(versions, replicas, strategy, to="crash"))
    assert_rolling_bounds(rollout.snapshots(), replicas, strategy)
    assert_reverted_whole(rollout)
    assert "exited with code 3: boom: bad config for version 2" in rollout.result.reason
    max_surge, _ = resolve_bounds(strategy, replicas)
    if max_surge:
        # hold old until replaced: with surge room, no old instance stops serving for a version
        # that never serves (docs/apply.md); without it, the bounds above are all there is
        for snapshot in rollout.snapshots():
            old_serving = [
                i
                for i in snapshot.of(DEPLOYMENT)
                if i.serving and i.container_id in rollout.old_ids
            ]
            assert len(old_serving) == replicas, (
                f"an old instance stopped serving after {snapshot.change}"
            )


@pytest.mark.parametrize(("replicas", "surge", "unavailable"), GRID)
def test_a_node_lost_at_any_step_then_back_converges(
    versions, replicas, surge, unavailable
) -> None:
    strategy = rolling(surge, unavailable)
    old, new = update(versions, replicas, strategy)
    for step in steps_of(old, new):
        rollout = roll(old, new, Fault("unreachable", at=step.operation))
        (lost,) = rollout.cluster.unreachable
        context = f"{lost} lost at the first operation of {step}"
        result = rollout.result
        assert (result.outcome, result.retryable, result.reverted) == ("error", True, False), (
            context,
            result,
        )
        assert_rolling_bounds(rollout.snapshots(), replicas, strategy)
        rollout.cluster.reconnect(lost)
        assert rollout.another_pass(new).ok, (context, rollout.report)
        assert_rolling_bounds(rollout.snapshots(), replicas, strategy)
        assert_converged(rollout, replicas)


# --------------------------------------------------------------------------- either strategy


STRATEGIES = [
    pytest.param(rolling(1, 0), id="rolling-surge1-unavail0"),
    pytest.param(rolling(0, 1), id="rolling-surge0-unavail1"),
    pytest.param(rolling(2, 2), id="rolling-surge2-unavail2"),
    pytest.param(RECREATE, id="recreate"),
]


@pytest.mark.parametrize("replicas", [1, 4, 10])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_an_image_that_cannot_be_pulled_changes_nothing(versions, strategy, replicas) -> None:
    old, new = update(versions, replicas, strategy, to="missing")
    cluster = MemoryCluster(node.id for node in NODES)
    cluster.missing_images.add(MISSING_IMAGE)
    assert one_pass(cluster, old, commit="v1").ok
    before = len(cluster.history)
    report = one_pass(cluster, new, commit="v2")
    result = report.result(DEPLOYMENT)
    assert result is not None
    assert (result.outcome, result.retryable) == ("failed", False), result
    assert f"image {MISSING_IMAGE} is not present on node" in result.reason
    assert len(cluster.history) == before, "a container changed although the image is missing"


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_version_that_never_becomes_healthy_is_reverted_at_the_deadline(
    versions, strategy
) -> None:
    """The one path that waits: the progress deadline (real time, so kept short and rare)."""
    replicas = 3
    old, new = update(versions, replicas, strategy, to="sick")
    rollout = roll(
        old, new, options=replace(OPTIONS, progress_deadline_s=1.0, poll_interval_s=0.01)
    )
    if strategy.type == "Recreate":
        assert_one_version_at_a_time(rollout.snapshots())
    else:
        assert_rolling_bounds(rollout.snapshots(), replicas, strategy)
    assert_reverted_whole(rollout)
    assert "health check not passing: warming up forever" in rollout.result.reason
