"""The daemon's per-deployment decision (syncd/daemon/decisions.py), with data: each rule, and
the order in which they apply."""

from __future__ import annotations

import dataclasses

import pytest

from syncd.daemon.decisions import Action, RunningJob, decide, ok_details
from syncd.daemon.retries import DeploymentState
from syncd.plan.model import ActionKind, DeploymentPlan, Placement, PlacementFailure

IN_SYNC = DeploymentPlan("depl_a", (ActionKind.NOOP,), None, ("h1",), "h1")
UPDATE = DeploymentPlan(
    "depl_a", (ActionKind.ROLLING_UPDATE,), None, ("h1",), "h2", start=(Placement(0, "n1"),)
)
NO_ROOM = DeploymentPlan(
    "depl_a",
    (ActionKind.CREATE,),
    None,
    (),
    "h2",
    unplaceable=(PlacementFailure((0, 1), (), 3),),
)


def state(name: str = "OK", **fields: object) -> DeploymentState:
    return dataclasses.replace(DeploymentState("depl_a", "fp1", state=name), **fields)  # type: ignore[arg-type]


def decided(plan: DeploymentPlan, current: DeploymentState | None, **facts: object) -> Action:
    given: dict[str, object] = {
        "job": None,
        "proxy_trouble": None,
        "converged_at_this_count": False,
        "dispatch": True,
    }
    given.update(facts)
    return decide(plan, current, "fp1", **given).action  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("job", "expected"),
    [
        (RunningJob("fp0", cancelling=False), Action.CANCEL_ROLLOUT),  # a newer commit
        (RunningJob("fp0", cancelling=True), Action.LET_ROLLOUT_RUN),  # cancelled already
        (RunningJob("fp1", cancelling=False), Action.LET_ROLLOUT_RUN),  # rolling this commit
    ],
)
def test_a_running_rollout_is_cancelled_only_when_the_commit_changed_it(job, expected):
    # whatever the plan says: the job owns the deployment until it ends
    assert decided(UPDATE, state("Deploying"), job=job) is expected
    assert decided(IN_SYNC, state("Deploying"), job=job) is expected


def test_in_sync_is_ok_unless_a_node_proxy_fails_to_serve_it():
    assert decided(IN_SYNC, state("Error")) is Action.CONVERGED  # healed by hand counts
    assert decided(IN_SYNC, state("OK"), proxy_trouble="node-a: bind failed") is (
        Action.PROXY_FAILING
    )
    assert decided(IN_SYNC, None) is Action.NOTHING  # a removed deployment already gone


def test_failed_waits_for_a_commit_even_when_the_nodes_could_take_it():
    assert decided(UPDATE, state("Failed")) is Action.HOLD_FAILED
    assert decided(NO_ROOM, state("Failed")) is Action.HOLD_FAILED


def test_no_room_is_waiting_for_the_nodes_not_an_attempt():
    assert decided(NO_ROOM, state("Error", retry_at=None)) is Action.WAIT_FOR_NODES
    partly = dataclasses.replace(NO_ROOM, start=(Placement(0, "n1"),))
    assert decided(partly, state("Pending")) is Action.ROLL_OUT  # what fits goes ahead


def test_an_error_waits_for_its_backoff():
    assert decided(UPDATE, state("Error", retry_at=4e9)) is Action.WAIT_FOR_RETRY
    assert decided(UPDATE, state("Error", retry_at=1.0)) is Action.ROLL_OUT


def test_a_pass_that_does_not_dispatch_only_plans():
    assert decided(UPDATE, state("Pending"), dispatch=False) is Action.PLAN_ONLY


def test_work_at_a_converged_count_is_healing_drift():
    def healing(current: DeploymentState | None, converged: bool) -> bool:
        facts = {"job": None, "proxy_trouble": None, "dispatch": True}
        decision = decide(UPDATE, current, "fp1", converged_at_this_count=converged, **facts)  # type: ignore[arg-type]
        assert decision.action is Action.ROLL_OUT
        return decision.healing

    assert healing(state("OK"), converged=True)
    assert not healing(state("OK"), converged=False)  # the autoscaler changed the count
    assert not healing(state("Pending"), converged=True)  # a new commit, not drift
    assert not healing(None, converged=True)  # a prune


def test_ok_details_say_the_count_the_autoscaler_and_the_last_heal():
    assert ok_details(1, None, None) == "1 of 1 replica running and healthy."
    assert ok_details(3, "autoscaled 2..10, now 3", "Healed 1 missing instance.") == (
        "3 of 3 replicas running and healthy; autoscaled 2..10, now 3. Healed 1 missing instance."
    )
