"""The Plan: data that renderers print and the apply engine executes (one path, no imitation).

A plan holds, per deployment, which instances stay, which new ones start where, which old ones a
strategy replaces, and which are removed outright. The apply engine decides the order (batches,
health gates); the plan decides what and where.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from syncd.spec.desired import DesiredDeployment
from syncd.state import ObservedInstance


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
    """A new instance: replica index, node, GPUs the allocator chose for its vram, and the
    owner label it is created with (the plan's owner, carried here so apply needs no more)."""

    replica: int
    node_id: str
    gpu_ids: tuple[str, ...] = ()
    owner: str | None = None


@dataclass(frozen=True)
class PlacementFailure:
    """A replica that fits nowhere, with the reason for each node ("needs 512Mi memory, 128Mi free")."""

    replica: int
    reasons: tuple[tuple[str, str], ...]  # (node_id, why)

    def describe(self) -> str:
        why = "; ".join(f"{node}: {reason}" for node, reason in self.reasons) or "no nodes"
        return f"no node fits replica {self.replica}: {why}"


@dataclass(frozen=True)
class FieldChange:
    path: str  # "image", "env.LOG_LEVEL", "resources.memory", "replicas"
    old: str | None
    new: str | None


@dataclass(frozen=True)
class DeploymentPlan:
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
    summary: str = ""

    @property
    def has_changes(self) -> bool:
        return any(a is not ActionKind.NOOP for a in self.actions)


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

    @property
    def has_changes(self) -> bool:
        return any(d.has_changes for d in self.deployments)

    def for_deployment(self, deployment_id: str) -> DeploymentPlan | None:
        return next((d for d in self.deployments if d.deployment_id == deployment_id), None)
