"""Containers a driver has inspected and found managed, with their stop signal and grace.

Every stop, signal and removal first made sure that the container is syncd's (its managed label)
and, for a signal, read its StopSignal: one inspect call before the call that does the work. A
container's labels, stop signal and stop timeout never change while it exists, and its id is never reused, so
once one inspect has shown them they hold until it is removed. A rollout's hand-over then costs
one call (the signal) instead of two, on its critical path, once per batch.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

#: containers remembered per node; the oldest are forgotten first (they are inspected again)
KNOWN_CONTAINERS_PER_NODE = 4096


class KnownContainers:
    """Managed containers of one node seen by an inspect: id -> (stop signal, stop timeout in
    seconds) (thread-safe)."""

    def __init__(self, limit: int = KNOWN_CONTAINERS_PER_NODE) -> None:
        self._limit = limit
        self._signals: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, container_id: str, stop_signal: str, stop_timeout_s: float) -> None:
        with self._lock:
            self._signals[container_id] = (stop_signal, stop_timeout_s)
            self._signals.move_to_end(container_id)
            while len(self._signals) > self._limit:
                self._signals.popitem(last=False)

    def stop_signal(self, container_id: str) -> str | None:
        """The stop signal of a container known to be managed; None when not known."""
        with self._lock:
            known = self._signals.get(container_id)
        return known[0] if known is not None else None

    def stop_timeout_s(self, container_id: str) -> float | None:
        """The grace the engine keeps for a container known to be managed (its StopTimeout,
        else 10 s); None when not known."""
        with self._lock:
            known = self._signals.get(container_id)
        return known[1] if known is not None else None

    def forget(self, container_id: str) -> None:
        with self._lock:
            self._signals.pop(container_id, None)

    def __len__(self) -> int:
        return len(self._signals)
