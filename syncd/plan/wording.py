"""The words of a plan, made in one place from the planner's data.

The planner and the allocator decide (kinds, counts, fields, reasons as data); this module says
it: a deployment's one-line summary, a placement failure's one grouped line, the plan's count
line and title, and the lines for a field change, a placement and an instance. The text, JSON and
markdown renderers, the apply engine and the daemon all read these, so each sentence is written
once. No secret value can reach them: a plan holds none (see ``syncd.plan.render``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from syncd.plan.autoscaling import status_text
from syncd.plan.fields import needs_new_container
from syncd.plan.model import (
    ActionKind,
    DeploymentPlan,
    Misfit,
    MisfitKind,
    Placement,
    PlacementFailure,
    Plan,
)
from syncd.spec.models import Strategy
from syncd.spec.quantities import format_cpu, format_duration, format_memory
from syncd.spec.templating import mask_secrets
from syncd.state import ObservedInstance

# Each deployment counts once, under its most significant action.
CATEGORIES = ("create", "update", "replace", "scale", "prune", "unchanged")
_CATEGORY_OF = {
    ActionKind.CREATE: "create",
    ActionKind.PRUNE: "prune",
    ActionKind.ROLLING_UPDATE: "update",
    ActionKind.RECREATE: "update",
    ActionKind.REPLACE: "replace",
    ActionKind.SCALE_UP: "scale",
    ActionKind.SCALE_DOWN: "scale",
    ActionKind.NOOP: "unchanged",
}

# A placement failure names the nodes of a reason only when few share it: one or two names say
# where to look; a hundred say nothing a count does not.
NAMED_NODES_AT_MOST = 2
_NODE_NAME_CHARS = 40
FAILURE_LINE_CHARS = 400  # the status file, git notes and log lines all carry this line


def category(deployment: DeploymentPlan) -> str:
    """create, update, replace, scale, prune or unchanged."""
    found = {_CATEGORY_OF[action] for action in deployment.actions}
    return next(name for name in CATEGORIES if name in found)


def counts(plan: Plan) -> dict[str, int]:
    """Deployments per category, plus ``unplaceable`` replicas."""
    tally = Counter(category(d) for d in plan.deployments)
    result = {name: tally.get(name, 0) for name in CATEGORIES}
    result["unplaceable"] = sum(d.unplaceable_replicas for d in plan.deployments)
    return result


def count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


# --------------------------------------------------------------------------- the whole plan


def summary_line(plan: Plan) -> str:
    """``Plan: 1 to create, 2 to update, ...`` or ``No changes: ...``."""
    tally = counts(plan)
    total = len(plan.deployments)
    if not plan.has_changes and not any(d.changes for d in plan.deployments):
        return f"No changes: {count(total, 'deployment')} in sync."
    line = (
        f"Plan: {tally['create']} to create, {tally['update']} to update, "
        f"{tally['replace']} to repair, {tally['scale']} to scale, {tally['prune']} to prune, "
        f"{tally['unchanged']} unchanged"
    )
    if tally["unplaceable"]:
        line += f"; {tally['unplaceable']} replica(s) cannot be placed"
    return line + "."


def title(plan: Plan) -> str:
    head = _short(plan.revision) or "the working tree"
    if plan.offline:
        base = _short(plan.base_revision) or "an empty repository"
        return f"syncd plan: {base} -> {head} (offline, no nodes contacted)"
    return f"syncd plan: {head} against the live nodes"


def _short(revision: str | None) -> str | None:
    return revision[:12] if revision else None


# --------------------------------------------------------------------------- one deployment


def deployment_summary(plan: DeploymentPlan) -> str:
    """The deployment's one line: what each action does, with its counts."""
    if ActionKind.PRUNE in plan.actions:
        return _prune_summary(plan)
    parts: list[str] = []
    actions = plan.actions
    if ActionKind.CREATE in actions:
        parts.append(f"create {count(plan.replicas, 'replica')}")
    for kind in (ActionKind.ROLLING_UPDATE, ActionKind.RECREATE):
        if kind in actions:
            parts.append(_rollout(plan, kind))
    if ActionKind.SCALE_UP in actions or ActionKind.SCALE_DOWN in actions:
        direction = "up" if ActionKind.SCALE_UP in actions else "down"
        if plan.replicas_before != plan.replicas:
            parts.append(f"scale {direction} from {plan.replicas_before} to {plan.replicas}")
        if plan.duplicates:
            parts.append(f"remove {count(plan.duplicates, 'duplicate instance')}")
    if ActionKind.REPLACE in actions:
        what = []
        if plan.failed:
            what.append(count(plan.failed, "failed instance"))
        if plan.missing > 0:
            what.append(count(plan.missing, "missing replica"))
        parts.append("replace " + " and ".join(what))
    if ActionKind.NOOP in actions:
        if not plan.offline:
            parts.append(f"in sync: {count(plan.replicas, 'replica')}")
        elif plan.changes:
            settings = ", ".join(change.path for change in plan.changes)
            parts.append(f"no container change; settings: {settings}")
        else:
            parts.append("unchanged")
    if plan.unplaceable:
        parts.append(f"{count(plan.unplaceable_replicas, 'replica')} cannot be placed")
    if plan.on_unreachable_nodes:
        nodes = ", ".join(sorted({i.node_id for i in plan.on_unreachable_nodes}))
        held = count(len(plan.on_unreachable_nodes), "instance")
        parts.append(f"{held} on unreachable {nodes} not counted")
    scaling = plan.desired.deployment.auto_scaling if plan.desired is not None else None
    if plan.autoscaled and scaling is not None:
        parts.append(status_text(scaling, plan.replicas))
    return "; ".join(parts)


def _rollout(plan: DeploymentPlan, kind: ActionKind) -> str:
    if plan.offline:  # the fields are known: say which ones need new containers
        fields = [c.path for c in plan.changes if needs_new_container(c.path)]
        return f"{kind.value} of {count(plan.replicas, 'replica')}: " + ", ".join(fields)
    olds = ", ".join(h[:12] for h in sorted({i.spec_hash for i in plan.replace}))
    target = (plan.target_hash or "")[:12]
    starting = len(plan.start) + plan.unplaceable_replicas
    how = "stop all, then start"
    if kind is ActionKind.ROLLING_UPDATE and plan.desired is not None:
        strategy = plan.desired.strategy
        how = f"maxSurge {strategy.max_surge}, maxUnavailable {strategy.max_unavailable}"
        if strategy.type in ("BlueGreen", "Canary"):
            how = _traffic_steps(strategy)
    return f"{kind.value} {olds} -> {target}: replace {len(plan.replace)}, start {starting} ({how})"


def _traffic_steps(strategy: Strategy) -> str:
    """``blue-green: new set beside the old, switch at once, old parked 30s`` or ``canary: 10%
    for 1m, 50% for 1m, then 100%; revert above 5% 5xx``."""
    parked = f"old parked {format_duration(strategy.keep_old_s)}"
    if strategy.type == "BlueGreen":
        return f"blue-green: new set beside the old, switch at once, {parked}"
    steps = ", ".join(
        f"{step.weight}% for {format_duration(step.pause_s)}" for step in strategy.steps
    )
    return f"canary: {steps}, then 100%; revert above {strategy.max_5xx_percent:g}% 5xx; {parked}"


def _prune_summary(plan: DeploymentPlan) -> str:
    if plan.offline:
        return f"prune: removed from Git, its {count(plan.replicas_before, 'replica')} go"
    line = f"prune: removed from Git, remove {count(len(plan.remove), 'instance')}"
    if plan.on_unreachable_nodes:
        stuck = count(len(plan.on_unreachable_nodes), "instance")
        line += f"; {stuck} on unreachable nodes removed when they return"
    return line


# --------------------------------------------------------------------------- placement failures


def misfit(reason: Misfit) -> str:
    """One node's reason: ``needs 512Mi memory, 128Mi free``, ``unreachable``."""
    return _misfit_phrase(reason, 1)


def _misfit_phrase(reason: Misfit, nodes: int, free: int | None = None) -> str:
    """The reason said of ``nodes`` nodes (the verb agrees); ``free``: the most free among them."""
    one = nodes == 1
    needs, has = ("needs", "has") if one else ("need", "have")
    free = reason.free if free is None else free
    kind = reason.kind
    if kind is MisfitKind.REGION:
        return "not in target regions"
    if kind is MisfitKind.UNREACHABLE:
        return "unreachable"
    if kind is MisfitKind.HOST_PORT:
        return f"host port {reason.port} already used"
    most = "" if one else "at most "
    if kind is MisfitKind.CPU:
        return f"{needs} {format_cpu(reason.need or 0)} cpu, {most}{format_cpu(free or 0)} free"
    need = format_memory(reason.need or 0, approximate=True)
    room = format_memory(free or 0, approximate=True)
    if kind is MisfitKind.MEMORY:
        return f"{needs} {need} memory, {most}{room} free"
    if kind is MisfitKind.GPU_VRAM:
        return f"{needs} {need} vram on one GPU, {most}{room} free"
    if kind is MisfitKind.VRAM:
        return f"{needs} {need} vram, {most}{room} free"
    return f"{needs} {need} vram, {has} no GPU"


def placement_failure(failure: PlacementFailure) -> str:
    """``5 replicas cannot be placed: 0/5 nodes fit: 3 not in target regions, 1 unreachable
    (web-use1-1)``: the reasons grouped, nodes named only where one or two share a reason, and
    at most ``FAILURE_LINE_CHARS`` long whatever the number of nodes or replicas."""
    replicas = failure.replicas
    who = f"replica {replicas[0]}" if len(replicas) == 1 else f"{len(replicas)} replicas"
    fitting = failure.nodes - len(failure.reasons)
    head = f"{who} cannot be placed: {fitting}/{failure.nodes} nodes fit"
    if not failure.nodes:
        return f"{who} cannot be placed: there are no nodes"
    groups = _grouped(failure.reasons)
    line = f"{head}: " + ", ".join(_group_text(reason, nodes, True) for reason, nodes in groups)
    if len(line) > FAILURE_LINE_CHARS:
        line = f"{head}: " + ", ".join(
            _group_text(reason, nodes, False) for reason, nodes in groups
        )
    if len(line) > FAILURE_LINE_CHARS:
        line = line[: FAILURE_LINE_CHARS - 3] + "..."
    return line


def _grouped(
    reasons: Sequence[tuple[str, Misfit]],
) -> list[tuple[Misfit, list[tuple[str, Misfit]]]]:
    """Reasons by kind (host ports: by port too), the most common first, then by kind order."""
    groups: dict[tuple[MisfitKind, str | None], list[tuple[str, Misfit]]] = defaultdict(list)
    for node, reason in reasons:
        groups[(reason.kind, reason.port)].append((node, reason))
    order = list(MisfitKind)
    ranked = sorted(groups.items(), key=lambda item: (-len(item[1]), order.index(item[0][0])))
    return [(members[0][1], members) for _, members in ranked]


def _group_text(reason: Misfit, members: list[tuple[str, Misfit]], name_nodes: bool) -> str:
    frees = [m.free for _, m in members if m.free is not None]
    phrase = _misfit_phrase(reason, len(members), max(frees) if frees else None)
    text = f"{len(members)} {phrase}"
    if name_nodes and len(members) <= NAMED_NODES_AT_MOST:
        text += " (" + ", ".join(_node_name(node) for node, _ in members) + ")"
    return text


def _node_name(node: str) -> str:
    return node if len(node) <= _NODE_NAME_CHARS else node[: _NODE_NAME_CHARS - 3] + "..."


# --------------------------------------------------------------------------- detail lines


def change(path: str, old: str | None, new: str | None) -> str:
    # Values pass through mask_secrets once more: a second lock on a door that is already shut.
    if old is None:
        return f"{path}: {mask_secrets(new or '')}"
    if new is None:
        return f"{path}: {mask_secrets(old)} (removed)"
    return f"{path}: {mask_secrets(old)} -> {mask_secrets(new)}"


def placement(where: Placement) -> str:
    gpus = f" on GPU {','.join(where.gpu_ids)}" if where.gpu_ids else ""
    return f"replica {where.replica} on {where.node_id}{gpus}"


def instance(found: ObservedInstance) -> str:
    return (
        f"replica {found.replica} {found.name} ({found.container_id[:12]}) on "
        f"{found.node_id}, {found.state}/{found.health}"
    )
