"""The seam between the apply engine and a node: what any node driver must offer."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from syncd.spec.desired import BuildSpec
from syncd.state import ContainerRequest, HealthReport, NodeFacts, ObservedInstance


class NodeDriver(Protocol):
    """One node's engine. Every method raises NodeUnreachable (retryable) when the engine does not
    answer within the driver's timeout, and NodeError for a refusal."""

    node_id: str

    def facts(self) -> NodeFacts:
        """Reachability, engine version, CPUs, memory, GPUs. Never raises: unreachable is a fact."""
        ...

    def list_instances(self) -> list[ObservedInstance]:
        """Every managed container on the node, in one label-filtered list call."""
        ...

    def create_instance(self, request: ContainerRequest) -> str:
        """Create and start a container; returns its id."""
        ...

    def stop_instance(self, container_id: str, grace_s: float = 10.0) -> None: ...

    def start_instance(self, container_id: str) -> None:
        """Start a stopped managed container again: how a revert brings parked instances back."""
        ...

    def remove_instance(self, container_id: str) -> None:
        """Remove (forcefully if still running); a container that is already gone is not an error."""
        ...

    def health(self, container_id: str) -> HealthReport: ...

    def tail_logs(self, container_id: str, lines: int = 20) -> str: ...

    def ensure_image(self, image: str, build: BuildSpec | None, repo_root: Path | None) -> None:
        """Make ``image`` present: already there, built from ``build`` inside ``repo_root``, or
        pulled. Raises BuildError with the engine's own words."""
        ...

    def close(self) -> None: ...
