"""Build desired and observed state from the compact form the planner case files use.

A case file (tests/plan/cases/*.yaml) is plain data::

    nodes:        [{id, cluster, zone, cpu, memory, vram, gpus: [{id, vram}], reachable,
                    discovered: {cpu, memory}}]
    deployments:  [{id, image, replicas, cpu, memory, vram, ports: ["8080:80/tcp"],
                    regions: [{cluster, zone}], strategy: Recreate, env: {K: V}}]
    observed:     [{id, node, deployment, replica, version: current|old|<hash>,
                    state, health, created: <minutes>, cpu, memory, vram, gpus, ports, owner}]
    replica_overrides: {deployment: count}
    allow_mass_prune: bool
    owner:        the owner the plan is made for (absent: every instance is ours)
    expect:       {error: substring of PlanError, warnings: [substrings],
                   foreign: {node: {count, owners: [..], unscoped: [deployment ids]}},
                   absent: [deployment ids with no plan at all],
                   deployments: {id: {actions, start: [{replica, node, gpus}], keep: [ids],
                                      replace: [ids], remove: [ids],
                                      unplaceable: {replica: [reasons]}}}}

Quantities use the repository's spellings ("500m", "512Mi", "24Gi"); observed instances of a
desired deployment claim its resources unless the case says otherwise.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from syncd.spec.desired import DesiredState
from syncd.spec.models import (
    Capacity,
    Definition,
    Deployment,
    GpuSpec,
    ImageSource,
    NodeSpec,
    PortMapping,
    RepoSpec,
    Resources,
    Strategy,
    TargetRegion,
)
from syncd.spec.rendering import render_desired
from syncd.state import NodeFacts, ObservedInstance, ObservedState

OLD_HASH = "0" * 64
_T0 = datetime(2026, 1, 1, 12, 0, 0)
_UNITS = {
    "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40,
    "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
    "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
}  # fmt: skip


def cpu(value: Any) -> int | None:
    """ "500m" -> 500, "2" -> 2000, "2.5" -> 2500 (millicores)."""
    if value is None:
        return None
    text = str(value)
    if text.endswith("m"):
        return int(text[:-1])
    whole, _, fraction = text.partition(".")
    return int(whole) * 1000 + int((fraction + "000")[:3])


def size(value: Any) -> int | None:
    """ "512Mi", "24GB", "1000" -> bytes."""
    if value is None:
        return None
    match = re.fullmatch(r"(\d+)([A-Za-z]*)", str(value))
    assert match, value
    number, unit = match.groups()
    return int(number) * (_UNITS[unit] if unit else 1)


def port(text: str) -> PortMapping:
    """ "8080:80/tcp" -> host 8080, internal 80."""
    mapping, _, protocol = text.partition("/")
    host, _, internal = mapping.partition(":")
    return PortMapping(internal=int(internal or host), host=int(host), protocol=protocol or "tcp")  # type: ignore[arg-type]


def node_spec(data: dict[str, Any]) -> NodeSpec:
    declared = any(key in data for key in ("cpu", "memory", "vram"))
    return NodeSpec(
        id=data["id"],
        url=f"unix:///tmp/{data['id']}.sock",
        cluster=data.get("cluster", "default"),
        zone=data.get("zone"),
        capacity=Capacity(
            cpu_millis=cpu(data.get("cpu")),
            memory_bytes=size(data.get("memory")),
            vram_bytes=size(data.get("vram")),
        )
        if declared
        else None,
        gpus=tuple(
            GpuSpec(id=str(g["id"]), vram_bytes=size(g["vram"]) or 0) for g in data.get("gpus", ())
        ),
    )


def node_facts(data: dict[str, Any]) -> NodeFacts:
    discovered = data.get("discovered", {})
    return NodeFacts(
        node_id=data["id"],
        reachable=data.get("reachable", True),
        error=None if data.get("reachable", True) else "connection refused",
        cpu_millis=cpu(discovered.get("cpu")),
        memory_bytes=size(discovered.get("memory")),
    )


def repo_spec(case: dict[str, Any], root: Path = Path("/nonexistent")) -> RepoSpec:
    deployments, definitions = [], []
    for data in case.get("deployments", ()):
        definition_id = f"def_{data['id']}"
        definitions.append(
            Definition(
                id=definition_id,
                image=ImageSource(name=data.get("image", "syncd-test/busybox:latest")),
                ports=tuple(port(p) for p in data.get("ports", ())),
                command=tuple(data["command"]) if "command" in data else None,
            )
        )
        strategy = data.get("strategy", "RollingUpdate")
        deployments.append(
            Deployment(
                id=data["id"],
                definition_id=definition_id,
                replicas=data.get("replicas", 1),
                strategy=Strategy(type=strategy, max_surge=1, max_unavailable=0),
                resources=Resources(
                    cpu_millis=cpu(data.get("cpu")),
                    memory_bytes=size(data.get("memory")),
                    vram_bytes=size(data.get("vram")),
                ),
                target_regions=tuple(
                    TargetRegion(cluster=r["cluster"], zone=r.get("zone"))
                    for r in data.get("regions", ())
                ),
                envars=tuple((str(k), str(v)) for k, v in data.get("env", {}).items()),
            )
        )
    nodes = tuple(node_spec(n) for n in case.get("nodes", ()))
    return RepoSpec(
        root=root, deployments=tuple(deployments), definitions=tuple(definitions), nodes=nodes
    )


def desired_state(case: dict[str, Any]) -> DesiredState:
    return render_desired(repo_spec(case), environ={})


def observed_state(case: dict[str, Any], desired: DesiredState) -> ObservedState:
    instances = []
    for number, data in enumerate(case.get("observed", ())):
        wanted = desired.deployment(data["deployment"])
        version = data.get("version", "current")
        if version == "current":
            assert wanted is not None, f"{data['deployment']} is not desired: give a version"
            spec_hash = wanted.spec_hash
        elif version == "old":
            spec_hash = OLD_HASH
        else:
            spec_hash = version
        resources = wanted.spec.resources if wanted is not None else None
        ports = data.get("ports")
        if ports is None and wanted is not None:
            ports = [f"{p.host}/{p.protocol}" for p in wanted.spec.ports]
        instances.append(
            ObservedInstance(
                node_id=data["node"],
                container_id=data.get("id", f"c{number}"),
                name=data.get("id", f"c{number}"),
                deployment_id=data["deployment"],
                replica=data.get("replica", 0),
                spec_hash=spec_hash,
                commit="abc",
                state=data.get("state", "running"),
                health=data.get("health", "healthy"),
                created_at=_T0 + timedelta(minutes=data.get("created", number)),
                cpu_millis=cpu(data.get("cpu")) or (resources.cpu_millis if resources else 0) or 0,
                memory_bytes=size(data.get("memory"))
                or (resources.memory_bytes if resources else 0)
                or 0,
                vram_bytes=size(data.get("vram"))
                or (resources.vram_bytes if resources else 0)
                or 0,
                gpu_ids=tuple(str(g) for g in data.get("gpus", ())),
                host_ports=tuple(ports or ()),
                owner=data.get("owner"),
            )
        )
    facts = {n["id"]: node_facts(n) for n in case.get("nodes", ())}
    return ObservedState(nodes=facts, instances=tuple(instances))
