"""Where new instances go: region, reachability, capacity, GPUs and host ports, then spread.

The allocator keeps a running account of what every node has promised: the claims of the managed
instances observed on it (their resource labels) plus the placements made earlier in the same
pass. Instances that the plan removes or replaces are *released* before anything is placed, so a
new placement is computed as if the instances it replaces were already gone (the apply engine
may briefly run both during a RollingUpdate surge; Docker limits are not reservations, so that
never fails, it only overcommits for the length of the surge).

Choosing among the nodes that fit: fewest replicas of the same deployment in the node's zone,
then on the node itself, then the least allocated node (the larger of its cpu and memory
shares), then the node id, so the same input always gives the same placement. Instances that
already run are never moved by the allocator: it only places what the planner asks for.
"""

from __future__ import annotations

import heapq
from bisect import insort
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence

from syncd.plan.model import Misfit, MisfitKind, Placement, PlacementFailure
from syncd.plan.rooms import (
    NodeRoom,
    ZoneKey,
    free_private_ports,
    host_ports_of,
    in_target_regions,
    room_for,
    stable_ports_of,
    vram_fit,
)
from syncd.plan.routes import instance_ports, proxy_address, routed_ports
from syncd.spec.desired import DesiredDeployment
from syncd.spec.models import NodeSpec, TargetRegion
from syncd.state import NodeFacts, ObservedInstance


class Allocator:
    """Places replicas on nodes, one at a time, keeping count of every claim made in this pass."""

    def __init__(
        self,
        nodes: Sequence[NodeSpec],
        facts: Mapping[str, NodeFacts],
        instances: Iterable[ObservedInstance] = (),
    ) -> None:
        self.rooms: dict[str, NodeRoom] = {}
        for node in sorted(nodes, key=lambda n: n.id):
            self.rooms[node.id] = room_for(node, facts.get(node.id))
        self._indexed = False
        for instance in instances:
            self._account(instance, sign=1)
        # Reachable nodes per zone, sorted by (load, id): the search order within a zone, kept
        # sorted as claims change, so a placement rarely looks at more than a few nodes.
        self._by_zone: dict[ZoneKey, list[tuple[float, str]]] = defaultdict(list)
        for room in self.rooms.values():
            if room.reachable:
                self._by_zone[room.zone_key].append((room.load(), room.id))
        for entries in self._by_zone.values():
            entries.sort()
        self._indexed = True
        self._zones_for: dict[tuple[TargetRegion, ...], list[ZoneKey]] = {}

    # ------------------------------------------------------------------ claims

    def release(self, instance: ObservedInstance, *, keep_ports: bool = False) -> None:
        """Forget an instance's claims: the plan removes or replaces it. ``keep_ports``: it
        keeps running beside its replacement for a while (a RollingUpdate surge), so the host
        ports it binds stay taken: a new instance on the same node would fail to bind them."""
        self._account(instance, sign=-1, ports=not keep_ports)

    def _account(self, instance: ObservedInstance, sign: int, *, ports: bool = True) -> None:
        room = self.rooms.get(instance.node_id)
        if room is None:
            return
        before = self._unindex(room)
        room.cpu_used += sign * instance.cpu_millis
        room.memory_used += sign * instance.memory_bytes
        for port in instance.host_ports if ports else ():
            room.host_ports[port] += sign
            if room.host_ports[port] <= 0:
                del room.host_ports[port]
        if instance.vram_bytes:
            known = [gpu for gpu in room.gpus if gpu.id in instance.gpu_ids]
            if known:
                share = instance.vram_bytes // len(known)
                for gpu in known:
                    gpu.used += sign * share
            elif room.gpus:
                room.gpus[0].used += sign * instance.vram_bytes
            else:
                room.vram_pool_used += sign * instance.vram_bytes
        self._reindex(room, before)

    def _unindex(self, room: NodeRoom) -> float | None:
        """The room's sort key before a change (None when it is not indexed)."""
        return room.load() if self._indexed and room.reachable else None

    def _reindex(self, room: NodeRoom, before: float | None) -> None:
        if before is None:
            return
        after = room.load()
        if after == before:
            return
        entries = self._by_zone[room.zone_key]
        entries.remove((before, room.id))
        insort(entries, (after, room.id))

    # ------------------------------------------------------------------ placing

    def place(
        self, deployment: DesiredDeployment, replica: int, peers: Sequence[str] = ()
    ) -> Placement | PlacementFailure:
        """Place one replica of ``deployment``; ``peers`` are the node ids where its other
        instances run or were placed in this pass (one entry per instance) for spreading.

        The chosen node is the fitting node with the smallest (replicas of the deployment in
        its zone, on the node, node load, node id). Zones are tried in order of their replica
        count; inside a group of equally used zones, nodes without a replica come in load order
        (the first that fits wins), then the few nodes that have one. ``place_by_scan`` computes
        the same answer by looking at every node; tests hold the two equal.

        On success the placement's claims are recorded; on failure every node says why.
        """
        per_node = Counter(peers)
        per_zone: Counter[ZoneKey] = Counter()
        for node_id, count in per_node.items():
            peer_room = self.rooms.get(node_id)
            if peer_room is not None:
                per_zone[peer_room.zone_key] += count
        zones = self._eligible_zones(deployment.deployment.target_regions)
        for _, group in _groups_by(zones, key=lambda zone: per_zone[zone]):
            members = set(group)
            for _, node_id in heapq.merge(*(self._by_zone[zone] for zone in group)):
                if per_node[node_id]:
                    continue
                room = self.rooms[node_id]
                why, gpu_ids = self._misfit(room, deployment)
                if why is None:
                    return self._take(room, deployment, replica, gpu_ids)
            best: tuple[tuple[int, float, str], NodeRoom, tuple[str, ...]] | None = None
            for node_id, count in per_node.items():
                peer = self.rooms.get(node_id)
                if peer is None or not peer.reachable or peer.zone_key not in members:
                    continue
                why, gpu_ids = self._misfit(peer, deployment)
                key = (count, peer.load(), peer.id)
                if why is None and (best is None or key < best[0]):
                    best = (key, peer, gpu_ids)
            if best is not None:
                return self._take(best[1], deployment, replica, best[2])
        return self._failure(deployment, replica)

    def place_by_scan(
        self, deployment: DesiredDeployment, replica: int, peers: Sequence[str] = ()
    ) -> Placement | PlacementFailure:
        """``place`` by brute force over every node: the reference the fast path is tested
        against (same answer, O(nodes) per replica)."""
        fitting: list[tuple[NodeRoom, tuple[str, ...]]] = []
        for room in self.rooms.values():
            why, gpu_ids = self._misfit(room, deployment)
            if why is None:
                fitting.append((room, gpu_ids))
        if not fitting:
            return self._failure(deployment, replica)
        per_node = Counter(peers)
        per_zone: Counter[ZoneKey] = Counter()
        for node_id, count in per_node.items():
            peer_room = self.rooms.get(node_id)
            if peer_room is not None:
                per_zone[peer_room.zone_key] += count
        room, gpu_ids = min(
            fitting,
            key=lambda item: (
                per_zone[item[0].zone_key],
                per_node[item[0].id],
                item[0].load(),
                item[0].id,
            ),
        )
        return self._take(room, deployment, replica, gpu_ids)

    def _failure(self, deployment: DesiredDeployment, replica: int) -> PlacementFailure:
        """Every node's reason for refusing ``replica`` (rooms are kept sorted by node id)."""
        reasons = []
        for room in self.rooms.values():
            why = self._misfit(room, deployment)[0]
            if why is not None:
                reasons.append((room.id, why))
        return PlacementFailure(replicas=(replica,), reasons=tuple(reasons), nodes=len(self.rooms))

    def _eligible_zones(self, regions: tuple[TargetRegion, ...]) -> list[ZoneKey]:
        zones = self._zones_for.get(regions)
        if zones is None:
            zones = sorted(
                (
                    zone
                    for zone in self._by_zone
                    if not regions
                    or any(
                        r.cluster == zone[0] and (r.zone is None or r.zone == zone[1])
                        for r in regions
                    )
                ),
                key=lambda zone: (zone[0], zone[1] or ""),
            )
            self._zones_for[regions] = zones
        return zones

    def _take(
        self,
        room: NodeRoom,
        deployment: DesiredDeployment,
        replica: int,
        gpu_ids: tuple[str, ...],
    ) -> Placement:
        before = self._unindex(room)
        private_ports = self._claim(room, deployment, gpu_ids)
        self._reindex(room, before)
        return Placement(
            replica=replica,
            node_id=room.id,
            gpu_ids=gpu_ids,
            private_ports=private_ports,
            listen_address=proxy_address(room.spec) if private_ports else None,
        )

    def _misfit(
        self, room: NodeRoom, deployment: DesiredDeployment
    ) -> tuple[Misfit | None, tuple[str, ...]]:
        """Why ``deployment`` cannot go on ``room`` (None: it fits), and the GPUs it would use."""
        if not in_target_regions(room.spec, deployment.deployment.target_regions):
            return Misfit(MisfitKind.REGION), ()
        if not room.reachable:
            return Misfit(MisfitKind.UNREACHABLE), ()
        for port in host_ports_of(deployment):
            if room.host_ports[port] > 0 or port in room.stable_ports:
                return Misfit(MisfitKind.HOST_PORT, port=port), ()
        for port in stable_ports_of(deployment):
            holder = room.stable_ports.get(port, deployment.id)
            if room.host_ports[port] > 0 or holder != deployment.id:
                return Misfit(MisfitKind.HOST_PORT, port=port), ()
        if free_private_ports(room, deployment) is None:
            span = instance_ports(room.spec)
            return Misfit(MisfitKind.HOST_PORT, port=f"{span.start}-{span.stop - 1}"), ()
        resources = deployment.spec.resources
        cpu_free, memory_free = room.cpu_free, room.memory_free
        if resources.cpu_millis and cpu_free is not None and resources.cpu_millis > cpu_free:
            return Misfit(MisfitKind.CPU, resources.cpu_millis, max(cpu_free, 0)), ()
        if (
            resources.memory_bytes
            and memory_free is not None
            and resources.memory_bytes > memory_free
        ):
            return Misfit(MisfitKind.MEMORY, resources.memory_bytes, max(memory_free, 0)), ()
        if resources.vram_bytes:
            return vram_fit(room, resources.vram_bytes)
        return None, ()

    def _claim(
        self, room: NodeRoom, deployment: DesiredDeployment, gpu_ids: tuple[str, ...]
    ) -> tuple[int, ...]:
        """Record the placement's claims; returns the private ports it got."""
        resources = deployment.spec.resources
        room.cpu_used += resources.cpu_millis or 0
        room.memory_used += resources.memory_bytes or 0
        for key in host_ports_of(deployment):
            room.host_ports[key] += 1
        private_ports = free_private_ports(room, deployment) or ()
        for number, (_, routed) in zip(private_ports, routed_ports(deployment), strict=True):
            room.host_ports[f"{number}/{routed.protocol}"] += 1
        for key in stable_ports_of(deployment):
            room.stable_ports[key] = deployment.id
        if resources.vram_bytes:
            chosen = [gpu for gpu in room.gpus if gpu.id in gpu_ids]
            if chosen:
                chosen[0].used += resources.vram_bytes
            else:
                room.vram_pool_used += resources.vram_bytes
        return private_ports


def _groups_by(
    items: list[ZoneKey], key: Callable[[ZoneKey], int]
) -> list[tuple[int, list[ZoneKey]]]:
    """Items grouped by ``key``, groups in ascending key order, items keeping their order."""
    grouped: dict[int, list[ZoneKey]] = defaultdict(list)
    for item in items:
        grouped[key(item)].append(item)
    return sorted(grouped.items())
