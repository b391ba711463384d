"""Planning for Swarm clusters (pure): a deployment whose target regions are a Swarm cluster
becomes one service per region, diffed on the fields syncd owns only.

- Service ``<deployment>`` (region without a zone) or ``<deployment>-<zone>``: constrained to
  the nodes whose cluster label is the cluster (and whose zone label is the zone), spread over
  the zone label; the replicas are split over the regions, the first ones taking the remainder.
- Strategy → ``update_config``: maxSurge > 0 → start-first with parallelism maxSurge (Swarm
  then never has fewer than ``replicas`` running: it keeps the surge bound, and the unavailable
  one is kept more strictly than asked); maxSurge 0 → stop-first with parallelism
  maxUnavailable; Recreate → stop-first, all at once. Failure action: rollback.
- Each change is classified (an in-place-only change keeps the action ``noop``; the
  DeploymentPlan still ``has_changes``): ``rollout`` (the task template: image, command, env, resources,
  health check, mounts, constraints, the spec hash), ``scale`` (replicas), ``in-place`` (service
  labels, update policy). Engine defaults are never compared: only what syncd writes.
- Per-node reasons come from the Swarm's node list before Swarm would say "no suitable node":
  down, drained or paused (unreachable), labels outside the region, CPU or memory below one
  replica's reservation. (Node totals: reservations of other services are not subtracted.)
- Refused with a reason: a definition built from a repository (Swarm runs images; build it and
  name the image), vram (Swarm cannot isolate GPUs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from syncd.plan.model import (
    ActionKind,
    DeploymentPlan,
    FieldChange,
)
from syncd.plan.pruning import guard_mass_prune
from syncd.plan.swarm_model import (
    SwarmChange,
    SwarmDeploymentPlan,
    SwarmServicePlan,
    SwarmServiceTarget,
)
from syncd.plan.swarm_services import (
    find_unplaceable,
    observed_owned_fields,
    owned_fields,
    service_target,
    target_hash,
)
from syncd.spec.desired import DesiredDeployment
from syncd.spec.models import SwarmClusterSpec, TargetRegion
from syncd.state import (
    SwarmNode,
    SwarmObservation,
    SwarmService,
)

# the fields whose change replaces every task, by FieldChange path prefix
_IN_PROGRESS = ("updating", "rollback_started")
_TASK_FIELDS = ("image", "command", "env", "resources", "constraints", "spread", "specHash")


@dataclass(frozen=True)
class SwarmPlans:
    """What ``plan_swarms`` gives the planner: one DeploymentPlan per deployment on a Swarm
    (pruned ones included), and warnings."""

    deployments: tuple[DeploymentPlan, ...] = ()
    warnings: tuple[str, ...] = ()


def swarm_deployment_ids(
    deployments: Iterable[DesiredDeployment], swarms: Iterable[SwarmClusterSpec]
) -> frozenset[str]:
    """Deployments whose target regions are Swarm clusters (validation keeps them apart from
    host clusters)."""
    clusters = {swarm.cluster for swarm in swarms}
    return frozenset(
        d.id
        for d in deployments
        if d.deployment.target_regions
        and all(r.cluster in clusters for r in d.deployment.target_regions)
    )


def plan_swarms(
    desired: Iterable[DesiredDeployment],
    swarms: Iterable[SwarmClusterSpec],
    observed: Mapping[str, SwarmObservation],
    *,
    owner: str | None,
    allow_mass_prune: bool = False,
) -> SwarmPlans:
    """Plans for every deployment on a Swarm and every service of ours Git no longer wants.
    Raises PlanError when that would prune more than half of our services in one pass (an
    empty or truncated checkout looks exactly like that), unless ``allow_mass_prune``."""
    swarm_list = list(swarms)
    by_cluster = {s.cluster: s for s in swarm_list}
    wanted = sorted(
        (d for d in desired if d.id in swarm_deployment_ids([d], swarm_list)), key=lambda d: d.id
    )
    wanted_ids = {d.id for d in wanted}
    warnings: list[str] = []
    ours: dict[str, list[tuple[SwarmClusterSpec, SwarmService]]] = {}
    for swarm in swarm_list:
        seen = observed.get(swarm.id)
        if seen is None or not seen.reachable:
            detail = f": {seen.error}" if seen is not None and seen.error else ""
            warnings.append(f"swarm {swarm.id} is unreachable{detail}; its services are unchanged")
            continue
        foreign = 0
        for service in seen.services:
            if _is_ours(service, owner, wanted_ids):
                ours.setdefault(service.deployment_id, []).append((swarm, service))
            else:
                foreign += 1
        if foreign:
            warnings.append(f"swarm {swarm.id}: {foreign} service(s) of another owner left alone")
    plans: list[DeploymentPlan] = []
    for one in wanted:
        swarm = by_cluster[one.deployment.target_regions[0].cluster]  # one Swarm (validated)
        mine = [s for sw, s in ours.get(one.id, []) if sw.id == swarm.id]
        regions = list(dict.fromkeys(one.deployment.target_regions))
        plans.append(_plan_deployment(one, swarm, regions, observed.get(swarm.id), mine, owner))
        notes = {p.target.update.note for p in plans[-1].swarm.services if p.target}  # type: ignore[union-attr]
        warnings.extend(f"{one.id}: {note}" for note in sorted(notes) if note)
        if one.deployment.auto_scaling is not None:
            warnings.append(
                f"{one.id}: autoscaling is not done on Swarm clusters; it runs "
                f"{one.replicas} replica(s) as Git says"
            )
    prunes = [
        _prune(deployment_id, ours[deployment_id])
        for deployment_id in sorted(set(ours) - wanted_ids)
    ]
    guard_mass_prune(
        prunes,
        sum(len(v) for v in ours.values()),
        allow_mass_prune,
        pruned=sum(len(p.swarm.services) for p in prunes if p.swarm is not None),
        what="managed Swarm services",
    )
    return SwarmPlans(tuple(plans + prunes), tuple(warnings))


def swarm_summary(plan: DeploymentPlan) -> str:
    """The one line of a deployment on a Swarm: each service's changes, the refusal, the
    replicas that cannot be placed."""
    assert plan.swarm is not None
    swarm = plan.swarm
    if swarm.refused:
        return f"refused on swarm {swarm.swarm_id}: {swarm.refused}"
    if not swarm.reachable:
        return f"swarm {swarm.swarm_id} unreachable: unchanged"
    parts = []
    for service in swarm.services:
        if not service.has_changes:
            continue
        words = []
        for change in service.changes:
            if change is SwarmChange.CREATE and service.target is not None:
                words.append(f"create {service.target.replicas} replica(s)")
            elif change is SwarmChange.SCALE and service.target is not None:
                words.append(f"scale {service.observed_replicas} -> {service.target.replicas}")
            elif change is SwarmChange.AWAIT:
                words.append("a rollout in progress: watch it to its end")
            elif change is SwarmChange.ROLLOUT and service.target is not None:
                policy = service.target.update
                old = (service.observed_hash or "")[:12]
                words.append(
                    f"rollout {old} -> {target_hash(service.target)[:12]} "
                    f"({policy.order}, parallelism {policy.parallelism or 'all'})"
                )
            else:
                words.append(change.value)
        parts.append(f"service {service.name}: {', '.join(words)}")
    if plan.unplaceable:
        parts.append(f"{plan.unplaceable_replicas} replica(s) cannot be placed")
    return "; ".join(parts) or f"in sync: {plan.replicas} replica(s) on swarm {swarm.swarm_id}"


# --------------------------------------------------------------------------- one deployment


def _plan_deployment(
    wanted: DesiredDeployment,
    swarm: SwarmClusterSpec,
    regions: list[TargetRegion],
    seen: SwarmObservation | None,
    services: list[SwarmService],
    owner: str | None,
) -> DeploymentPlan:
    refused = _refusal(wanted)
    by_name = {s.name: s for s in services}
    service_plans: list[SwarmServicePlan] = []
    if refused is None and seen is not None and seen.reachable:
        counts = _split(wanted.replicas, len(regions))
        for region, replicas in zip(regions, counts, strict=True):
            target = service_target(wanted, swarm, region, replicas, owner)
            current = by_name.pop(target.name, None)
            service_plans.append(_plan_service(target, current, seen.nodes, swarm))
        for leftover in sorted(by_name.values(), key=lambda s: s.name):
            service_plans.append(_removal(leftover))
    reachable = seen is not None and seen.reachable
    swarm_plan = SwarmDeploymentPlan(
        swarm.id, swarm.cluster, tuple(service_plans), refused=refused, reachable=reachable
    )
    return _deployment_plan(wanted, swarm_plan, services)


def _refusal(wanted: DesiredDeployment) -> str | None:
    if wanted.spec.build is not None:
        return (
            "Swarm runs images only and syncd does not build on Swarm nodes: build the "
            "repository's image, load or push it to every node, and name it in the definition"
        )
    if wanted.spec.resources.vram_bytes:
        return "vram cannot be given on a Swarm cluster: Swarm cannot isolate GPUs"
    return None


def _deployment_plan(
    wanted: DesiredDeployment, swarm_plan: SwarmDeploymentPlan, services: list[SwarmService]
) -> DeploymentPlan:
    actions: list[ActionKind] = []
    every = {change for plan in swarm_plan.services for change in plan.changes}
    before = sum(s.replicas for s in services)
    if not services and SwarmChange.CREATE in every:
        actions.append(ActionKind.CREATE)
    if SwarmChange.ROLLOUT in every:
        recreate = wanted.strategy.type == "Recreate"
        actions.append(ActionKind.RECREATE if recreate else ActionKind.ROLLING_UPDATE)
    if services and every & {SwarmChange.CREATE, SwarmChange.SCALE, SwarmChange.REMOVE}:
        # a region's service added or removed (or removed by hand), or a new count
        actions.append(ActionKind.SCALE_DOWN if wanted.replicas < before else ActionKind.SCALE_UP)
    failures = [p.unplaceable for p in swarm_plan.services if p.unplaceable is not None]
    fields = [
        FieldChange(f"{p.name}.{c.path}" if len(swarm_plan.services) > 1 else c.path, c.old, c.new)
        for p in swarm_plan.services
        for c in p.fields
    ]
    return DeploymentPlan(
        deployment_id=wanted.id,
        actions=tuple(dict.fromkeys(actions)) or (ActionKind.NOOP,),
        desired=wanted,
        current_hashes=tuple(sorted({s.spec_hash for s in services})),
        target_hash=wanted.spec_hash,
        unplaceable=tuple(failures),
        changes=tuple(fields),
        replicas=wanted.replicas,
        replicas_before=before,
        swarm=swarm_plan,
    )


def _prune(
    deployment_id: str, services: list[tuple[SwarmClusterSpec, SwarmService]]
) -> DeploymentPlan:
    swarm = services[0][0]
    return DeploymentPlan(
        deployment_id=deployment_id,
        actions=(ActionKind.PRUNE,),
        desired=None,
        current_hashes=tuple(sorted({s.spec_hash for _, s in services})),
        target_hash=None,
        replicas_before=sum(s.replicas for _, s in services),
        swarm=SwarmDeploymentPlan(swarm.id, swarm.cluster, tuple(_removal(s) for _, s in services)),
    )


def _removal(service: SwarmService) -> SwarmServicePlan:
    return SwarmServicePlan(
        name=service.name,
        changes=(SwarmChange.REMOVE,),
        target=None,
        service_id=service.service_id,
        observed_hash=service.spec_hash,
        observed_replicas=service.replicas,
        fields=(FieldChange("service", service.name, None),),
    )


# --------------------------------------------------------------------------- one service


def _plan_service(
    target: SwarmServiceTarget,
    current: SwarmService | None,
    nodes: tuple[SwarmNode, ...],
    swarm: SwarmClusterSpec,
) -> SwarmServicePlan:
    unplaceable = find_unplaceable(target, nodes, swarm)
    if current is None:
        return SwarmServicePlan(
            name=target.name,
            changes=(SwarmChange.CREATE,),
            target=target,
            fields=(FieldChange("replicas", None, str(target.replicas)),),
            unplaceable=unplaceable,
        )
    desired_fields = owned_fields(target)
    observed_fields = observed_owned_fields(current.spec)
    fields = []
    for path in sorted(set(desired_fields) | set(observed_fields)):
        old, new = observed_fields.get(path), desired_fields.get(path)
        if old != new:
            if path.startswith("env."):  # an old value may be a secret: never shown
                old = None if old is None else "(set)"
            fields.append(FieldChange(path, old, new))
    if current.spec_hash != target_hash(target):
        fields.append(FieldChange("specHash", current.spec_hash[:12], target_hash(target)[:12]))
    changes: list[SwarmChange] = []
    if any(f.path.split(".")[0] in _TASK_FIELDS for f in fields):
        changes.append(SwarmChange.ROLLOUT)
    if any(f.path == "replicas" for f in fields):
        changes.append(SwarmChange.SCALE)
    if not changes and any(f.path.split(".")[0] in ("update", "labels") for f in fields):
        changes.append(SwarmChange.IN_PLACE)
    if not changes and current.update_state in _IN_PROGRESS:
        changes.append(SwarmChange.AWAIT)  # watched to its end, so the status is not OK early
    return SwarmServicePlan(
        name=target.name,
        changes=tuple(changes) or (SwarmChange.NOOP,),
        target=target,
        service_id=current.service_id,
        observed_hash=current.spec_hash,
        observed_replicas=current.replicas,
        fields=tuple(fields),
        unplaceable=unplaceable if changes else None,
    )


# --------------------------------------------------------------------------- small rules


def _is_ours(service: SwarmService, owner: str | None, wanted_ids: set[str]) -> bool:
    """As for containers (plan/ownership.py): the owner's, or unscoped ones of a deployment
    Git declares (adopted); without an owner, every managed service."""
    if owner is None or service.owner == owner:
        return True
    return service.owner is None and service.deployment_id in wanted_ids


def _split(replicas: int, parts: int) -> list[int]:
    base, extra = divmod(replicas, parts)
    return [base + (1 if index < extra else 0) for index in range(parts)]
