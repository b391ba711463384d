"""Data for Swarm planning tests: a Swarm, its nodes, repositories rendered from documents, and
the service syncd would have created, as the engine reports it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from syncd.plan.planner import plan
from syncd.spec.desired import DesiredState
from syncd.spec.models import SwarmClusterSpec, TargetRegion
from syncd.spec.rendering import render_desired
from syncd.spec.repository import load_repository
from syncd.state import ObservedState, SwarmNode, SwarmObservation, SwarmService
from testkit.services import deployment, service_definition
from testkit.swarm import CLUSTER_LABEL, ZONE_LABEL

SWARM = SwarmClusterSpec(id="sw", cluster="c1", managers=("unix:///nowhere.sock",))


def swarm_node(name: str, zone: str = "z1", **extra: Any) -> SwarmNode:
    fields: dict[str, Any] = {
        "node_id": f"id-{name}",
        "hostname": name,
        "role": "worker",
        "availability": "active",
        "state": "ready",
        "labels": ((CLUSTER_LABEL, "c1"), (ZONE_LABEL, zone)),
        "cpu_millis": 4000,
        "memory_bytes": 8 << 30,
    }
    fields.update(extra)
    return SwarmNode(**fields)


NODES = (swarm_node("n1", "z1"), swarm_node("n2", "z2"), swarm_node("n3", "z3"))


def desired_of(
    tmp_path: Path, *docs: dict[str, Any], definition: dict[str, Any] | None = None
) -> DesiredState:
    for folder in ("deployments", "definitions", "nodes"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    (tmp_path / "nodes" / "sw.yaml").write_text(
        yaml.safe_dump(
            {"kind": "swarm", "id": "sw", "cluster": "c1", "managers": ["unix:///x.sock"]}
        )
    )
    (tmp_path / "definitions" / "d.yaml").write_text(
        yaml.safe_dump(definition or service_definition())
    )
    for doc in docs:
        (tmp_path / "deployments" / f"{doc['id']}.yaml").write_text(yaml.safe_dump(doc))
    return render_desired(load_repository(tmp_path), environ={})


def on_swarm(
    deployment_id: str, replicas: int, *regions: TargetRegion, **extra: Any
) -> dict[str, Any]:
    doc = deployment(deployment_id, replicas, **extra)
    doc["targetRegions"] = [
        {"cluster": r.cluster, **({"zone": r.zone} if r.zone else {})}
        for r in (regions or (TargetRegion("c1"),))
    ]
    return doc


def observed_with(*services: SwarmService, nodes: tuple[SwarmNode, ...] = NODES) -> ObservedState:
    return ObservedState(
        swarms={"sw": SwarmObservation("sw", "c1", True, nodes=nodes, services=services)}
    )


def running_service(desired: DesiredState, deployment_id: str, **override: Any) -> SwarmService:
    """The service syncd would have created for the deployment, as the engine reports it."""
    from syncd.apply.swarm_spec import service_spec

    first = plan(desired, observed_with(), swarms=(SWARM,))
    target = first.for_deployment(deployment_id).swarm.services[0].target  # type: ignore[union-attr]
    assert target is not None
    spec = service_spec(target, target.env, "c0ffee")
    for key, value in override.items():
        spec[key] = value
    labels = spec["Labels"]
    return SwarmService(
        service_id=f"svc-{target.name}",
        name=target.name,
        version=7,
        deployment_id=deployment_id,
        spec_hash=labels["io.syncd.spec-hash"],
        commit="c0ffee",
        owner=labels.get("io.syncd.owner"),
        spec=spec,
    )
