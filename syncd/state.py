"""What runs on the nodes: observed instances, node facts, health reports, ownership labels.

(What the apply engine asks a node to create, ``ContainerRequest``, is an order, not an
observation: it lives with the driver protocol in ``syncd.nodes.base``.)

Ownership lives in container labels (docs/architecture.md); there is no local database. A
container without ``io.syncd.managed=true`` is never observed as ours, stopped or removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

LABEL_MANAGED = "io.syncd.managed"
LABEL_DEPLOYMENT = "io.syncd.deployment"
LABEL_SPEC_HASH = "io.syncd.spec-hash"
LABEL_COMMIT = "io.syncd.commit"
LABEL_REPLICA = "io.syncd.replica"
# Who created it: a daemon (or repo and path) plans, updates and prunes only its own; see
# syncd/plan/ownership.py. Containers from before this label existed carry none.
LABEL_OWNER = "io.syncd.owner"
# Resource claims are written as labels too, so one list call tells what a node has promised.
LABEL_CPU = "io.syncd.cpu-millis"
LABEL_MEMORY = "io.syncd.memory-bytes"
LABEL_VRAM = "io.syncd.vram-bytes"
LABEL_GPUS = "io.syncd.gpus"  # comma-separated device ids
LABEL_HOST_PORTS = "io.syncd.host-ports"  # comma-separated "port/proto"

ContainerState = Literal["created", "running", "paused", "restarting", "removing", "exited", "dead"]
Health = Literal["healthy", "unhealthy", "starting", "none"]


@dataclass(frozen=True)
class ObservedInstance:
    """One managed container, as one label-filtered list call reports it."""

    node_id: str
    container_id: str
    name: str
    deployment_id: str
    replica: int
    spec_hash: str
    commit: str
    state: ContainerState
    health: Health
    created_at: datetime | None = None
    started_at: datetime | None = None
    restart_count: int = 0
    exit_code: int | None = None
    cpu_millis: int = 0
    memory_bytes: int = 0
    vram_bytes: int = 0
    gpu_ids: tuple[str, ...] = ()
    host_ports: tuple[str, ...] = ()  # "8080/tcp"
    owner: str | None = None  # its io.syncd.owner label; None: unscoped (created before it)

    @property
    def is_running(self) -> bool:
        return self.state == "running"

    @property
    def is_serving(self) -> bool:
        """Counts as available: running and not failing its health check."""
        return self.state == "running" and self.health in ("healthy", "none")

    @property
    def has_failed(self) -> bool:
        # "created": never started (syncd killed between create and start); nothing will start it
        return self.state in ("exited", "dead", "created") or self.health == "unhealthy"


@dataclass(frozen=True)
class GpuFacts:
    id: str
    name: str
    vram_bytes: int


@dataclass(frozen=True)
class NodeFacts:
    """What we know of a node after observing it."""

    node_id: str
    reachable: bool
    error: str | None = None
    engine_version: str | None = None
    cpu_millis: int | None = None  # discovered from the engine
    memory_bytes: int | None = None
    gpus: tuple[GpuFacts, ...] = ()
    has_gpu_runtime: bool = False
    observed_at: datetime | None = None


@dataclass(frozen=True)
class ObservedState:
    nodes: dict[str, NodeFacts] = field(default_factory=dict)
    instances: tuple[ObservedInstance, ...] = ()

    def of_deployment(self, deployment_id: str) -> tuple[ObservedInstance, ...]:
        return tuple(i for i in self.instances if i.deployment_id == deployment_id)

    def reachable_node_ids(self) -> frozenset[str]:
        return frozenset(n for n, facts in self.nodes.items() if facts.reachable)


@dataclass(frozen=True)
class HealthReport:
    """A closer look at one container than the list call gives (one inspect call)."""

    container_id: str
    state: ContainerState
    health: Health
    exit_code: int | None = None
    restart_count: int = 0
    failing_streak: int = 0
    last_probe_output: str = ""
    oom_killed: bool = False
    error: str = ""  # the engine's State.Error, e.g. an exec format error
