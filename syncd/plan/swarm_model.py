"""The Swarm part of a Plan: per deployment on a Swarm cluster, one service per target region,
what syncd wants it to be and what changes (data: the renderers print it, apply sends it)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from syncd.plan.model import FieldChange, PlacementFailure
from syncd.spec.models import HealthCheck, PortMapping, VolumeMount


class SwarmChange(StrEnum):
    """How a service changes; one service may need several (a rollout and a scale)."""

    CREATE = "create"
    ROLLOUT = "rollout"  # the task template changes: Swarm replaces every task
    SCALE = "scale"  # only the replica count
    IN_PLACE = "in-place"  # service labels or update policy: no task restarts
    REMOVE = "remove"  # region or deployment gone from Git
    AWAIT = "await"  # already at the target, Swarm still rolling it (a pass died mid-rollout)
    NOOP = "noop"


@dataclass(frozen=True)
class SwarmUpdatePolicy:
    """``update_config`` from the deployment's strategy. ``note`` says which bound Swarm keeps
    when the strategy asks for both (Swarm has one parallelism and one order)."""

    order: str  # "start-first" | "stop-first"
    parallelism: int  # tasks updated at once; 0 = all at once
    monitor_s: float
    note: str = ""


@dataclass(frozen=True)
class SwarmServiceTarget:
    """The fields of one service that syncd owns, as Git wants them. ``env`` keeps
    ``{{secret:NAME}}`` unresolved: apply reads secret values at the last moment."""

    name: str
    cluster: str
    zone: str | None
    replicas: int
    image: str
    command: tuple[str, ...] | None
    env: tuple[tuple[str, str], ...]
    cpu_millis: int | None
    memory_bytes: int | None
    health_check: HealthCheck | None
    network: str | None
    ports: tuple[PortMapping, ...]
    volumes: tuple[VolumeMount, ...]
    constraints: tuple[str, ...]
    spread_label: str | None  # node label the tasks spread over (the zone), or None
    update: SwarmUpdatePolicy
    service_labels: tuple[tuple[str, str], ...]
    task_labels: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SwarmServicePlan:
    """One service: the target (None when it is removed), the observed one it changes (None
    when created), what changes and which fields, and why replicas cannot be placed."""

    name: str
    changes: tuple[SwarmChange, ...]
    target: SwarmServiceTarget | None
    service_id: str | None = None
    observed_hash: str | None = None
    observed_replicas: int = 0
    fields: tuple[FieldChange, ...] = ()
    unplaceable: PlacementFailure | None = None

    @property
    def has_changes(self) -> bool:
        return any(change is not SwarmChange.NOOP for change in self.changes)


@dataclass(frozen=True)
class SwarmDeploymentPlan:
    """A deployment on one Swarm cluster. ``refused``: why syncd does not touch it at all
    (a definition Swarm cannot run); its services then stay as they are."""

    swarm_id: str
    cluster: str
    services: tuple[SwarmServicePlan, ...] = ()
    refused: str | None = None
    reachable: bool = True
