"""The Plan: data that renderers print and the apply engine executes (one path, no imitation).

A plan holds, per deployment, which instances stay, which new ones start where, which old ones a
strategy replaces, and which are removed outright. The apply engine decides the order (batches,
health gates); the plan decides what and where.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from syncd.spec.desired import DesiredDeployment
from syncd.state import ObservedInstance

if TYPE_CHECKING:  # swarm_model builds on this module's types
    from syncd.plan.swarm_model import SwarmDeploymentPlan


class ActionKind(StrEnum):
    CREATE = "create"  # no instance exists yet
    ROLLING_UPDATE = "rolling-update"  # spec hash changed, strategy RollingUpdate
    RECREATE = "recreate"  # spec hash changed, strategy Recreate
    SCALE_UP = "scale-up"
    SCALE_DOWN = "scale-down"
    REPLACE = "replace"  # missing, exited or unhealthy instances of the current version
    PRUNE = "prune"  # deployment removed from Git: remove all its instances
    NOOP = "noop"


@dataclass(frozen=True)
class Placement:
    """A new instance: replica index, node, GPUs the allocator chose for its vram, the owner
    label it is created with (the plan's owner, carried here so apply needs no more), and the
    private port of each routed port (in the definition's order; see syncd/plan/routes.py)."""

    replica: int
    node_id: str
    gpu_ids: tuple[str, ...] = ()
    owner: str | None = None
    private_ports: tuple[int, ...] = ()
    listen_address: str | None = None  # routed: the node's proxy address the replica listens on


class MisfitKind(StrEnum):
    """Why a replica cannot go on a node, as a kind the renderers group by."""

    REGION = "region"  # the node is outside the deployment's target regions
    UNREACHABLE = "unreachable"
    HOST_PORT = "host-port"  # a host port the deployment binds is taken there
    CPU = "cpu"
    MEMORY = "memory"
    GPU_VRAM = "gpu-vram"  # no single GPU has the vram free
    VRAM = "vram"  # the node's declared vram pool is short
    NO_GPU = "no-gpu"  # vram asked for, and the node has none


@dataclass(frozen=True)
class Misfit:
    """One node's reason: its kind and the amounts (millicores or bytes) or port behind it."""

    kind: MisfitKind
    need: int | None = None
    free: int | None = None  # the most free (on the largest GPU, for GPU_VRAM)
    port: str | None = None  # HOST_PORT: "8080/tcp"

    def __str__(self) -> str:
        from syncd.plan import wording  # the words live with the renderers

        return wording.misfit(self)


@dataclass(frozen=True)
class PlacementFailure:
    """Replicas of one deployment that fit on no node, and each node's reason.

    The planner groups the replicas that failed for the same reasons into one failure, so a
    deployment usually has one, whatever its replica count. ``nodes`` counts every node
    considered; a node absent from ``reasons`` would have fitted.
    """

    replicas: tuple[int, ...]
    reasons: tuple[tuple[str, Misfit], ...]  # (node_id, why), by node id
    nodes: int

    def describe(self) -> str:
        """One bounded line: ``5 replicas cannot be placed: 0/5 nodes fit: 3 not in target
        regions, 1 unreachable (web-use1-1), 1 needs 500m cpu, 250m free (local)``."""
        from syncd.plan import wording  # the words live with the renderers

        return wording.placement_failure(self)


@dataclass(frozen=True)
class FieldChange:
    path: str  # "image", "env.LOG_LEVEL", "resources.memory", "replicas"
    old: str | None
    new: str | None


@dataclass(frozen=True)
class DeploymentPlan:
    """What changes for one deployment, and the counts behind its one-line summary.

    The planner decides; it writes no sentences: ``summary`` is made from these fields by
    ``syncd.plan.wording``, the one place the words of a plan are made.
    """

    deployment_id: str
    actions: tuple[ActionKind, ...]  # (ActionKind.NOOP,) when in sync
    desired: DesiredDeployment | None  # None when pruned
    current_hashes: tuple[str, ...]  # spec hashes running now (sorted)
    target_hash: str | None
    keep: tuple[ObservedInstance, ...] = ()  # untouched: right hash, not failed
    start: tuple[Placement, ...] = ()  # new instances at target_hash
    replace: tuple[ObservedInstance, ...] = ()  # old-version instances the strategy replaces
    remove: tuple[ObservedInstance, ...] = ()  # removed outright: scale down, failed, prune
    unplaceable: tuple[PlacementFailure, ...] = ()
    changes: tuple[FieldChange, ...] = ()
    replicas: int = 0  # the count planned for (the autoscaler's when ``autoscaled``); 0 pruned
    replicas_before: int = 0  # live: replica indexes observed; offline: the base commit's count
    failed: int = 0  # failed instances removed and started again
    missing: int = 0  # replicas that were not running at all, started again
    duplicates: int = 0  # second instances of one replica index (a crash between start and stop)
    on_unreachable_nodes: tuple[ObservedInstance, ...] = ()  # not counted, nor removed
    autoscaled: bool = False
    offline: bool = False  # desired against desired: ``changes`` name every changed field
    swarm: SwarmDeploymentPlan | None = None  # on a Swarm cluster: its services (plan/swarm.py)

    @property
    def has_changes(self) -> bool:
        if self.swarm is not None and any(s.has_changes for s in self.swarm.services):
            return True  # a Swarm service's labels or update policy change in place
        return any(a is not ActionKind.NOOP for a in self.actions)

    @property
    def unplaceable_replicas(self) -> int:
        return sum(len(failure.replicas) for failure in self.unplaceable)

    @property
    def summary(self) -> str:
        """One line about this deployment (``create 3 replicas``, ``scale up from 1 to 3``)."""
        from syncd.plan import wording  # the words live with the renderers

        if self.swarm is not None:
            from syncd.plan.swarm import swarm_summary

            return swarm_summary(self)

        return wording.deployment_summary(self)


@dataclass(frozen=True)
class ForeignInstances:
    """The containers on one node that this plan leaves alone: another owner's, or unscoped
    ones (no owner label) of deployments this repository does not declare."""

    node_id: str
    count: int  # all of them: another owner's plus unscoped
    owners: tuple[str, ...] = ()  # the other owners seen, sorted
    unscoped: int = 0  # how many carry no owner label
    unscoped_deployments: tuple[str, ...] = ()  # their deployment ids, sorted


@dataclass(frozen=True)
class Plan:
    revision: str | None
    deployments: tuple[DeploymentPlan, ...]
    warnings: tuple[str, ...] = ()
    base_revision: str | None = None  # offline plans: the revision compared against
    offline: bool = False  # desired vs desired (plan_offline): no node was contacted
    owner: str | None = None  # whose containers it plans (None: every managed one)
    foreign: tuple[ForeignInstances, ...] = ()  # per node, what it leaves alone
    # node proxies that do not serve what runs, as ``syncd plan`` shows them: filled in by the
    # pass, which observes them (syncd.apply.routes.ProxyChange.describe)
    proxy_changes: tuple[str, ...] = ()

    @property
    def has_changes(self) -> bool:
        return any(d.has_changes for d in self.deployments) or bool(self.proxy_changes)

    def for_deployment(self, deployment_id: str) -> DeploymentPlan | None:
        return next((d for d in self.deployments if d.deployment_id == deployment_id), None)
