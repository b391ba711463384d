"""The planner: desired state + observed state -> Plan. Pure: no I/O, same input, same plan.

Per deployment (``replicas`` below is the desired count, or the autoscaler's override):

- nothing observed at all: CREATE ``replicas`` instances;
- reachable instances of another spec hash: ROLLING_UPDATE or RECREATE (the deployment's
  strategy): they go in ``replace``, and one placement per missing replica index of the new
  version goes in ``start``;
- instances at the target hash are grouped by replica index: one is kept per index (serving
  first, then the oldest), duplicates are removed (a crash between start and stop leaves them);
  exited, dead or unhealthy ones are removed and replaced under the same index (REPLACE);
- more healthy instances than ``replicas``: SCALE_DOWN removes the not-serving ones first, then
  from the node with most of the deployment's instances (then the most loaded node), then the
  newest; fewer: SCALE_UP places the missing ones;
- deployments observed but no longer in Git: PRUNE removes their instances, unless that would
  remove more than half of all managed instances (an empty or truncated checkout looks exactly
  like that): then ``PlanError``, unless ``allow_mass_prune``.

With an ``owner``, all of this concerns only that owner's instances (plan/ownership.py): the
others' are left alone and reported, though their claims still fill the nodes.

Instances on unreachable nodes are neither counted as serving nor removed (they cannot be):
their replicas are placed elsewhere when capacity allows; when the node comes back, the extra
instances are strays that scale-down removes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from dataclasses import replace as replaced

from syncd.plan.allocator import Allocator
from syncd.plan.model import (
    ActionKind,
    DeploymentPlan,
    FieldChange,
    Placement,
    PlacementFailure,
    Plan,
)
from syncd.plan.ordering import choose_scale_down, free_indexes, keep_preference, replica_order
from syncd.plan.ownership import (
    foreign_by_node,
    foreign_warnings,
    held_warnings,
    hold_newer,
    partition,
)
from syncd.plan.placement_warnings import placement_warnings
from syncd.plan.pruning import guard_mass_prune, prune_plan
from syncd.plan.swarm import SwarmPlans, plan_swarms, swarm_deployment_ids
from syncd.spec.collector import collector_paused
from syncd.spec.desired import DesiredDeployment, DesiredState
from syncd.spec.models import SwarmClusterSpec
from syncd.spec.validation import is_zero
from syncd.state import NodeFacts, ObservedInstance, ObservedState


@dataclass
class _Draft:
    """What the planner decided for one deployment before anything is placed."""

    desired: DesiredDeployment
    replicas: int
    actions: list[ActionKind] = field(default_factory=list)
    keep: list[ObservedInstance] = field(default_factory=list)
    replace: list[ObservedInstance] = field(default_factory=list)
    remove: list[ObservedInstance] = field(default_factory=list)
    indexes_to_start: list[int] = field(default_factory=list)
    start: list[Placement] = field(default_factory=list)
    unplaceable: list[PlacementFailure] = field(default_factory=list)
    current_hashes: tuple[str, ...] = ()
    autoscaled: bool = False  # ``replicas`` came from the autoscaler
    running_before: int = 0  # distinct replica indexes observed, at any hash, on any node
    scale_up: int = 0
    replacing: int = 0
    failed: int = 0
    old_failed: int = 0
    duplicates: int = 0
    scaled_down: int = 0
    away: list[ObservedInstance] = field(default_factory=list)


def plan(
    desired: DesiredState,
    observed: ObservedState,
    *,
    allow_mass_prune: bool = False,
    replica_overrides: Mapping[str, int] | None = None,
    owner: str | None = None,
    newer_commits: Collection[str] = (),
    swarms: Sequence[SwarmClusterSpec] = (),
) -> Plan:
    """Compute what must change for the nodes to run ``desired``. Pure and deterministic.

    ``replica_overrides`` maps a deployment id to the replica count the autoscaler chose.
    ``owner`` scopes the plan to that owner's instances (and the unscoped ones it adopts); new
    instances carry it. None: every managed instance is ours. A deployment with an instance
    written from one of ``newer_commits`` is left alone (held) and reported.
    Raises PlanError when the plan would prune more than half of all managed instances and
    ``allow_mass_prune`` is false. Deployments on a Swarm cluster (``swarms``) are planned as
    Swarm services (plan/swarm.py); their containers on Docker hosts, if any, are pruned.
    """
    # A plan holds no cycles: no collector walks while it is built (spec/collector.py).
    with collector_paused():
        return _plan(
            desired, observed, allow_mass_prune, replica_overrides, owner, newer_commits, swarms
        )


def _plan(
    desired: DesiredState,
    observed: ObservedState,
    allow_mass_prune: bool,
    replica_overrides: Mapping[str, int] | None,
    owner: str | None,
    newer_commits: Collection[str],
    swarms: Sequence[SwarmClusterSpec],
) -> Plan:
    overrides = replica_overrides or {}
    facts = _facts_for_every_node(desired, observed)
    reachable = {node_id for node_id, fact in facts.items() if fact.reachable}
    on_swarm = swarm_deployment_ids(desired.deployments, swarms) if swarms else frozenset()
    desired_ids = {d.id for d in desired.deployments} - on_swarm
    ownership = hold_newer(partition(observed.instances, owner, desired_ids), newer_commits)
    held_ids = {instance.deployment_id for instance in ownership.held}
    by_deployment: dict[str, list[ObservedInstance]] = defaultdict(list)
    for instance in ownership.ours:
        by_deployment[instance.deployment_id].append(instance)

    # Every instance's claims, foreign ones included: they occupy the node all the same.
    allocator = Allocator(desired.nodes, facts, observed.instances)
    drafts = []
    unchanged: list[DeploymentPlan] = []  # in sync: finished at once, nothing to place
    for wanted in sorted(desired.deployments, key=_desired_id):
        wanted_id = wanted.id
        if wanted_id in held_ids or wanted_id in on_swarm:
            continue
        replicas = max(overrides.get(wanted_id, wanted.replicas), 1)
        instances = by_deployment.get(wanted_id, [])
        autoscaled = wanted_id in overrides and wanted.deployment.auto_scaling is not None
        if _in_sync(instances, replicas, wanted.spec_hash, reachable):
            # The daemon's usual pass: everything runs as wanted. The plan the general path
            # would give (tests/plan/test_plan_in_sync.py holds them equal), without a draft.
            unchanged.append(_unchanged(wanted, replicas, instances, autoscaled))
            continue
        draft = _assess(wanted, replicas, instances, reachable, allocator)
        draft.autoscaled = autoscaled
        drafts.append(draft)

    prunes = [
        prune_plan(deployment_id, by_deployment[deployment_id], reachable)
        for deployment_id in sorted(set(by_deployment) - desired_ids)
    ]
    guard_mass_prune(prunes, len(ownership.ours), allow_mass_prune)

    # Everything removed or replaced frees its claims before anything new is placed.
    for draft in drafts:
        for instance in draft.remove:
            allocator.release(instance)
        surge = _runs_beside_replacement(draft.desired)
        for instance in draft.replace:
            allocator.release(instance, keep_ports=surge)
    for pruned in prunes:
        for instance in pruned.remove:
            allocator.release(instance)
    for draft in drafts:
        _place(draft, allocator, owner)

    swarm_plans = (
        plan_swarms(
            desired.deployments,
            swarms,
            observed.swarms,
            owner=owner,
            allow_mass_prune=allow_mass_prune,
        )
        if swarms or observed.swarms
        else SwarmPlans()
    )
    plans = [*unchanged, *(_finish(draft) for draft in drafts), *prunes, *swarm_plans.deployments]
    plans.sort(key=_plan_id)
    foreign = foreign_by_node(ownership.foreign)
    return Plan(
        revision=desired.revision,
        deployments=tuple(plans),
        warnings=(
            *placement_warnings(desired, observed, facts, by_deployment, desired_ids),
            *foreign_warnings(foreign),
            *held_warnings(ownership.held, newer_commits),
            *swarm_plans.warnings,
        ),
        owner=owner,
        foreign=foreign,
    )


# --------------------------------------------------------------------------- one deployment


def _assess(
    wanted: DesiredDeployment,
    replicas: int,
    instances: list[ObservedInstance],
    reachable: set[str],
    allocator: Allocator,
) -> _Draft:
    draft = _Draft(desired=wanted, replicas=replicas)
    target = wanted.spec_hash
    draft.current_hashes = tuple(sorted({i.spec_hash for i in instances}))
    here = [i for i in instances if i.node_id in reachable]
    draft.away = sorted((i for i in instances if i.node_id not in reachable), key=replica_order)
    current = [i for i in here if i.spec_hash == target]
    old = [i for i in here if i.spec_hash != target]

    # One instance per replica index at the target hash; the rest are duplicates.
    by_index: dict[int, list[ObservedInstance]] = defaultdict(list)
    for instance in current:
        by_index[instance.replica].append(instance)
    failed_indexes: list[int] = []
    survivors: list[ObservedInstance] = []
    for index in sorted(by_index):
        best, *others = sorted(by_index[index], key=keep_preference)
        draft.remove.extend(others)
        draft.duplicates += len(others)
        if best.has_failed:
            draft.remove.append(best)
            draft.failed += 1
            failed_indexes.append(index)
        else:
            survivors.append(best)

    old_failed = [i for i in old if i.has_failed]
    old_alive = [i for i in old if not i.has_failed]
    draft.remove.extend(old_failed)
    draft.old_failed = len(old_failed)
    draft.replace.extend(old_alive)
    draft.running_before = len({i.replica for i in instances})

    excess = len(survivors) - replicas
    if excess > 0:
        removed = choose_scale_down(survivors, excess, allocator)
        draft.remove.extend(removed)
        draft.scaled_down = len(removed)
        survivors = [i for i in survivors if i not in removed]
    draft.keep = sorted(survivors, key=replica_order)

    missing = replicas - len(survivors)
    if missing > 0:
        taken = {i.replica for i in survivors} | {
            i.replica for i in draft.away if i.spec_hash == target
        }
        reusable = [i for i in failed_indexes if i not in taken]
        draft.indexes_to_start = (reusable + free_indexes(taken | set(reusable), missing))[:missing]

    if not instances:
        draft.actions = [ActionKind.CREATE]
    else:
        if old_alive:
            recreate = wanted.strategy.type == "Recreate"
            draft.actions.append(ActionKind.RECREATE if recreate else ActionKind.ROLLING_UPDATE)
            if replicas > draft.running_before:
                draft.actions.append(ActionKind.SCALE_UP)
            elif replicas < draft.running_before:
                draft.actions.append(ActionKind.SCALE_DOWN)
        else:
            starts = len(draft.indexes_to_start)
            draft.scale_up = min(max(replicas - draft.running_before, 0), starts)
            draft.replacing = starts - draft.scale_up
            if draft.replacing or draft.failed or old_failed:
                draft.actions.append(ActionKind.REPLACE)
            if draft.scale_up:
                draft.actions.append(ActionKind.SCALE_UP)
            if draft.scaled_down or draft.duplicates:
                draft.actions.append(ActionKind.SCALE_DOWN)
        if not draft.actions:
            draft.actions = [ActionKind.NOOP]
    return draft


def _in_sync(
    instances: list[ObservedInstance], replicas: int, target: str, reachable: set[str]
) -> bool:
    if len(instances) != replicas:
        return False
    indexes = set()
    for instance in instances:
        if (
            instance.spec_hash != target
            or instance.node_id not in reachable
            or instance.has_failed
            or instance.replica in indexes
        ):
            return False
        indexes.add(instance.replica)
    return True


def _unchanged(
    wanted: DesiredDeployment,
    replicas: int,
    instances: list[ObservedInstance],
    autoscaled: bool,
) -> DeploymentPlan:
    """The plan of a deployment ``_in_sync`` says runs as wanted: keep every instance."""
    return DeploymentPlan(
        deployment_id=wanted.id,
        actions=_NOOP,
        desired=wanted,
        current_hashes=(wanted.spec_hash,),
        target_hash=wanted.spec_hash,
        keep=tuple(sorted(instances, key=replica_order)),
        replicas=replicas,
        replicas_before=replicas,
        autoscaled=autoscaled,
    )


_NOOP = (ActionKind.NOOP,)


def _desired_id(wanted: DesiredDeployment) -> str:
    return wanted.deployment.id


def _plan_id(deployment_plan: DeploymentPlan) -> str:
    return deployment_plan.deployment_id


def _runs_beside_replacement(desired: DesiredDeployment) -> bool:
    """Whether old instances keep running while new ones start (a RollingUpdate that may
    surge): then their host ports stay taken for the new ones. Recreate, and a RollingUpdate
    with ``maxSurge`` 0, stop an old instance before its replacement starts."""
    if desired.strategy.type == "Recreate":
        return False
    if desired.strategy.type in ("BlueGreen", "Canary"):
        return True  # a whole new set beside the old
    # a surge of N% rounds up: any non-zero value lets at least one extra instance run
    return not is_zero(desired.strategy.max_surge)


def _place(draft: _Draft, allocator: Allocator, owner: str | None) -> None:
    peers = [i.node_id for i in draft.keep]
    for position, index in enumerate(draft.indexes_to_start):
        placed = allocator.place(draft.desired, index, peers)
        if isinstance(placed, Placement):
            draft.start.append(replaced(placed, owner=owner))
            peers.append(placed.node_id)
            continue
        # A failure claims nothing: every later replica would fail for the same reasons. One
        # grouped failure for all of them, so the cost grows with what can be placed.
        rest = tuple(draft.indexes_to_start[position + 1 :])
        draft.unplaceable.append(replaced(placed, replicas=(*placed.replicas, *rest)))
        break


def _finish(draft: _Draft) -> DeploymentPlan:
    wanted = draft.desired
    changes: list[FieldChange] = []
    old_hashes = [h for h in draft.current_hashes if h != wanted.spec_hash]
    if old_hashes and draft.replace:
        changes.append(
            FieldChange("specHash", ", ".join(h[:12] for h in old_hashes), wanted.spec_hash[:12])
        )
    if ActionKind.CREATE in draft.actions:
        changes.append(FieldChange("replicas", None, str(draft.replicas)))
    elif draft.running_before != draft.replicas and (
        ActionKind.SCALE_UP in draft.actions or ActionKind.SCALE_DOWN in draft.actions
    ):
        changes.append(FieldChange("replicas", str(draft.running_before), str(draft.replicas)))
    return DeploymentPlan(
        deployment_id=wanted.id,
        actions=tuple(draft.actions),
        desired=wanted,
        current_hashes=draft.current_hashes,
        target_hash=wanted.spec_hash,
        keep=tuple(draft.keep),
        start=tuple(sorted(draft.start, key=lambda p: p.replica)),
        replace=tuple(sorted(draft.replace, key=replica_order)),
        remove=tuple(sorted(draft.remove, key=replica_order)),
        unplaceable=tuple(draft.unplaceable),
        changes=tuple(changes),
        replicas=draft.replicas,
        replicas_before=draft.running_before,
        failed=draft.failed + draft.old_failed,
        missing=max(draft.replacing - draft.failed, 0),
        duplicates=draft.duplicates,
        on_unreachable_nodes=tuple(draft.away),
        autoscaled=draft.autoscaled,
    )


def _facts_for_every_node(desired: DesiredState, observed: ObservedState) -> dict[str, NodeFacts]:
    facts = dict(observed.nodes)
    for node in desired.nodes:
        facts.setdefault(node.id, NodeFacts(node_id=node.id, reachable=False, error="not observed"))
    return facts
