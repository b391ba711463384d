"""What every node has room for in one pass: capacity, GPUs, host ports and what is promised.

The allocator keeps one ``NodeRoom`` per node and charges each claim to it; the checks here that
only read one node's room (regions, ports, vram fit) live beside it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from syncd.plan.model import Misfit, MisfitKind
from syncd.plan.routes import instance_ports, routed_ports
from syncd.spec.desired import DesiredDeployment
from syncd.spec.models import NodeSpec, TargetRegion
from syncd.state import NodeFacts

ZoneKey = tuple[str, str | None]


@dataclass
class _Gpu:
    id: str
    total: int
    used: int = 0

    @property
    def free(self) -> int:
        return self.total - self.used


@dataclass
class NodeRoom:
    """One node's capacity and what is promised on it. ``None`` totals mean unknown: no limit."""

    spec: NodeSpec
    reachable: bool
    cpu_total: int | None = None
    memory_total: int | None = None
    cpu_used: int = 0
    memory_used: int = 0
    gpus: list[_Gpu] = field(default_factory=list)
    vram_pool_total: int | None = None  # declared vram without a GPU list: one shared pool
    vram_pool_used: int = 0
    host_ports: Counter[str] = field(default_factory=Counter)
    # stable ports of routed deployments placed here in this pass: "18090/tcp" -> deployment id
    stable_ports: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def zone_key(self) -> ZoneKey:
        return (self.spec.cluster, self.spec.zone)

    @property
    def cpu_free(self) -> int | None:
        return None if self.cpu_total is None else self.cpu_total - self.cpu_used

    @property
    def memory_free(self) -> int | None:
        return None if self.memory_total is None else self.memory_total - self.memory_used

    def load(self) -> float:
        """The larger of the cpu and memory shares promised (0 when both totals are unknown)."""
        shares = [
            used / total
            for used, total in (
                (self.cpu_used, self.cpu_total),
                (self.memory_used, self.memory_total),
            )
            if total
        ]
        return max(shares, default=0.0)


def in_target_regions(node: NodeSpec, regions: Sequence[TargetRegion]) -> bool:
    """No regions means every node; else a region whose cluster (and zone, when given) matches."""
    if not regions:
        return True
    return any(
        region.cluster == node.cluster and (region.zone is None or region.zone == node.zone)
        for region in regions
    )


def host_ports_of(deployment: DesiredDeployment) -> tuple[str, ...]:
    """The fixed ``port/proto`` keys a deployment's instances bind on their node (a routed
    port's stable port belongs to the node's proxy; its replicas get private ports)."""
    return tuple(
        f"{port.host}/{port.protocol}" for port in deployment.spec.ports if not port.routed
    )


def stable_ports_of(deployment: DesiredDeployment) -> tuple[str, ...]:
    return tuple(f"{port.host}/{port.protocol}" for _, port in routed_ports(deployment))


def free_private_ports(room: NodeRoom, deployment: DesiredDeployment) -> tuple[int, ...] | None:
    """The lowest free private port of the node's range for each routed port (None: too few)."""
    wanted = routed_ports(deployment)
    if not wanted:
        return ()
    chosen: list[int] = []
    for number in instance_ports(room.spec):
        protocol = wanted[len(chosen)][1].protocol
        if room.host_ports[f"{number}/{protocol}"] <= 0:
            chosen.append(number)
            if len(chosen) == len(wanted):
                return tuple(chosen)
    return None


def vram_fit(room: NodeRoom, need: int) -> tuple[Misfit | None, tuple[str, ...]]:
    """Best fit: the GPU with the least free vram that still holds ``need`` (ties by id), so big
    GPUs stay free for big models."""
    if room.gpus:
        fitting = [gpu for gpu in room.gpus if gpu.free >= need]
        if not fitting:
            largest = max(gpu.free for gpu in room.gpus)
            return Misfit(MisfitKind.GPU_VRAM, need, max(largest, 0)), ()
        best = min(fitting, key=lambda gpu: (gpu.free, gpu.id))
        return None, (best.id,)
    if room.vram_pool_total is not None:
        free = room.vram_pool_total - room.vram_pool_used
        if need > free:
            return Misfit(MisfitKind.VRAM, need, max(free, 0)), ()
        return None, ()
    return Misfit(MisfitKind.NO_GPU, need), ()


def room_for(node: NodeSpec, facts: NodeFacts | None) -> NodeRoom:
    capacity = node.capacity
    reachable = facts is not None and facts.reachable
    cpu = capacity.cpu_millis if capacity and capacity.cpu_millis is not None else None
    memory = capacity.memory_bytes if capacity and capacity.memory_bytes is not None else None
    if facts is not None:
        cpu = cpu if cpu is not None else facts.cpu_millis
        memory = memory if memory is not None else facts.memory_bytes
    if node.gpus:
        gpus = [_Gpu(gpu.id, gpu.vram_bytes) for gpu in node.gpus]
    elif facts is not None and facts.gpus:
        gpus = [_Gpu(gpu.id, gpu.vram_bytes) for gpu in facts.gpus]
    else:
        gpus = []
    pool = capacity.vram_bytes if capacity and not gpus else None
    return NodeRoom(
        spec=node,
        reachable=reachable,
        cpu_total=cpu,
        memory_total=memory,
        gpus=sorted(gpus, key=lambda gpu: gpu.id),
        vram_pool_total=pool,
    )
