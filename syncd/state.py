"""What runs on the nodes: observed instances, node facts, health reports, ownership labels.

(What the apply engine asks a node to create, ``ContainerRequest``, is an order, not an
observation: it lives with the driver protocol in ``syncd.nodes.base``.)

Ownership lives in container labels (docs/architecture.md); there is no local database. A
container without ``io.syncd.managed=true`` is never observed as ours, stopped or removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

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
    swarms: dict[str, SwarmObservation] = field(default_factory=dict)  # by Swarm cluster id

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


# --------------------------------------------------------------------------- Swarm clusters

SwarmUpdateState = Literal[
    "updating", "paused", "completed", "rollback_started", "rollback_paused", "rollback_completed"
]


@dataclass(frozen=True)
class SwarmNode:
    """One node of a Swarm as the manager's node list reports it."""

    node_id: str
    hostname: str
    role: str  # "manager" | "worker"
    availability: str  # "active" | "pause" | "drain"
    state: str  # "ready" | "down" | "unknown" | "disconnected"
    labels: tuple[tuple[str, str], ...] = ()
    cpu_millis: int = 0
    memory_bytes: int = 0

    def label(self, key: str) -> str | None:
        return next((value for name, value in self.labels if name == key), None)


@dataclass(frozen=True)
class SwarmTask:
    """One task of a service (read only when a rollout or a failure needs it)."""

    task_id: str
    node_id: str
    spec_hash: str  # the io.syncd.spec-hash label of the version it runs
    desired_state: str  # "running" | "shutdown" | ...
    state: str  # "running", "starting", "failed", "rejected", "pending", ...
    message: str = ""
    error: str = ""
    exit_code: int | None = None

    @property
    def is_running(self) -> bool:
        return self.state == "running" and self.desired_state == "running"


@dataclass(frozen=True)
class SwarmService:
    """One service with syncd's managed label. ``spec`` is the engine's Spec as it stands
    (the planner reads only the fields syncd owns from it); ``version`` is what an update must
    quote (Swarm refuses a stale one: "update out of sequence")."""

    service_id: str
    name: str
    version: int
    deployment_id: str
    spec_hash: str
    commit: str
    owner: str | None
    spec: dict[str, Any] = field(compare=False, repr=False)
    update_state: SwarmUpdateState | None = None
    update_message: str = ""
    update_started_at: datetime | None = None
    running_tasks: int = 0  # ServiceStatus from the list call itself (no task list needed)
    tasks: tuple[SwarmTask, ...] = ()

    @property
    def replicas(self) -> int:
        return int(self.spec.get("Mode", {}).get("Replicated", {}).get("Replicas", 0))


@dataclass(frozen=True)
class SwarmObservation:
    """What one Swarm cluster runs, from a few calls to one manager (services, nodes)."""

    swarm_id: str  # the SwarmClusterSpec id
    cluster: str
    reachable: bool
    error: str | None = None
    manager: str | None = None  # the endpoint that answered
    nodes: tuple[SwarmNode, ...] = ()
    services: tuple[SwarmService, ...] = ()
    observed_at: datetime | None = None
