"""The records of the in-memory engine (testkit.memory_driver): injected faults, containers,
and the snapshots a test checks the rollout bounds against."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from syncd.state import (
    LABEL_COMMIT,
    LABEL_CPU,
    LABEL_DEPLOYMENT,
    LABEL_GPUS,
    LABEL_HOST_PORTS,
    LABEL_MEMORY,
    LABEL_REPLICA,
    LABEL_SPEC_HASH,
    LABEL_VRAM,
    ContainerState,
    Health,
    ObservedInstance,
)

FaultKind = Literal["crash", "crash_later", "sick", "refuse_create", "unreachable"]
#: health looks a ``crash_later`` container passes as "starting" before it exits
LATE_CRASH_LOOKS = 3
CRASH_EXIT_CODE = 3


@dataclass(frozen=True)
class Fault:
    """One injected fault.

    ``crash`` / ``crash_later`` / ``sick`` / ``refuse_create``: the ``at``-th container created
    from now on (0-based, over all nodes) exits at its first health look / after a few looks /
    never becomes healthy / is refused by the engine. ``unreachable``: ``node_id`` (default:
    the node that operation goes to) stops answering from the ``at``-th node operation on
    (create, stop, start, remove; 0-based) until ``MemoryCluster.reconnect``.
    """

    kind: FaultKind
    at: int = 0
    node_id: str | None = None

    def __str__(self) -> str:
        where = f" {self.node_id}" if self.node_id else ""
        return f"{self.kind}{where}@{self.at}"


@dataclass
class Container:
    """One container on one node, as the fake engine holds it."""

    id: str
    name: str
    node_id: str
    image: str
    labels: dict[str, str]
    env: dict[str, str]
    behaviour: FaultKind | Literal["ok"]
    has_health_check: bool
    stop_grace_s: float | None = None  # the request's (Docker's StopTimeout); None: 10 s
    state: ContainerState = "running"
    health: Health = "starting"
    looks: int = 0  # health() calls so far
    exit_code: int | None = None
    stopped: bool = False  # stopped on request (a parked instance), not crashed
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def serving(self) -> bool:
        return self.state == "running" and self.health in ("healthy", "none")

    def observed(self) -> ObservedInstance:
        labels = self.labels
        return ObservedInstance(
            node_id=self.node_id,
            container_id=self.id,
            name=self.name,
            deployment_id=labels.get(LABEL_DEPLOYMENT, ""),
            replica=int(labels.get(LABEL_REPLICA, "-1")),
            spec_hash=labels.get(LABEL_SPEC_HASH, ""),
            commit=labels.get(LABEL_COMMIT, ""),
            state=self.state,
            health=self.health if self.state == "running" else "none",
            started_at=self.started_at if self.state == "running" else None,
            exit_code=self.exit_code,
            cpu_millis=int(labels.get(LABEL_CPU, "0")),
            memory_bytes=int(labels.get(LABEL_MEMORY, "0")),
            vram_bytes=int(labels.get(LABEL_VRAM, "0")),
            gpu_ids=tuple(filter(None, labels.get(LABEL_GPUS, "").split(","))),
            host_ports=tuple(filter(None, labels.get(LABEL_HOST_PORTS, "").split(","))),
        )


@dataclass(frozen=True)
class InstanceView:
    """One container in a snapshot: enough to check the rollout bounds."""

    node_id: str
    container_id: str
    deployment_id: str
    replica: int
    spec_hash: str
    stopped: bool  # parked (stopped on request): holds nothing, not counted as an instance
    serving: bool


@dataclass(frozen=True)
class Snapshot:
    """Every container right after one change (``change`` says which, e.g. "create node-a ...")."""

    change: str
    instances: tuple[InstanceView, ...]
    operation: int | None = None  # the cluster's node operation that made it (None: a health look)
    create: int | None = None  # for a create: which one, counted as ``Fault.at`` counts them

    def of(self, deployment_id: str) -> tuple[InstanceView, ...]:
        return tuple(i for i in self.instances if i.deployment_id == deployment_id)
