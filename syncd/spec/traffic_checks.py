"""The traffic parts of validation: routed ports (definitions) and the strategies that move
traffic (deployments). Called from ``syncd.spec.validation``, like its own checks."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import TYPE_CHECKING

from syncd.errors import SpecProblem
from syncd.spec.loading import Document
from syncd.spec.models import Definition, Deployment, NodeSpec, PortMapping

if TYPE_CHECKING:  # validation imports this module
    from syncd.spec.validation import Loaded


def strategy_problems(deployment: Deployment, document: Document) -> list[SpecProblem]:
    """A strategy's fields belong to its type; a Canary's steps climb."""
    strategy = deployment.strategy
    written = document.data.get("strategy") or {}
    problems = []
    owners = {
        "steps": ("Canary",),
        "max5xxPercent": ("Canary",),
        "keepOldFor": ("BlueGreen", "Canary"),
    }
    for key, types in owners.items():
        if key in written and strategy.type not in types:
            names = " or ".join(types)
            problems.append(
                document.problem(
                    ("strategy", key),
                    f"{key} applies to strategy type {names}, not {strategy.type}: "
                    f"set type: {types[0]} or remove {key}",
                )
            )
    if strategy.type == "Canary":
        if not strategy.steps:
            problems.append(
                document.problem(
                    ("strategy",),
                    "a Canary needs steps, e.g. steps: [{weight: 10, pause: 1m}, "
                    "{weight: 50, pause: 1m}]",
                )
            )
        for index, (before, step) in enumerate(pairwise(strategy.steps), 1):
            if step.weight <= before.weight:
                problems.append(
                    document.problem(
                        ("strategy", "steps", index, "weight"),
                        f"weight {step.weight} does not climb from the step before "
                        f"({before.weight}): each step sends more traffic to the new version",
                    )
                )
    return problems


def routed_port_problems(
    document: Document, definition: Definition, index: int, port: PortMapping
) -> list[SpecProblem]:
    """A routed port goes through the node's proxy: TCP only, and the proxy owns its address."""
    if not port.routed:
        return []
    network = definition.network or ""
    # (the mistake, the field to point at, what to do about it)
    checks = (
        (
            port.protocol != "tcp",
            "protocol",
            "a routed port is served by the node's proxy, which speaks tcp (and http) only: "
            "remove `routed: true` or use protocol tcp",
        ),
        (
            port.host_ip != "127.0.0.1",
            "hostIp",
            "a routed port listens on the node's proxy.address, not on hostIp: set the "
            "address in the node's `proxy:` block and remove hostIp here",
        ),
        (
            network == "none" or network.startswith("container:"),
            "routed",
            f"network {definition.network!r} cannot be reached by the node's proxy: use "
            "host or a bridge network (or remove `routed: true`)",
        ),
    )
    return [
        document.problem(("ports", index, field), message)
        for wrong, field, message in checks
        if wrong
    ]


def _may_run_on(deployment: Deployment, node: NodeSpec) -> bool:
    """The planner's region rule (syncd.plan.rooms.in_target_regions), which spec may not import."""
    return not deployment.target_regions or any(
        region.cluster == node.cluster and region.zone in (None, node.zone)
        for region in deployment.target_regions
    )


def routed_port_collisions(
    deployments: Sequence[Loaded[Deployment]],
    definitions: Sequence[Loaded[Definition]],
    nodes: Sequence[NodeSpec],
) -> list[SpecProblem]:
    """Two deployments whose routed ports share a stable port, on a node both may run on: that
    node's proxy could serve only one of them there. Reported at the later deployment, naming
    the other one, a node they share and the port."""
    by_id = {item.model.id: item for item in definitions}
    claims: dict[str, list[tuple[Loaded[Deployment], list[str]]]] = {}  # port -> holders
    problems = []
    for item in deployments:
        definition = by_id.get(item.model.definition_id)
        if definition is None:
            continue  # reported by the reference checks
        ports = [f"{p.host}/{p.protocol}" for p in definition.model.ports if p.routed]
        if not ports:
            continue  # most deployments route nothing: no node list (deployments x nodes) for them
        hosts = [node.id for node in nodes if _may_run_on(item.model, node)]
        for port in dict.fromkeys(ports):
            for holder, holder_hosts in claims.get(port, []):
                shared = sorted(set(hosts) & set(holder_hosts))
                if not shared:
                    continue
                where = holder.document
                line, _ = where.position(("id",))
                others = f" (and {len(shared) - 1} more)" if len(shared) > 1 else ""
                problems.append(
                    item.document.problem(
                        ("definitionId",),
                        f"routed port {port} of deployment {item.model.id!r} (definition "
                        f"{definition.model.id!r}) collides with deployment {holder.model.id!r} "
                        f"({where.file}:{line}) on node "
                        f"{shared[0]}{others}: one proxy port serves one deployment; give one "
                        "of them another host port, or targetRegions that keep them apart",
                    )
                )
            claims.setdefault(port, []).append((item, hosts))
    return problems
