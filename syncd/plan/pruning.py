"""Deployments observed but no longer in Git: their plans, and the guard against a mass prune.

An empty or truncated checkout looks exactly like every deployment deleted, so a plan that would
prune more than half of the managed instances is refused unless asked for.
"""

from __future__ import annotations

from syncd.errors import PlanError
from syncd.plan.model import ActionKind, DeploymentPlan
from syncd.plan.ordering import replica_order
from syncd.state import ObservedInstance


def prune_plan(
    deployment_id: str, instances: list[ObservedInstance], reachable: set[str]
) -> DeploymentPlan:
    """Remove every instance of a deployment Git no longer declares (those on unreachable nodes
    wait, listed, until their node returns)."""
    removable = sorted((i for i in instances if i.node_id in reachable), key=replica_order)
    stuck = sorted((i for i in instances if i.node_id not in reachable), key=replica_order)
    return DeploymentPlan(
        deployment_id=deployment_id,
        actions=(ActionKind.PRUNE,),
        desired=None,
        current_hashes=tuple(sorted({i.spec_hash for i in instances})),
        target_hash=None,
        remove=tuple(removable),
        on_unreachable_nodes=tuple(stuck),
    )


def guard_mass_prune(
    prunes: list[DeploymentPlan],
    managed: int,
    allowed: bool,
    *,
    pruned: int | None = None,
    what: str = "managed instances",
) -> None:
    """Raise PlanError when ``prunes`` remove more than half of the ``managed`` instances and
    that is not ``allowed``. ``pruned``/``what``: what the prunes remove when it is not their
    containers (a Swarm's services)."""
    if pruned is None:
        pruned = sum(len(p.remove) for p in prunes)
    if allowed or pruned * 2 <= managed:
        return
    names = ", ".join(p.deployment_id for p in prunes[:5]) + (", ..." if len(prunes) > 5 else "")
    raise PlanError(
        f"refusing to prune {pruned} of {managed} {what} in one pass "
        f"({len(prunes)} deployment(s) missing from Git: {names}); an empty or truncated "
        "checkout looks exactly like this",
        hint="if removing them is intended, run again with --allow-mass-prune",
    )
