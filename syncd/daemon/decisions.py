"""What the daemon does with one deployment's part of a pass's plan: a pure decision.

The reconciler gathers the facts (the plan, the deployment's state after this commit's
fingerprint was noted, its rollout job if one runs, a node proxy's trouble) and carries the
decision out; deciding apart from doing keeps every branch testable with data
(tests/daemon/test_decisions.py) and keeps the order of the rules in one place.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from syncd.daemon.retries import DeploymentState
from syncd.plan.model import DeploymentPlan


class Action(enum.Enum):
    CANCEL_ROLLOUT = "cancel the running rollout: the commit changed the deployment"
    LET_ROLLOUT_RUN = "a rollout of this fingerprint runs: nothing to add"
    PROXY_FAILING = "converged, but a node's proxy does not serve it: Error of the node"
    CONVERGED = "nothing to change: OK"
    NOTHING = "nothing to change and no state to mark (a removed deployment, already gone)"
    HOLD_FAILED = "Failed at this fingerprint: wait for a commit that changes it"
    WAIT_FOR_NODES = "nothing a rollout could do (no room, nodes unreachable): Error, no attempt"
    WAIT_FOR_RETRY = "Error, and its backoff has not passed"
    PLAN_ONLY = "work to do, but this pass does not dispatch"
    ROLL_OUT = "hand the sub-plan to a rollout job"


@dataclass(frozen=True)
class RunningJob:
    """What the decision needs of a deployment's rollout job in flight."""

    fingerprint: str | None
    cancelling: bool


@dataclass(frozen=True)
class Decision:
    action: Action
    healing: bool = False  # ROLL_OUT of drift at a converged commit and count (not a change)


def decide(
    plan: DeploymentPlan,
    state: DeploymentState | None,
    fingerprint: str | None,
    *,
    job: RunningJob | None,
    proxy_trouble: str | None,
    converged_at_this_count: bool,
    dispatch: bool,
) -> Decision:
    """The rules in order. ``state`` is None for a deployment the commit removed (a prune);
    ``converged_at_this_count``: it was OK at the replica count it wants now, so work to do is
    drift, not autoscaling."""
    if job is not None:
        if job.fingerprint != fingerprint and not job.cancelling:
            return Decision(Action.CANCEL_ROLLOUT)
        return Decision(Action.LET_ROLLOUT_RUN)
    if not plan.has_changes:
        if state is None:
            return Decision(Action.NOTHING)
        return Decision(Action.PROXY_FAILING if proxy_trouble else Action.CONVERGED)
    if state is not None and state.state == "Failed":
        return Decision(Action.HOLD_FAILED)
    if plan.unplaceable and not (plan.start or plan.remove or plan.replace):
        return Decision(Action.WAIT_FOR_NODES)
    if state is not None and state.state == "Error" and not state.retry_due():
        return Decision(Action.WAIT_FOR_RETRY)
    if not dispatch:
        return Decision(Action.PLAN_ONLY)
    healing = state is not None and state.state == "OK" and converged_at_this_count
    return Decision(Action.ROLL_OUT, healing=healing)


def wanted_replicas(plan: DeploymentPlan, overrides: Mapping[str, int]) -> int:
    """The count the deployment runs at: the autoscaler's when it decided one (at least 1),
    else the commit's; 0 for a deployment the commit removed."""
    if plan.desired is None:
        return 0
    return max(overrides.get(plan.deployment_id, plan.desired.replicas), 1)


def ok_details(replicas: int, autoscaling: str | None, last_heal: str | None) -> str:
    """The sentence of an OK deployment: "3 of 3 replicas running and healthy; autoscaled
    2..10, now 3." and the last drift healed, if any."""
    sentence = (
        f"{replicas} of {replicas} replica{'s' if replicas != 1 else ''} running and healthy."
    )
    if autoscaling:
        sentence = f"{sentence[:-1]}; {autoscaling}."
    if last_heal:
        sentence += f" {last_heal}"
    return sentence
