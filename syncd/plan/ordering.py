"""Which instance is kept, which one goes, and in what order a plan lists them.

The planner's tie-breaking rules, kept apart so they read as one policy: among duplicates of a
replica index keep the healthy, serving, oldest one; on scale-down remove the not-serving ones
first, then spread the removals over the fullest nodes, then the newest.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from syncd.plan.allocator import Allocator
from syncd.state import ObservedInstance

_EPOCH = datetime.min


def replica_order(instance: ObservedInstance) -> tuple[int, str, str]:
    return (instance.replica, instance.node_id, instance.container_id)


def keep_preference(instance: ObservedInstance) -> tuple[object, ...]:
    """Among duplicates of one replica index: not failed, serving, then the oldest."""
    return (
        instance.has_failed,
        not instance.is_serving,
        instance.created_at or _EPOCH,
        instance.node_id,
        instance.container_id,
    )


def choose_scale_down(
    survivors: list[ObservedInstance], count: int, allocator: Allocator
) -> list[ObservedInstance]:
    """Not serving first, then from the node holding most of them (then the most loaded node),
    then the newest; recounted after each pick so removals spread over nodes."""
    remaining = list(survivors)
    chosen: list[ObservedInstance] = []
    for _ in range(count):
        per_node = Counter(i.node_id for i in remaining)
        victim = min(remaining, key=lambda i: _scale_down_rank(i, per_node, allocator))
        remaining.remove(victim)
        chosen.append(victim)
    return chosen


def _scale_down_rank(
    instance: ObservedInstance, per_node: Counter[str], allocator: Allocator
) -> tuple[object, ...]:
    room = allocator.rooms.get(instance.node_id)
    return (
        instance.is_serving,
        -per_node[instance.node_id],
        -(room.load() if room else 0.0),
        _Newest(instance.created_at or _EPOCH),
        -instance.replica,
        instance.container_id,
    )


@dataclass(frozen=True)
class _Newest:
    """Sorts later datetimes first."""

    created: datetime

    def __lt__(self, other: object) -> bool:
        assert isinstance(other, _Newest)
        return self.created > other.created


def free_indexes(taken: set[int], count: int) -> list[int]:
    found: list[int] = []
    index = 0
    while len(found) < count:
        if index not in taken:
            found.append(index)
        index += 1
    return found
