"""One Swarm service of a plan (pure): what it should be (``service_target``), the fields
syncd owns on either side (``owned_fields`` from Git, ``observed_owned_fields`` from the
engine's spec, engine defaults ignored), and which nodes cannot take its replicas and why
(``find_unplaceable``, from the Swarm's node list)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from syncd.plan.model import Misfit, MisfitKind, PlacementFailure
from syncd.plan.swarm_model import SwarmServiceTarget, SwarmUpdatePolicy
from syncd.spec.desired import DesiredDeployment
from syncd.spec.models import SwarmClusterSpec, TargetRegion
from syncd.state import (
    LABEL_COMMIT,
    LABEL_DEPLOYMENT,
    LABEL_MANAGED,
    LABEL_OWNER,
    LABEL_SPEC_HASH,
    SwarmNode,
)

#: Swarm watches each updated task this long for a failure (then rolls back)
UPDATE_MONITOR_S = 3.0
_PERCENT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*%\s*")
_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]+")
_RESERVED_LABEL_PREFIX = "io.syncd."


def service_target(
    wanted: DesiredDeployment,
    swarm: SwarmClusterSpec,
    region: TargetRegion,
    replicas: int,
    owner: str | None,
) -> SwarmServiceTarget:
    """What one region's service should be."""
    spec = wanted.spec
    constraints = [f"node.labels.{swarm.cluster_label}=={swarm.cluster}"]
    if region.zone is not None:
        constraints.append(f"node.labels.{swarm.zone_label}=={region.zone}")
    ours = {LABEL_MANAGED: "true", LABEL_DEPLOYMENT: wanted.id, LABEL_SPEC_HASH: wanted.spec_hash}
    if owner is not None:
        ours[LABEL_OWNER] = owner
    theirs = [(k, v) for k, v in spec.labels if not k.startswith(_RESERVED_LABEL_PREFIX)]
    name = wanted.id if region.zone is None else f"{wanted.id}-{_NAME_UNSAFE.sub('-', region.zone)}"
    return SwarmServiceTarget(
        name=name[:63],
        cluster=swarm.cluster,
        zone=region.zone,
        replicas=replicas,
        image=spec.image,
        command=spec.command,
        env=spec.env,
        cpu_millis=spec.resources.cpu_millis,
        memory_bytes=spec.resources.memory_bytes,
        health_check=spec.health_check,
        network=spec.network,
        ports=spec.ports,
        volumes=spec.volumes,
        constraints=tuple(constraints),
        spread_label=swarm.zone_label if region.zone is None else None,
        update=update_policy(wanted, replicas),
        service_labels=tuple(sorted(ours.items())),
        task_labels=(*theirs, *sorted(ours.items())),
    )


def update_policy(wanted: DesiredDeployment, replicas: int) -> SwarmUpdatePolicy:
    """The strategy in Swarm's terms (the module docstring says which bound Swarm keeps)."""
    strategy = wanted.strategy
    if strategy.type == "Recreate":
        return SwarmUpdatePolicy("stop-first", 0, UPDATE_MONITOR_S)
    surge = _bound(strategy.max_surge, replicas, round_up=True)
    unavailable = _bound(strategy.max_unavailable, replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # as for containers: a rollout must be able to progress
    if surge > 0:
        note = (
            f"maxSurge {surge} and maxUnavailable {unavailable}: Swarm starts {surge} new "
            f"task(s) before stopping old ones and keeps the surge bound; it never goes below "
            f"{replicas} running (unavailable 0)"
            if unavailable
            else ""
        )
        return SwarmUpdatePolicy("start-first", surge, UPDATE_MONITOR_S, note)
    return SwarmUpdatePolicy("stop-first", unavailable, UPDATE_MONITOR_S)


def _bound(value: int | str, replicas: int, *, round_up: bool) -> int:
    """A maxSurge/maxUnavailable as a count, as ``apply.strategies.resolve_bound`` does
    (validated already: an int or "N%")."""
    if isinstance(value, int):
        return value
    match = _PERCENT.fullmatch(value)
    share = Fraction(match.group(1) if match else "0") * replicas / 100
    return int(-(-share // 1)) if round_up else int(share // 1)


def target_hash(target: SwarmServiceTarget) -> str:
    return dict(target.service_labels)[LABEL_SPEC_HASH]


def owned_fields(target: SwarmServiceTarget) -> dict[str, str]:
    """The diffable fields of a target, by path (env values masked where secret)."""
    from syncd.spec.templating import mask_secrets

    fields = {
        "image": target.image,
        "replicas": str(target.replicas),
        "constraints": ", ".join(sorted(target.constraints)),
        "update.order": target.update.order,
        "update.parallelism": str(target.update.parallelism),
        "update.failureAction": "rollback",
    }
    if target.command is not None:
        fields["command"] = " ".join(target.command)
    if target.spread_label:
        fields["spread"] = target.spread_label
    if target.cpu_millis is not None:
        fields["resources.cpu"] = f"{target.cpu_millis}m"
    if target.memory_bytes is not None:
        fields["resources.memory"] = str(target.memory_bytes)
    for key, value in target.env:
        fields[f"env.{key}"] = mask_secrets(value)
    for key, value in target.service_labels:
        fields[f"labels.{key}"] = value
    return fields


def observed_owned_fields(spec: Mapping[str, Any]) -> dict[str, str]:
    """The same fields read back from a service's engine spec (engine defaults ignored)."""
    task = spec.get("TaskTemplate") or {}
    container = task.get("ContainerSpec") or {}
    placement = task.get("Placement") or {}
    update = spec.get("UpdateConfig") or {}
    limits = (task.get("Resources") or {}).get("Limits") or {}
    fields = {
        "image": str(container.get("Image", "")).split("@", 1)[0],
        "replicas": str((spec.get("Mode") or {}).get("Replicated", {}).get("Replicas", 0)),
        "constraints": ", ".join(sorted(placement.get("Constraints") or ())),
        "update.order": str(update.get("Order", "stop-first")),
        "update.parallelism": str(update.get("Parallelism", 0)),
        "update.failureAction": str(update.get("FailureAction", "pause")),
    }
    if container.get("Args"):
        fields["command"] = " ".join(container["Args"])
    spreads = [
        p["Spread"]["SpreadDescriptor"] for p in placement.get("Preferences") or () if "Spread" in p
    ]
    if spreads:
        fields["spread"] = spreads[0].removeprefix("node.labels.")
    if limits.get("NanoCPUs"):
        fields["resources.cpu"] = f"{int(limits['NanoCPUs']) // 1_000_000}m"
    if limits.get("MemoryBytes"):
        fields["resources.memory"] = str(limits["MemoryBytes"])
    for entry in container.get("Env") or ():
        key, _, value = entry.partition("=")
        fields[f"env.{key}"] = value
    for key, value in (spec.get("Labels") or {}).items():
        if key.startswith(_RESERVED_LABEL_PREFIX) and key != LABEL_COMMIT:
            fields[f"labels.{key}"] = value
    return fields


def find_unplaceable(
    target: SwarmServiceTarget, nodes: tuple[SwarmNode, ...], swarm: SwarmClusterSpec
) -> PlacementFailure | None:
    """Replicas no node could take, with each node's reason (by hostname)."""
    reasons: list[tuple[str, Misfit]] = []
    room = 0
    names = Counter(node.hostname for node in nodes)
    for node in sorted(nodes, key=lambda n: (n.hostname, n.node_id)):
        misfit = _misfit(target, node, swarm)
        if misfit is not None:
            shared = names[node.hostname] > 1  # hostnames need not be unique in a Swarm
            reasons.append(
                (f"{node.hostname}/{node.node_id[:8]}" if shared else node.hostname, misfit)
            )
            continue
        per_cpu = node.cpu_millis // target.cpu_millis if target.cpu_millis else target.replicas
        per_memory = (
            node.memory_bytes // target.memory_bytes if target.memory_bytes else target.replicas
        )
        room += min(per_cpu, per_memory)
    if room >= target.replicas:
        return None
    return PlacementFailure(tuple(range(room, target.replicas)), tuple(reasons), len(nodes))


def _misfit(target: SwarmServiceTarget, node: SwarmNode, swarm: SwarmClusterSpec) -> Misfit | None:
    if node.state != "ready" or node.availability != "active":
        return Misfit(MisfitKind.UNREACHABLE)
    if node.label(swarm.cluster_label) != swarm.cluster or (
        target.zone is not None and node.label(swarm.zone_label) != target.zone
    ):
        return Misfit(MisfitKind.REGION)
    if target.cpu_millis and node.cpu_millis < target.cpu_millis:
        return Misfit(MisfitKind.CPU, target.cpu_millis, node.cpu_millis)
    if target.memory_bytes and node.memory_bytes < target.memory_bytes:
        return Misfit(MisfitKind.MEMORY, target.memory_bytes, node.memory_bytes)
    return None
