"""Sync-layer tests: a repository on disk and a pool that reports what a test says it runs, so the
pass can be driven without engines (the CLI and daemon tests drive it against real ones)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from syncd.state import NodeFacts, ObservedInstance, ObservedState

NODES = ("node-a", "node-b")


def write_repo(root: Path, deployments: dict[str, int], nodes: tuple[str, ...] = NODES) -> Path:
    """A repository of ``deployments`` (id -> replicas) of one image, on ``nodes``."""
    for folder in ("deployments", "definitions", "nodes"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    definition = {"id": "def_web", "image": {"name": "nginx:1.27", "internalPorts": [80]}}
    (root / "definitions" / "def_web.yaml").write_text(yaml.safe_dump(definition))
    for deployment_id, replicas in deployments.items():
        doc = {"id": deployment_id, "definitionId": "def_web", "replicas": replicas}
        (root / "deployments" / f"{deployment_id}.yaml").write_text(yaml.safe_dump(doc))
    for node_id in nodes:
        doc = {"id": node_id, "url": f"tcp://{node_id}.invalid:2376", "cluster": "main"}
        (root / "nodes" / f"{node_id}.yaml").write_text(yaml.safe_dump(doc))
    return root


def running(deployment_id: str, replica: int, node_id: str, spec_hash: str) -> ObservedInstance:
    name = f"{deployment_id}-{replica}"
    return ObservedInstance(
        node_id=node_id,
        container_id=name,
        name=name,
        deployment_id=deployment_id,
        replica=replica,
        spec_hash=spec_hash,
        commit="c",
        state="running",
        health="healthy",
    )


@dataclass
class ReportingPool:
    """A NodePool stand-in: every node reachable, running ``instances``."""

    node_ids: tuple[str, ...] = NODES
    instances: list[ObservedInstance] = field(default_factory=list)
    observed: int = 0
    closed: bool = False

    def observe(self) -> ObservedState:
        self.observed += 1
        nodes = {
            n: NodeFacts(n, reachable=True, cpu_millis=8000, memory_bytes=2**34)
            for n in self.node_ids
        }
        return ObservedState(nodes=nodes, instances=tuple(self.instances))

    def driver(self, node_id: str) -> Any:
        raise AssertionError(f"the test did not expect a driver for {node_id}")

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def repo_with(tmp_path: Path) -> Callable[..., Path]:
    return lambda deployments, nodes=NODES: write_repo(tmp_path / "repo", deployments, nodes)
