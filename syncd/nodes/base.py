"""The seam between the apply engine and a node: what any node driver must offer, and the orders
and readings that cross it.

``NodePool.driver()`` hands out a ``NodeDriver``; nothing above this package knows which backend
is behind it (today ``DockerNode`` over unix, tcp+TLS or ssh; a Swarm cluster or a node proxy
would slot in beside it). Errors are typed (``syncd.errors``): ``NodeUnreachable`` (retryable),
``NameConflict``, ``ContainerNotFound``, ``ImageBuildFailed``, ``ImagePullFailed``, ``HostKeyError``
and ``NodeError`` for any other refusal, with the engine's own words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from syncd.spec.desired import BuildSpec
from syncd.spec.models import HealthCheck, PortMapping, VolumeMount
from syncd.state import HealthReport, NodeFacts, ObservedInstance


@dataclass(frozen=True)
class ContainerRequest:
    """An order from the apply engine to a node: exactly what to create. ``env`` holds resolved
    values, secrets included: it must never be logged, hence the masked repr."""

    name: str
    image: str
    labels: tuple[tuple[str, str], ...]
    env: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    command: tuple[str, ...] | None = None
    cpu_millis: int | None = None
    memory_bytes: int | None = None
    gpu_ids: tuple[str, ...] = ()
    network: str | None = None
    ports: tuple[PortMapping, ...] = ()
    volumes: tuple[VolumeMount, ...] = ()
    health_check: HealthCheck | None = None
    restart_policy: str = "unless-stopped"
    stop_signal: str | None = None  # None: the image's STOPSIGNAL (SIGTERM)
    stop_grace_s: float | None = None  # Docker's StopTimeout; None: the engine's 10s


@dataclass(frozen=True)
class CpuSample:
    """The cumulative CPU counters of one container at one instant (nanoseconds)."""

    total_usage_ns: int  # CPU time the container used since it started
    system_usage_ns: int  # CPU time of the whole host (all cores) since boot
    online_cpus: int


@dataclass(frozen=True)
class CpuReading:
    """One stats read of a container: the sample now and, when the engine took two, the one
    it took about a second earlier (None in a one-shot read or for a stopped container)."""

    current: CpuSample | None
    previous: CpuSample | None = None


class NodeDriver(Protocol):
    """One node's engine. Every method raises NodeUnreachable (retryable) when the engine does not
    answer within the driver's timeout, and a NodeError (typed by cause) for a refusal."""

    node_id: str

    def facts(self) -> NodeFacts:
        """Reachability, engine version, CPUs, memory, GPUs. Never raises: unreachable is a fact."""
        ...

    def observe(self) -> tuple[NodeFacts, list[ObservedInstance]]:
        """Facts and managed instances for one pass; an unreachable node is a fact, not an error."""
        ...

    def list_instances(self) -> list[ObservedInstance]:
        """Every managed container on the node, in one label-filtered list call."""
        ...

    def create_instance(self, request: ContainerRequest) -> str:
        """Create and start a container; returns its id. NameConflict when the name is taken."""
        ...

    def stop_instance(
        self, container_id: str, grace_s: float | None = 10.0, *, signalled: bool = False
    ) -> None:
        """Stop a managed container (its stop signal, SIGKILL after ``grace_s``); gone is not an
        error. ``grace_s`` None: the container's own grace (the StopTimeout its definition's
        ``stopGracePeriod`` set when it was created, else the engine's 10 s). ``signalled``:
        ``signal_stop`` sent the signal already; only wait, then kill."""
        ...

    def signal_stop(self, container_id: str) -> None:
        """Send a managed container its stop signal and return at once (the first half of a
        stop: it is stopping from here); gone or not running is not an error."""
        ...

    def start_instance(self, container_id: str) -> None:
        """Start a stopped managed container again: how a revert brings parked instances back.
        ContainerNotFound when it is gone."""
        ...

    def remove_instance(self, container_id: str) -> None:
        """Remove (forcefully if still running); a container that is already gone is not an error."""
        ...

    def health(self, container_id: str) -> HealthReport:
        """State, health, last probe output, exit code, restarts. ContainerNotFound when gone."""
        ...

    def tail_logs(self, container_id: str, lines: int = 20) -> str: ...

    def read_cpu(self, container_id: str, *, two_samples: bool = False) -> CpuReading | None:
        """CPU counters of a running container (for the autoscaler); None when it is gone. A
        one-shot read is the cheap one; ``two_samples`` asks the engine for a second sample too."""
        ...

    def ensure_image(self, image: str, build: BuildSpec | None, repo_root: Path | None) -> None:
        """Make ``image`` present: already there, built from ``build`` inside ``repo_root``, or
        pulled. Raises ImageBuildFailed / ImagePullFailed with the engine's own words."""
        ...

    def close(self) -> None: ...
